"""`provision request`, `provision run`, `provision show`, `provision report`, `provision plan`:
the self-service sign-up's queue and its privileged worker (codeb.provisioning).

`run` does the Python part of every queued request (`--once`: one pass, then exit;
otherwise it polls until interrupted). The Windows worker reads `plan TENANT` to
know what to make, and tells how each of its steps went with `report ID STEP ok|failed`.
"""

import logging

from ..provisioning import plan, spool, worker
from .base import out, tenants


def request(args) -> None:
    registry = tenants(args)
    request_id = spool.submit(registry, subdomain=args.subdomain, parent=args.parent, organisation=args.organisation,
                              admin_email=args.admin_email, ip=args.ip)
    out(spool.get(registry, request_id))


def run(args) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    registry = tenants(args)

    def told(done: dict) -> None:
        if done:
            out(done)

    try:
        worker.run(registry, once=args.once, on_pass=told)
    except KeyboardInterrupt:  # how an operator (or the scheduled task's stop) ends the polling worker
        return


def show(args) -> None:
    out(spool.get(tenants(args), args.id))


def report(args) -> None:
    out(spool.report(tenants(args), args.id, args.step, args.result, args.detail))


def plan_of(args) -> None:
    out(plan.plan(tenants(args), args.tenant, remove=args.remove))


def register(sub) -> None:
    group = sub.add_parser("provision", help="the sign-up queue: its worker, its journal and the Windows plan"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    c = group.add_parser("request", help="queue a sign-up request as the sign-up page does")
    c.add_argument("subdomain", help="the tenant's name and the first label of its host")
    c.add_argument("--parent", required=True, help="the operator's parent domain, e.g. codeb.example")
    c.add_argument("--organisation", required=True, help="the organisation's name")
    c.add_argument("--admin-email", required=True, help="the first admin's (verified) email")
    c.add_argument("--ip", default="127.0.0.1", help="the requester's address")
    c.set_defaults(func=request)
    c = group.add_parser("run", help="do the Python steps of every queued request")
    c.add_argument("--once", action="store_true", help="one pass over the queue, then exit")
    c.set_defaults(func=run)
    c = group.add_parser("show", help="a request and its journal")
    c.add_argument("id")
    c.set_defaults(func=show)
    c = group.add_parser("report", help="the Windows worker's result of one of its steps")
    c.add_argument("id")
    c.add_argument("step", choices=spool.WINDOWS_STEPS)
    c.add_argument("result", choices=("ok", "failed"))
    c.add_argument("--detail", help="what happened, one line (kept to 500 characters)")
    c.set_defaults(func=report)
    c = group.add_parser("plan", help="what the Windows scripts must do for a tenant, as JSON")
    c.add_argument("tenant")
    c.add_argument("--remove", action="store_true", help="the plan of the tenant's removal")
    c.set_defaults(func=plan_of)
