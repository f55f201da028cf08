"""The tenant's SIP server, as the shell's phone card reaches it: a WebSocket URL and the realm.

Two settings in tenant.json, set by the admin's settings page or
`python -m codeb tenant sip-server`:
- `sip_ws_url`, `wss://sip.example.com/ws`: where browsers register (SIP over WebSocket,
  RFC 7118). Without it the card shows the extension and SIP address and how to set up a
  native SIP app with an app password.
- `sip_realm`: the digest realm the SIP server challenges with and the domain of the browser's
  address (`sip:<login>@<realm>`); unset, the tenant's first host (codeb.accounts.passwords.sip_realm,
  which native phones' HA1 values are made for: one realm for both).

The URL is `wss://` with a host, an optional port and path, and nothing else: no user part,
query or fragment. Plain `ws://` only to a loopback host, where no network sees it (a local
Kamailio beside the local server). The shell page's CSP `connect-src` names its origin
(codeb.web.office), and no other page's does.
"""

import logging
import re
from urllib.parse import urlsplit

from ..errors import BadInput
from .hosts import HOST_PATTERN, is_loopback

log = logging.getLogger("codeb.tenants")

WS_URL, REALM_SETTING = "sip_ws_url", "sip_realm"
MAX_URL = 300
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,=:@%-]*)*")  # RFC 3986 pchar, but no ';' (a CSP separator)
_LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def check_ws_url(url) -> str:
    """The URL if it is one the card may connect to, else BadInput (`error.sip_ws_url`)."""
    shown = str(url)[:100]
    if not isinstance(url, str) or not url or len(url) > MAX_URL or not url.isascii() or url != url.strip():
        raise BadInput("error.sip_ws_url", url=shown)
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is no number, or out of range, raises ValueError
    except ValueError:
        raise BadInput("error.sip_ws_url", url=shown) from None
    host = parts.hostname or ""
    loopback = host in _LOOPBACK_ADDRESSES or is_loopback(host)
    good = (
        (parts.scheme == "wss" or (parts.scheme == "ws" and loopback))
        and (HOST_PATTERN.fullmatch(host) is not None or host in _LOOPBACK_ADDRESSES)
        and "@" not in parts.netloc and "?" not in url and "#" not in url and port != 0
        and _PATH.fullmatch(parts.path) is not None and " " not in url
    )
    if not good:
        raise BadInput("error.sip_ws_url", url=shown)
    return url


def check_realm(realm) -> str:
    """A host name (any case; kept lowercase), else BadInput (`error.sip_realm`)."""
    if not isinstance(realm, str) or not HOST_PATTERN.fullmatch(realm.lower()):
        raise BadInput("error.sip_realm", realm=str(realm)[:100])
    return realm.lower()


def ws_url(tenant) -> str | None:
    """Where the tenant's browsers register, or None: not set, or (with a warning) not a valid URL."""
    stored = tenant.setting(WS_URL)
    if not stored:
        return None
    try:
        return check_ws_url(stored)
    except BadInput:
        log.warning("tenant %s: %s %r is no wss:// URL; the phone card offers no SIP server", tenant.name,
                    WS_URL, str(stored)[:100])
        return None


def origin(url: str) -> str:
    """What a CSP `connect-src` names for `url`: its scheme, host and port."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def settings_part(ws_url, realm) -> dict:
    """Both settings from what the admin or operator gave, each checked; an empty one is unset
    (no SIP server for browsers; the realm the tenant's first host). None leaves that one as it is."""
    part: dict = {}
    if ws_url is not None:
        url = ws_url.strip() if isinstance(ws_url, str) else ws_url
        part[WS_URL] = check_ws_url(url) if url != "" else None
    if realm is not None:
        name = realm.strip() if isinstance(realm, str) else realm
        part[REALM_SETTING] = check_realm(name) if name != "" else None
    return part
