"""The tenant's sign-in: the page, one dispatch over the registry, and what follows.

`/signin` shows every enabled method's part of the page, and the sign-up part the
tenant's sign-up policy calls for (`POST /signup`, its own step, `codeb.signin.signup`).
A step that mailed something answers with a redirect to `GET /signin/sent`, which
shows "check your mail" from the session (a reload sends nothing). For a magic link
that page is the waiting tab: it polls `GET /signin/sent/status` about its own pending
sign-in, takes the mailed code, and offers "Resend" (`POST /signin/sent/resend`); see
`codeb.signin.magic_link` for why a link opened in another browser needs approval.
Every step of every method is `POST /signin/<method>/<step>` (`begin` or
`complete`, the method's name with hyphens): the dispatch finds the method in
`codeb.signin`'s registry, hands it the submission (the form, or the JSON body
of the page's script), and answers as the method does: a page, or JSON. Success
is the same for all:
`codeb.signin.flow.finish`, then the waiting client, the first-sign-in screen
or the office shell.
"""

import hashlib
import json

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from .. import audit, signin
from ..accounts import normalize_email
from ..errors import BadInput, CodebError, RateLimited, SignInFailed
from ..invites import LINK_PATH
from ..signin import flow, interactions, signup
from ..signin.base import Continue, NotMine, SignInContext, SignInMethod, VerifiedIdentity
from ..upstreams.checks import UpstreamError
from . import context
from . import oidc as oidc_web
from .errors import answer_as, answers
from .pages import safe_local_path

bp = Blueprint("signin", __name__)
context.CSRF_EXEMPT.add("signin.arrived")
STEPS = ("begin", "complete")
FIRST_SCREENS = {flow.PROFILE: "account.confirm_profile", flow.PASSKEY: "passkeys.welcome"}


def slug(name: str) -> str:
    return name.replace("_", "-")


@bp.app_template_global()
def signin_url(method: str, step: str) -> str:
    """Where a method's page posts a step: `/signin/<method>/<step>`."""
    return url_for("signin.step", method_slug=slug(method), step=step)


def method_context(browser: str | None = None) -> SignInContext:
    """What a method may use; `browser` defaults to this browser's CSRF token (started if none)."""
    return SignInContext(tenant=g.tenant, accounts=g.accounts, mailer=context.mailer(),
                         base_url=g.issuer, client_ip=context.client_ip(), language=g.lang,
                         browser=context.session().csrf if browser is None else browser,
                         rp_id=context.rp_id(), agent=request.headers.get("User-Agent", "")[:500])


def pending_interaction(iid=None):
    """The interaction named by `i` (of the query or form, unless given), if it is waiting,
    and the page language it asks for."""
    iid = request.values.get("i") if iid is None else iid
    pending = interactions.get(g.tenant.store, iid) if isinstance(iid, str) and iid else None
    if pending is not None:
        g.lang = context.choose_language(pending["params"].get("ui_locales"))
    return (iid if pending else None), pending


@bp.app_template_global()
def form_reaches_client(pending) -> str:
    """Called by a template whose form posts `complete`: that POST ends in a redirect to the
    waiting client (303 → /authorize/resume → 302), so the page's CSP `form-action` must
    allow the client's origin. Only such pages do, and only for their own client."""
    context.allow_form_redirect_to(pending)
    return ""


def render_signin(iid, pending, *, email="", error_id=None, status=200, signup_email="", signup_error=None,
                  error_params=None, signup_params=None):
    """The sign-in page: the passkey, the identifier-first email field with the choices of the
    methods that may follow it, then the sign-up part of the policy; for a signed-in browser
    that may go on as it is, "Signed in as … Continue / Use another account" instead.
    `error_id` belongs to the methods' fields, `signup_error` to the sign-up field."""
    methods = signin.enabled(g.tenant)
    parts = {n: m.page_part(g.tenant) for n, m in methods.items()}
    current = signed_in_visitor(pending) if not (error_id or signup_error) else None
    return render_template("signin/page.html", interaction=iid, pending=pending, email=email,
                           error_id=error_id, error_params=error_params or {}, methods=methods,
                           app=app_of(pending),
                           identifier_methods=[n for n, m in methods.items()
                                               if m.takes_identifier and not m.stands_apart],
                           parts=parts, upstreams=[{**u, "logo": context.allow_image_from(u.get("logo"))}
                                                   for part in parts.values() for u in part.get("upstreams", ())],
                           signed_in_as=current, signup=signup.policy_of(g.tenant),
                           signup_email=signup_email, signup_error=signup_error,
                           signup_params=signup_params or {}), status


def app_of(pending) -> dict | None:
    """The app a waiting request is for: its name and logo (the page's CSP allows exactly the
    logo's origin), and that its form may post on to the client ("Back to …")."""
    if not pending:
        return None
    client = oidc_web.provider().query_client(pending.get("client_id"))
    if client is None:
        return None
    context.allow_form_redirect_to(pending)
    name = client.name
    return {"name": name, "initial": (name[:1] or "?").upper(), "logo": context.allow_image_from(client.logo_uri)}


def signed_in_visitor(pending):
    """The account this browser is signed in as, if it may go on with it from the sign-in page:
    not while a "confirm it's you" step asks for a new sign-in, and for an app only if the
    session answers its request as it stands (no `prompt=login`, `max_age` kept)."""
    account = g.account
    if account is None or g.session.data.get(context.AFTER_SIGNIN):
        return None
    if pending and not oidc_web.may_continue(pending):
        return None
    return account


def render_method(method: SignInMethod, view: str, iid, pending, status=200, **values):
    return render_template(f"signin/{method.name}/{view}.html", interaction=iid, pending=pending,
                           methods=signin.enabled(g.tenant), **values), status


def show_sent(template: str, data: dict, iid):
    """A step that mailed something: keep what its page shows in the session (not the URL) and
    answer 303, so that reloading the page it leads to sends nothing again."""
    context.session().set("sent", {"template": template, "data": data, "i": iid})
    return redirect(url_for("signin.sent"), code=303)


def sent_record() -> dict | None:
    record = g.session.data.get("sent") if g.session is not None else None
    return record if isinstance(record, dict) else None


def render_sent(record: dict, *, error: CodebError | None = None, status: int = 200):
    """The page a mailing step leads to; for a magic link also its pending sign-in (number,
    state, code field, resend time) and, after a failed code or resend, what went wrong."""
    iid, pending = pending_interaction(record.get("i") or "")
    data = record["data"]
    waiting = None
    if data.get("waiting_id"):
        waiting = signin.link_method().waiting(method_context(), data["waiting_id"])
    message = context.translate(error.message_id, **error.params) if error is not None else None
    response = render_template(record["template"], interaction=iid, pending=pending, waiting=waiting,
                               resent=record.get("resent", False),
                               error_message=message, error_field=error.field if error is not None else None,
                               **data)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
    return response, status, headers


@bp.get("/signin/sent")
def sent():
    """ "Check your mail": the same for every address, shown as often as the person reloads."""
    record = sent_record()
    if record is None:
        return redirect(url_for("signin.page"), code=303)
    return render_sent(record)


@bp.get("/signin/sent/status")
@answers("json")
def sent_status():
    """The waiting tab's poll: the state of this browser's own pending sign-in, cheap to ask
    often (one small read, no session write, 304 while nothing changed)."""
    session = g.session
    browser = session.data.get("csrf", "") if session is not None else ""  # none started here
    signed_in_by = (session.data.get("detail") or {}).get("pending") if session and not session.anonymous else None
    return polled(signin.link_method().status(method_context(browser=browser), request.args.get("p", ""),
                                              signed_in_by=signed_in_by))


def polled(answer: dict):
    """A waiting page's poll answered: JSON with an ETag of its content, revalidated at every
    poll (304 while nothing changed), never stored by a shared cache."""
    response = jsonify(answer)
    response.set_etag(hashlib.sha256(json.dumps(answer, sort_keys=True).encode()).hexdigest()[:32])
    response.headers["Cache-Control"] = "no-cache, private"
    return response.make_conditional(request)


@bp.post("/signin/sent/resend")
def resend():
    """ "Resend" on the check-inbox page: a new link and code to the same address, not too soon."""
    record = sent_record()
    if record is None or not record["data"].get("waiting_id"):
        return redirect(url_for("signin.page"), code=303)
    method = signin.link_method()
    if method.name not in signin.enabled(g.tenant):
        raise BadInput("error.method_disabled")
    try:
        challenge = method.resend(method_context(), {**record["data"], "i": record.get("i")})
    except (RateLimited, BadInput) as error:
        return render_sent(record, error=error, status=error.status)
    context.session().set("sent", {**record, "data": challenge.data, "resent": True})
    return redirect(url_for("signin.sent"), code=303)


@bp.post("/signup")
def sign_up():
    """The sign-up step: mail a sign-up link (or what fits the address), then "check your mail"."""
    iid, pending = pending_interaction(request.form.get("i"))
    try:
        data = signup.begin(method_context(), request.form, methods=signin.enabled(g.tenant), interaction=iid)
    except BadInput as error:
        email = request.form.get("email", "")
        return render_signin(iid, pending, signup_email=email[:254], signup_error=error.message_id,
                             signup_params=error.params,
                             status=error.status)
    return show_sent("signin/signup_sent.html", data, iid)


@bp.post("/signin/continue")
def identify():
    """Identifier first: the email typed, then the step the server chooses for it from the
    tenant's methods (`codeb.signin.next_step`): the same whether or not an account exists."""
    iid, pending = pending_interaction(request.form.get("i"))
    typed = request.form.get("email", "")
    ctx = method_context()
    try:
        email = normalize_email(typed)
        method = signin.next_step(ctx, email, chosen=request.form.get("method") or None)
        return begun(method, method.begin(ctx, {"email": email, "i": iid}), iid, pending)
    except (BadInput, SignInFailed) as error:
        shown = typed[:254] if isinstance(typed, str) else ""
        return render_signin(iid, pending, email=shown, error_id=error.message_id, error_params=error.params,
                             status=error.status)


@bp.post("/signin/continue-as")
def continue_as():
    """ "Signed in as … Continue": the app's waiting request answered by this browser's session."""
    iid, pending = pending_interaction(request.form.get("i"))
    if g.account is None:
        return redirect(url_for("signin.page", i=iid) if iid else url_for("signin.page"), code=303)
    if pending is None:
        return redirect(url_for("office.shell"), code=303)
    if signed_in_visitor(pending) is None:
        return redirect(url_for("signin.page", i=iid), code=303)
    interactions.answered_by(g.tenant.store, iid, g.session.sid, continued=True)
    return redirect(url_for("oidc.resume", i=iid), code=303)


@bp.post("/signin/another")
def use_another_account():
    """ "Use another account": sign this browser out and show the sign-in form (the app's
    request, if any, still waits)."""
    iid, _ = pending_interaction(request.form.get("i"))
    if g.session is not None and g.account:
        audit.append(g.tenant.store, "signout", login=g.account.login, sub=g.account.sub)
    context.end_browser_session()
    return redirect(url_for("signin.page", i=iid) if iid else url_for("signin.page"), code=303)


@bp.post("/signin/back")
def back_to_app():
    """ "Back to <app>": the person leaves; the app hears `access_denied` with its `state`."""
    iid, pending = pending_interaction(request.form.get("i"))
    if pending is None:
        return redirect(url_for("signin.page"), code=303)
    return oidc_web.to_response(oidc_web.declined(iid, pending))


@bp.get("/signin")
def page():
    iid, pending = pending_interaction()
    hint = (pending or {}).get("params", {}).get("login_hint") or ""
    return render_signin(iid, pending, email=hint if "@" in hint else "")


def find_method(method_slug: str, step: str) -> SignInMethod:
    name = method_slug.replace("-", "_")
    if step not in STEPS or name not in signin.REGISTRY or slug(name) != method_slug:
        abort(404)
    method = signin.enabled(g.tenant).get(name)
    if method is None and step == "complete" and signin.REGISTRY[name].completes_while_disabled:
        method = signin.REGISTRY[name]()
    if method is None:
        answer_as("json" if signin.REGISTRY[name].answers == "json" else "page")
        raise BadInput("error.method_disabled")
    return method


def submission(method: SignInMethod) -> dict:
    """The method's input: the JSON body of the page's script, or the form."""
    if method.answers == "json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadInput("error.bad_request")
        submitted = dict(body)
    else:
        submitted = request.form.to_dict()
    submitted.pop("csrf", None)
    return submitted


@bp.post("/signin/<method_slug>/<step>")
def step(method_slug, step):
    method = find_method(method_slug, step)
    if method.answers == "json":
        answer_as("json")
    submitted = submission(method)
    # `i`: the authorization request the page was for; only one that is waiting counts.
    iid, pending = pending_interaction(submitted.get("i"))
    submitted["i"] = iid
    ctx = method_context()
    try:
        if step == "begin":
            return begun(method, method.begin(ctx, submitted), iid, pending)
        identity = method.complete(ctx, submitted)
        flow.admit(identity, accounts=g.accounts, store=g.tenant.store)
    except NotMine:
        raise BadInput("error.bad_request") from None
    except Continue as further:
        return redirect(safe_local_path(further.then, url_for("signin.page")), code=303)
    except SignInFailed as error:
        if step == "complete":
            audit.append(g.tenant.store, "signin.failed", method=method.name, reason=error.message_id,
                         ip=ctx.client_ip)
        return failed(method, step, error, iid, pending, submitted)
    except BadInput as error:
        return failed(method, step, error, iid, pending, submitted)
    target = land(identity, interaction=iid)
    return jsonify(redirect=target) if method.answers == "json" else redirect(target, code=303)


def begun(method: SignInMethod, challenge, iid, pending):
    if method.answers == "json":
        return jsonify(challenge.data)
    if challenge.then:
        return redirect(safe_local_path(challenge.then, url_for("signin.page")), code=303)
    if challenge.redirect:
        # A page that moves on by itself, not a 303: the sign-in page's CSP `form-action` names
        # no upstream, and a browser checks it on a form's redirects too.
        return render_template("signin/elsewhere.html", url=challenge.redirect, **challenge.data)
    if challenge.sent:
        return show_sent(f"signin/{method.name}/{challenge.view}.html", challenge.data, iid)
    return render_method(method, challenge.view, iid, pending, **challenge.data)


def failed(method: SignInMethod, step: str, error: CodebError, iid, pending, submitted):
    if method.answers == "json":
        raise error  # the one renderer answers JSON for this request
    waiting = sent_record() if step == "complete" else None
    if waiting is not None and ("code" in submitted or ("pending" in submitted and "link" not in submitted)):
        return render_sent(waiting, error=error, status=error.status)  # typed into the waiting tab
    view = method.complete_failure_view if step == "complete" else None
    if view:
        return render_method(method, view, iid, pending, status=error.status, error_id=error.message_id,
                             error_params=error.params)
    email = submitted.get("email") if isinstance(submitted.get("email"), str) else ""
    return render_signin(iid, pending, email=email[:254], error_id=error.message_id, error_params=error.params,
                         status=error.status)


@bp.get("/signin/<method_slug>/callback")
def callback(method_slug):
    """Back from elsewhere (an upstream's authorization response, RFC 6749 §4.1.2): the query
    goes to the method's `complete`, which finds its own request by the `state` in it."""
    method = find_method(method_slug, "complete")
    if not method.calls_back:
        abort(404)
    ctx = method_context()
    try:
        identity = method.complete(ctx, request.args.to_dict())
        flow.admit(identity, accounts=g.accounts, store=g.tenant.store)
    except NotMine:
        raise BadInput("error.bad_request") from None
    except Continue as further:
        return redirect(safe_local_path(further.then, url_for("signin.page")), code=303)
    except SignInFailed as error:
        audit.append(g.tenant.store, "signin.failed", method=method.name, reason=error.message_id,
                     ip=ctx.client_ip)
        iid, pending = pending_interaction(error.interaction or "")  # the app's request, if still waiting
        return render_signin(iid, pending, error_id=error.message_id, error_params=error.params, status=error.status)
    return redirect(land(identity), code=303)


@bp.post("/signin/<method_slug>/acs")
def arrived(method_slug):
    """An upstream's page posted its answer here from its own site (SAML's HTTP-POST binding):
    no cookie of ours came with it, so no session is started (one would replace the browser's)
    and the CSRF check cannot apply; the answer proves itself (`codeb.signin.upstream_saml`).
    The browser goes on to the callback, a GET that brings its cookies, with what `arrive`
    names; a refusal is shown there too, in the browser's own session."""
    name = method_slug.replace("-", "_")
    if name not in signin.REGISTRY or not signin.REGISTRY[name].posts_back:
        abort(404)
    method = find_method(method_slug, "complete")
    try:
        query = method.arrive(method_context(browser=""), request.form.to_dict())
    except SignInFailed as error:  # audited by the callback, as every failed sign-in is
        query = {"failed": error.message_id, **({"i": error.interaction} if error.interaction else {})}
    return redirect(url_for("signin.callback", method_slug=method_slug, **query), code=303)


@bp.get("/signin/<method_slug>/metadata/<uid>")
def published(method_slug, uid):
    """What a method publishes for an upstream's admin (SAML: the tenant's signed SP metadata)."""
    name = method_slug.replace("-", "_")
    if name not in signin.REGISTRY or slug(name) != method_slug:
        abort(404)
    try:
        mimetype, body = signin.REGISTRY[name]().published(method_context(browser=""), uid)
    except NotMine:
        abort(404)
    except UpstreamError:  # the host lacks what signs it (xmlsec1): the operator's to mend
        abort(503)
    return current_app.response_class(body, mimetype=mimetype)


@bp.get(LINK_PATH + "<path:link>")
def open_link(link):
    """A mailed link (sign-in or invitation) shows one button: a GET never spends it,
    because mail scanners fetch links. The button posts the link to `complete`."""
    method = signin.link_method()
    try:
        record = method.peek(method_context(), link)
        if record is None:
            raise SignInFailed("error.link_used")
    except SignInFailed as error:
        return failed(method, "complete", error, None, None, {})
    if record.get("language") in g.tenant.available_languages and not g.account:
        g.lang = record["language"]
    pending = interactions.get(g.tenant.store, record["interaction"]) if record.get("interaction") else None
    # Asked for in another browser: who asked, and "Also sign in that device" by number matching.
    asker = method.asker(method_context(), record) if record.get("kind") == "signin" else None
    return render_method(method, "open", None, pending, link=link, signing_up=record.get("kind") == "signup",
                         asker=asker)


def land(identity: VerifiedIdentity, *, interaction: str | None = None) -> str:
    """Step 4 of the sign-in flow, the same for every method; returns where to go next."""
    previous = g.session
    after = previous.data.get(context.AFTER_SIGNIN) if previous is not None else None
    landing = flow.finish(identity, previous=previous, sessions=g.sessions, accounts=g.accounts,
                          store=g.tenant.store, methods=signin.enabled(g.tenant),
                          client_ip=context.client_ip(), agent=request.headers.get("User-Agent", ""),
                          interaction=interaction)
    g.session, g.ended_session, g.account = landing.session, previous, landing.account
    # Without an interaction, the person lands where a "confirm it's you" step asked, else in the office shell.
    target = (url_for("oidc.resume", i=landing.resume) if landing.resume
              else safe_local_path(after, url_for("office.shell")))
    if landing.first:
        g.session.set("continue", target)
        return url_for(FIRST_SCREENS[landing.first])
    return target


@bp.post("/signout")
def sign_out():
    """Sign this browser out; a session that came through a company's identity provider that
    offers it is then offered to sign out there too (codeb.signin.sign_out_elsewhere)."""
    elsewhere = None
    if g.session is not None and g.account:
        audit.append(g.tenant.store, "signout", login=g.account.login, sub=g.account.sub)
        elsewhere = signin.sign_out_elsewhere(method_context(), g.session.data.get("sign_out"))
    context.end_browser_session()
    if elsewhere is None:
        return redirect(url_for("signin.page"), code=303)
    return render_template("signin/signed_out.html", elsewhere=elsewhere)


@bp.get("/signin/<method_slug>/signed-out")
def signed_out(method_slug):
    """Back from signing out at a company's identity provider: say whether it confirmed it."""
    name = method_slug.replace("-", "_")
    if name not in signin.REGISTRY or slug(name) != method_slug:
        abort(404)
    back = signin.signed_out_at(method_context(browser=""), name, request.args)
    if back is None:
        return redirect(url_for("signin.page"), code=303)
    return render_template("signin/signed_out.html", back=back)
