"""The office shell: CodeB's own browser app, its JSON API, and what makes it installable.

`/office.html` is a static shell with no personal data in it (so the service
worker may cache it); it signs in through the tenant's authorization endpoint
as the first-party public client `office` (codeb.oidc.clients) with PKCE and
keeps its access token in sessionStorage. Everything personal comes from
`/api/me` with that bearer token, never from a cookie.
"""

import json
import os

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from .. import i18n
from ..errors import BadInput
from ..oidc.clients import FIRST_PARTY
from ..oidc.provider import NO_STORE
from .oidc import provider

bp = Blueprint("office", __name__)


def bearer(op):
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    return op.verify_bearer(header[7:].strip())


def unauthorized():
    response = jsonify(error="invalid_token")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = f'Bearer realm="{g.issuer}"'
    return response


@bp.get("/office.html")
def shell():
    return render_template("office/shell.html", client_id=FIRST_PARTY, admin_page=True,
                           messages=shell_messages(), is_shell=True)


def shell_messages() -> dict:
    """Every string the shell's script shows, in the page's language."""
    from .context import translate

    return {key: translate(f"office.{key}") for key in OFFICE_KEYS}


OFFICE_KEYS = ("welcome", "tenant", "auth", "roles", "sip", "ext", "ready", "help_title", "cmd_help",
               "cmd_whoami", "cmd_account", "cmd_phone", "cmd_help_page", "cmd_admin", "cmd_lang",
               "cmd_signout", "cmd_clear", "unknown", "signing_in", "renewing", "failed", "no_ext",
               "phone_info", "lang_done", "lang_unknown", "method_magic_link", "method_passkey")


@bp.route("/api/me", methods=["GET", "PATCH"])
def me():
    op = provider()
    verified = bearer(op)  # signature, lifetime, tenant, account, and the grant not revoked
    if verified is None:
        return unauthorized()
    claims, account = verified
    grant = op.grants.get(claims.gid) or {}  # how the person signed in, noted when the code was issued
    if grant.get("client_id") == FIRST_PARTY and not g.sessions.alive(grant.get("session")):
        return unauthorized()  # the shell's token lives no longer than the browser session it came from
    if request.method == "PATCH":
        account = change_language(account, request.get_json(silent=True) or {})
    detail = grant.get("detail") or {}
    body = {
        "login": account.login,
        "display_name": account.display_name,
        "nickname": account.doc.get("nickname"),
        "email": account.email,
        "language": account.language or g.lang,
        "roles": account.roles,
        "tenant": {"name": g.tenant.name, "host": g.tenant.hosts[0], "display_name": g.tenant.display_name},
        "sip": account.doc.get("sip"),
        "ext": account.doc.get("ext"),
        "auth": {"method": grant.get("method") or None, "amr": claims.claims.get("amr", []),
                 "passkey": detail.get("name"), "authenticator": detail.get("authenticator"),
                 "auth_time": claims.claims.get("auth_time")},
        "languages": g.tenant.available_languages,
    }
    response = jsonify(body)
    response.headers.update(dict(NO_STORE))
    return response


def change_language(account, body: dict):
    lang = body.get("language")
    if lang not in g.tenant.available_languages:
        raise BadInput("error.unknown_language")
    with g.accounts.update(account.login) as doc:
        doc["language"] = lang
    return g.accounts.require(account.login)


@bp.get("/manifest.webmanifest")
def manifest():
    """The Web App Manifest of this tenant (W3C Manifest): installable as its own app."""
    doc = {
        "name": g.tenant.display_name,
        "short_name": g.tenant.display_name[:12],
        "description": i18n.translate(g.lang, "office.manifest_description"),
        "lang": g.lang,
        "id": "/office.html",
        "start_url": "/office.html",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f5f7fa",
        "theme_color": "#0b57d0",
        "icons": [
            {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icons/maskable-192.png", "sizes": "192x192", "type": "image/png",
             "purpose": "maskable"},
            {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    return Response(json.dumps(doc), mimetype="application/manifest+json",
                    headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/sw.js")
def service_worker():
    """Served from the root so its scope is the whole site."""
    path = os.path.join(current_app.static_folder, "js", "sw.js")
    with open(path, encoding="utf-8") as f:
        body = f.read()
    return Response(body, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.get("/offline.html")
def offline():
    return render_template("office/offline.html", is_shell=True)
