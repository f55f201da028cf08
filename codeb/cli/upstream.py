"""`upstream add|edit|list|refresh|remove`: the company identity providers people may sign in with."""

import argparse
from pathlib import Path

from .. import signin
from ..errors import BadInput
from ..upstreams import (
    PRESETS,
    TOKEN_AUTH,
    Upstreams,
    acs_url,
    client_jwks_uri,
    redirect_uri,
    role_lines,
    sp_entity_id,
    token_auth,
)
from ..upstreams.connection import connection_test
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
        doc["token_auth"] = token_auth(upstream)
        doc["redirect_uri"] = redirect_uri(base_url)
        if doc["token_auth"] == "private_key_jwt":
            doc["jwks_uri"] = client_jwks_uri(base_url)  # our public key, to register there
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
            required_for=args.require_for or (), others_allowed=args.allow_other_methods, logo_uri=args.logo_uri,
            token_auth=args.token_auth)
    signin.switch_on(tenant.store, upstream["kind"])  # the tenant's other methods stay as they are
    out(shown(upstream, _base_url(tenant)))


def _add_saml(tenant, args) -> dict:
    """`--saml-metadata`: an https:// (or loopback http://) URL, fetched now and by `refresh`, or a file."""
    given = args.saml_metadata
    url, metadata = (given, None) if given.startswith(("https://", "http://")) else (None, _read(given))
    return Upstreams(tenant.store).add_saml(
        name=args.name, metadata=metadata, metadata_url=url, entity_id=args.entity_id, domains=args.domain or (),
        authoritative=args.authoritative, required_for=args.require_for or (), others_allowed=args.allow_other_methods,
        logo_uri=args.logo_uri, idp_initiated=args.idp_initiated)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput("error.upstream.saml_metadata", reason=f"{path}: {type(error).__name__}") from None


def edit(args) -> None:
    """Change what the options give; everything else stays (`Upstreams.update` checks the whole)."""
    tenant = tenants(args).get(args.tenant)
    upstreams = Upstreams(tenant.store)
    current = upstreams.require(args.id)
    given = {"name": args.name, "logo_uri": args.logo_uri, "authoritative": args.authoritative,
             "others_allowed": args.allow_other_methods, "issuer": args.oidc_issuer, "client_id": args.client_id,
             "client_secret": args.client_secret, "token_auth": args.token_auth, "scopes": args.scope,
             "hosted_domain": args.hosted_domain, "domains": [] if args.no_domains else args.domain,
             "tenant_ids": [] if args.no_tenant_ids else args.tenant_id,
             "required_for": [] if args.no_require_for else args.require_for,
             "roles": {} if args.no_roles else role_lines("\n".join(args.role)) if args.role else None,
             "claims": {**current.get("claims", {}), **dict(c.partition("=")[::2] for c in args.claim)}
             if args.claim else None,
             "remove_client_secret": args.remove_client_secret or None, "idp_initiated": args.idp_initiated}
    changes = {name: value for name, value in given.items() if value is not None}
    out(shown(upstreams.update(current["id"], **changes), _base_url(tenant)))


def test(args) -> None:
    """Test connection, as the admin page does: what was found, as JSON; exit 2 and why, if not."""
    tenant = tenants(args).get(args.tenant)
    tested = connection_test(Upstreams(tenant.store).require(args.id))
    out(tested)
    if not tested["ok"]:
        raise BadInput(tested["message_id"], **tested.get("params", {}))


def set_enabled(args) -> None:
    tenant = tenants(args).get(args.tenant)
    out(shown(Upstreams(tenant.store).set_enabled(args.id, args.action == "enable"), _base_url(tenant)))


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
    a.add_argument("--idp-initiated", action="store_true",
                   help="SAML: also accept sign-ins started at the IdP (its app portal); they are bound to no browser")
    a.add_argument("--tenant-id", action="append", metavar="ID",
                   help="Entra ID: a directory allowed through a multi-tenant issuer (repeatable)")
    a.add_argument("--hosted-domain", metavar="DOMAIN", help="Google Workspace: only that domain's accounts")
    a.add_argument("--preset", choices=sorted(p for p in PRESETS if p != "saml"), default="oidc")
    a.add_argument("--require-for", action="append", metavar="ROLE", choices=["admin", "user"],
                   help="holders of this role sign in only through this upstream (repeatable)")
    a.add_argument("--token-auth", choices=TOKEN_AUTH,
                   help="OIDC: how CodeB authenticates at the token endpoint (default: client_secret_basic with a "
                        "secret, else none); private_key_jwt: register the printed jwks_uri there")
    a.set_defaults(func=add)
    _edit_parser(group)
    for action, helped, func in (
            ("test", "fetch the upstream's discovery and keys (SAML: its metadata) now; JSON", test),
            ("enable", "switch an upstream on", set_enabled),
            ("disable", "switch an upstream off: its button goes", set_enabled),
            ("refresh", "fetch a SAML upstream's metadata again from its URL", refresh),
            ("remove", "remove an upstream; accounts keep their links until they sign in otherwise", remove)):
        one = group.add_parser(action, help=helped)
        one.add_argument("tenant")
        one.add_argument("id")
        one.set_defaults(func=func)
    ls = group.add_parser("list", help="the tenant's upstreams as JSON (secrets left out)")
    ls.add_argument("tenant")
    ls.set_defaults(func=list_)


def _edit_parser(group) -> None:
    e = group.add_parser("edit", help="change an upstream (only what is given; the rest stays); prints it as JSON")
    e.add_argument("tenant")
    e.add_argument("id")
    e.add_argument("--name", help='the button\'s label: "Sign in with NAME"')
    e.add_argument("--logo-uri", metavar="URL", help="the button's logo (https); an empty one removes it")
    _list_option(e, "--domain", "--no-domains", "an email domain that belongs to it (repeatable; replaces the list)")
    e.add_argument("--authoritative", action=argparse.BooleanOptionalAction,
                   help="link its verified emails of those domains to the existing accounts of those addresses")
    e.add_argument("--allow-other-methods", action=argparse.BooleanOptionalAction,
                   help="people of its domains may also sign in by a mailed link or a password")
    e.add_argument("--idp-initiated", action=argparse.BooleanOptionalAction,
                   help="SAML: also accept sign-ins started at the IdP (its app portal)")
    _list_option(e, "--require-for", "--no-require-for",
                 "holders of this role sign in only through it (repeatable; replaces the list)",
                 choices=["admin", "user"])
    roles = e.add_mutually_exclusive_group()
    roles.add_argument("--role", action="append", metavar="GROUP=ROLE",
                       help="accounts it creates for members of GROUP get ROLE (repeatable; replaces the mapping)")
    roles.add_argument("--no-roles", action="store_true", help="no roles from groups")
    e.add_argument("--claim", action="append", metavar="KEY=NAME",
                   help="which claim (SAML: attribute) carries email, name or groups (repeatable)")
    e.add_argument("--oidc-issuer", metavar="URL", help="OIDC: the provider's issuer (its discovery)")
    e.add_argument("--client-id", metavar="ID", help="OIDC: the client id the provider gave")
    secret = e.add_mutually_exclusive_group()
    secret.add_argument("--client-secret", metavar="SECRET",
                        help="OIDC: a new client secret (else the stored one stays)")
    secret.add_argument("--remove-client-secret", action="store_true",
                        help="OIDC: drop the stored secret; a client that sends it becomes a public one")
    e.add_argument("--token-auth", choices=TOKEN_AUTH, help="OIDC: how CodeB authenticates at the token endpoint")
    e.add_argument("--scope", action="append", help="OIDC: repeatable; replaces the scopes")
    _list_option(e, "--tenant-id", "--no-tenant-ids",
                 "Entra ID: a directory allowed through a multi-tenant issuer (repeatable; replaces the list)")
    e.add_argument("--hosted-domain", metavar="DOMAIN",
                   help="Google Workspace: only that domain's accounts; empty: any")
    e.set_defaults(func=edit)


def _list_option(parser, option: str, clear: str, help_text: str, **kwargs) -> None:
    """A repeatable option that replaces a list, and its opposite that empties it."""
    both = parser.add_mutually_exclusive_group()
    both.add_argument(option, action="append", help=help_text, **kwargs)
    both.add_argument(clear, action="store_true", help=f"empty the list {option} gives")
