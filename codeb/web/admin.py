"""admin.html and the admin pages: users, OIDC clients, sign-in settings, languages,
privacy, audit log. Every route checks the `admin` role of the signed-in account
in this tenant (or a break-glass superuser session) before anything else, and
every change is written to the audit log with who made it.
"""

import csv
import io
import json
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from .. import audit, i18n, invites, signin
from ..accounts import ROLES, app_passwords, directory, privacy
from ..accounts.extensions import range_part
from ..accounts.passkeys import Passkeys, passkeys_of
from ..errors import BadInput, CodebError, Conflict, NotFound, concerning
from ..oidc import discovery
from ..oidc.client_settings import GRANT_TYPES
from ..oidc.clients import SCOPES, Clients, check_redirect_uri_shape, hold_for_display, take_for_display
from ..tenants import languages as tenant_languages
from ..tenants import settings as tenant_settings
from ..tenants import sip as tenant_sip
from . import context
from .account import download

bp = Blueprint("admin", __name__)
PAGE_SIZE = 50
# The field each failure of a form that one call validates is about (shown beside it).
NEW_USER_FIELDS = {"error.invalid_email": "email", "error.email_taken": "email",
                   "error.invalid_name.login": "login", "error.invalid_name.reserved": "login",
                   "error.login_taken": "login", "error.login_deleted": "login",
                   "error.email_not_ascii": "email", "error.display_name": "display_name"}
CLIENT_FIELDS = {"error.invalid_client_name": "name", "error.client_needs_redirect_uri": "redirect_uris",
                 "error.invalid_home_url": "home_url", "error.invalid_logo_uri": "logo_uri"}
SETTINGS_FIELDS = {"error.settings_no_method": "methods", "error.invalid_signup_policy": "signup",
                   "error.settings_domains": "domains", "error.settings_aaguid": "allowed_aaguids",
                   "error.settings_numbers": "max_passkeys"}
LANGUAGE_FIELDS = {"error.language_code": "lang"}
NOTICES = ("user_created", "user_saved", "user_disabled", "user_enabled", "user_deleted", "erased", "hold_released",
           "session_ended", "sessions_ended", "passkey_removed", "hold_placed", "hold_lifted",
           "client_created", "client_saved", "client_protocol_saved", "secret_renewed", "client_deleted",
           "settings_saved",
           "language_saved", "language_removed", "upstream_created", "upstream_enabled", "upstream_disabled",
           "upstream_deleted", "upstream_updated", "guest_removed", "invite_revoked", "app_password_revoked")


def is_admin() -> bool:
    return bool(g.get("superuser")) or (g.account is not None and "admin" in g.account.roles)


@bp.before_request
def require_admin():
    if is_admin():
        return None
    if g.account is None and request.method == "GET":
        return redirect(url_for("signin.page"), code=303)
    return abort(403)


def actor() -> dict:
    """Who did it, for the audit log: the admin's login, or the break-glass superuser."""
    if g.get("superuser"):
        return {"actor": "superuser", "breakglass": True}
    return {"actor": g.account.login}


def record(event: str, **facts) -> None:
    """An event of the audit log; one about an account names its sub too (audit.of_account)."""
    if "login" in facts and "sub" not in facts:
        account = g.accounts.get(facts["login"])
        facts["sub"] = account.sub if account else None
    audit.append(g.tenant.store, event, **actor(), **facts)


def back(endpoint: str, notice: str, **values):
    return redirect(url_for(endpoint, m=notice, **values), code=303)


def notice() -> str | None:
    value = request.args.get("m")
    return value if value in NOTICES else None


def render(template: str, status: int = 200, **values):
    return render_template(f"admin/{template}", notice=notice(), breakglass=bool(g.get("superuser")),
                           **values), status


# -- the shell -----------------------------------------------------------------------

@bp.get("/admin.html")
def shell():
    total, _ = g.accounts.directory.search("", limit=1)
    return render("shell.html", users=total, clients=len(Clients(g.tenant.store).list()))


# -- users -----------------------------------------------------------------------------

USER_TABS = ("profile", "roles", "sessions", "passkeys", "app_passwords", "activity", "privacy", "hold")
SORTS = tuple(directory.SORTS)
BULK_ACTIONS = ("disable", "resend")
BULK_MAX = 200  # checkboxes of one page (PAGE_SIZE) with room; more is not a form of ours
ACTIVITY_SHOWN = 50
LIST_DEFAULTS = {"sort": "login", "dir": "asc", "page": 1}


def list_params() -> dict:
    """The user list's query, filters, order and page as the URL names them (bad values dropped)."""
    args = request.args
    params: dict = {"q": args.get("q", "")[:100], "status": args.get("status", ""), "role": args.get("role", ""),
              "sort": args.get("sort", "login"), "dir": args.get("dir", "asc")}
    if params["status"] not in directory.STATUSES:
        params["status"] = ""
    if params["role"] not in ROLES:
        params["role"] = ""
    if params["sort"] not in SORTS:
        params["sort"] = "login"
    if params["dir"] not in ("asc", "desc"):
        params["dir"] = "asc"
    try:
        params["page"] = max(1, int(args.get("page", 1)))
    except ValueError:
        params["page"] = 1
    return params


def users_page(status: int = 200, **values):
    """The user list: one page of the directory, as filtered and sorted (the index alone: no
    account document is read), with the invitation panel and the bulk form."""
    params = list_params()
    total, rows = g.accounts.directory.listing(
        params["q"], status=params["status"] or None, role=params["role"] or None, sort=params["sort"],
        descending=params["dir"] == "desc", offset=(params["page"] - 1) * PAGE_SIZE, limit=PAGE_SIZE)

    def link(**changes):
        """This list's URL with some parameters changed (a new filter or order starts at page 1)."""
        merged = {**params, "page": 1, **changes}
        return url_for("admin.users", **{k: v for k, v in merged.items() if v and LIST_DEFAULTS.get(k) != v})

    return render("users.html", status, rows=rows, total=total, params=params, link=link,
                  query=params["q"], page=params["page"], pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
                  statuses=directory.STATUSES, roles=ROLES, sorts=SORTS, holds=privacy.holds(g.tenant.store),
                  kinds=privacy.KINDS, **values)


@bp.get("/admin/users")
def users():
    return users_page()


@bp.post("/admin/users")
def create_user():
    form = request.form
    try:
        roles = ["user", "admin"] if form.get("admin") == "1" else ["user"]
        with concerning(NEW_USER_FIELDS):
            account = g.accounts.create(email=form.get("email", ""), login=form.get("login") or None,
                                        roles=roles, display_name=form.get("display_name") or None,
                                        reuse_login=form.get("reuse_login") == "1")
        invite(account)
    except CodebError as error:
        return users_page(error.status, error=error, form=form, inviting=True)
    record("user.created", login=account.login, roles=account.roles)
    return back("admin.user", "user_created", login=account.login)


def invite(account) -> None:
    """Mail the new account its invitation; if it cannot be sent, the account is undone
    (DESIGN invariant 6: never a half-created account)."""
    send_invitation(account)


def send_invitation(account, *, undo: bool = True) -> None:
    inviter = g.account.display_name if g.account else g.tenant.display_name
    try:
        invites.invite_account(g.tenant.store, context.mailer(), base_url=g.issuer, account=account,
                               inviter=inviter, language=g.lang)
    except BaseException:
        if undo:
            g.accounts.withdraw(account.login)
        raise


@bp.post("/admin/users/bulk")
def bulk():
    """One action on the accounts ticked in the list: each is checked on its own and the page
    says what was done and what was not, and why (one refusal stops none of the others)."""
    action = request.form.get("action", "")
    logins = list(dict.fromkeys(request.form.getlist("login")))
    if action not in BULK_ACTIONS:
        raise BadInput("error.bulk_action")
    if not logins:
        return users_page(400, error=BadInput("error.bulk_none"))
    if len(logins) > BULK_MAX:
        raise BadInput("error.bulk_too_many", max=BULK_MAX)
    done, skipped = [], []
    for login in logins:
        refusal = bulk_one(action, login)
        if refusal is None:
            done.append(login)
        else:
            skipped.append({"login": login, "message_id": refusal.message_id, "params": refusal.params})
    return users_page(summary={"action": action, "done": done, "skipped": skipped})


def bulk_one(action: str, login: str) -> CodebError | None:
    """Do the bulk action to one account; the reason it was not done, if it was not."""
    try:
        account = g.accounts.get(login)
    except (CodebError, ValueError):
        account = None
    refusal = bulk_refusal(action, account)
    if refusal is not None:
        return refusal
    try:
        if action == "disable":
            g.accounts.set_disabled(account.login, True)
            record("user.disabled", login=account.login, bulk=True)
        else:
            send_invitation(account, undo=False)
            record("user.invitation_resent", login=account.login, bulk=True)
    except CodebError as error:
        return error
    except OSError:
        return Conflict("error.bulk_mail")
    return None


def bulk_refusal(action: str, account) -> CodebError | None:
    """Why the bulk action does not apply to this account, if it does not."""
    if account is None:
        return NotFound("error.bulk_no_account")
    if action == "disable" and account.disabled:
        return Conflict("error.bulk_already_disabled")
    if action == "disable" and g.account is not None and account.login == g.account.login:
        return Conflict("error.bulk_self")
    if action == "resend" and account.disabled:
        return Conflict("error.bulk_disabled")
    if action == "resend" and account.entry["status"] != "invited":
        return Conflict("error.bulk_signed_in")
    return None


def _target(login):
    try:
        return g.accounts.require(login)
    except (CodebError, ValueError):
        abort(404)


@bp.get("/admin/users/<login>")
def user(login):
    tab = request.args.get("tab", "profile")
    return user_page(_target(login), tab=tab if tab in USER_TABS else "profile")


def user_page(account, error: CodebError | None = None, form=None, tab: str | None = None):
    """One tab of the user's page; after a failed form, its error beside the field and `form`
    as typed. Each tab reads only what it shows."""
    tab = tab or (error_tab(error) if error else "profile")
    inventory = privacy.inventory(g.tenant.store, account.sub)
    values: dict = {"passkeys": passkeys_of(account), "inventory": inventory, "kinds": privacy.KINDS,
              "hold": privacy.hold_of(g.tenant.store, account.sub),
              "nothing_to_erase": not any(part["files"] for part in inventory.values())}
    if tab == "sessions":
        values["devices"] = g.sessions.devices(account, None)
    if tab == "app_passwords":
        values["app_passwords"] = app_passwords.listed(account)
    if tab == "activity":
        values["events"] = [readable(e) for e in audit.recent_of_account(g.tenant.store, account, ACTIVITY_SHOWN)]
    return render("user.html", error.status if error else 200, user=account, tab=tab, tabs=USER_TABS,
                  entry=account.entry, error=error, form=form, **values)


def error_tab(error: CodebError) -> str:
    """The tab whose form a failure is about, when the caller did not say."""
    if error.field == "admin" or error.message_id == "error.last_admin":
        return "roles"
    if (error.field or "").startswith("confirm:"):
        return "privacy"
    return "profile"


@bp.post("/admin/users/<login>")
def save_user(login):
    """The profile tab (name, extension) or the roles tab (administrator); the form of both at
    once, as before the tabs, still saves all three."""
    account = _target(login)
    form = request.form
    part = form.get("part")
    admin = form.get("admin") == "1" if part != "profile" else "admin" in account.roles
    try:
        updated = g.accounts.save_by_admin(
            login, display_name=form.get("display_name") if part != "roles" else account.display_name,
            roles=["user", "admin"] if admin else ["user"],
            ext=(form.get("ext") or "").strip() or None if part != "roles" else None)
    except CodebError as error:
        return user_page(g.accounts.require(login), error, form=form, tab="roles" if part == "roles" else None)
    if updated.roles != account.roles:
        record("user.roles_changed", login=login, before=account.roles, after=updated.roles)
    if part != "roles":
        record("user.updated", login=login)
    return back("admin.user", "user_saved", login=login, tab="roles" if part == "roles" else None)


@bp.post("/admin/users/<login>/disable")
def disable_user(login):
    return _set_disabled(login, True)


@bp.post("/admin/users/<login>/enable")
def enable_user(login):
    return _set_disabled(login, False)


def _set_disabled(login, disabled):
    _target(login)
    try:
        g.accounts.set_disabled(login, disabled)
    except CodebError as error:
        return user_page(g.accounts.require(login), error)
    record("user.disabled" if disabled else "user.enabled", login=login)
    return back("admin.user", "user_disabled" if disabled else "user_enabled", login=login)


@bp.post("/admin/users/<login>/delete")
def delete_user(login):
    account = _target(login)
    if request.form.get("confirm") != login:
        return user_page(account, BadInput("error.confirm_login", field="confirm", login=login))
    hold = request.form.get("hold") == "1"
    try:
        g.accounts.delete(login, hold=hold, by=actor()["actor"])
    except CodebError as error:
        return user_page(account, error, tab="profile")
    record("user.deleted", login=login, sub=account.sub, hold=hold)
    return back("admin.users", "user_deleted")


@bp.post("/admin/legal-holds/<hold_id>/erase")
def release_hold(hold_id):
    """End a legal hold: the deleted account's kept files are erased."""
    if request.form.get("confirm") != "1":
        raise BadInput("error.confirm_erasure")
    released = privacy.release(g.tenant.store, hold_id)
    record("privacy.hold_released", login=released["login"], sub=released["sub"],
           files=sum(k["files"] for k in released["erased"].values()),
           bytes=sum(k["bytes"] for k in released["erased"].values()))
    return back("admin.users", "hold_released")


@bp.post("/admin/users/<login>/erase")
def erase(login):
    account = _target(login)
    kind = request.form.get("kind", "")
    if request.form.get("confirm") != "1":
        return user_page(account, BadInput("error.confirm_erasure", field="confirm:" + kind))
    try:
        erased = privacy.erase(g.tenant.store, account.sub, kind)
    except CodebError as error:
        return user_page(account, error, tab="privacy")
    record("privacy.erased", login=login, kind=kind, files=erased["files"], bytes=erased["bytes"])
    return back("admin.user", "erased", login=login, tab="privacy")


# -- one account's sessions, passkeys and legal hold ---------------------------------------

@bp.post("/admin/users/<login>/sessions/<entry_id>/end")
def end_session(login, entry_id):
    account = _target(login)
    if not g.sessions.end_listed(g.accounts, account.login, entry_id):
        return user_page(account, NotFound("error.session_not_found"), tab="sessions")
    record("session.ended", login=login)
    return back("admin.user", "session_ended", login=login, tab="sessions")


@bp.post("/admin/users/<login>/sessions/end-all")
def end_all_sessions(login):
    account = _target(login)
    g.sessions.end_all(g.accounts, account.login)
    record("session.ended_everywhere", login=login)
    return back("admin.user", "sessions_ended", login=login, tab="sessions")


@bp.post("/admin/users/<login>/passkeys/<credential_id>/remove")
def remove_passkey(login, credential_id):
    account = _target(login)
    try:
        Passkeys(g.tenant, g.accounts).remove(account.login, credential_id,
                                              can_sign_in=lambda a: signin.can_sign_in(g.tenant, a))
    except CodebError as error:
        return user_page(account, error, tab="passkeys")
    record("passkey.removed", login=login, passkey=credential_id)
    return back("admin.user", "passkey_removed", login=login, tab="passkeys")


@bp.post("/admin/users/<login>/app-passwords/<app_password_id>/revoke")
def revoke_app_password(login, app_password_id):
    account = _target(login)
    revoked = app_passwords.revoke(g.accounts, account.login, app_password_id)
    if revoked is None:
        return user_page(account, NotFound("error.app_password_unknown"), tab="app_passwords")
    record("app_password.revoked", login=login, name=revoked.name)
    return back("admin.user", "app_password_revoked", login=login, tab="app_passwords")


@bp.post("/admin/users/<login>/hold")
def place_hold(login):
    account = _target(login)
    try:
        placed = privacy.place_hold(g.tenant.store, account, by=actor()["actor"], reason=request.form.get("reason"))
    except CodebError as error:
        return user_page(account, error, form=request.form, tab="hold")
    record("privacy.hold_placed", login=login, reason=placed["reason"])
    return back("admin.user", "hold_placed", login=login, tab="hold")


@bp.post("/admin/users/<login>/hold/lift")
def lift_hold(login):
    account = _target(login)
    try:
        lifted = privacy.lift_hold(g.tenant.store, account, reason=request.form.get("reason"))
    except CodebError as error:
        return user_page(account, error, form=request.form, tab="hold")
    record("privacy.hold_lifted", login=login, reason=lifted["lift_reason"], placed_by=lifted.get("by"))
    return back("admin.user", "hold_lifted", login=login, tab="hold")


@bp.get("/admin/users/<login>/export")
def export_user(login):
    account = _target(login)
    body = privacy.export(g.tenant.store, g.tenant.name, account)
    record("privacy.exported", login=login)
    return download(body, privacy.export_filename(g.tenant.name, login))


# -- OIDC clients ----------------------------------------------------------------------

def _uris(field: str) -> list[str]:
    """The URIs of a textarea, one a line, each checked here so a failure names its field."""
    uris = [line.strip() for line in request.form.get(field, "").splitlines() if line.strip()]
    with concerning(field):
        for uri in uris:
            check_redirect_uri_shape(uri)
    return uris


def client_form() -> dict:
    """The client form as typed, to show again beside its error."""
    form = request.form
    return {"name": form.get("name", ""), "redirect_uris": form.get("redirect_uris", ""),
            "post_logout_redirect_uris": form.get("post_logout_redirect_uris", ""),
            "scopes": form.getlist("scopes"), **client_extras()}


def client_extras() -> dict:
    """What the sign-in, consent and office pages show of a client: its logo, whether the
    person must allow it their data (a third-party app), and its home page for the Apps grid."""
    return {"logo_uri": request.form.get("logo_uri", ""),
            "consent_required": request.form.get("consent_required") == "1",
            "home_url": request.form.get("home_url", "")}


def endpoints() -> list[tuple[str, str]]:
    """The tenant's OpenID Provider URLs an application is configured with, for this issuer."""
    return [("issuer", g.issuer), ("discovery", g.issuer + "/.well-known/openid-configuration"),
            *((name, g.issuer + path) for name, path in discovery.PATHS.items())]


@bp.get("/admin/clients")
def clients():
    return render("clients.html", clients=Clients(g.tenant.store).list(), scopes=SCOPES, endpoints=endpoints())


@bp.post("/admin/clients")
def create_client():
    try:
        with concerning(CLIENT_FIELDS):
            client, secret = Clients(g.tenant.store).add(
                name=request.form.get("name", ""), redirect_uris=_uris("redirect_uris"),
                post_logout_redirect_uris=_uris("post_logout_redirect_uris"),
                public=request.form.get("public") == "1",
                scopes=request.form.getlist("scopes") or ["openid", "profile", "email"],
                **client_extras())
    except CodebError as error:
        return render("clients.html", error.status, clients=Clients(g.tenant.store).list(), scopes=SCOPES,
                      endpoints=endpoints(), error=error, form=client_form(), public=request.form.get("public") == "1")
    record("client.created", client_id=client.client_id, name=client.name)
    return show_secret_once(client.client_id, secret, "client_created")


def show_secret_once(client_id: str, secret: str | None, notice: str):
    """POST → 303 → GET: the client's page shows the new secret once, from a short-lived
    sealed record the redirect names; a reload finds it gone. Only its hash stays stored."""
    if secret is None:  # a public client has none
        return back("admin.client", notice, client_id=client_id)
    token = hold_for_display(g.tenant.store, client_id, secret, viewer=context.session().csrf)
    return back("admin.client", notice, client_id=client_id, shown=token)


def _client(client_id):
    client = Clients(g.tenant.store).get(client_id)
    if client is None or client.doc.get("first_party"):
        abort(404)
    return client


@bp.get("/admin/clients/<client_id>")
def client(client_id):
    client = _client(client_id)
    shown = request.args.get("shown")
    secret = take_for_display(g.tenant.store, shown, client_id=client.client_id,
                              viewer=context.session().csrf) if shown else None
    return render("client.html", client=client, scopes=SCOPES, secret=secret,
                  secret_gone=bool(shown) and secret is None, endpoints=endpoints(), grant_types=GRANT_TYPES)


@bp.post("/admin/clients/<client_id>")
def save_client(client_id):
    _client(client_id)
    try:
        with concerning(CLIENT_FIELDS):
            updated = Clients(g.tenant.store).update(
                client_id, name=request.form.get("name", ""), redirect_uris=_uris("redirect_uris"),
                post_logout_redirect_uris=_uris("post_logout_redirect_uris"),
                scopes=request.form.getlist("scopes"), **client_extras())
    except CodebError as error:
        return render("client.html", error.status, client=_client(client_id), scopes=SCOPES, error=error,
                      form=client_form(), endpoints=endpoints(), grant_types=GRANT_TYPES)
    record("client.updated", client_id=updated.client_id)
    return back("admin.client", "client_saved", client_id=client_id)


# Which field of the protocol form a refusal of `Clients.configure` is about; the others
# (grant types, FAPI, keys given twice) concern the form as a whole and are shown at its top.
PROTOCOL_FIELDS = {
    "error.client_auth_method": "token_endpoint_auth_method", "error.client_needs_keys": "jwks",
    "error.client_jwks": "jwks", "error.client_jwks_private": "jwks", "error.client_jwks_uri": "jwks_uri",
    "error.client_backchannel_uri": "backchannel_logout_uri",
    "error.client_access_lifetime": "access_token_lifetime", "error.client_refresh_lifetime": "refresh_token_lifetime",
    "error.client_api_scope": "api_scopes", "error.client_audience": "audience",
}


def protocol_changes(client) -> dict:
    """The protocol form's settings, as `Clients.configure` takes them (a public client's form
    has no authentication, keys, machine or resource-server settings)."""
    form = request.form

    def lines(name):
        return [v.strip() for v in form.get(name, "").splitlines() if v.strip()]
    changes = {"grant_types": form.getlist("grant_types"), "require_par": form.get("require_par") == "1",
               "require_dpop": form.get("require_dpop") == "1",
               "backchannel_logout_uri": form.get("backchannel_logout_uri", ""),
               "access_token_lifetime": form.get("access_token_lifetime", ""),
               "refresh_token_lifetime": form.get("refresh_token_lifetime", "")}
    if not client.public:
        changes.update(token_endpoint_auth_method=form.get("token_endpoint_auth_method", ""),
                       jwks=form.get("jwks", ""), jwks_uri=form.get("jwks_uri", ""),
                       fapi=form.get("fapi") == "1", resource_server=form.get("resource_server") == "1",
                       api_scopes=lines("api_scopes"), audience=lines("audience"))
    return changes


@bp.post("/admin/clients/<client_id>/protocol")
def save_client_protocol(client_id):
    """The protocol settings: grants, client authentication and keys, PAR, DPoP, FAPI 2.0, resource
    server, back-channel logout, lifetimes, API scopes and audience (codeb.oidc.client_settings)."""
    client = _client(client_id)
    try:
        with concerning(PROTOCOL_FIELDS):
            Clients(g.tenant.store).configure(client_id, **protocol_changes(client))
    except CodebError as error:
        form: dict = {**request.form.to_dict(), "grant_types": request.form.getlist("grant_types")}
        for flag in ("require_par", "require_dpop", "fapi", "resource_server"):
            form[flag] = request.form.get(flag) == "1"
        return render("client.html", error.status, client=client, scopes=SCOPES, endpoints=endpoints(),
                      grant_types=GRANT_TYPES, protocol_error=error, protocol_form=form)
    record("client.protocol_changed", client_id=client_id)
    return back("admin.client", "client_protocol_saved", client_id=client_id)


@bp.post("/admin/clients/<client_id>/secret")
def regenerate_secret(client_id):
    client = _client(client_id)
    try:
        secret = Clients(g.tenant.store).new_secret(client_id)
    except CodebError as error:
        return render("client.html", error.status, client=client, scopes=SCOPES, error=error,
                      endpoints=endpoints(), grant_types=GRANT_TYPES)
    record("client.secret_regenerated", client_id=client_id)
    return show_secret_once(client_id, secret, "secret_renewed")


@bp.post("/admin/clients/<client_id>/delete")
def delete_client(client_id):
    _client(client_id)
    Clients(g.tenant.store).delete(client_id)
    record("client.deleted", client_id=client_id)
    return back("admin.clients", "client_deleted")


# -- sign-in settings --------------------------------------------------------------------

@bp.route("/admin/settings", methods=["GET", "POST"])
def settings():
    error, warnings = None, []
    if request.method == "POST":
        form = request.form
        try:
            with concerning(SETTINGS_FIELDS):
                parts = signin.settings_parts(methods=form.getlist("methods"), submitted=form.to_dict())
            with concerning("ext_low"):
                parts.update(range_part(form.get("ext_low"), form.get("ext_high")))
            with concerning("time_zone"):
                parts.update(tenant_settings.time_zone_part(form.get("time_zone")))
            with concerning("app_passwords"):
                parts.update(app_passwords.settings_part(form.get("app_passwords")))
            with concerning({"error.sip_ws_url": "sip_ws_url", "error.sip_realm": "sip_realm"}):
                parts.update(tenant_sip.settings_part(form.get("sip_ws_url"), form.get("sip_realm")))
            warnings = consequences(g.tenant.settings, parts)
            if not warnings or form.get("confirm") == "1":
                tenant_settings.save(g.tenant, parts)
        except CodebError as failure:
            error = failure
        else:
            if not warnings or form.get("confirm") == "1":
                record("settings.changed", methods=form.getlist("methods"), signup=form.get("signup"))
                return back("admin.settings", "settings_saved")
    tenant = context.tenants().get(g.tenant.name)
    typed = error is not None or bool(warnings)
    shown = settings_as_typed(tenant.settings, request.form) if typed else tenant.settings
    status = error.status if error else 409 if warnings else 200
    return render("settings.html", status, settings=shown, methods=list(signin.REGISTRY), error=error,
                  warnings=warnings)


def consequences(saved: dict, parts: dict) -> list[tuple[str, dict]]:
    """What the new settings would do to people, as (message id, parameters), counted from the
    directory (no account document is read): accounts left with no method they can use,
    passkeys or passwords that stop working, sign-up closed. Empty: nothing to warn about."""
    before, after = set(saved.get("methods") or ()), set(parts.get("methods", saved.get("methods")) or ())
    entries = [e for e in g.accounts.directory.all().values() if not e.get("disabled")]
    warnings = []
    usable = {"magic_link": lambda e: bool(e.get("email")), "passkey": lambda e: bool(e.get("passkeys")),
              "password": lambda e: bool(e.get("password"))}
    for method in sorted(before - after):
        users = sum(1 for e in entries if usable.get(method, lambda e: False)(e))
        if users:
            warnings.append(("admin.warn.method_off",
                             {"method": context.translate("method." + method), "count": users}))
    locked = sum(1 for e in entries
                 if any(usable.get(m, lambda e: False)(e) for m in before)
                 and not any(usable.get(m, lambda e: False)(e) for m in after))
    if locked:
        warnings.insert(0, ("admin.warn.locked_out", {"count": locked}))
    old_policy = (saved.get("signup") or {}).get("policy")
    new_policy = (parts.get("signup") or {}).get("policy", old_policy)
    if new_policy != old_policy and new_policy == "invite":
        warnings.append(("admin.warn.signup_closed", {}))
    elif new_policy != old_policy and new_policy == "domains":
        warnings.append(("admin.warn.signup_domains", {}))
    return warnings


def settings_as_typed(saved: dict, form) -> dict:
    """The settings form as the admin typed it (shown again beside its error), in the shape
    of the saved settings the page reads."""
    def words(name: str) -> list[str]:
        return (form.get(name) or "").replace(",", " ").split()

    return {**saved, "methods": form.getlist("methods"),
            "signup": {"policy": form.get("signup"), "domains": words("domains")},
            "passkeys": {**saved.get("passkeys", {}), "user_verification": form.get("user_verification"),
                         "attestation": form.get("attestation"), "allowed_aaguids": words("allowed_aaguids"),
                         "max_per_account": form.get("max_passkeys", "")},
            "extension_range": [form.get("ext_low", ""), form.get("ext_high", "")],
            "app_passwords": {"enabled": form.get("app_passwords", "allowed") != "forbidden"},
            "sip_ws_url": form.get("sip_ws_url", ""), "sip_realm": form.get("sip_realm", "")}


# -- languages --------------------------------------------------------------------------

@bp.route("/admin/languages", methods=["GET", "POST"])
def languages():
    error = None
    if request.method == "POST":
        lang = request.form.get("lang", "").strip().lower()
        upload = request.files.get("catalogue")
        if upload and upload.filename:
            raw = upload.read().decode("utf-8", "replace")
        else:
            raw = request.form.get("messages", "")
        try:
            try:
                messages = current_app.json.loads(raw)  # the app's parser: too deep is malformed too
            except ValueError:
                raise BadInput("error.catalogue_shape", field="messages") from None
            if isinstance(messages, dict):
                messages = messages.get("messages", messages)  # a catalogue file, or the bare messages
            with concerning("messages"), concerning(LANGUAGE_FIELDS):  # the inner one names first
                tenant_languages.save(g.tenant, lang, messages)
        except CodebError as failure:
            error = failure
        else:
            record("language.saved", lang=lang)
            return back("admin.languages", "language_saved")
    tenant = context.tenants().get(g.tenant.name)
    typed = {"lang": request.form.get("lang", ""), "messages": request.form.get("messages", "")} if error else {}
    return render("languages.html", error.status if error else 200, added=tenant.languages,
                  english=i18n.catalogue("en"), error=error, form=typed)


@bp.post("/admin/languages/<lang>/delete")
def delete_language(lang):
    try:
        tenant_languages.remove(g.tenant, lang)
    except CodebError:
        abort(400)
    record("language.removed", lang=lang)
    return back("admin.languages", "language_removed")


# -- audit log ----------------------------------------------------------------------------

AUDIT_PAGE = 50
CSV_COLUMNS = ("time", "event", "actor", "login", "sentence", "details")


def readable(entry: dict) -> dict:
    """An event as the log page shows it: its sentence in the page's language and its facts."""
    message_id, params, labels = audit.sentence(entry)
    for name, label in labels.items():
        params[name] = context.translate(label)
    return {**entry, "sentence": context.translate(message_id, **params),
            "facts": {k: v for k, v in entry.items() if k not in ("time", "event", "breakglass", "actor", "sub")}}


def audit_query() -> dict:
    month = request.args.get("month") or time.strftime("%Y-%m", time.gmtime(g.tenant.store.clock()))
    if not (len(month) == 7 and month[:4].isdigit() and month[4] == "-" and month[5:].isdigit()):
        raise NotFound()
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    return {"month": month, "event": request.args.get("event", "").strip()[:60],
            "login": request.args.get("login", "").strip().lower()[:64], "page": page}


@bp.get("/admin/audit")
def audit_log():
    query = audit_query()
    total, entries = audit.page(g.tenant.store, query["month"], event=query["event"], login=query["login"],
                                offset=(query["page"] - 1) * AUDIT_PAGE, limit=AUDIT_PAGE)

    def link(**changes):
        merged = {**query, **changes}
        return url_for("admin.audit_log", **{k: v for k, v in merged.items() if v and (k, v) != ("page", 1)})

    return render("audit.html", entries=[readable(e) for e in entries], total=total, link=link,
                  pages=max(1, (total + AUDIT_PAGE - 1) // AUDIT_PAGE), kinds=audit.KINDS, **query)


@bp.get("/admin/audit.csv")
def audit_csv():
    """The month's events (as filtered), oldest first, one row each, streamed: time in UTC
    (ISO 8601), the sentence in the page's language, the raw facts as JSON. A cell that a
    spreadsheet would run as a formula is neutralised (`audit.csv_cell`)."""
    query = audit_query()
    events = [e for e in audit.read(g.tenant.store, query["month"])
              if audit.matches(e, event=query["event"], login=query["login"])]
    record("audit.exported", month=query["month"], rows=len(events))

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            item = readable(event)
            writer.writerow([audit.csv_cell(cell) for cell in (
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.get("time", 0))), event.get("event"),
                event.get("actor"), event.get("login"), item["sentence"],
                json.dumps(item["facts"], ensure_ascii=False, sort_keys=True))])
            yield out.getvalue()
            out.seek(0)
            out.truncate()

    filename = f"codeb-{g.tenant.name}-audit-{query['month']}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.app_template_filter("isotime")
def isotime(timestamp) -> str:
    """A stored moment for `<time datetime>`: ISO 8601 in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(timestamp or 0)))
