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
    admin_guests,
    brand,
    breakglass,
    context,
    documents,
    errors,
    get_tenant,
    guest_session,
    guests,
    handoff,
    headers,
    help,
    meetings,
    office,
    oidc,
    pages,
    passkeys,
    phone,
    scripts,
    signin,
    sip,
    upstreams,
    urls,
    wallet,
    wallet_admin,
    workspace,
    xmpp,
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
    app.wsgi_app = documents.BeforeFlask(app, app.wsgi_app)  # type: ignore[method-assign]
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
    app.before_request(guest_session.keep_guests_in)  # a guest's browser reaches its conversation only
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
    for module in (oidc, signin, pages, passkeys, account, office, phone, help, admin, upstreams, brand, breakglass,
                   wallet, wallet_admin, workspace, meetings, guests, admin_guests, handoff, get_tenant, xmpp, sip):
        app.register_blueprint(module.bp)
    app.register_blueprint(upstreams.keys)  # public, beside the admin's page: no admin check


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


def security_headers(response):
    """The headers DESIGN invariant 5 asks of every response, unless its view set its own."""
    present = {name.lower() for name, _ in response.headers.items()}  # one pass, not a lookup per header
    response.headers.extend(headers.defaults(
        present, https=request.scheme == "https", static=request.endpoint == "static",
        lang=g.get("lang") if response.mimetype == "text/html" else None,
        form_targets=g.get("form_targets", ()), image_sources=g.get("image_sources", ())))
    return response
