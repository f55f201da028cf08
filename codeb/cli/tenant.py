"""`tenant create`, `tenant list`, `tenant remove` (export first), `tenant reindex` (the host index,
made again from the tenants' settings: after a tenant folder is restored into a data root), and
`tenant sip-server` (the SIP server the shell's phone card registers browsers with: codeb.tenants.sip)."""

from ..accounts.passwords import sip_realm
from ..provisioning import create_tenant
from ..provisioning.removal import remove_tenant
from ..tenants import settings, sip
from ..tenants.hosts import is_loopback
from ..tenants.settings import SIGNUP_POLICIES
from .base import out, tenants


def create(args) -> None:
    registry = tenants(args)
    if args.exist_ok and args.name in registry.names():
        tenant = registry.get(args.name)
        out({"tenant": tenant.name, "hosts": tenant.hosts, "created": False})
        return
    made = create_tenant(registry, args.name, args.host, signup=args.signup, domains=args.domain,
                         display_name=args.display_name, admin_email=args.admin_email)
    tenant = made.tenant
    result = {"tenant": tenant.name, "hosts": tenant.hosts, "signup": args.signup}
    if not is_loopback(tenant.hosts[0]):  # a loopback issuer carries the port it is served on
        result["issuer"] = f"https://{tenant.hosts[0]}"
    if made.admin is not None:
        result["admin"] = made.admin.login
    out(result)


def list_tenants(args) -> None:
    registry = tenants(args)
    out([{"tenant": name, "hosts": registry.get(name).hosts} for name in registry.names()])


def remove(args) -> None:
    out(remove_tenant(tenants(args), args.name, export_to=args.export, confirmed=args.yes))


def reindex(args) -> None:
    out(tenants(args).reindex())


def sip_server(args) -> None:
    """Show the tenant's SIP server for browsers; with --ws-url or --realm, set it first (checked,
    or refused; an empty value unsets it)."""
    tenant = tenants(args).get(args.name)
    if args.ws_url is not None or args.realm is not None:
        settings.save(tenant, sip.settings_part(args.ws_url, args.realm))
        tenant = tenants(args).get(args.name)
    out({"tenant": tenant.name, "ws_url": sip.ws_url(tenant), "realm": sip_realm(tenant)})


def register(sub) -> None:
    group = sub.add_parser("tenant", help="create, list, remove tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("create", help="create a tenant with its keys and settings")
    c.add_argument("name", help="tenant name: lowercase letters, digits, hyphens")
    c.add_argument("--host", action="append", required=True, help="host name (repeatable)")
    c.add_argument("--admin-email", help="create a first admin account with this email")
    c.add_argument("--signup", choices=SIGNUP_POLICIES, default="open", help="who may create an account")
    c.add_argument("--domain", action="append", default=[], help="email domain allowed by --signup domains")
    c.add_argument("--display-name", help="name shown on the sign-in page")
    c.add_argument("--exist-ok", action="store_true", help="do nothing if the tenant exists")
    c.set_defaults(func=create)
    c = group.add_parser("list", help="list tenants and their hosts")
    c.set_defaults(func=list_tenants)
    c = group.add_parser("remove", help="export a tenant's folder, then remove it and its host-index entries")
    c.add_argument("name")
    c.add_argument("--export", required=True, metavar="FILE", help="the zip to write first (must not exist)")
    c.add_argument("--yes", action="store_true", help="confirm: without it nothing is removed")
    c.set_defaults(func=remove)
    c = group.add_parser("reindex", help="make the host index again from every tenant's settings (after a restore)")
    c.set_defaults(func=reindex)
    c = group.add_parser("sip-server", help="show or set the SIP server the shell's phone card registers browsers with")
    c.add_argument("name")
    c.add_argument("--ws-url", help="its WebSocket address, wss://host[:port]/path (ws:// only to loopback; "
                   "empty: none, the card explains native SIP apps)")
    c.add_argument("--realm", help="the SIP realm and domain of SIP addresses (empty: the tenant's first host)")
    c.set_defaults(func=sip_server)
