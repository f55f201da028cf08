"""Account settings: profile and language, passkeys, sessions, app passwords, and the person's own data.

Changes are written to the account document under its lock, so every process
sees them on its next request.
"""

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, g, redirect, render_template, request, url_for

from .. import audit, invites, signin
from ..accounts import app_passwords, consents, passwords, privacy
from ..accounts.links import Links
from ..accounts.passkeys import Passkeys, accepted_credentials, passkeys_of
from ..accounts.profile import mailbox_of, normalize_email
from ..accounts.sessions import RECENT_SIGN_IN
from ..errors import BadInput, CodebError, Conflict, Forbidden, NotFound, ReauthRequired, SignInFailed, concerning
from ..oidc.clients import Clients
from ..oidc.consent import described
from ..signin import flow, interactions, signup
from ..signin.base import MAILED_PER_MAILBOX, hit_limits
from ..store import layout, secret_id
from ..upstreams import Upstreams
from . import context
from . import signin as signin_web
from .pages import safe_local_path

bp = Blueprint("account", __name__)

# Every page here is the signed-in person's own, except these two: the page said after a
# self-service deletion (signed out by then) and a change-email link, which may be opened
# before signing in and comes back to itself afterwards.
SIGNED_OUT_ENDPOINTS = {"account.deleted", "account.email_link"}


@bp.before_request
def signed_in_only():
    if g.account is None and request.endpoint not in SIGNED_OUT_ENDPOINTS:
        return redirect(url_for("signin.page"), code=303)
    return None
NOTICES = ("passkey_added", "passkey_renamed", "passkey_removed", "profile_saved", "session_ended",
           "sessions_ended_others", "password_saved", "password_removed", "email_change_sent", "email_changed",
           "consent_revoked", "link_removed", "link_added", "wallet_linked", "app_password_revoked")


# The settings in four sections, each a page of its own with a linkable URL (its endpoint
# in this blueprint, its template under templates/account/): the navigation lists them in order.
SECTIONS = (("profile", "account.page"), ("signin", "account.sign_in"),
            ("devices", "account.devices"), ("privacy", "account.privacy"))


def section_values(section: str) -> dict:
    """What the template of one section shows, read only for that section."""
    account = g.account
    if section == "signin":
        enabled = signin.enabled(g.tenant)
        return {"passkeys": passkeys_of(account), "policy": Passkeys(g.tenant, g.accounts).policy,
                "passkey_enabled": "passkey" in enabled, "password_allowed": "password" in enabled,
                "has_password": account.has_password, "signal": removal_signal(account),
                "consents": allowed_apps(account), "links": account.links,
                "connectable": connectable_upstreams(account, enabled),
                "wallet_connectable": "wallet" in enabled and not any(
                    link.get("upstream") == "wallet" for link in account.links)}
    if section == "devices":
        return {"devices": g.sessions.devices(account, g.session), "app_passwords": app_passwords.listed(account),
                "app_passwords_allowed": app_passwords.allowed_in(g.tenant.settings),
                "app_password_limit": app_passwords.MAX_PER_ACCOUNT}
    return {}


def connectable_upstreams(account, enabled) -> list[dict]:
    """The company identity providers this account could connect (their protocol's sign-in is
    on, and it has no link to them yet)."""
    linked = {link.get("upstream") for link in account.links}
    return [{"id": u["id"], "name": u["name"]} for u in Upstreams(g.tenant.store).enabled()
            if u.get("kind", "oidc") in enabled and u["id"] not in linked]


def allowed_apps(account) -> list[dict]:
    """The apps this person allowed their data (codeb.oidc.consent), newest first, by name."""
    apps = []
    for client_id, record in consents.remembered(account).items():
        client = Clients(g.tenant.store).get(client_id)
        apps.append({"client_id": client_id, "name": client.name if client else None,
                     "granted": record.get("granted"), "scopes": described(record.get("scopes", ()))})
    return sorted(apps, key=lambda app: -int(app["granted"] or 0))


REMOVED_PASSKEY = "passkey_removed"  # the session's note of a removal, for the page that follows it


def removal_signal(account) -> dict | None:
    """After a passkey removal, once: what the page tells the browser through the WebAuthn
    Signal API, so the device stops offering the removed passkey (WebAuthn L3, "Signal Credential Changes")."""
    removed = g.session.pop(REMOVED_PASSKEY) if g.session else None
    accepted = accepted_credentials(account) if isinstance(removed, str) else None
    if accepted is None:
        return None
    user_id, ids = accepted
    return {"rp_id": context.rp_id(), "user_id": user_id, "accepted": ids, "removed": removed}


def account_page(section: str = "profile", *, error: CodebError | None = None, form: dict | None = None):
    notice = request.args.get("m")
    return render_template(
        f"account/{section}.html", section=section, sections=SECTIONS,
        notice=notice if notice in NOTICES else None, error=error, form=form or {},
        **section_values(section))


def require_recent_sign_in(back: str = "account.sign_in") -> None:
    """Adding or removing a passkey or the password, creating an app password, or deleting the account, needs a sign-in
    within RECENT_SIGN_IN: otherwise ReauthRequired (the error handler sends the person to
    confirm it's them), and the next sign-in in this browser comes back to `back` (an endpoint)."""
    if not g.session.signed_in_recently(g.tenant.store.clock()):
        g.session.set(context.AFTER_SIGNIN, url_for(back))
        raise ReauthRequired()


@bp.get("/account/confirm")
def confirm():
    """"Confirm it's you": sign in again with a method the account has, then back to the account page."""
    if g.session.signed_in_recently(g.tenant.store.clock()):
        return redirect(url_for("account.page"), code=303)
    if not g.session.data.get(context.AFTER_SIGNIN):  # a passkey change asked for it: back there
        g.session.set(context.AFTER_SIGNIN, url_for("account.page"))
    return render_template("account/confirm.html", minutes=RECENT_SIGN_IN // 60)


def save_profile_form(confirm: bool = False) -> None:
    """The profile fields of the account page and the first-sign-in screen, validated and stored."""
    g.account = g.accounts.update_profile(
        g.account.login, display_name=request.form.get("display_name"),
        nickname=request.form.get("nickname"), language=request.form.get("language"),
        languages=g.tenant.available_languages, confirm=confirm)


@bp.get("/account")
def page():
    """Profile: the first section."""
    return account_page("profile")


@bp.get("/account/sign-in")
def sign_in():
    """Sign-in & passkeys: the passkeys and the optional password."""
    return account_page("signin")


@bp.get("/account/devices")
def devices():
    """Devices: the browsers and apps signed in to the account."""
    return account_page("devices")


@bp.get("/account/privacy", endpoint="privacy")
def privacy_page():
    """Privacy: the person's own data."""
    return account_page("privacy")


@bp.post("/account/profile")
def profile():
    try:
        save_profile_form()
    except CodebError as error:
        return account_page("profile", error=error, form=request.form), error.status
    g.lang = g.account.language
    return redirect(url_for("account.page", m="profile_saved"), code=303)


@bp.route("/welcome", methods=["GET", "POST"])
def confirm_profile():
    """Step "Profile" of a first sign-in, whatever the method: how others will see the person."""
    if flow.passkey_required(g.account, signin.enabled(g.tenant)):  # the passkey screen comes first
        return redirect(url_for("passkeys.welcome"), code=303)
    error, form = None, None
    if request.method == "POST":
        try:
            save_profile_form(confirm=True)
            audit.append(g.tenant.store, "profile.confirmed", login=g.account.login, sub=g.account.sub)
            if passkey_step_follows(g.account):  # step "Passkey" next; `continue` waits for it
                g.session.set(PASSKEY_STEP, True)
                return redirect(url_for("passkeys.welcome"), code=303)
            target = g.session.pop("continue")
            return redirect(safe_local_path(target, url_for("office.shell")), code=303)
        except CodebError as failure:
            error, form = failure, request.form
    allow_form_to_continue_target()
    return render_template("account/welcome.html", form=form or {}, error=error,
                           steps=first_sign_in_steps(g.account, "profile"),
                           suggested_name=g.account.given_display_name), (error.status if error else 200)


PASSKEY_STEP = "first_sign_in_passkey"  # the session's note: the passkey step of a first sign-in is open


def in_first_sign_in(account) -> bool:
    """Whether the person is still in the steps of their first sign-in."""
    return not account.profile_confirmed or bool(g.session and g.session.data.get(PASSKEY_STEP))


def passkey_step_follows(account) -> bool:
    """After the profile, the passkey step: passkeys are on here and the account has none yet."""
    return "passkey" in signin.enabled(g.tenant) and not account.has_passkeys


def first_sign_in_steps(account, current: str) -> list[dict]:
    """The steps of a first sign-in in the order this person meets them (Profile → Passkey, or
    Passkey → Profile when they chose "Create an account with a passkey" or must have one),
    each `{"name", "state": "done" | "current" | "next"}`; empty when there is only one step."""
    if "passkey" not in signin.enabled(g.tenant):
        return []
    passkey_first = (account.has_passkeys and current == "profile") or (
        current == "passkey" and not account.profile_confirmed)
    order = ["passkey", "profile"] if passkey_first else ["profile", "passkey"]
    at = order.index(current)
    return [{"name": name, "state": "done" if i < at else "current" if i == at else "next"}
            for i, name in enumerate(order)]


def allow_form_to_continue_target() -> None:
    """Confirming may end at the waiting client (POST → 303 /authorize/resume → 302): `form-action` must allow it."""
    target = urlsplit((g.session.data.get("continue") if g.session else None) or "")
    iid = parse_qs(target.query).get("i", [None])[0] if target.path == url_for("oidc.resume") else None
    if iid:
        context.allow_form_redirect_to(interactions.get(g.tenant.store, iid))


@bp.post("/account/password")
def set_password():
    """Set or change the optional password; the plaintext goes no further than the request."""
    require_recent_sign_in()
    form = request.form
    try:
        if "password" not in signin.enabled(g.tenant):
            raise CodebError("error.method_disabled")
        passwords.change(g.accounts, g.account.login, current=form.get("current", ""), new=form.get("new", ""),
                         repeat=form.get("repeat", ""), realm=passwords.sip_realm(g.tenant))
    except CodebError as error:
        return account_page("signin", error=error), error.status
    audit.append(g.tenant.store, "password.set", login=g.account.login, sub=g.account.sub)
    return redirect(url_for("account.sign_in", m="password_saved"), code=303)


@bp.post("/account/password/remove")
def remove_password():
    require_recent_sign_in()
    passwords.remove(g.accounts, g.account.login)
    audit.append(g.tenant.store, "password.removed", login=g.account.login, sub=g.account.sub)
    return redirect(url_for("account.sign_in", m="password_removed"), code=303)


@bp.post("/account/links/remove")
def remove_link():
    """Disconnect a company account (corporate SSO): unless it is the last way in."""
    require_recent_sign_in()
    try:
        link = Links(g.accounts).unlink(
            g.account.login, request.form.get("issuer", ""), request.form.get("subject", ""),
            can_sign_in=lambda account: signin.can_sign_in(g.tenant, account))
    except NotFound:
        raise BadInput("error.upstream.link_unknown") from None
    except Conflict as error:
        return account_page("signin", error=error), error.status
    audit.append(g.tenant.store, "upstream.unlinked", login=g.account.login, sub=g.account.sub,
                 upstream=link.get("upstream"), name=link.get("name"))
    return redirect(url_for("account.sign_in", m="link_removed"), code=303)


@bp.post("/account/links/connect")
def connect_link():
    """Connect a company account from here, after a recent sign-in: the browser goes to the
    company's sign-in, and what it proves there is linked to this account (not by email:
    the person proved both sides; codeb.signin.federation), then back to this page."""
    require_recent_sign_in()
    upstream = Upstreams(g.tenant.store).get(request.form.get("upstream"))
    if upstream is None or not upstream.get("enabled", True):
        raise BadInput("error.upstream.unknown")
    method = signin.enabled(g.tenant).get(upstream.get("kind", "oidc"))
    if method is None:
        raise BadInput("error.method_disabled")
    ctx = replace(signin_web.method_context(), linking=g.account.login)
    challenge = method.begin(ctx, {"upstream": upstream["id"]})
    g.session.set(context.AFTER_SIGNIN, url_for("account.sign_in", m="link_added"))
    return render_template("signin/elsewhere.html", url=challenge.redirect)


@bp.post("/account/wallet/connect")
def connect_wallet():
    """Connect an EU Digital Identity Wallet from here, after a recent sign-in: the PID the
    wallet presents is linked to this account, which it marks identity-verified
    (codeb.signin.wallet), then back to this page."""
    require_recent_sign_in()
    method = signin.enabled(g.tenant).get("wallet")
    if method is None:
        raise BadInput("error.method_disabled")
    ctx = replace(signin_web.method_context(), linking=g.account.login)
    challenge = method.begin(ctx, {"wallet": "1"})
    g.session.set(context.AFTER_SIGNIN, url_for("account.sign_in", m="wallet_linked"))
    return redirect(safe_local_path(challenge.then, url_for("account.sign_in")), code=303)


@bp.post("/account/consents/revoke")
def revoke_consent():
    """Withdraw an app's access: its next sign-in asks again (codeb.oidc.consent)."""
    client_id = request.form.get("client_id", "")
    if not consents.revoke(g.accounts, g.account.login, client_id):
        raise BadInput("error.consent_unknown")
    audit.append(g.tenant.store, "consent.revoked", login=g.account.login, sub=g.account.sub, client_id=client_id)
    return redirect(url_for("account.sign_in", m="consent_revoked"), code=303)


@bp.post("/account/sessions/end")
def end_session():
    entry = request.form.get("id", "")
    current = secret_id(g.session.sid)
    if entry == current:
        context.end_browser_session()
        return redirect(url_for("signin.page"), code=303)
    g.sessions.end_listed(g.accounts, g.account.login, entry)
    audit.append(g.tenant.store, "session.ended", login=g.account.login, sub=g.account.sub)
    return redirect(url_for("account.devices", m="session_ended"), code=303)


@bp.post("/account/sessions/end-others")
def end_other_sessions():
    """End every session but this browser's; this one stays signed in."""
    ended = g.sessions.end_others(g.accounts, g.account.login, secret_id(g.session.sid))
    audit.append(g.tenant.store, "session.ended_others", login=g.account.login, sub=g.account.sub, count=ended)
    return redirect(url_for("account.devices", m="sessions_ended_others"), code=303)


@bp.post("/account/sessions/end-all")
def end_all_sessions():
    """Sign out everywhere; with the box ticked, the native clients' app passwords end too."""
    revoked = g.sessions.end_all(g.accounts, g.account.login, app_passwords=request.form.get("app_passwords") == "1")
    audit.append(g.tenant.store, "session.ended_everywhere", login=g.account.login, sub=g.account.sub)
    if revoked:
        audit.append(g.tenant.store, "app_password.revoked", login=g.account.login, sub=g.account.sub,
                     count=revoked, everywhere=True)
    context.end_browser_session()
    return redirect(url_for("signin.page"), code=303)


# -- App passwords: what native XMPP and SIP clients sign in with (codeb.accounts.app_passwords) --

@bp.post("/account/app-passwords")
def create_app_password():
    """Create an app password after a recent sign-in, and show its secret on this one response:
    it is not stored anywhere it could be read again, and the page is not cached (no-store)."""
    require_recent_sign_in(back="account.devices")
    account = g.account
    try:
        created, secret = app_passwords.create(g.accounts, account.login, name=request.form.get("name"),
                                               purposes=request.form.getlist("purposes"),
                                               realm=passwords.sip_realm(g.tenant))
    except CodebError as error:
        audit.append(g.tenant.store, "app_password.refused", login=account.login, sub=account.sub,
                     reason=error.message_id)
        return account_page("devices", error=error, form=request.form), error.status
    audit.append(g.tenant.store, "app_password.created", login=account.login, sub=account.sub,
                 name=created.name, purposes=list(created.purposes))
    g.account = g.accounts.require(account.login)
    page = render_template("account/devices.html", section="devices", sections=SECTIONS, notice=None, error=None,
                           form={}, created=created, secret=secret, **section_values("devices"))
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/account/app-passwords/revoke")
def revoke_app_password():
    revoked = app_passwords.revoke(g.accounts, g.account.login, request.form.get("id"))
    if revoked is None:
        raise BadInput("error.app_password_unknown")
    audit.append(g.tenant.store, "app_password.revoked", login=g.account.login, sub=g.account.sub,
                 name=revoked.name)
    return redirect(url_for("account.devices", m="app_password_revoked"), code=303)


# -- "Delete my account": the admin's erasure, asked for by the person ------------------------

def deletion_refusal(account) -> CodebError | None:
    """Why this account cannot delete itself, if it cannot: an admin's legal hold on its files,
    or it is the tenant's last administrator (checked again under the admin lock on deletion)."""
    if privacy.held(g.tenant.store, account.sub):
        return Conflict("error.delete_self_held")
    if "admin" in account.roles and not [other for other in g.accounts.admins() if other != account.login]:
        return Conflict("error.delete_self_last_admin")
    return None


def deletion_page(error: CodebError | None = None):
    account = g.account
    return render_template(
        "account/delete.html", section="privacy", sections=SECTIONS, refusal=deletion_refusal(account), error=error,
        passkeys=len(passkeys_of(account)), sessions=len(g.sessions.active(account)),
        files=privacy.inventory(g.tenant.store, account.sub)), (error.status if error else 200)


@bp.get("/account/delete")
def delete_confirm():
    """What deleting the account erases, and the button; only after a recent sign-in."""
    require_recent_sign_in(back="account.delete_confirm")
    return deletion_page()


@bp.post("/account/delete")
def delete():
    """The account, its passkeys, sessions, grants and files go, as when an admin deletes it
    (`Accounts.delete`); then this browser is signed out and told it is done."""
    require_recent_sign_in(back="account.delete_confirm")
    if request.form.get("confirm") != "1":
        return deletion_page(BadInput("error.delete_self_confirm", field="confirm"))
    refusal = deletion_refusal(g.account)
    if refusal is not None:
        return deletion_page(refusal)
    account = g.account
    try:
        g.accounts.delete(account.login, keep_an_admin=True, by=account.login)
    except Conflict:  # the last other admin lost the role meanwhile: the lock's answer
        return deletion_page(Conflict("error.delete_self_last_admin"))
    audit.append(g.tenant.store, "account.deleted_self", login=account.login, sub=account.sub)
    context.end_browser_session()
    return redirect(url_for("account.deleted"), code=303)


@bp.get("/account/deleted")
def deleted():
    """Said after a self-service deletion (the browser is signed out by then)."""
    return render_template("account/deleted.html")


# -- "Change email": verified by a link mailed to the new address --------------------------

EMAIL_CHANGES_PER_ACCOUNT = ((3, 3600),)  # three requests an hour, whatever the addresses


def email_change_refusal(email: str) -> CodebError | None:
    """The tenant's sign-up policy `domains` binds accounts to its domains: a new address too."""
    policy = signup.policy_of(g.tenant)
    if policy["policy"] == "domains" and email.rsplit("@", 1)[-1] not in policy["domains"]:
        return BadInput("error.email_change_domain", field="email", domains=", ".join(policy["domains"]))
    return None


@bp.post("/account/email")
def change_email():
    """Mail a one-time link to the new address and a notice to the current one. The answer is
    the same whether the new address is free or another account's (no enumeration): only
    the mail to the new address says which."""
    require_recent_sign_in(back="account.page")
    account = g.account
    try:
        with concerning("email"):
            new = normalize_email(request.form.get("email"))
            refusal = email_change_refusal(new)
            if refusal is not None:
                raise refusal
            if new == account.email:
                raise BadInput("error.email_change_same")
            hit_limits(g.tenant.store, layout.EMAIL_CHANGE_PER_ACCOUNT, account.login, EMAIL_CHANGES_PER_ACCOUNT)
            hit_limits(g.tenant.store, layout.MAGIC_PER_ADDRESS, mailbox_of(new), MAILED_PER_MAILBOX)
    except CodebError as error:
        return account_page("profile", error=error, form=request.form), error.status
    mailer, language = context.mailer(), account.language or g.lang
    holder = g.accounts.find_by_email(new)
    if holder is not None:
        mailer.send("email_change_taken", to=new, language=language, new=new)
    else:
        link = invites.issue(g.tenant.store, invites.EMAIL_CHANGE, {"login": account.login, "sub": account.sub,
                                                                    "email": new})
        mailer.send("email_change", to=new, language=language, old=account.email,
                    url=g.issuer + url_for("account.email_link", link=link),
                    minutes=invites.EMAIL_CHANGE.lifetime // 60)
    mailer.send("email_change_notice", to=account.email, language=language, new=new)
    audit.append(g.tenant.store, "email.change_requested", login=account.login, sub=account.sub)
    return redirect(url_for("account.page", m="email_change_sent"), code=303)


def pending_change(link: str) -> dict:
    """The change a link asks for, unspent, for the signed-in account that asked for it."""
    record = invites.peek(g.tenant.store, link, (invites.EMAIL_CHANGE,))
    if record is None:
        raise SignInFailed("error.link_used")
    if record.get("login") != g.account.login or record.get("sub") != g.account.sub:
        raise Forbidden("error.email_change_other_account")
    return record


@bp.get("/account/email/<link>")
def email_link(link):
    """The link from the mail: a page with one button (a mail scanner's GET changes nothing)."""
    if g.account is None:
        context.session().set(context.AFTER_SIGNIN, url_for("account.email_link", link=link))
        return redirect(url_for("signin.page"), code=303)
    record = pending_change(link)
    return render_template("account/email_confirm.html", link=link, email=record["email"])


@bp.post("/account/email/confirm")
def confirm_email():
    link = request.form.get("link", "")
    pending_change(link)
    record = invites.take(g.tenant.store, link, (invites.EMAIL_CHANGE,))
    if record is None:  # spent by another request a moment ago
        raise SignInFailed("error.link_used")
    old = g.account.email
    g.account = g.accounts.change_email(g.account.login, record["email"])
    audit.append(g.tenant.store, "email.changed", login=g.account.login, sub=g.account.sub)
    context.mailer().send("email_changed_notice", to=old, language=g.account.language or g.lang,
                          new=g.account.email)
    return redirect(url_for("account.page", m="email_changed"), code=303)


@bp.get("/account/export")
def export():
    """The person's own data, machine-readable (GDPR Art. 20)."""
    body = privacy.export(g.tenant.store, g.tenant.name, g.account)
    audit.append(g.tenant.store, "account.exported", login=g.account.login, sub=g.account.sub)
    return download(body, privacy.export_filename(g.tenant.name, g.account.login))


def download(body: dict, filename: str) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
