"""admin.html and the admin pages: users, OIDC clients, sign-in settings, languages,
privacy, audit log. Every route checks the `admin` role of the signed-in account
in this tenant (or a break-glass superuser session) before anything else, and
every change is written to the audit log with who made it.
"""

import time

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from .. import audit, i18n, invites, signin
from ..accounts import privacy
from ..accounts.extensions import range_part
from ..accounts.passkeys import passkeys_of
from ..errors import BadInput, CodebError, NotFound, concerning
from ..oidc.clients import SCOPES, Clients, check_redirect_uri_shape, hold_for_display, take_for_display
from ..tenants import languages as tenant_languages
from ..tenants import settings as tenant_settings
from . import context
from .account import download

bp = Blueprint("admin", __name__)
PAGE_SIZE = 50
# The field each failure of a form that one call validates is about (shown beside it).
NEW_USER_FIELDS = {"error.invalid_email": "email", "error.email_taken": "email",
                   "error.invalid_name.login": "login", "error.invalid_name.reserved": "login",
                   "error.login_taken": "login", "error.login_deleted": "login",
                   "error.email_not_ascii": "email", "error.display_name": "display_name"}
CLIENT_FIELDS = {"error.invalid_client_name": "name", "error.client_needs_redirect_uri": "redirect_uris"}
SETTINGS_FIELDS = {"error.settings_no_method": "methods", "error.invalid_signup_policy": "signup",
                   "error.settings_domains": "domains", "error.settings_aaguid": "allowed_aaguids",
                   "error.settings_numbers": "max_passkeys"}
LANGUAGE_FIELDS = {"error.language_code": "lang"}
NOTICES = ("user_created", "user_saved", "user_disabled", "user_enabled", "user_deleted", "erased", "hold_released",
           "client_created", "client_saved", "secret_renewed", "client_deleted", "settings_saved",
           "language_saved", "language_removed")


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

@bp.get("/admin/users")
def users():
    query = request.args.get("q", "")[:100]
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    total, rows = g.accounts.directory.search(query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render("users.html", rows=rows, total=total, query=query, page=page,
                  pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE), holds=privacy.holds(g.tenant.store),
                  kinds=privacy.KINDS)


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
        total, rows = g.accounts.directory.search("", limit=PAGE_SIZE)
        return render("users.html", error.status, rows=rows, total=total, query="", page=1,
                      pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE), error=error, form=form,
                      holds=privacy.holds(g.tenant.store), kinds=privacy.KINDS)
    record("user.created", login=account.login, roles=account.roles)
    return back("admin.user", "user_created", login=account.login)


def invite(account) -> None:
    """Mail the new account its invitation; if it cannot be sent, the account is undone
    (DESIGN invariant 6: never a half-created account)."""
    inviter = g.account.display_name if g.account else g.tenant.display_name
    try:
        invites.invite_account(g.tenant.store, context.mailer(), base_url=g.issuer, account=account,
                               inviter=inviter, language=g.lang)
    except BaseException:
        g.accounts.withdraw(account.login)
        raise


def _target(login):
    try:
        return g.accounts.require(login)
    except (CodebError, ValueError):
        abort(404)


@bp.get("/admin/users/<login>")
def user(login):
    return user_page(_target(login))


def user_page(account, error: CodebError | None = None, form=None):
    """The user's page; after a failed form, its error beside the field and `form` as typed."""
    return render("user.html", error.status if error else 200, user=account,
                  passkeys=passkeys_of(account), inventory=privacy.inventory(g.tenant.store, account.sub),
                  kinds=privacy.KINDS, error=error, form=form)


@bp.post("/admin/users/<login>")
def save_user(login):
    account = _target(login)
    form = request.form
    try:
        updated = g.accounts.save_by_admin(
            login, display_name=form.get("display_name"),
            roles=["user", "admin"] if form.get("admin") == "1" else ["user"],
            ext=(form.get("ext") or "").strip() or None)
    except CodebError as error:
        return user_page(g.accounts.require(login), error, form=form)
    if updated.roles != account.roles:
        record("user.roles_changed", login=login, before=account.roles, after=updated.roles)
    record("user.updated", login=login)
    return back("admin.user", "user_saved", login=login)


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
        return user_page(account, error)
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
        return user_page(account, error)
    record("privacy.erased", login=login, kind=kind, files=erased["files"], bytes=erased["bytes"])
    return back("admin.user", "erased", login=login)


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
            "scopes": form.getlist("scopes")}


@bp.get("/admin/clients")
def clients():
    return render("clients.html", clients=Clients(g.tenant.store).list(), scopes=SCOPES)


@bp.post("/admin/clients")
def create_client():
    try:
        with concerning(CLIENT_FIELDS):
            client, secret = Clients(g.tenant.store).add(
                name=request.form.get("name", ""), redirect_uris=_uris("redirect_uris"),
                post_logout_redirect_uris=_uris("post_logout_redirect_uris"),
                public=request.form.get("public") == "1",
                scopes=request.form.getlist("scopes") or ["openid", "profile", "email"])
    except CodebError as error:
        return render("clients.html", error.status, clients=Clients(g.tenant.store).list(), scopes=SCOPES,
                      error=error, form=client_form(), public=request.form.get("public") == "1")
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
                  secret_gone=bool(shown) and secret is None)


@bp.post("/admin/clients/<client_id>")
def save_client(client_id):
    _client(client_id)
    try:
        with concerning(CLIENT_FIELDS):
            updated = Clients(g.tenant.store).update(
                client_id, name=request.form.get("name", ""), redirect_uris=_uris("redirect_uris"),
                post_logout_redirect_uris=_uris("post_logout_redirect_uris"),
                scopes=request.form.getlist("scopes"))
    except CodebError as error:
        return render("client.html", error.status, client=_client(client_id), scopes=SCOPES, error=error,
                      form=client_form())
    record("client.updated", client_id=updated.client_id)
    return back("admin.client", "client_saved", client_id=client_id)


@bp.post("/admin/clients/<client_id>/secret")
def regenerate_secret(client_id):
    client = _client(client_id)
    try:
        secret = Clients(g.tenant.store).new_secret(client_id)
    except CodebError as error:
        return render("client.html", error.status, client=client, scopes=SCOPES, error=error)
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
    error = None
    if request.method == "POST":
        form = request.form
        try:
            with concerning(SETTINGS_FIELDS):
                parts = signin.settings_parts(methods=form.getlist("methods"), submitted=form.to_dict())
            with concerning("ext_low"):
                parts.update(range_part(form.get("ext_low"), form.get("ext_high")))
            with concerning("time_zone"):
                parts.update(tenant_settings.time_zone_part(form.get("time_zone")))
            tenant_settings.save(g.tenant, parts)
        except CodebError as failure:
            error = failure
        else:
            record("settings.changed", methods=form.getlist("methods"), signup=form.get("signup"))
            return back("admin.settings", "settings_saved")
    tenant = context.tenants().get(g.tenant.name)
    shown = settings_as_typed(tenant.settings, request.form) if error else tenant.settings
    return render("settings.html", error.status if error else 200, settings=shown,
                  methods=list(signin.REGISTRY), error=error)


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
            "extension_range": [form.get("ext_low", ""), form.get("ext_high", "")]}


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

@bp.get("/admin/audit")
def audit_log():
    month = request.args.get("month") or time.strftime("%Y-%m", time.gmtime(g.tenant.store.clock()))
    if not (len(month) == 7 and month[:4].isdigit() and month[4] == "-" and month[5:].isdigit()):
        raise NotFound()
    event, login = request.args.get("event", "").strip(), request.args.get("login", "").strip().lower()
    entries = [e for e in audit.read(g.tenant.store, month)
               if (not event or e.get("event", "").startswith(event))
               and (not login or login in (e.get("login"), e.get("actor")))]
    return render("audit.html", entries=list(reversed(entries))[:500], month=month, event=event, login=login,
                  total=len(entries))
