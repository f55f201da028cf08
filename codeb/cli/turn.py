"""`turn show`, `turn set` and `turn rotate`: the tenant's TURN server settings and its shared secret.

`set` names the TURN server browsers are offered (`--uri`, repeated: turn:, turns: or stun:),
the realm coturn is configured with and the credentials' lifetime; each checked, or refused.

`show` prints what the operator gives coturn (turnserver.conf's lines for the tenant,
secret included) beside what browsers are offered. After `rotate`, coturn is given both
secrets (`show` lists both while credentials minted with the previous one may live) and
then only the new one; new credentials use the new secret at once.

`coturn` is the same for a program: `{"realm", "static_auth_secrets"}` (current first),
what deploy/CodebDeploy/Turn.ps1 writes where the host's coturn reads it.
"""

from .. import audit
from ..rooms import turn
from ..tenants import settings
from .base import out, tenants


def _summary(tenant) -> dict:
    held = turn.load(tenant.store)
    lines = turn.coturn_config(tenant).splitlines()
    secrets = [line.split("=", 1)[1] for line in lines if line.startswith("static-auth-secret=")]
    return {"tenant": tenant.name, "realm": turn.realm(tenant), "uris": turn.uris(tenant), "ttl": turn.ttl(tenant),
            "rotated": held.rotated, "previous_accepted": turn.switching(tenant.store),
            "coturn_config": lines, "coturn": {"realm": turn.realm(tenant), "static_auth_secrets": secrets}}


def show(args) -> None:
    out(_summary(tenants(args).get(args.tenant)))


def set_settings(args) -> None:
    tenant = tenants(args).get(args.tenant)
    part = turn.settings_part(tenant, uris=args.uri, realm=args.realm, ttl=args.ttl)
    settings.save(tenant, part)
    audit.append(tenant.store, "turn.changed")
    out(_summary(tenants(args).get(args.tenant)))


def rotate(args) -> None:
    tenant = tenants(args).get(args.tenant)
    turn.rotate(tenant.store)
    audit.append(tenant.store, "turn.rotated")
    out(_summary(tenant))


def register(sub) -> None:
    group = sub.add_parser("turn", help="TURN server credentials of the workspace's meetings").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("show", help="the realm, URIs, credential lifetime and the coturn configuration lines")
    c.add_argument("tenant")
    c.set_defaults(func=show)
    c = group.add_parser("set", help="the TURN URIs browsers are offered, the realm, the credential lifetime")
    c.add_argument("tenant")
    c.add_argument("--uri", action="append", help="turn:host:3478?transport=udp, turns:host:5349 or stun:host "
                   "(repeat for several; replaces the list)")
    c.add_argument("--realm", help="coturn's realm (default: the tenant's first host)")
    c.add_argument("--ttl", type=int, help=f"seconds a credential lasts ({turn.MIN_TTL}..{turn.MAX_TTL})")
    c.set_defaults(func=set_settings)
    c = group.add_parser("rotate", help="a new shared secret; coturn accepts the previous one too during the switch")
    c.add_argument("tenant")
    c.set_defaults(func=rotate)
