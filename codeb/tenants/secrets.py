"""A tenant's secrets that are not signing keys, in `<tenant>/keys/` (never served).

Today the session secret: it signs anonymous session cookies and the one-time
links the tenant mails (magic links, invitations). TURN shared secrets, VAPID
keys for Web Push and guest-invitation keys belong here too: created with the
tenant, read by whoever needs them, never part of the OpenID Provider's keys.
"""

import base64
import secrets

from ..store import layout


def ensure(store) -> None:
    """Give a tenant the secrets it does not have yet (a new tenant: all of them)."""
    with store.lock(layout.KEYS, layout.SESSION_SECRET):
        if not store.exists(layout.KEYS, layout.SESSION_SECRET):
            secret = base64.b64encode(secrets.token_bytes(32)).decode()
            store.write(layout.KEYS, layout.SESSION_SECRET, doc={"secret": secret})


def session_secret(store) -> bytes:
    return base64.b64decode(store.read(layout.KEYS, layout.SESSION_SECRET)["secret"])
