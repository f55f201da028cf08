"""A tenant's signing keys and session secret, in `<tenant>/keys/` (never served).

`keys/signing.json` holds every RSA key still needed: the current one signs,
retired ones stay published in the JWKS until the last token they signed has
expired (token lifetime plus clock-skew allowance), then rotation drops them.
Parsed keys are reused while the file is unchanged, so another process's
rotation is seen on its next request.
"""

import base64
import os
import secrets

from joserfc.jwk import KeySet, RSAKey

from ..errors import Conflict
from .tokens import TOKEN_LIFETIME

KEY_SIZE = 2048
SKEW = 300
RETAIN = TOKEN_LIFETIME + SKEW

_cache: dict[str, tuple[tuple, "SigningKeys"]] = {}


class SigningKeys:
    def __init__(self, doc: dict, now: float):
        live = [k for k in doc["keys"] if k.get("retired") is None]
        if len(live) != 1:
            raise Conflict("error.keys_inconsistent")
        self.current = RSAKey.import_key(live[0]["jwk"])
        published = [k for k in doc["keys"]
                     if k.get("retired") is None or k["retired"] + RETAIN > now]
        self.public = {"keys": [_public(k["jwk"]) for k in published]}
        self.verifying = KeySet.import_key_set(self.public)

    @property
    def kid(self) -> str:
        return self.current.kid


def _public(jwk: dict) -> dict:
    key = RSAKey.import_key(jwk)
    return {**key.as_dict(private=False), "use": "sig", "alg": "RS256", "kid": jwk["kid"]}


def _new_key(now: float) -> dict:
    kid = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode().rstrip("=")
    key = RSAKey.generate_key(KEY_SIZE, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return {"jwk": key.as_dict(private=True), "created": int(now), "retired": None}


def ensure(store) -> None:
    """Give a new tenant its first signing key and its session secret."""
    with store.lock("keys", "signing"):
        if not store.exists("keys", "signing"):
            store.write("keys", "signing", doc={"keys": [_new_key(store.clock())]})
    with store.lock("keys", "session"):
        if not store.exists("keys", "session"):
            secret = base64.b64encode(secrets.token_bytes(32)).decode()
            store.write("keys", "session", doc={"secret": secret})


def rotate(store) -> str:
    """Add a new current key, retire the old one, drop keys no token needs; return the new kid."""
    now = store.clock()
    with store.update("keys", "signing") as doc:
        kept = [k for k in doc["keys"]
                if k.get("retired") is None or k["retired"] + RETAIN > now]
        for key in kept:
            if key.get("retired") is None:
                key["retired"] = int(now)
        fresh = _new_key(now)
        doc["keys"] = kept + [fresh]
    return fresh["jwk"]["kid"]


def load(store) -> SigningKeys:
    path = store.doc_path("keys", "signing")
    st = os.stat(path)
    now = store.clock()
    # Retired keys leave the JWKS with time, not only with file changes.
    stamp = (st.st_mtime_ns, st.st_size, int(now // 60))
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    keys = SigningKeys(store.read("keys", "signing"), now)
    _cache[path] = (stamp, keys)
    return keys


def session_secret(store) -> bytes:
    return base64.b64decode(store.read("keys", "session")["secret"])
