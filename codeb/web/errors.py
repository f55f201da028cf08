"""The one place that turns failures into responses (DESIGN invariant 6).

How a view's failures answer is declared beside the view with `@answers(...)`:
- "page" (the default): a page in the person's language with the error's status;
- "json": the browser code's calls, `{"error": message id, "message": text}`;
- "oauth": protocol endpoints, `{"error": code, "error_description": text}`.
A `CodebError` carries its message id and status; an Authlib `OAuth2Error`
raised by the provider becomes its RFC 6749/6750 reply; an unknown host is a
plain 404 that names no tenant; anything unexpected a generic `server_error`
with nothing of the exception shown (it is logged instead).
"""

import json
import logging

from authlib.oauth2 import OAuth2Error
from flask import Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import i18n
from ..errors import CodebError, ReauthRequired, UnknownTenant
from ..oidc.errors import reply_for
from . import context

log = logging.getLogger("codeb")
STYLES = ("page", "json", "oauth")
HTTP_MESSAGES = {403: "error.forbidden", 404: "error.not_found", 405: "error.method_not_allowed",
                 413: "error.too_large", 400: "error.bad_request"}


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


def unknown_tenant(error):
    lang = i18n.negotiate(i18n.parse_accept_language(request.headers.get("Accept-Language")),
                          i18n.SHIPPED) or i18n.DEFAULT
    text = i18n.translate(lang, "error.unknown_tenant")
    return Response(text + "\n", status=404, mimetype="text/plain")


def render_error(status: int, message_id: str, *, oauth_error: str | None = None, **params):
    answer = style()
    if answer == "oauth":
        code = oauth_error or ("invalid_request" if status < 500 else "server_error")
        return _oauth_json(status, code, i18n.translate("en", message_id, **params))
    if g.get("tenant") is None:  # failed before the tenant was known
        return Response(i18n.translate("en", message_id, **params) + "\n", status=status,
                        mimetype="text/plain")
    if answer == "json":
        body = {"error": message_id, "message": context.translate(message_id, **params)}
        return Response(json.dumps(body), status=status, mimetype="application/json")
    return Response(render_template("error.html", message_id=message_id, params=params), status=status,
                    mimetype="text/html")


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
    log.exception("unexpected error on %s %s", request.method, request.path)
    if style() == "oauth":
        return _oauth_json(500, "server_error", "The server could not complete the request.")
    return render_error(500, "error.server")
