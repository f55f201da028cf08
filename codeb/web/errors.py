"""The one place that turns failures into responses (DESIGN invariant 6).

How a view's failures answer is declared beside the view with `@answers(...)`:
- "page" (the default): a page in the person's language with the error's status;
- "json": the browser code's calls, `{"error": message id, "message": text}`;
- "oauth": protocol endpoints, `{"error": code, "error_description": text}`.
A `CodebError` carries its message id and status; an Authlib `OAuth2Error`
raised by the provider becomes its RFC 6749/6750 reply; an unknown host is a
404 page in the browser's language that names no tenant; anything unexpected a
generic `server_error` with nothing of the exception shown (it is logged instead).

An error page has a title for its family (an expired link, too many attempts, a
page that does not exist …: `title_for`) and a reference the person can give to
their admin: the same reference is in the process log and, once the tenant is
known, in the tenant's audit log (`audit.error_shown`), found by searching for it.
"""

import json
import logging
import secrets

from authlib.oauth2 import OAuth2Error
from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from .. import audit, i18n
from ..errors import CodebError, ReauthRequired, UnknownTenant
from ..oidc.errors import reply_for
from . import context

log = logging.getLogger("codeb")
STYLES = ("page", "json", "oauth")
HTTP_MESSAGES = {403: "error.forbidden", 404: "error.not_found", 405: "error.method_not_allowed",
                 413: "error.too_large", 400: "error.bad_request"}

# An error page's title: its message's family first, then its status, then "Something went wrong".
TITLES_BY_MESSAGE = {
    "error.link_expired": "error.title.link_expired",
    "error.link_used": "error.title.link_expired",
    "error.email_change_other_account": "error.title.link_other_account",
    "error.link_invalid": "error.title.link_invalid",
    "error.link_signin_disabled": "error.title.link_invalid",
    "error.interaction_expired": "error.title.signin_expired",
    "error.magic.pending_gone": "error.title.signin_expired",
    "error.passkey_challenge": "error.title.signin_expired",
    "error.csrf": "error.title.form_expired",
    "error.account_disabled": "error.title.account_disabled",
    "error.signup_refused": "error.title.no_account",
    "error.signin_required": "error.title.signin_required",
    "error.signin_failed": "error.title.signin_failed",
    "error.store_corrupt": "error.title.server",
}
TITLES_BY_PREFIX = (("error.authorize.", "error.title.app_request"),)
TITLES_BY_STATUS = {400: "error.title.bad_request", 403: "error.title.forbidden", 404: "error.title.not_found",
                    405: "error.title.method_not_allowed", 409: "error.title.conflict",
                    413: "error.title.too_large", 429: "error.title.too_many", 500: "error.title.server",
                    503: "error.title.unavailable"}
# Too many attempts is a family whatever its message (a password, a code, a network's requests).
TITLE_FIRST_BY_STATUS = {429: "error.title.too_many", 503: "error.title.unavailable"}
# A reference is read aloud over the phone: no 0/O, 1/I/L or U, in two groups of four.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def title_for(status: int, message_id: str) -> str:
    """The message id of an error page's title (its family; see the TITLES tables)."""
    if status in TITLE_FIRST_BY_STATUS:
        return TITLE_FIRST_BY_STATUS[status]
    if message_id in TITLES_BY_MESSAGE:
        return TITLES_BY_MESSAGE[message_id]
    for prefix, title in TITLES_BY_PREFIX:
        if message_id.startswith(prefix):
            return title
    return TITLES_BY_STATUS.get(status, "error.title")


def new_reference() -> str:
    """A short random id for one error, like 7KQ2-M9XD (30⁸ ≈ 6.6·10¹¹ of them)."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def answers(style: str):
    """Declare how this view's failures are answered (see the module's docstring)."""
    _known(style)

    def mark(view):
        view.codeb_answers = style
        return view
    return mark


def answer_as(style: str) -> None:
    """For a view that serves several kinds of callers (the sign-in dispatch): decide now."""
    g.answers = _known(style)


def _known(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown answer style {style!r}; one of {STYLES}")
    return style


def style() -> str:
    if g.get("answers"):
        return g.answers
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "codeb_answers", "page")


def init_app(app) -> None:
    app.register_error_handler(UnknownTenant, unknown_tenant)
    app.register_error_handler(ReauthRequired, reauth_required)
    app.register_error_handler(CodebError, codeb_error)
    app.register_error_handler(OAuth2Error, oauth_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def _oauth_json(status: int, error: str, description: str) -> Response:
    return Response(json.dumps({"error": error, "error_description": description}), status=status,
                    mimetype="application/json", headers={"Cache-Control": "no-store"})


def _browser_language() -> str:
    """Before a tenant is known: the browser's language among the shipped ones."""
    return i18n.negotiate(i18n.parse_accept_language(request.headers.get("Accept-Language")),
                          i18n.SHIPPED) or i18n.DEFAULT


def unknown_tenant(error):
    """A host no tenant claims: a page in the browser's language that names no tenant, so
    a probe learns nothing about which tenants this server has (nor their brand)."""
    g.lang = _browser_language()
    if request_ctx.url_adapter is None:  # a Host header Werkzeug could not route: paths still work
        request_ctx.url_adapter = current_app.url_map.bind("unknown.invalid", script_name=request.root_path or "/",
                                                           url_scheme=request.scheme)
    reference = new_reference()
    log.warning("error %s: %s %s for unknown host %r -> 404", reference, request.method,
                request.path[:200], request.host[:200])
    page = render_template("unknown_host.html", reference=reference)
    return Response(page, status=404, mimetype="text/html", headers={"Cache-Control": "no-store"})


def render_error(status: int, message_id: str, *, oauth_error: str | None = None,
                 reference: str | None = None, **params):
    answer = style()
    if answer == "oauth":
        code = oauth_error or ("invalid_request" if status < 500 else "server_error")
        return _oauth_json(status, code, i18n.translate("en", message_id, **params))
    if answer == "json" and g.get("tenant") is not None:
        body = {"error": message_id, "message": context.translate(message_id, **params)}
        return Response(json.dumps(body), status=status, mimetype="application/json")
    if g.get("tenant") is None:  # failed before the tenant was known: the browser's language
        g.lang = _browser_language()
    reference = _record(status, message_id, reference or new_reference())
    page = render_template("error.html", message_id=message_id, params=params, status=status,
                           title_id=title_for(status, message_id), reference=reference)
    return Response(page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _record(status: int, message_id: str, reference: str) -> str:
    """Log the error page with its reference; the reference the page shows (see audit.error_shown).

    What is written names the route's rule (`/link/<token>`), never the request's path: a
    path can carry a one-time secret. Failing to write the audit line (the disk that made
    this error full, say) must not turn the page into another error: it is logged instead."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    account = context.loaded("account")
    facts = {"status": status, "message": message_id, "method": request.method, "rule": rule,
             "ip": context.client_ip()}
    if account is not None:
        facts["login"] = account.login
        facts["sub"] = account.sub
    tenant = g.get("tenant")
    # A 503 is the store that cannot take a write (full, busy): the process log alone, so a
    # refused request leaves the data folder exactly as it was (tests/soak/test_full_disk.py).
    if tenant is not None and status != 503:
        try:
            reference = audit.error_shown(tenant.store, reference, **facts)
        except Exception:
            log.exception("error %s: its audit line could not be written", reference)
    log.warning("error %s: %s %s (%s) -> %d %s%s", reference, request.method, rule or request.path[:200],
                tenant.name if tenant is not None else "no tenant", status, message_id,
                f" for {account.login}" if account is not None else "")
    return reference


def codeb_error(error: CodebError):
    """A temporary failure (a full disk, a busy lock, a rate limit) names when to retry."""
    response = render_error(error.status, error.message_id, oauth_error=error.oauth_error, **error.params)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def reauth_required(error: ReauthRequired):
    """"Confirm it's you": a page's form goes to the confirmation page; the browser code's
    call gets the error with where to go (`reauth`)."""
    target = url_for("account.confirm")
    if style() == "json":
        body = {"error": error.message_id, "message": context.translate(error.message_id), "reauth": target}
        return Response(json.dumps(body), status=error.status, mimetype="application/json")
    return redirect(target, code=303)


def oauth_error(error: OAuth2Error):
    reply = reply_for(error)
    return Response(reply.body, status=reply.status, headers=reply.headers)


def http_error(error: HTTPException):
    message_id = HTTP_MESSAGES.get(error.code or 500, "error.generic")
    return render_error(error.code or 500, message_id)


def unexpected(error: Exception):
    reference = new_reference()
    log.exception("error %s: unexpected on %s %s", reference, request.method,
                  request.url_rule.rule if request.url_rule is not None else request.path[:200])
    if style() == "oauth":
        return _oauth_json(500, "server_error", "The server could not complete the request.")
    return render_error(500, "error.server", reference=reference)
