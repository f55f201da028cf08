"""Help pages, in the person's language: for people, and the OIDC deep-dive for integrators.

The deep-dive is rendered from the provider's live metadata, token lifetimes
and keys, so what it says is what the provider does; it imports the keys and
tokens modules (joserfc) itself, at first use (see `codeb.web`).
"""

from flask import Blueprint, g, render_template

from .. import signin
from ..oidc import discovery
from .oidc import provider

bp = Blueprint("help", __name__)


@bp.get("/help")
def people():
    return render_template("help/people.html", methods=signin.enabled(g.tenant),
                           policy=g.tenant.setting("signup", "policy", default="open"))


@bp.get("/help/oidc")
def integrators():
    from ..oidc.authorize import PUSHED_LIFETIME  # noqa: PLC0415 -- at first use (codeb.web)
    from ..oidc.client_assertion import MAX_LIFETIME  # noqa: PLC0415
    from ..oidc.dpop import NONCE_SLOT  # noqa: PLC0415
    from ..oidc.keys import RETAIN  # noqa: PLC0415
    from ..oidc.tokens import CODE_LIFETIME, REFRESH_LIFETIME, TOKEN_LIFETIME  # noqa: PLC0415

    op = provider()
    return render_template("help/oidc.html", metadata=discovery.metadata(op.issuer, op.tenant),
                           discovery=g.issuer + "/.well-known/openid-configuration",
                           lifetimes={"access": TOKEN_LIFETIME // 60, "id": TOKEN_LIFETIME // 60,
                                      "code": CODE_LIFETIME, "refresh": REFRESH_LIFETIME // 86400,
                                      "retain": RETAIN // 60},
                           kids=[k["kid"] for k in op.keys.public["keys"]], current_kid=op.keys.kid,
                           limits={"assertion": MAX_LIFETIME, "pushed": PUSHED_LIFETIME, "nonce": NONCE_SLOT // 60})
