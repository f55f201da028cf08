"""Adding and managing passkeys: the first-sign-in offer, account settings, their JSON calls.

Signing in with a passkey is a sign-in method (`/signin/passkey/...`); here a
signed-in person registers one. The browser code (static/js/) fetches options,
runs the ceremony and posts the result here; every JSON call carries the CSRF
token in `X-CSRF-Token`, and every failure comes back as `{"error": id,
"message": text}` in the person's language.
"""

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from .. import audit, signin
from ..accounts.passkeys import (
    Challenges,
    Passkeys,
    ensure_user_handle,
    passkeys_of,
    registration_options,
    typed_name,
    verify_registration,
)
from ..errors import BadInput, CodebError, Conflict, concerning
from ..signin import flow
from ..signin.base import client_network
from . import context
from .account import (
    PASSKEY_STEP,
    REMOVED_PASSKEY,
    account_page,
    first_sign_in_steps,
    in_first_sign_in,
    require_recent_sign_in,
)
from .errors import answers
from .pages import safe_local_path

bp = Blueprint("passkeys", __name__)
PURPOSE = "register"


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("error.bad_request")
    return body


def require_enabled() -> None:
    if "passkey" not in signin.enabled(g.tenant):
        raise BadInput("error.method_disabled")


def require_account() -> None:
    if g.account is None:
        raise CodebError("error.signin_required")


@bp.post("/account/passkeys/options")
@answers("json")
def register_options():
    require_enabled()
    require_account()
    typed_name(json_body().get("name"))  # a typed name is checked before the ceremony, never dropped after it
    require_recent_sign_in()
    account = ensure_user_handle(g.accounts, g.account.login)
    policy = Passkeys(g.tenant, g.accounts).policy
    if len(passkeys_of(account)) >= policy.max_per_account:
        raise Conflict("error.passkey_limit", limit=policy.max_per_account)
    cid, challenge = Challenges(g.tenant.store).issue(purpose=PURPOSE, browser=context.session().csrf,
                                                      client=client_network(context.client_ip()),
                                                      login=account.login)
    options = registration_options(account=account, rp_id=context.rp_id(), rp_name=g.tenant.display_name,
                                   policy=policy, challenge=challenge)
    return jsonify(challenge_id=cid, publicKey=options)


@bp.post("/account/passkeys/verify")
@answers("json")
def register_verify():
    require_enabled()
    require_account()
    require_recent_sign_in()
    body = json_body()
    passkeys = Passkeys(g.tenant, g.accounts)
    challenge = Challenges(g.tenant.store).take(body.get("challenge_id"), purpose=PURPOSE,
                                                browser=context.session().csrf, login=g.account.login)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise BadInput("error.passkey_registration_failed")
    passkey = verify_registration(credential=credential, challenge=challenge, rp_id=context.rp_id(),
                                  origin=g.issuer, policy=passkeys.policy, now=int(g.tenant.store.clock()),
                                  name=body.get("name"))
    added = passkeys.add(g.account.login, passkey)
    audit.append(g.tenant.store, "passkey.added", login=g.account.login, sub=g.account.sub,
                 passkey=added.id, authenticator=added.authenticator)
    return jsonify(passkey={"name": added.name, "authenticator": added.authenticator},
                   redirect=after_passkey_step(url_for("account.sign_in", m="passkey_added")))


def after_passkey_step(default: str) -> str:
    """Where the passkey screen of a sign-in leads: the profile confirmation of a first
    sign-in (which then goes on), else where the sign-in was going (`continue`)."""
    account = g.accounts.require(g.account.login)
    if not account.profile_confirmed:
        return url_for("account.confirm_profile")
    g.session.pop(PASSKEY_STEP)  # the first sign-in's steps are done
    return safe_local_path(g.session.pop("continue") or default, url_for("account.sign_in"))


def passkey_required() -> bool:
    """The signed-in person has no way to sign in again but a passkey they do not have yet."""
    account = g.accounts.require(g.account.login)
    return flow.passkey_required(account, signin.enabled(g.tenant))


# -- pages -----------------------------------------------------------------------

@bp.get("/welcome/passkey")
def welcome():
    if g.account is None:
        return redirect(url_for("signin.page"), code=303)
    account = g.accounts.require(g.account.login)
    first = in_first_sign_in(account)
    return render_template("passkeys/welcome.html", continue_url=url_for("passkeys.skip"),
                           required=passkey_required(), first_sign_in=first,
                           steps=first_sign_in_steps(account, "passkey") if first else [])


@bp.get("/welcome/continue")
def skip():
    """"Not now": on, unless the passkey is the only way this person could ever sign in again."""
    if g.account is None:
        return redirect(url_for("signin.page"), code=303)
    if passkey_required():
        return redirect(url_for("passkeys.welcome"), code=303)
    return redirect(after_passkey_step(url_for("office.shell")), code=303)


def _manage(action, *, credential_change: bool = False):
    """Run a passkey change from the account page; back to it with a notice or the error.
    A credential change (removal) needs a recent sign-in first."""
    if g.account is None:
        return redirect(url_for("signin.page"), code=303)
    if credential_change:
        require_recent_sign_in()
    passkeys = Passkeys(g.tenant, g.accounts)
    try:
        notice = action(passkeys, request.form.get("id", ""))
    except CodebError as error:
        g.account = g.accounts.require(g.account.login)
        return account_page("signin", error=error, form=request.form), error.status
    return redirect(url_for("account.sign_in", m=notice), code=303)


@bp.post("/account/passkeys/rename")
def rename():
    def action(passkeys, credential_id):
        with concerning("passkey-name:" + credential_id):
            passkeys.rename(g.account.login, credential_id, request.form.get("name", ""))
        return "passkey_renamed"
    return _manage(action)


@bp.post("/account/passkeys/remove")
def remove():
    def action(passkeys, credential_id):
        passkeys.remove(g.account.login, credential_id,
                        can_sign_in=lambda account: signin.can_sign_in(g.tenant, account))
        audit.append(g.tenant.store, "passkey.removed", login=g.account.login, sub=g.account.sub,
                     passkey=credential_id)
        g.session.set(REMOVED_PASSKEY, credential_id)
        return "passkey_removed"
    return _manage(action, credential_change=True)
