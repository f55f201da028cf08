"""The host's own site (`www.codeb.example`, `python -m codeb host set`): get a tenant (issue 15).

It serves no tenant (codeb.web.context.load_host_site): no tenant session, account or
brand is ever made here, and only these routes answer on its name.

- `GET /get-your-tenant.html`: the form (subdomain, organisation, the first admin's
  email, the operator's terms). `POST` checks it, counts it against the limits and
  mails a verification link (codeb.provisioning.signup); the answer is "check your
  mail". Nothing is made yet. Without script it is a plain form; with it
  (static/js/get-tenant.js) the subdomain is checked as the person types:
  `GET /get-your-tenant/check?subdomain=…` answers `ok` or the reason, in their language.
- `GET /get-your-tenant/verify/<token>`: the mailed link shows one button (a mail
  scanner's GET spends nothing); its `POST` spends the link, queues the request bound
  to this browser (a cookie with a random secret whose hash the request keeps) and
  goes on to the progress page. A link used before says so, with the way to the
  progress page if this browser holds it.
- `GET /get-your-tenant/progress/<id>`: each step as it completes, polled every two
  seconds from `…/status` (static/js/get-tenant-progress.js; without script the page
  refreshes itself). Another browser gets 404 for the id. When the Python steps are
  done, `POST …/handoff` makes a one-time hand-off token in the new tenant's folder and
  sends the browser to `<new tenant>/handoff?t=…` (codeb.signin.handoff).
- `POST /get-your-tenant/language`: the language switch (a cookie).

Forms carry a double-submit token: a random value in an HttpOnly cookie (`__Host-`
over HTTPS, so no other host can plant one) that each form repeats. A POST without it
is refused (400). codeb.provisioning loads at first use: it composes tenants (keys,
accounts), which a process answering only tenants' pages never needs.
"""

import logging
import os
import secrets

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from .. import audit, i18n
from ..errors import CodebError, Conflict, CsrfFailed, NotFound
from ..notify.mail import Mailer, Smarthost, SmarthostMisconfigured, pickup_folder, smarthost_from
from ..signin import handoff
from ..tenants.hosts import origin
from . import context
from .errors import codeb_error, new_reference, title_for
from .pages import safe_local_path

log = logging.getLogger("codeb")

bp = Blueprint("get_tenant", __name__)
CSRF_COOKIE, PROGRESS_COOKIE, LANGUAGE_COOKIE = "codeb-site-csrf", "codeb-signup", "codeb-site-lang"
PROGRESS_COOKIE_AGE = 2 * 86400  # the hand-off window and a margin (codeb.provisioning.spool.HANDOFF_WINDOW)
LANGUAGE_COOKIE_AGE = 365 * 86400
POLL_INTERVAL = 2  # seconds between the progress page's polls
HIDDEN_STEPS = ("handoff",)  # journaled, but what it stands for is the page's "Open your admin console"
BADGES = {"done": "badge-success", "failed": "badge-error", "started": "badge-warning", "retrying": "badge-warning",
          "pending": "badge-muted", "prepared": "badge-muted"}


# -- around every request of the host site -------------------------------------------------

@bp.before_request
def host_site_only():
    from ..provisioning.site import from_doc  # noqa: PLC0415 -- at first use (the module's docstring)

    site = from_doc(g.get("host_site"))
    if site is None:  # a tenant's host: this is no page of a tenant
        raise NotFound()
    g.site = site
    g.lang = choose_language()
    if request.method == "POST":
        check_csrf()


@bp.after_request
def remember_browser(response):
    made = g.get("new_csrf")
    if made:
        response.set_cookie(cookie_name(CSRF_COOKIE), made, httponly=True, secure=context.secure_cookies(),
                            samesite="Lax", path="/")
    return response


def cookie_name(name: str) -> str:
    # `__Host-`: only this exact host may set it, over HTTPS, for path / (RFC 6265bis §4.1.3.2).
    return "__Host-" + name if context.secure_cookies() else name


def choose_language() -> str:
    candidates = [request.cookies.get(cookie_name(LANGUAGE_COOKIE))]
    candidates += i18n.parse_accept_language(request.headers.get("Accept-Language"))
    return i18n.negotiate(candidates, i18n.SHIPPED) or i18n.DEFAULT


def csrf_token() -> str:
    """This browser's form token (its cookie's value), made when a form is first shown."""
    value = request.cookies.get(cookie_name(CSRF_COOKIE)) or g.get("new_csrf")
    if not value or len(value) > 100:
        value = g.new_csrf = secrets.token_urlsafe(32)
    return value


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    expected = request.cookies.get(cookie_name(CSRF_COOKIE))
    if not expected or not secrets.compare_digest(str(sent), expected):
        raise CsrfFailed()


def translate(message_id: str, **params) -> str:
    return i18n.translate(g.get("lang", i18n.DEFAULT), message_id, **params)


def page(template: str, code: int = 200, **values):
    return render_template(f"get_tenant/{template}", site=g.site, csrf=csrf_token(), **values), code


@bp.errorhandler(CodebError)
def failure(error: CodebError):
    """A failure on the host site: its own page (no tenant's links), in the person's language."""
    if g.get("site") is None:  # these routes asked for on a tenant's host: the tenant's error page
        return codeb_error(error)
    reference = new_reference()
    log.warning("error %s: %s %s (host site) -> %d %s", reference, request.method,
                request.url_rule.rule if request.url_rule is not None else "?", error.status, error.message_id)
    body, status = page("error.html", error.status, message_id=error.message_id, params=error.params,
                        title_id=title_for(error.status, error.message_id), reference=reference,
                        status=error.status)
    response = Response(body, status=status, mimetype="text/html")
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def tenants():
    return context.tenants()


# -- the form ------------------------------------------------------------------------------

@bp.get("/get-your-tenant.html")
def form():
    return page("form.html", values={}, error=None)


@bp.post("/get-your-tenant.html")
def ask():
    from ..provisioning import signup  # noqa: PLC0415 -- at first use

    values: dict[str, object] = {key: request.form.get(key, "")[:200] for key in ("subdomain", "organisation",
                                                                                   "email")}
    values["terms"] = accepted = request.form.get("terms") == "1"
    try:
        asked = signup.ask(tenants(), g.site, subdomain=values["subdomain"], organisation=values["organisation"],
                           email=values["email"], accepted_terms=accepted, ip=context.client_ip(),
                           language=g.lang)
    except CodebError as error:
        if error.status in (429, 503) or error.field is None:
            raise  # a limit or the server: its own page
        return page("form.html", error.status, values=values, error=error)
    link = f"{g.site.origin(current_app.config['CODEB_PORT'])}{url_for('.verify_page', token=asked.token)}"
    mailer().send("tenant_verify", to=asked.email, language=g.lang, url=link, host=asked.host,
                  organisation=asked.organisation, minutes=signup.LINK_LIFETIME // 60)
    return page("sent.html", email=asked.email, host=asked.host, minutes=signup.LINK_LIFETIME // 60)


def mailer() -> Mailer:
    """The host site's mail, as a tenant's without its settings: the pickup folder, or the
    smarthost the process environment names (codeb.notify.mail.smarthost_from)."""
    smarthost: Smarthost | SmarthostMisconfigured | None
    try:
        smarthost = smarthost_from(os.environ)
    except SmarthostMisconfigured as error:  # told when the mail is to go (MailNotSent, logged)
        smarthost = error
    return Mailer(pickup=pickup_folder(None, current_app.config["CODEB_DATA"]), sender=f"no-reply@{g.site.name}",
                  sender_name=i18n.translate(g.lang, "app.name"), echo=current_app.config["CODEB_ECHO_MAIL"],
                  smarthost=smarthost)


@bp.get("/get-your-tenant/check")
def check():
    """The live check: `ok` and the host, or the reason in the person's language (JSON)."""
    from ..provisioning import signup  # noqa: PLC0415 -- at first use

    try:
        signup.count_check(tenants(), context.client_ip())
        name, host = signup.check_name(tenants(), g.site, request.args.get("subdomain", "")[:200])
    except CodebError as error:
        status = error.status if error.status in (429, 503) else 200  # a refusal is an answer, not an error
        return jsonify(ok=False, error=error.message_id, message=translate(error.message_id, **error.params)), status
    return jsonify(ok=True, subdomain=name, host=host, message=translate("get_tenant.available", host=host))


# -- the mailed link -------------------------------------------------------------------------

@bp.get("/get-your-tenant/verify/<token>")
def verify_page(token):
    from ..provisioning import signup  # noqa: PLC0415 -- at first use

    record = signup.peek(tenants(), token)
    if record is None:
        return link_spent(token)
    if not request.cookies.get(cookie_name(LANGUAGE_COOKIE)) and record.get("language") in i18n.SHIPPED:
        g.lang = record["language"]  # the language the form was filled in, unless this browser chose one
    return page("verify.html", token=token, record=record, host=g.site.host_for(record["subdomain"]))


@bp.post("/get-your-tenant/verify/<token>")
def verify(token):
    from ..provisioning import signup  # noqa: PLC0415 -- at first use

    try:
        confirmed = signup.confirm(tenants(), token)
    except NotFound:
        return link_spent(token)
    response = redirect(url_for(".progress", request_id=confirmed.request_id), code=303)
    response.set_cookie(cookie_name(PROGRESS_COOKIE), f"{confirmed.request_id}.{confirmed.browser_secret}",
                        max_age=PROGRESS_COOKIE_AGE, httponly=True, secure=context.secure_cookies(),
                        samesite="Lax", path="/")
    return response


def link_spent(token):
    """A link used before (with the way to its progress page, for the browser that holds it),
    or one that expired or never was."""
    from ..provisioning import signup  # noqa: PLC0415 -- at first use

    request_id = signup.used_for(tenants(), token)
    held = request_id is not None and bound_request(request_id, missing=None) is not None
    message_id = "error.get_tenant.link_used" if request_id else "error.get_tenant.link_invalid"
    return page("link_used.html", 400, message_id=message_id, progress=request_id if held else None)


# -- progress and the hand-off ---------------------------------------------------------------

def browser_secret(request_id: str) -> str | None:
    """The secret this browser's cookie holds for the request, if any."""
    held_id, _, secret = (request.cookies.get(cookie_name(PROGRESS_COOKIE)) or "").partition(".")
    return secret if held_id == request_id and secret else None


_MISSING = object()


def bound_request(request_id, missing=_MISSING):
    """The request if this browser is the one it is bound to; else NotFound (or `missing`)."""
    from ..provisioning import signup, spool  # noqa: PLC0415 -- at first use

    try:
        found = spool.get(tenants(), request_id)
    except NotFound:
        found = None
    if found is None or not signup.holds(found, browser_secret(found["id"])):
        if missing is _MISSING:
            raise NotFound()
        return missing
    return found


@bp.get("/get-your-tenant/progress/<request_id>")
def progress(request_id):
    found = bound_request(request_id)
    # "Open your admin console" posts here and is answered by a redirect to the new tenant: CSP form-action.
    g.form_targets.add(origin(found["hosts"][0], local_port=current_app.config["CODEB_PORT"]))
    return page("progress.html", progress=progress_of(found), request_id=found["id"], interval=POLL_INTERVAL)


@bp.get("/get-your-tenant/progress/<request_id>/status")
def progress_status(request_id):
    try:
        found = bound_request(request_id)
    except NotFound as error:
        return jsonify(error=error.message_id, message=translate(error.message_id)), 404
    return jsonify(progress_of(found))


def progress_of(found: dict) -> dict:
    """What the progress page shows of a request: each step, its state and what went wrong."""
    from ..provisioning import spool  # noqa: PLC0415 -- at first use

    state = found.get("state")
    ready = state in (spool.PYTHON_DONE, spool.DONE)
    steps = [step_of(found, step, ready) for step in found.get("steps", []) if step["name"] not in HIDDEN_STEPS]
    failed = next((s for s in steps if s["state"] == "failed"), None)
    final = state in (spool.DONE, spool.FAILED) or (ready and not g.site.windows_worker)
    headline = "get_tenant.progress.failed" if state == spool.FAILED else f"get_tenant.progress.{state}"
    return {"state": state, "ready": ready, "final": final, "failed": state == spool.FAILED,
            "host": found["hosts"][0], "message": translate(headline, host=found["hosts"][0],
                                                              step=failed["label"] if failed else ""),
            "reference": found["id"][:8], "steps": steps}


def step_of(found: dict, step: dict, ready: bool) -> dict:
    from ..provisioning import spool  # noqa: PLC0415 -- at first use

    state = step["state"]
    if state == "failed" and found.get("state") != spool.FAILED:
        state = "retrying"  # the store was busy or full: the worker tries again
    if step["by"] == "windows" and state == "pending" and ready and not g.site.windows_worker:
        state = "prepared"  # no Windows worker on this host: the plan waits for the server's operator
    return {"name": step["name"], "state": state, "badge": BADGES.get(state, "badge-muted"),
            "label": translate(f"get_tenant.step.{step['name']}"), "status": translate(f"get_tenant.state.{state}"),
            "error": error_text(step["error"]) if state in ("failed", "retrying") and step.get("error") else None}


def error_text(error) -> str:
    """What went wrong, in the person's language where the catalogue says it without the
    failure's own details; else the server's words (English) after a sentence of ours."""
    if isinstance(error, dict) and isinstance(error.get("id"), str):
        message = i18n.message(g.lang, error["id"])
        if not i18n.placeholders(message) and error["id"] in i18n.catalogue(i18n.DEFAULT):
            return translate(error["id"])
        error = error.get("text")
    return translate("get_tenant.step_failed", detail=str(error or "")[:300])


@bp.post("/get-your-tenant/progress/<request_id>/handoff")
def hand_off(request_id):
    """"Open your admin console": a one-time token in the new tenant's folder, and there."""
    from ..provisioning import spool  # noqa: PLC0415 -- at first use

    found = bound_request(request_id)
    found = spool.note_handoff(tenants(), found["id"])
    ready = found.get("handoff") or {}
    if not ready.get("admin"):
        raise Conflict("error.provisioning.not_ready", state=str(found.get("state")))
    tenant = tenants().get(found["tenant"])
    token = handoff.issue(tenant.store, tenant=tenant.name, request_id=found["id"], browser=found["browser"],
                          login=ready["admin"], verified_at=found["created"])
    audit.append(tenant.store, "handoff.issued", login=ready["admin"], request=found["id"], ip=context.client_ip())
    target = origin(tenant.hosts[0], local_port=current_app.config["CODEB_PORT"])
    return redirect(f"{target}/handoff?t={token}", code=303)


# -- the language switch ------------------------------------------------------------------------

@bp.post("/get-your-tenant/language")
def language():
    chosen = request.form.get("lang", "")
    response = redirect(safe_local_path(request.form.get("next"), url_for(".form")), code=303)
    if chosen in i18n.SHIPPED:
        response.set_cookie(cookie_name(LANGUAGE_COOKIE), chosen, max_age=LANGUAGE_COOKIE_AGE, httponly=True,
                            secure=context.secure_cookies(), samesite="Lax", path="/")
    return response
