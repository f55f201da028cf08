"""A tenant's secrets that are not signing keys, in `<tenant>/keys/` (never served).

Today the session secret: it signs anonymous session cookies and the one-time
links the tenant mails (magic links, invitations). TURN shared secrets, VAPID
keys for Web Push and guest-invitation keys belong here too: created with the
tenant, read by whoever needs them, never part of the OpenID Provider's keys.
The XMPP server's key to the HTTP auth endpoint (`layout.XMPP_AUTH_SECRET`) is one the
operator makes (`python -m codeb xmpp-auth-secret`): until then the endpoint answers no one.
"""

import base64
import secrets

from ..errors import StoreCorrupt
from ..store import layout
from ..store.cache import Memo

# Decoded session secrets by tenant folder, revalidated by the file's stamp on every use
# (codeb.store.cache): a secret replaced by another process is used from its next request.
_secrets = Memo(size=256)


def ensure(store) -> None:
    """Give a tenant the secrets it does not have yet (a new tenant: all of them)."""
    with store.lock(layout.KEYS, layout.SESSION_SECRET):
        if not store.exists(layout.KEYS, layout.SESSION_SECRET):
            secret = base64.b64encode(secrets.token_bytes(32)).decode()
            store.write(layout.KEYS, layout.SESSION_SECRET, doc={"secret": secret})


def session_secret(store) -> bytes:
    secret = store.derived(_secrets, layout.KEYS, layout.SESSION_SECRET,
                           make=lambda doc: base64.b64decode(doc["secret"]))
    if secret is None:  # a tenant folder without its secret is damaged, not empty
        raise StoreCorrupt(path=store.doc_path(layout.KEYS, layout.SESSION_SECRET))
    return secret


# Other random secrets of a tenant, by name (`layout.GUEST_INVITE_KEY` ...), decoded and
# revalidated like the session secret.
_named = Memo(size=256)


def named_secret(store, name: str) -> bytes:
    """A 32-byte secret of the tenant kept in `keys/<name>.json`, made under its lock the first
    time it is asked for (a tenant from before the capability gets it then, in any process)."""
    secret = store.derived(_named, layout.KEYS, name, make=lambda doc: base64.b64decode(doc["secret"]))
    if secret is not None:
        return secret
    with store.lock(layout.KEYS, name):
        if not store.exists(layout.KEYS, name):
            store.write(layout.KEYS, name, doc={"secret": base64.b64encode(secrets.token_bytes(32)).decode()})
    return store.derived(_named, layout.KEYS, name, make=lambda doc: base64.b64decode(doc["secret"]))


def secret_text(secret: bytes) -> str:
    """A secret as an operator copies it into another server's configuration and that server
    sends it back: base64url without padding (no `:`, `=` or `/`)."""
    return base64.urlsafe_b64encode(secret).decode("ascii").rstrip("=")


def existing_secret(store, name: str) -> bytes | None:
    """A named secret if the tenant has it, else None. For a secret that turns something on
    (the XMPP server's key to the HTTP auth endpoint), which only the operator makes
    (`make_secret`) and a request must never create."""
    return store.derived(_named, layout.KEYS, name, make=lambda doc: base64.b64decode(doc["secret"]))


def make_secret(store, name: str) -> bytes:
    """A new random named secret, replacing the one before (which no longer works)."""
    with store.lock(layout.KEYS, name):
        store.write(layout.KEYS, name, doc={"secret": base64.b64encode(secrets.token_bytes(32)).decode()})
    made = existing_secret(store, name)
    assert made is not None
    return made
