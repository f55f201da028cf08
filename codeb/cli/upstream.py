"""`upstream add|add-saml|list|refresh|remove`: the company identity providers people may sign in with."""

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
    upstream = Upstreams(tenant.store).add(
        name=args.name, issuer=args.oidc_issuer, client_id=args.client_id, client_secret=args.client_secret,
        scopes=args.scope, domains=args.domain or (), authoritative=args.authoritative,
        tenant_ids=args.tenant_id or (), hosted_domain=args.hosted_domain, preset=args.preset,
        required_for=args.require_for or ())
    signin.switch_on(tenant.store, "oidc")  # the tenant's other methods stay as they are
    out(shown(upstream, _base_url(tenant)))


def add_saml(args) -> None:
    tenant = tenants(args).get(args.tenant)
    metadata = None
    if args.metadata_file:
        try:
            metadata = Path(args.metadata_file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise BadInput("error.upstream.saml_metadata", reason=f"{args.metadata_file}: {error}") from None
    upstream = Upstreams(tenant.store).add_saml(
        name=args.name, metadata=metadata, metadata_url=args.metadata_url, entity_id=args.entity_id,
        domains=args.domain or (), authoritative=args.authoritative, required_for=args.require_for or ())
    signin.switch_on(tenant.store, "saml")
    out(shown(upstream, _base_url(tenant)))


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
    a = group.add_parser("add", help="federate an upstream OpenID Connect provider; prints it as JSON")
    a.add_argument("tenant")
    a.add_argument("--name", required=True, help='the button\'s label: "Sign in with NAME"')
    a.add_argument("--oidc-issuer", required=True, metavar="URL", help="the provider's issuer (its discovery)")
    a.add_argument("--client-id", required=True, metavar="ID")
    a.add_argument("--client-secret", metavar="SECRET", help="for client_secret_basic; none for a public client")
    a.add_argument("--scope", action="append", help="repeatable (default: the preset's, else openid email profile)")
    a.add_argument("--domain", action="append", metavar="DOMAIN",
                   help="an email domain that belongs to it: such addresses go straight to it (repeatable)")
    a.add_argument("--authoritative", action="store_true",
                   help="link its verified emails of those domains to the existing accounts of those addresses")
    a.add_argument("--tenant-id", action="append", metavar="ID",
                   help="Entra ID: a directory allowed through a multi-tenant issuer (repeatable)")
    a.add_argument("--hosted-domain", metavar="DOMAIN", help="Google Workspace: only that domain's accounts")
    a.add_argument("--preset", choices=sorted(p for p in PRESETS if p != "saml"), default="oidc")
    a.add_argument("--require-for", action="append", metavar="ROLE", choices=["admin", "user"],
                   help="holders of this role sign in only through this upstream (repeatable)")
    a.set_defaults(func=add)
    s = group.add_parser("add-saml", help="federate an upstream SAML 2.0 identity provider from its metadata")
    s.add_argument("tenant")
    s.add_argument("--name", required=True, help='the button\'s label: "Sign in with NAME"')
    given = s.add_mutually_exclusive_group(required=True)
    given.add_argument("--metadata-url", metavar="URL", help="where the IdP publishes its metadata (refreshable)")
    given.add_argument("--metadata-file", metavar="PATH", help="the IdP's metadata as a file")
    s.add_argument("--entity-id", metavar="ID", help="the IdP to use when the metadata describes several")
    s.add_argument("--domain", action="append", metavar="DOMAIN",
                   help="an email domain that belongs to it: such addresses go straight to it (repeatable)")
    s.add_argument("--authoritative", action="store_true",
                   help="link the emails it asserts of those domains to the existing accounts of those addresses")
    s.add_argument("--require-for", action="append", metavar="ROLE", choices=["admin", "user"],
                   help="holders of this role sign in only through this upstream (repeatable)")
    s.set_defaults(func=add_saml)
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
