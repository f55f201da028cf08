"""One place that turns failures into pages or protocol errors (DESIGN invariant 6).

A `CodebError` becomes a page in the person's language with its status; an
unknown host a plain 404 that names no tenant; anything unexpected a generic
`server_error` with nothing of the exception shown (it is logged instead).
Protocol endpoints answer in JSON, as OAuth clients expect.
"""

import json
import logging

from flask import Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from .. import i18n
from ..errors import CodebError, RateLimited, UnknownTenant

log = logging.getLogger("codeb")
JSON_ENDPOINTS = {"oidc.token", "oidc.userinfo", "oidc.jwks", "oidc.discovery"}
HTTP_MESSAGES = {403: "error.forbidden", 404: "error.not_found", 405: "error.method_not_allowed",
                 413: "error.too_large", 400: "error.bad_request"}


def init_app(app) -> None:
    app.register_error_handler(UnknownTenant, unknown_tenant)
    app.register_error_handler(CodebError, codeb_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def _json(status: int, error: str, description: str) -> Response:
    return Response(json.dumps({"error": error, "error_description": description}), status=status,
                    mimetype="application/json", headers={"Cache-Control": "no-store"})


def unknown_tenant(error):
    lang = i18n.negotiate(i18n.parse_accept_language(request.headers.get("Accept-Language")),
                          i18n.SHIPPED) or i18n.DEFAULT
    text = i18n.translate(lang, "error.unknown_tenant")
    return Response(text + "\n", status=404, mimetype="text/plain")


def render_error(status: int, message_id: str, **params):
    if request.endpoint in JSON_ENDPOINTS:
        return _json(status, "invalid_request" if status < 500 else "server_error",
                     i18n.translate("en", message_id, **params))
    if g.get("tenant") is None:  # failed before the tenant was known
        return Response(i18n.translate("en", message_id, **params) + "\n", status=status,
                        mimetype="text/plain")
    return render_template("error.html", message_id=message_id, params=params), status


def codeb_error(error: CodebError):
    response = render_error(error.status, error.message_id, **error.params)
    if isinstance(error, RateLimited):
        response = _with_header(response, "Retry-After", str(error.retry_after))
    return response


def _with_header(response, name, value):
    if isinstance(response, tuple):
        body, status = response
        return Response(body, status=status, headers={name: value}, mimetype="text/html")
    response.headers[name] = value
    return response


def http_error(error: HTTPException):
    message_id = HTTP_MESSAGES.get(error.code, "error.generic")
    return render_error(error.code or 500, message_id)


def unexpected(error: Exception):
    log.exception("unexpected error on %s %s", request.method, request.path)
    if request.endpoint in JSON_ENDPOINTS:
        return _json(500, "server_error", "The server could not complete the request.")
    return render_error(500, "error.server")
