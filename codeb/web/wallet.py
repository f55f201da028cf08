"""The EU Wallet's endpoints: the present page, its poll, and what the wallet itself calls.

The browser's side (`codeb.signin.wallet` says why each is so):
- `GET /signin/wallet/present?t=` the request as a link, a QR code and, for a browser
  with the Digital Credentials API, the signed request its script hands over; it polls
  `GET /signin/wallet/status?t=` (304 while nothing changed) and posts `complete`;
- `GET /signin/wallet/callback?t=&response_code=` where the wallet sends the browser on the
  same device (the generic callback of `codeb.web.signin`);
- `GET|POST /signin/wallet/signup?s=` "Create your account" for a verified PID no account
  is linked to: the email a new account needs.

The wallet's side, which no cookie of ours reaches (no session is started for it, and the
CSRF check cannot apply: the transaction's secrets and the signed, encrypted exchange
stand in for it):
- `GET|POST /signin/wallet/request/<t>` the signed request object
  (`application/oauth-authz-req+jwt`; POST with `wallet_nonce`, OpenID4VP §5.10);
- `POST /signin/wallet/response/<t>` its answer (`direct_post.jwt`), answered with JSON:
  where to send the browser, or the protocol error.
"""


from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from .. import signin
from ..errors import BadInput, CodebError, NotFound
from . import context
from .errors import answers
from .signin import method_context, pending_interaction, polled, show_sent

bp = Blueprint("wallet", __name__)
context.CSRF_EXEMPT.update({"wallet.request_object", "wallet.response"})
JAR = "application/oauth-authz-req+jwt"
POLL_INTERVAL = 2  # seconds between the present page's polls


def _method():
    method = signin.enabled(g.tenant).get("wallet")
    if method is None:
        raise BadInput("error.method_disabled")
    return method


def qr_code(text: str, title: str) -> Markup:
    """The request as an inline SVG QR code (segno), dark on light in either colour scheme."""
    import segno  # noqa: PLC0415 -- at the first wallet sign-in, not when the app starts

    code = segno.make(text, error="m")
    return Markup(code.svg_inline(scale=4, border=4, dark="#000", light="#fff", title=title, svgclass="wallet-qr",
                                  lineclass=None))


@bp.get("/signin/wallet/present")
def present():
    method = _method()
    waiting = method.waiting(method_context(), request.args.get("t", ""))
    if waiting is None:
        return redirect(url_for("signin.page"), code=303)
    iid, pending = pending_interaction(waiting.pop("interaction") or "")
    qr_url = waiting.pop("qr")
    qr = qr_code(qr_url, context.translate("wallet.qr_title")) if qr_url else None
    return render_template("signin/wallet/present.html", interaction=iid, pending=pending, qr=qr, qr_url=qr_url,
                           remaining=max(waiting.pop("expires") - g.tenant.store.clock(), 0),
                           interval=POLL_INTERVAL, **waiting)


@bp.get("/signin/wallet/status")
@answers("json")
def status():
    """The present page's poll: one small read, no session written, 304 while unchanged."""
    session = g.session
    browser = session.data.get("csrf", "") if session is not None else ""
    return polled(_method().status(method_context(browser=browser), request.args.get("t", "")))


@bp.route("/signin/wallet/request/<tid>", methods=["GET", "POST"])
def request_object(tid):
    """The signed request object, fetched by the wallet (no cookie, no session)."""
    try:
        token = _method().request_object(method_context(browser=""), tid, via=request.args.get("via"),
                                         wallet_nonce=request.form.get("wallet_nonce") if request.method == "POST"
                                         else None)
    except (NotFound, BadInput):
        abort(404)
    response = current_app.response_class(token, mimetype=JAR)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/signin/wallet/response/<tid>")
def response(tid):
    """The wallet's answer (direct_post.jwt). 200 with JSON once processed (OpenID4VP §8.2);
    a refused presentation is 400 `invalid_request`, an unknown or spent transaction 400 too."""
    try:
        answer = _method().respond(method_context(browser=""), tid, request.form.to_dict())
    except NotFound:
        answer, code = {"error": "invalid_request", "error_description": "unknown or expired request"}, 400
    except BadInput as error:
        reason = error.params.get("reason", "refused")
        answer, code = {"error": "invalid_request", "error_description": f"presentation refused: {reason}"}, 400
    else:
        code = 200
    response = jsonify(answer)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/signin/wallet/signup", methods=["GET", "POST"])
def sign_up():
    """ "Create your account" after a verified PID no account is linked to: the email for it
    (a sign-up link is mailed, `codeb.signin.wallet.sign_up`), the name from the PID prefilled."""
    method = _method()
    token = request.values.get("s", "")
    ctx = method_context()
    offer = method.sign_up_page(ctx, token)
    if offer is None:
        return redirect(url_for("signin.page"), code=303)
    iid, pending = pending_interaction(offer["interaction"] or "")
    error, typed = None, {"email": "", "display_name": offer["display_name"]}
    if request.method == "POST":
        typed = {"email": request.form.get("email", "")[:254],
                 "display_name": request.form.get("display_name", "")[:80]}
        try:
            data = method.sign_up(ctx, token, request.form, methods=signin.enabled(g.tenant))
        except CodebError as failure:
            error = failure
        else:
            return show_sent("signin/signup_sent.html", data, iid)
    return render_template("signin/wallet/signup.html", interaction=iid, pending=pending, token=token, error=error,
                           typed=typed), error.status if error else 200
