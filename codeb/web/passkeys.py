"""Passkey pages and their JSON calls: sign-in, the first-sign-in offer, account settings.

The browser code (static/js/) fetches options, runs the ceremony and posts the
result here; every JSON call carries the CSRF token in `X-CSRF-Token`, and
every failure comes back as `{"error": id, "message": text}` in the person's
language.
"""

from dataclasses import replace

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from .. import audit, signin
from ..errors import CodebError, Conflict
from ..passkeys import Challenges, Passkeys, ensure_user_handle, passkeys_of, registration_options, verify_registration
from ..signin.passkey import PasskeySignIn
from ..tenants import normalize_host
from . import context, errors
from .pages import safe_local_path
from .account import account_page
from .signin import finish_sign_in, method_context

bp = Blueprint("passkeys", __name__)
JSON_ENDPOINTS = {"passkeys.signin_options", "passkeys.signin_verify", "passkeys.register_options",
                  "passkeys.register_verify"}


def rp_id() -> str:
    return normalize_host(request.host)


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise CodebError("error.bad_request")
    return body


@bp.errorhandler(CodebError)
def json_error(error: CodebError):
    """The JSON calls answer in JSON; the pages of this blueprint like every other page."""
    if request.endpoint not in JSON_ENDPOINTS:
        return errors.codeb_error(error)
    return jsonify(error=error.message_id, message=context.translate(error.message_id, **error.params)), \
        error.status


def require_enabled() -> None:
    if "passkey" not in signin.enabled(g.tenant):
        raise CodebError("error.method_disabled")


# -- sign-in -------------------------------------------------------------------

@bp.post("/passkey/options")
def signin_options():
    require_enabled()
    return jsonify(PasskeySignIn().begin(method_context(), browser=context.session().csrf, rp_id=rp_id()))


@bp.post("/passkey/verify")
def signin_verify():
    require_enabled()
    body = json_body()
    ctx = method_context()
    try:
        identity = PasskeySignIn().complete(
            ctx, browser=context.session().csrf, challenge_id=body.get("challenge_id"),
            credential=body.get("credential"), rp_id=rp_id(), origin=g.issuer)
    except CodebError as error:
        audit.append(g.tenant.store, "signin.failed", method="passkey", reason=error.message_id,
                     ip=ctx.client_ip)
        raise
    interaction = body.get("i")
    if isinstance(interaction, str) and not identity.interaction:
        identity = replace(identity, interaction=interaction)
    return jsonify(redirect=finish_sign_in(identity))


# -- registration --------------------------------------------------------------

@bp.post("/account/passkeys/options")
def register_options():
    require_enabled()
    if g.account is None:
        raise CodebError("error.signin_required")
    account = ensure_user_handle(g.accounts, g.account.login)
    policy = Passkeys(g.tenant, g.accounts).policy
    if len(passkeys_of(account)) >= policy.max_per_account:
        raise Conflict("error.passkey_limit", limit=policy.max_per_account)
    cid, challenge = Challenges(g.tenant.store).issue(purpose="register", browser=context.session().csrf,
                                                      login=account.login)
    options = registration_options(account=account, rp_id=rp_id(), rp_name=g.tenant.display_name,
                                   policy=policy, challenge=challenge)
    return jsonify(challenge_id=cid, publicKey=options)


@bp.post("/account/passkeys/verify")
def register_verify():
    require_enabled()
    if g.account is None:
        raise CodebError("error.signin_required")
    body = json_body()
    passkeys = Passkeys(g.tenant, g.accounts)
    challenge = Challenges(g.tenant.store).take(body.get("challenge_id"), purpose="register",
                                                browser=context.session().csrf, login=g.account.login)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise CodebError("error.passkey_registration_failed")
    passkey = verify_registration(credential=credential, challenge=challenge, rp_id=rp_id(),
                                  origin=g.issuer, policy=passkeys.policy, now=int(g.tenant.store.clock()),
                                  name=body.get("name"))
    added = passkeys.add(g.account.login, passkey)
    audit.append(g.tenant.store, "passkey.added", login=g.account.login, passkey=added.id,
                 authenticator=added.authenticator)
    if body.get("stay"):  # the first-sign-in profile screen stays put after a passkey
        return jsonify(passkey={"name": added.name, "authenticator": added.authenticator})
    target = g.session.pop("continue") or url_for("account.page", m="passkey_added")
    return jsonify(redirect=safe_local_path(target, url_for("account.page")))


# -- pages -----------------------------------------------------------------------

@bp.get("/welcome/passkey")
def welcome():
    if g.account is None:
        return redirect(url_for("signin.page"), code=303)
    return render_template("passkeys/welcome.html",
                           continue_url=url_for("passkeys.skip"))


@bp.get("/welcome/continue")
def skip():
    target = g.session.pop("continue") if g.session else None
    return redirect(safe_local_path(target, url_for("office.shell")), code=303)


def _manage(action):
    """Run a passkey change from the account page; back to it with a notice or the error."""
    if g.account is None:
        return redirect(url_for("signin.page"), code=303)
    passkeys = Passkeys(g.tenant, g.accounts)
    try:
        notice = action(passkeys, request.form.get("id", ""))
    except CodebError as error:
        g.account = g.accounts.require(g.account.login)
        return account_page(error=error), error.status
    return redirect(url_for("account.page", m=notice), code=303)


@bp.post("/account/passkeys/rename")
def rename():
    def action(passkeys, credential_id):
        passkeys.rename(g.account.login, credential_id, request.form.get("name", ""))
        return "passkey_renamed"
    return _manage(action)


@bp.post("/account/passkeys/remove")
def remove():
    def action(passkeys, credential_id):
        passkeys.remove(g.account.login, credential_id)
        audit.append(g.tenant.store, "passkey.removed", login=g.account.login, passkey=credential_id)
        return "passkey_removed"
    return _manage(action)
