"""The tenant's sign-in pages: choose a method, run it, land signed in.

Whatever the method, success ends in `finish_sign_in`: a fresh session (new
id, no fixation), then the waiting authorization request if there is one,
else the person's home page.
"""

from dataclasses import replace
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, url_for

from .. import audit, interactions, signin
from ..errors import BadInput, SignInFailed
from ..mail import Mailer, pickup_folder
from ..signin import SignInContext, VerifiedIdentity
from ..signin.magic_link import MagicLink
from ..signin.password import PasswordSignIn
from . import context

bp = Blueprint("signin", __name__)


def mailer() -> Mailer:
    from flask import current_app

    tenant = g.tenant
    return Mailer(
        pickup=pickup_folder(tenant.setting("mail", "pickup"), current_app.config["CODEB_DATA"]),
        sender=tenant.setting("mail", "from") or f"no-reply@{tenant.hosts[0]}",
        sender_name=tenant.display_name,
        languages=tenant.languages,
        echo=current_app.config["CODEB_ECHO_MAIL"],
    )


def method_context() -> SignInContext:
    return SignInContext(tenant=g.tenant, accounts=g.accounts, mailer=mailer(),
                         base_url=g.issuer, client_ip=context.client_ip(), language=g.lang)


def pending_interaction():
    """The interaction named by `i`, and the page language it asks for."""
    iid = request.values.get("i")
    pending = interactions.get(g.tenant.store, iid) if iid else None
    if pending is not None:
        g.lang = context.choose_language(pending["params"].get("ui_locales"))
    return (iid if pending else None), pending


def allow_form_redirect_to(pending) -> None:
    """A form that ends in a redirect to the client needs its origin in `form-action`."""
    if pending:
        parts = urlsplit(pending["params"]["redirect_uri"])
        if parts.scheme in ("http", "https"):
            g.form_targets.add(f"{parts.scheme}://{parts.netloc}")


def render_signin(iid, pending, *, email="", error_id=None, status=200):
    enabled = signin.enabled(g.tenant)
    methods = {name: enabled[name] for name in ("passkey", "magic_link", "password") if name in enabled}
    if "password" in methods:
        allow_form_redirect_to(pending)  # the password form's POST ends at the waiting client
    return render_template("signin/page.html", interaction=iid, pending=pending, email=email,
                           error_id=error_id, methods=methods), status


@bp.get("/signin")
def page():
    iid, pending = pending_interaction()
    hint = (pending or {}).get("params", {}).get("login_hint") or ""
    return render_signin(iid, pending, email=hint if "@" in hint else "")


@bp.post("/signin/magic-link")
def send_link():
    iid, pending = pending_interaction()
    email = request.form.get("email", "")
    if "magic_link" not in signin.enabled(g.tenant):
        raise BadInput("error.method_disabled")
    try:
        sent = MagicLink().begin(method_context(), email=email, interaction=iid,
                                 then=request.form.get("then") or None)
    except BadInput as error:
        return render_signin(iid, pending, email=email[:254], error_id=error.message_id, status=400)
    return render_template("signin/magic_link/check_inbox.html", email=sent.email, interaction=iid)


@bp.post("/signin/password")
def password():
    iid, pending = pending_interaction()
    if "password" not in signin.enabled(g.tenant):
        raise BadInput("error.method_disabled")
    ctx = method_context()
    email = request.form.get("email", "")
    try:
        identity = PasswordSignIn().complete(ctx, email=email, password=request.form.get("password", ""))
    except SignInFailed as error:
        audit.append(g.tenant.store, "signin.failed", method="password", reason=error.message_id,
                     ip=ctx.client_ip)
        return render_signin(iid, pending, email=email[:254], error_id=error.message_id,
                             status=error.status)
    if iid:
        identity = replace(identity, interaction=iid)
    return redirect(finish_sign_in(identity), code=303)


@bp.get("/link/<path:link>")
def open_link(link):
    """Show one button: a GET never spends the link (mail scanners fetch links)."""
    try:
        record = MagicLink.peek(method_context(), link)
    except SignInFailed as error:
        return render_template("signin/magic_link/problem.html", error_id=error.message_id), 400
    if record is None:
        return render_template("signin/magic_link/problem.html", error_id="error.link_used"), 400
    if record.get("language") in g.tenant.available_languages and not g.account:
        g.lang = record["language"]
    if record.get("interaction"):
        allow_form_redirect_to(interactions.get(g.tenant.store, record["interaction"]))
    return render_template("signin/magic_link/open.html", link=link)


@bp.post("/link")
def use_link():
    ctx = method_context()
    try:
        identity = MagicLink().complete(ctx, link=request.form.get("link", ""))
    except SignInFailed as error:
        audit.append(g.tenant.store, "signin.failed", method="magic_link", reason=error.message_id,
                     ip=ctx.client_ip)
        status = 403 if error.status == 403 else 400
        return render_template("signin/magic_link/problem.html", error_id=error.message_id), status
    return redirect(finish_sign_in(identity), code=303)


def finish_sign_in(identity: VerifiedIdentity) -> str:
    """Step 4 of the sign-in flow, the same for every method; returns where to go next."""
    previous = g.session
    keep = {"lang": previous.data["lang"]} if previous and previous.data.get("lang") else None
    g.session = g.sessions.sign_in(previous, identity, keep=keep)
    g.ended_session = previous
    g.account = g.accounts.get(identity.login)
    g.sessions.remember(g.accounts, g.session, ip=context.client_ip(),
                        agent=request.headers.get("User-Agent", ""))
    audit.append(g.tenant.store, "signin", login=identity.login, method=identity.method,
                 created=identity.created, ip=context.client_ip())
    target = url_for("office.shell")  # without an interaction, the person lands in the office shell
    if identity.interaction and interactions.answered_by(g.tenant.store, identity.interaction, g.session.sid):
        target = url_for("oidc.resume", i=identity.interaction)
    if not g.account.doc.get("profile_confirmed"):
        g.session.set("continue", target)  # the first sign-in confirms the profile first
        return url_for("account.confirm_profile")
    if asked_for_passkey(identity):
        g.session.set("continue", target)
        return url_for("passkeys.welcome")
    return target


def asked_for_passkey(identity: VerifiedIdentity) -> bool:
    """“Create an account with a passkey” from the email field: the passkey comes right after the link."""
    return ("passkey" in signin.enabled(g.tenant) and identity.detail.get("then") == "passkey"
            and not g.account.doc.get("passkeys"))


@bp.post("/signout")
def sign_out():
    if g.session is not None:
        if g.account:
            audit.append(g.tenant.store, "signout", login=g.account.login)
        g.ended_session, g.session, g.account = g.session, None, None
    return redirect(url_for("signin.page"), code=303)
