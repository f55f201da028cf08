"""The WSGI application (`create_app`) and the request pipeline around every view.

Around every request: resolve the tenant, check CSRF on forms, then save the
session and send the security headers (DESIGN invariant 5).
"""

import logging
import os
import time

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider

from .. import ROOT
from ..tenants import Tenants
from ..tenants.hosts import LOCAL_PORT, local_port
from . import (
    account,
    admin,
    brand,
    breakglass,
    context,
    errors,
    help,
    office,
    oidc,
    pages,
    passkeys,
    scripts,
    signin,
    urls,
)

log = logging.getLogger("codeb")


def create_app(test_config: dict | None = None) -> Flask:
    """The WSGI application.

    Configuration comes from the environment (under IIS, the site's appSettings
    that wfastcgi copies into it): `CODEB_DATA` (the data root, default
    `App_Data/` beside app.py), `CODEB_TENANT` (serve only this tenant), and
    `CODEB_ECHO_MAIL` (print every mail to the console, for local use).
    """
    app = Flask("codeb", root_path=ROOT, template_folder="templates", static_folder="static")
    app.config.update(
        CODEB_DATA=os.environ.get("CODEB_DATA") or os.path.join(ROOT, "App_Data"),
        CODEB_TENANT=os.environ.get("CODEB_TENANT") or None,
        CODEB_PORT=os.environ.get("CODEB_PORT") or LOCAL_PORT,
        CODEB_ECHO_MAIL=os.environ.get("CODEB_ECHO_MAIL") == "1",
        MAX_CONTENT_LENGTH=256 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if test_config:
        app.config.update(test_config)
    app.config["CODEB_DATA"] = str(app.config["CODEB_DATA"])
    app.config["CODEB_PORT"] = local_port(app.config["CODEB_PORT"])
    init_app(app)
    return app


class JsonBodies(DefaultJSONProvider):
    """The one parser of JSON request bodies (`request.get_json` in every view).

    Nesting deeper than the interpreter's recursion limit raises RecursionError, which
    is no ValueError, so `get_json(silent=True)` would let it through as a 500: here it
    is malformed JSON like any other, and each view answers its bad-request error.
    """

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app) -> None:
    app.json = JsonBodies(app)
    app.app_ctx_globals_class = context.Globals
    app.extensions["codeb.tenants"] = Tenants(app.config["CODEB_DATA"],
                                              fixed=app.config["CODEB_TENANT"],
                                              clock=app.config.get("CODEB_CLOCK") or time.time)
    app.before_request(context.load_tenant)
    app.before_request(brand.upload_limit)  # before the CSRF check reads the form
    app.before_request(context.check_csrf)
    app.after_request(save_session)
    app.after_request(security_headers)
    app.jinja_env.globals.update(_=context.translate, csrf_token=lambda: context.session().csrf,
                                 time_zone=context.time_zone, module_script=scripts.module_script)
    # Dates, times, numbers and sizes a person reads: CLDR formats of the page's language (Babel),
    # times in the tenant's zone; plurals are the catalogues' own (codeb.i18n).
    app.jinja_env.filters.update(when=context.format_moment, day=context.format_day,
                                 number=context.format_number, size=context.format_size)
    app.context_processor(lambda: {"lang": g.get("lang", "en"), "tenant": g.get("tenant"),
                                   "account": g.get("account")})
    errors.init_app(app)
    app.url_rule_class = urls.Rule  # URL builders compiled at first use, not at start-up
    for module in (oidc, signin, pages, passkeys, account, office, help, admin, brand, breakglass):
        app.register_blueprint(module.bp)


def save_session(response):
    ended = g.get("ended_session")
    if ended is not None:
        g.sessions.end(ended)
    current = context.loaded("session")  # a request that never read its session changed none
    if current is not None and (current.modified or current.new):
        value = g.sessions.save(current)
        if current.new or current.anonymous:
            response.set_cookie(context.cookie_name(), value, httponly=True,
                                secure=context.secure_cookies(), samesite="Lax", path="/")
    elif current is None and ended is not None:
        response.delete_cookie(context.cookie_name(), path="/", secure=context.secure_cookies(),
                               httponly=True, samesite="Lax")
    return response


# The headers every response carries unless its view set its own (DESIGN invariant 5).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # Links carry one-time secrets: never leak a URL through Referer.
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
IMG_SRC = "img-src 'self' data:"  # a page may add the origin of an image it shows (context.allow_image_from)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


def security_headers(response):
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}  # one pass, not a lookup per header

    def default(name: str, value: str) -> None:
        if name.lower() not in present:
            headers.add(name, value)

    targets = " ".join(sorted(g.get("form_targets", ())))
    images = " ".join(sorted(g.get("image_sources", ())))
    policy = CSP.replace(IMG_SRC, f"{IMG_SRC} {images}") if images else CSP
    default("Content-Security-Policy", policy + (" " + targets if targets else ""))
    for name, value in SECURITY_HEADERS:
        default(name, value)
    if request.scheme == "https":
        default("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        default("Cache-Control", "no-store")
    if response.mimetype == "text/html" and g.get("lang"):
        default("Content-Language", g.lang)
    return response
