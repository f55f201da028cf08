"""`superuser link`: break-glass access for an operator on the server."""

import os
import sys

from ..accounts import breakglass
from ..tenants.hosts import LOCAL_PORT, local_port, origin
from .base import tenants


def link(args) -> None:
    """A one-time sign-in URL, valid five minutes, for an operator on the server."""
    tenant = tenants(args).get(args.tenant)
    base = args.base_url or origin(tenant.hosts[0], local_port=local_port(args.port))
    url = breakglass.create_link(tenant.store, base.rstrip("/"))
    print(url)
    print(f"valid for {breakglass.LINK_LIFETIME // 60} minutes, once; every action is audited as break-glass",
          file=sys.stderr)


def register(sub) -> None:
    group = sub.add_parser("superuser", help="break-glass access for operators").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("link", help="print a one-time superuser sign-in URL (five minutes, once)")
    c.add_argument("tenant")
    c.add_argument("--base-url", help="where the tenant is reached (default https://<first host>; "
                                      "for localhost, http://localhost:<port>)")
    c.add_argument("--port", default=os.environ.get("CODEB_PORT") or LOCAL_PORT,
                   help=f"the local server's port, for a localhost tenant (default CODEB_PORT, else {LOCAL_PORT})")
    c.set_defaults(func=link)
