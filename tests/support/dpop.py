"""DPoP proofs (RFC 9449 §4.2) as a client makes them, for the tests."""

import base64
import hashlib
import secrets

from joserfc import jwt
from joserfc.jwk import ECKey


def new_key():
    return ECKey.generate_key("P-256")


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).decode().rstrip("=")


def proof(key, method: str, url: str, *, now: float, nonce: str | None = None, access_token: str | None = None,
          alg: str = "ES256", typ: str = "dpop+jwt", jwk: dict | None = None, **extra) -> str:
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(now), **extra}
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = ath(access_token)
    header = {"typ": typ, "alg": alg, "jwk": jwk if jwk is not None else key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=[alg])
