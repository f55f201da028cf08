"""`turn show` and `turn rotate`: the tenant's TURN server settings and its shared secret.

`show` prints what the operator gives coturn (turnserver.conf's lines for the tenant,
secret included) beside what browsers are offered. After `rotate`, coturn is given both
secrets (`show` lists both while credentials minted with the previous one may live) and
then only the new one; new credentials use the new secret at once.
"""

from .. import audit
from ..rooms import turn
from .base import out, tenants


def _summary(tenant) -> dict:
    held = turn.load(tenant.store)
    return {"tenant": tenant.name, "realm": turn.realm(tenant), "uris": turn.uris(tenant), "ttl": turn.ttl(tenant),
            "rotated": held.rotated, "previous_accepted": turn.switching(tenant.store),
            "coturn_config": turn.coturn_config(tenant).splitlines()}


def show(args) -> None:
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
    c = group.add_parser("rotate", help="a new shared secret; coturn accepts the previous one too during the switch")
    c.add_argument("tenant")
    c.set_defaults(func=rotate)
