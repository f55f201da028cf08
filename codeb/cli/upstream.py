"""`upstream add|list|remove`: the company identity providers people may sign in with."""

from .. import signin
from ..upstreams import PRESETS, Upstreams, redirect_uri
from .base import out, tenants


def shown(upstream: dict, base_url: str) -> dict:
    """An upstream as the commands print it: everything but the client secret."""
    doc = {k: v for k, v in upstream.items() if k not in ("client_secret", "schema")}
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
    a.add_argument("--preset", choices=sorted(PRESETS), default="oidc")
    a.add_argument("--require-for", action="append", metavar="ROLE", choices=["admin", "user"],
                   help="holders of this role sign in only through this upstream (repeatable)")
    a.set_defaults(func=add)
    ls = group.add_parser("list", help="the tenant's upstreams as JSON (secrets left out)")
    ls.add_argument("tenant")
    ls.set_defaults(func=list_)
    r = group.add_parser("remove", help="remove an upstream; accounts keep their links until they sign in otherwise")
    r.add_argument("tenant")
    r.add_argument("id")
    r.set_defaults(func=remove)
