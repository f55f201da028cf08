"""`upstream add|list|refresh|remove`: the company identity providers people may sign in with."""

from pathlib import Path

from .. import signin
from ..errors import BadInput
from ..upstreams import PRESETS, Upstreams, acs_url, redirect_uri, sp_entity_id
from .base import out, tenants


def shown(upstream: dict, base_url: str) -> dict:
    """An upstream as the commands print it: everything but the client secret (and a SAML
    IdP's metadata, kept whole), with what to give the upstream's admin."""
    doc = {k: v for k, v in upstream.items() if k not in ("client_secret", "schema", "idp_metadata")}
    if upstream.get("kind") == "saml":
        doc["sp_entity_id"] = doc["sp_metadata_url"] = sp_entity_id(base_url, upstream["id"])
        doc["acs_url"] = acs_url(base_url)
    else:
        doc["has_client_secret"] = bool(upstream.get("client_secret"))
        doc["redirect_uri"] = redirect_uri(base_url)
    return doc


def _base_url(tenant) -> str:
    return tenant.issuer_for(tenant.hosts[0], local_port=None)


def add(args) -> None:
    tenant = tenants(args).get(args.tenant)
    if args.saml_metadata:
        upstream = _add_saml(tenant, args)
    else:
        if not args.client_id:
            raise BadInput("error.upstream.client_id")
        upstream = Upstreams(tenant.store).add(
            name=args.name, issuer=args.oidc_issuer, client_id=args.client_id, client_secret=args.client_secret,
            scopes=args.scope, domains=args.domain or (), authoritative=args.authoritative,
            tenant_ids=args.tenant_id or (), hosted_domain=args.hosted_domain, preset=args.preset,
            required_for=args.require_for or (), others_allowed=args.allow_other_methods, logo_uri=args.logo_uri)
    signin.switch_on(tenant.store, upstream["kind"])  # the tenant's other methods stay as they are
    out(shown(upstream, _base_url(tenant)))


def _add_saml(tenant, args) -> dict:
    """`--saml-metadata`: an https:// (or loopback http://) URL, fetched now and by `refresh`, or a file."""
    given = args.saml_metadata
    url, metadata = (given, None) if given.startswith(("https://", "http://")) else (None, _read(given))
    return Upstreams(tenant.store).add_saml(
        name=args.name, metadata=metadata, metadata_url=url, entity_id=args.entity_id, domains=args.domain or (),
        authoritative=args.authoritative, required_for=args.require_for or (), others_allowed=args.allow_other_methods,
        logo_uri=args.logo_uri)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput("error.upstream.saml_metadata", reason=f"{path}: {type(error).__name__}") from None


def refresh(args) -> None:
    tenant = tenants(args).get(args.tenant)
    out(shown(Upstreams(tenant.store).refresh_metadata(args.id), _base_url(tenant)))


def list_(args) -> None:
    tenant = tenants(args).get(args.tenant)
    out([shown(u, _base_url(tenant)) for u in Upstreams(tenant.store).list()])


def remove(args) -> None:
    tenant = tenants(args).get(args.tenant)
    out({"removed": Upstreams(tenant.store).remove(args.id), "id": args.id})


def register(sub) -> None:
    group = sub.add_parser("upstream", help="company identity providers (corporate SSO)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    a = group.add_parser("add", help="federate an upstream OpenID Connect provider or SAML 2.0 IdP; prints it as "
                                     "JSON with what to register there")
    a.add_argument("tenant")
    a.add_argument("--name", required=True, help='the button\'s label: "Sign in with NAME"')
    kind = a.add_mutually_exclusive_group(required=True)
    kind.add_argument("--oidc-issuer", metavar="URL", help="an OpenID provider's issuer (its discovery)")
    kind.add_argument("--saml-metadata", metavar="FILE_OR_URL",
                      help="a SAML IdP's metadata: a file, or its URL (fetched again by `upstream refresh`)")
    a.add_argument("--entity-id", metavar="ID", help="SAML: the IdP to use when the metadata describes several")
    a.add_argument("--client-id", metavar="ID", help="OIDC: the client id the provider gave (required for OIDC)")
    a.add_argument("--client-secret", metavar="SECRET", help="OIDC: for client_secret_basic; none for a public client")
    a.add_argument("--scope", action="append", help="repeatable (default: the preset's, else openid email profile)")
    a.add_argument("--domain", action="append", metavar="DOMAIN",
                   help="an email domain that belongs to it: such addresses go straight to it (repeatable)")
    a.add_argument("--authoritative", action="store_true",
                   help="link its verified emails of those domains to the existing accounts of those addresses")
    a.add_argument("--logo-uri", metavar="URL", help="the button's logo (https)")
    a.add_argument("--allow-other-methods", action="store_true",
                   help="people of its domains may also sign in by a mailed link or a password (default: only here)")
    a.add_argument("--tenant-id", action="append", metavar="ID",
                   help="Entra ID: a directory allowed through a multi-tenant issuer (repeatable)")
    a.add_argument("--hosted-domain", metavar="DOMAIN", help="Google Workspace: only that domain's accounts")
    a.add_argument("--preset", choices=sorted(p for p in PRESETS if p != "saml"), default="oidc")
    a.add_argument("--require-for", action="append", metavar="ROLE", choices=["admin", "user"],
                   help="holders of this role sign in only through this upstream (repeatable)")
    a.set_defaults(func=add)
    f = group.add_parser("refresh", help="fetch a SAML upstream's metadata again from its URL")
    f.add_argument("tenant")
    f.add_argument("id")
    f.set_defaults(func=refresh)
    ls = group.add_parser("list", help="the tenant's upstreams as JSON (secrets left out)")
    ls.add_argument("tenant")
    ls.set_defaults(func=list_)
    r = group.add_parser("remove", help="remove an upstream; accounts keep their links until they sign in otherwise")
    r.add_argument("tenant")
    r.add_argument("id")
    r.set_defaults(func=remove)
