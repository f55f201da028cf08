"""The office shell: CodeB's own browser app, its JSON API, and what makes it installable.

`/office.html` is a static shell with no personal data in it (so the service
worker may cache it); it signs in through the tenant's authorization endpoint
as the first-party public client `office` (codeb.oidc.clients) with PKCE and
keeps its access token in sessionStorage. Everything personal comes from
`/api/me` with that bearer token, never from a cookie.
"""

import json
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request

from .. import i18n
from ..errors import BadInput
from ..oidc.clients import FIRST_PARTY, Clients
from ..oidc.requests import NO_STORE
from ..tenants import sip
from . import brand, headers
from .context import translate
from .errors import answers
from .oidc import protocol_request, provider

bp = Blueprint("office", __name__)


@dataclass(frozen=True)
class Card:
    """One card of the shell: its partial `templates/office/cards/<name>.html`, and the shape of
    its skeleton while the token comes (`lines` grey blocks, tiles or text lines)."""

    name: str
    lines: int
    tiles: bool = False


# The shell's cards, in page order (on phones the tile cards come first: codeb.css). A new
# card is one partial and one line here.
CARDS = (Card("identity", 4), Card("channels", 3), Card("meetings", 3), Card("phone", 3),
         Card("apps", 2, tiles=True), Card("places", 3, tiles=True))


@bp.get("/office.html")
def shell():
    page = render_template("office/shell.html", client_id=FIRST_PARTY, admin_page=True, cards=CARDS,
                           messages=shell_messages(), is_shell=True)
    # The meeting rooms and the phone use the camera and microphone, on this page only (codeb.web.headers).
    response = Response(page, mimetype="text/html", headers={"Permissions-Policy": SHELL_PERMISSIONS})
    phone_server = sip.ws_url(g.tenant)
    if phone_server is not None:  # the phone card's WebSocket, on this page only
        response.headers["Content-Security-Policy"] = headers.policy(
            image_sources=g.image_sources, form_targets=g.form_targets, connect_sources=[sip.origin(phone_server)])
    return response


SHELL_PERMISSIONS = "camera=(self), microphone=(self), geolocation=()"


def shell_messages() -> dict:
    """Every string the shell's script shows, in the page's language. A plural message goes as
    its forms by CLDR category, which the script picks with `Intl.PluralRules` (the same CLDR
    rules Babel applies here) once it knows the count."""
    messages: dict = {key: translate(f"office.{key}") for key in OFFICE_KEYS}
    for key in ROOMS_KEYS:
        message = i18n.message(g.lang, f"rooms.{key}", g.tenant.languages.get(g.lang))
        messages[key] = message if isinstance(message, dict) else translate(f"rooms.{key}")
    for key in MEETINGS_KEYS:
        message = i18n.message(g.lang, f"meetings.{key}", g.tenant.languages.get(g.lang))
        messages[f"meeting_{key}"] = message if isinstance(message, dict) else translate(f"meetings.{key}")
    for key in GUESTS_KEYS:
        message = i18n.message(g.lang, f"guests.{key}", g.tenant.languages.get(g.lang))
        messages[f"guest_{key}"] = message if isinstance(message, dict) else translate(f"guests.{key}")
    messages.update({f"phone_{key}": translate(f"phone.{key}") for key in PHONE_KEYS})
    return messages


OFFICE_KEYS = ("welcome", "tenant", "auth", "roles", "sip", "ext", "ready", "help_title", "cmd_help",
               "cmd_whoami", "cmd_account", "cmd_phone", "cmd_help_page", "cmd_admin", "cmd_lang",
               "cmd_signout", "cmd_clear", "unknown", "signing_in", "renewing", "failed", "no_ext",
               "phone_info", "lang_done", "lang_unknown", "method_magic_link", "method_passkey",
               "method_password", "method_oidc", "method_saml", "method_wallet", "loaded",
               "signing_out", "apps_failed")
# The chat channels' strings (static/js/office/channels.js), `rooms.<key>` in the catalogues.
ROOMS_KEYS = ("archived", "unread", "unread_mentions", "someone", "guest", "edited", "deleted", "edit",
              "delete", "members", "role_owner", "role_guest", "delete_confirm", "no_results",
              "archive_confirm", "leave_confirm", "notify_on", "notify_off", "notify_enabled", "notify_denied",
              "notify_unsupported", "notify_failed")
# The meeting rooms' strings (static/js/office/meetings.js), `meetings.<key>`, as `meeting_<key>`.
MEETINGS_KEYS = ("empty", "over", "join", "mute", "unmute", "camera_off", "camera_on", "end_confirm", "nobody",
                 "rung", "you", "no_media", "joined", "alone", "connecting", "ended_notice", "scheduled", "from",
                 "until")
# The phone card's strings (static/js/office/phone.js), `phone.<key>`, as `phone_<key>`.
PHONE_KEYS = ("registering", "registered", "unregistered", "failed", "calling", "connecting", "in_call", "ended",
              "incoming", "call_failed", "bad_target", "no_media")
# The guests' strings (static/js/guest.js, the invitations in static/js/office/invites.js), `guests.<key>`,
# as `guest_<key>`.
GUESTS_KEYS = ("invited_meeting", "invited_channel", "valid_until", "you_are", "no_link", "left", "leave_confirm",
               "ended", "joining", "copied", "mailed", "no_invites", "state_open", "state_used", "state_expired",
               "state_revoked", "invite_link_one", "invite_link_many", "invite_mailed", "invite_by", "uses",
               "withdraw", "withdraw_confirm", "remove", "remove_confirm", "removed")


def shell_bearer():
    """The shell's own access token on this request, verified: signature, lifetime, tenant,
    account, the grant not revoked, the shell's audience (no relying party's token: RFC 9068 §4)
    and the shell's browser session. Anything else is the oauth error answer (401)."""
    from ..oidc.userinfo import verify_request  # noqa: PLC0415 -- at first use (codeb.web)

    return verify_request(provider(), protocol_request(), with_grant=True, audience=FIRST_PARTY)


@bp.route("/api/me", methods=["GET", "PATCH"])
@answers("oauth")
def me():
    bearer = shell_bearer()
    claims, account, grant = bearer.claims, bearer.account, bearer.grant
    if request.method == "PATCH":
        account = g.accounts.set_language(account.login, requested_language(), g.tenant.available_languages)
    detail = grant.get("detail") or {}
    body = {
        "login": account.login,
        "display_name": account.display_name,
        "nickname": account.nickname,
        "email": account.email,
        "language": account.language or g.lang,
        "roles": account.roles,
        "tenant": {"name": g.tenant.name, "host": g.tenant.hosts[0], "display_name": g.tenant.display_name},
        "sip": account.sip,
        "ext": account.ext,
        "auth": {"method": grant.get("method") or None, "amr": claims.claims.get("amr", []),
                 "passkey": detail.get("name"), "authenticator": detail.get("authenticator"),
                 "auth_time": claims.claims.get("auth_time")},
        "languages": g.tenant.available_languages,
    }
    response = jsonify(body)
    response.headers.update(dict(NO_STORE))
    return response


@bp.get("/api/apps")
@answers("oauth")
def apps():
    """The Apps grid: this tenant's registered clients that have a home URL, for a signed-in person."""
    shell_bearer()
    body = {"apps": [app_entry(client) for client in Clients(g.tenant.store).apps()]}
    response = jsonify(body)
    response.headers.update(dict(NO_STORE))
    return response


def app_entry(client) -> dict:
    entry = {"name": client.name, "url": client.home_url}
    logo = client.doc.get("logo_uri")
    if isinstance(logo, str) and logo:
        entry["logo"] = logo  # shown only where the page's img-src allows it (static/js/office/apps.js)
    return entry


def requested_language() -> str:
    """The one change the shell makes: `{"language": "<code>"}`; any other body is a 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("language"), str):
        raise BadInput("error.office.language_body")
    return body["language"]


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
        "theme_color": brand.theme_colour(),
        "icons": brand.manifest_icons() + [
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
    response = current_app.send_static_file("js/sw.js")
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline.html")
def offline():
    return render_template("office/offline.html", is_shell=True)
