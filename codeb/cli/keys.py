"""`keys rotate`: a new signing key; the old one stays published until its tokens expire."""

from .. import audit
from ..oidc import keys
from .base import out, tenants


def rotate(args) -> None:
    tenant = tenants(args).get(args.tenant)
    kid = keys.rotate(tenant.store)
    audit.append(tenant.store, "keys.rotated", kid=kid)
    published = [k["kid"] for k in keys.load(tenant.store).public["keys"]]
    out({"tenant": tenant.name, "current_kid": kid, "published_kids": published})


def register(sub) -> None:
    group = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("rotate", help="add a new signing key; the old one stays published until its tokens expire")
    c.add_argument("tenant")
    c.set_defaults(func=rotate)
