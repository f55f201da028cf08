"""`backchannel deliver`: send the back-channel logout tokens that are due (codeb.oidc.backchannel_delivery).

Every process that queues a logout delivers it itself, after the response; this command is
for what a recycled process left waiting (a retry due later), run by a scheduled task every
few minutes, and for tests. Safe beside the site's processes: a job one of them holds is skipped.
"""

from ..oidc import backchannel_delivery
from .base import out, tenants


def deliver(args) -> None:
    tenant = tenants(args).get(args.tenant)
    outcome = backchannel_delivery.deliver_due(tenant.store)
    out({"tenant": tenant.name, **{k: outcome.counts.get(k, 0) for k in (
        backchannel_delivery.DELIVERED, backchannel_delivery.RETRYING, backchannel_delivery.FAILED,
        backchannel_delivery.BUSY, backchannel_delivery.WAITING)}})


def register(sub) -> None:
    group = sub.add_parser("backchannel", help="back-channel logout deliveries").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("deliver", help="send the back-channel logout tokens that are due, once each")
    c.add_argument("tenant")
    c.set_defaults(func=deliver)
