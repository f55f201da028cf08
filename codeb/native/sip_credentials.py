"""Short-lived SIP credentials for the shell's phone card, in the scheme Kamailio's
`auth_ephemeral` module verifies (its README, "How ephemeral credentials work", after
draft-uberti-rtcweb-turn-rest), so Kamailio needs no user database for browsers:

    username = "<unix time it expires>:<login>"          (username_format 1, the default)
    password = base64(HMAC-SHA1(key, username))          (sha_algorithm 0, the default)

The browser answers Kamailio's digest challenge with them (`autheph_check`), and
`autheph_check_from` compares the user part of the username with the From user: the
browser registers and calls as `sip:<login>@<realm>`.

The key is the tenant's `sip-ephemeral` secret (codeb.tenants.secrets, `layout.SIP_EPHEMERAL_SECRET`),
which only the operator makes (`python -m codeb sip-secret TENANT`): Kamailio keys its HMAC
with the bytes of the text in `modparam("auth_ephemeral", "secret", "...")`, and that text is
the secret as base64url without padding (`kamailio_secret`). No secret, no credentials.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ..store import layout
from ..store.names import LOGIN_PATTERN
from ..tenants.secrets import existing_secret, secret_text

TTL = 3600  # seconds a credential lasts; the card fetches new ones well before (static/js/office/phone.js)


@dataclass(frozen=True)
class EphemeralCredentials:
    username: str
    password: str
    expires: int  # Unix seconds: the time in the username
    ttl: int


def kamailio_secret(secret: bytes) -> str:
    """The text Kamailio's configuration holds for `secret`; its bytes are the HMAC key."""
    return secret_text(secret)


def password_of(key: str, username: str) -> str:
    """auth_ephemeral's password for `username`: base64(HMAC-SHA1(key, username)), standard alphabet."""
    digest = hmac.new(key.encode("ascii"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def mint(*, secret: bytes, login: str, now: float, ttl: int = TTL) -> EphemeralCredentials:
    """Credentials for `login` that Kamailio accepts until `now + ttl`."""
    if not isinstance(login, str) or not LOGIN_PATTERN.fullmatch(login):
        raise ValueError("an ephemeral SIP user is a login")  # never a ':' that would shift the fields
    expires = int(now) + ttl
    username = f"{expires}:{login}"
    return EphemeralCredentials(username=username, password=password_of(kamailio_secret(secret), username),
                                expires=expires, ttl=ttl)


def for_account(store, login: str, *, ttl: int = TTL) -> EphemeralCredentials | None:
    """Credentials for one of the tenant's accounts now, or None while the operator has made no
    shared secret for the tenant's SIP server."""
    secret = existing_secret(store, layout.SIP_EPHEMERAL_SECRET)
    if secret is None:
        return None
    return mint(secret=secret, login=login, now=store.clock(), ttl=ttl)
