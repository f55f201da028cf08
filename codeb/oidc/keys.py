"""A tenant's signing keys, `<tenant>/keys/signing.json` (never served; the JWKS is).

`keys/signing.json` holds every RSA key still needed: the current one signs,
retired ones stay published in the JWKS until the last token they signed has
expired (token lifetime plus clock-skew allowance), then rotation drops them.
Parsed keys are reused while the file is unchanged, so another process's
rotation is seen on its next request.
"""

import base64
import hashlib
import json
import secrets

from joserfc.jwk import KeySet, RSAKey

from ..errors import Conflict
from ..store import layout
from .tokens import TOKEN_LIFETIME

KEY_SIZE = 2048
SIGNING = (layout.KEYS, layout.SIGNING_KEYS)
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
        self.verifying = KeySet.import_key_set(self.public)  # type: ignore[arg-type]
        body = json.dumps(self.public).encode("utf-8")
        # The JWKS as served, and its entity tag: made once per parse, like the keys.
        self.published = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    @property
    def kid(self) -> str:
        return str(self.current.kid)


def _public(jwk: dict) -> dict:
    # Only the public members: importing the private key would check it, a costly step
    # a JWKS does not need.
    key = RSAKey.import_key({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
    return {**key.as_dict(private=False), "use": "sig", "alg": "RS256", "kid": jwk["kid"]}


def new_key(now: float) -> dict:
    """A new RS256 signing key as stored: its private JWK (with a random `kid`) and when it was made."""
    kid = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode().rstrip("=")
    key = RSAKey.generate_key(KEY_SIZE, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return {"jwk": key.as_dict(private=True), "created": int(now), "retired": None}


def ensure(store) -> None:
    """Give a new tenant its first signing key."""
    with store.lock(*SIGNING):
        if not store.exists(*SIGNING):
            store.write(*SIGNING, doc={"keys": [new_key(store.clock())]})


def rotate(store) -> str:
    """Add a new current key, retire the old one, drop keys no token needs; return the new kid."""
    now = store.clock()
    with store.update(*SIGNING) as doc:
        kept = [k for k in doc["keys"]
                if k.get("retired") is None or k["retired"] + RETAIN > now]
        for key in kept:
            if key.get("retired") is None:
                key["retired"] = int(now)
        fresh = new_key(now)
        doc["keys"] = kept + [fresh]
    return fresh["jwk"]["kid"]


def load(store) -> SigningKeys:
    now = store.clock()
    # Retired keys leave the JWKS with time, not only with file changes.
    stamp = (store.stamp(*SIGNING), int(now // 60))
    cached = _cache.get(store.root)
    if cached and cached[0] == stamp:
        return cached[1]
    doc = store.read(*SIGNING)
    if doc is None:
        raise Conflict("error.keys_inconsistent")
    keys = SigningKeys(doc, now)
    _cache[store.root] = (stamp, keys)
    return keys
