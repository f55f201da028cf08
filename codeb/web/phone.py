"""The shell's phone card API: `GET /api/phone`, with the shell's access token (codeb.web.office).

Always the person's extension and SIP address, and whether the tenant allows app passwords
(the guide for a native SIP app points to them). When the tenant names a SIP server for
browsers (codeb.tenants.sip) and its operator has made the shared secret with it
(`python -m codeb sip-secret TENANT`), also what SIP.js registers with: the WebSocket URL, the
realm, the address `sip:<login>@<realm>`, short-lived credentials of Kamailio's auth_ephemeral
scheme (codeb.native.sip_credentials) and the tenant's TURN servers with their own credentials
(codeb.rooms.turn), which the page asks again for before they expire. `phone` says which:
`native` (no SIP server), `no_secret` (a server, but no secret yet) or `browser`.

Only a person with the shell's token: a guest of a meeting has no account and no phone (their
browser is refused before any view: codeb.web.guest_session), nor does a relying party's token.
The answer is `no-store`: it carries a credential.
"""

from flask import Blueprint, g

from ..accounts import app_passwords
from ..accounts.passwords import sip_realm
from ..native import sip_credentials
from ..rooms import turn
from ..store import layout
from ..tenants import sip
from .errors import answers
from .office import shell_bearer
from .workspace import _json

bp = Blueprint("phone", __name__)


@bp.get("/api/phone")
@answers("oauth")
def phone():
    account = shell_bearer().account
    body: dict = {"ext": account.ext, "sip": account.sip, "display_name": account.display_name,
                  "app_passwords": app_passwords.allowed_in(g.tenant.settings), "phone": "native"}
    url = sip.ws_url(g.tenant)
    if url is None:
        return _json(body)
    credentials = sip_credentials.for_account(g.tenant.store, account.login)
    if credentials is None:
        return _json({**body, "phone": "no_secret"})
    realm = sip_realm(g.tenant).lower()
    return _json({**body, "phone": "browser", "ws_url": url, "realm": realm, "aor": f"sip:{account.login}@{realm}",
                  "username": credentials.username, "password": credentials.password,
                  "expires": credentials.expires, "ttl": credentials.ttl,
                  "ice_servers": turn.ice_servers(g.tenant, layout.person(account.sub))})
