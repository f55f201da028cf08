"""CodeB identity: a passwordless, per-tenant OpenID Provider (see DESIGN.md)."""

import os

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """The WSGI application.

    Configuration comes from the environment (under IIS, the site's appSettings
    that wfastcgi copies into it): `CODEB_DATA` (the data root, default
    `App_Data/` beside app.py), `CODEB_TENANT` (serve only this tenant), and
    `CODEB_ECHO_MAIL` (print every mail to the console, for local use).
    """
    app = Flask(__name__, root_path=ROOT, template_folder="templates", static_folder="static")
    app.config.update(
        CODEB_DATA=os.environ.get("CODEB_DATA") or os.path.join(ROOT, "App_Data"),
        CODEB_TENANT=os.environ.get("CODEB_TENANT") or None,
        CODEB_ECHO_MAIL=os.environ.get("CODEB_ECHO_MAIL") == "1",
        MAX_CONTENT_LENGTH=256 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if test_config:
        app.config.update(test_config)
    app.config["CODEB_DATA"] = str(app.config["CODEB_DATA"])

    from . import web

    web.init_app(app)
    return app
