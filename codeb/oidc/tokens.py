"""Access tokens (RFC 9068 JWT profile) and their verification (DESIGN invariant 4).

An access token is an RS256 JWT, `typ` `at+jwt`, signed with the tenant's
current key (its `kid` in the header), valid for one hour, carrying `sub`,
`tenant`, `roles`, `amr`, `auth_time` and `gid`, the id of the grant it came
from: when an authorization code is replayed or a rotated refresh token is
reused, the whole grant is revoked and every token carrying its `gid` stops
working at once (RFC 9700 §4.14.2, RFC 6749 §4.1.2).
"""

import binascii
import json
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.errors import JoseError

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
TOKEN_LIFETIME = 3600          # access and ID tokens: one hour
REFRESH_LIFETIME = 30 * 86400  # refresh tokens: thirty days, rotated on every use
CODE_LIFETIME = 60             # authorization codes: RFC 6749 §4.2 "short", ≤ 10 min
LEEWAY = 60                    # clock skew accepted when checking exp/iat


class InvalidToken(Exception):
    """The bearer token is not one this tenant issued, or no longer valid."""


@dataclass(frozen=True)
class AccessClaims:
    claims: dict

    sub = property(lambda self: self.claims["sub"])
    scope = property(lambda self: self.claims.get("scope", ""))
    gid = property(lambda self: self.claims.get("gid"))
    client_id = property(lambda self: self.claims.get("client_id"))

    def meant_for(self, client_id: str) -> bool:
        """Issued to this client, for it: `client_id` and `aud` both name it (RFC 9068 §2.2, §4)."""
        aud = self.claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        return self.client_id == client_id and client_id in audiences


def issue_access_token(*, signing_key, issuer: str, tenant: str, client_id: str,
                       principal, scope: str, now: int) -> str:
    claims = {
        "iss": issuer,
        "sub": principal.sub,
        "aud": client_id,
        "client_id": client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
        "tenant": tenant,
        "roles": principal.roles,
        "auth_time": principal.auth_time,
        "amr": list(principal.amr),
        "gid": principal.grant_id,
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": signing_key.kid}
    return jwt.encode(header, claims, signing_key, algorithms=["RS256"])


@dataclass(frozen=True)
class Decoded:
    header: dict
    claims: dict


BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _segment(part: str) -> bytes:
    """One base64url segment (RFC 7515 §2: no padding), strictly: any other character is malformed."""
    if not BASE64URL.fullmatch(part) or len(part) % 4 == 1:
        raise InvalidToken("malformed")
    padded = part.translate(_TO_STANDARD) + "=" * (-len(part) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


_TO_STANDARD = str.maketrans("-_", "+/")


def _json_object(data: bytes) -> dict:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise InvalidToken("malformed")
    return value


def _decode(token, keys) -> Decoded:
    """A compact JWS of ours (RFC 7515 §7.1), its RS256 signature checked against the tenant's
    keys: what the tenant issues and nothing more general, so checked in a few steps (a
    general JOSE library spends more than the RSA verification on the same token).
    - the header is a JSON object naming `alg` RS256 (RFC 8725 §3.1: never what the token
      chooses) and a `kid` of ours (DESIGN invariant 4: every token of ours has one), its
      `typ` and `cty` strings if present (RFC 7515 §4.1.9, §4.1.10);
    - `crit` names extensions the recipient must understand (RFC 7515 §4.1.11): we use
      none, so a token carrying any (`b64` of RFC 7797 included) is refused;
    - the signature over the first two segments as they arrived verifies with that key;
    - the payload is a JSON object (RFC 7519 §7.2)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise InvalidToken("malformed")
    head, body, signature = token.split(".")
    try:
        header = _json_object(_segment(head))
        if header.get("alg") != "RS256" or "crit" in header or any(
                not isinstance(header[name], str) for name in ("typ", "cty") if name in header):
            raise InvalidToken("header")
        key = _key_of(keys, header.get("kid"))
        key.verify(_segment(signature), f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return Decoded(header, _json_object(_segment(body)))
    except (InvalidSignature, ValueError, TypeError, binascii.Error) as exc:
        raise InvalidToken("signature") from exc  # UnicodeDecodeError and JSON errors are ValueErrors


def _key_of(keys, kid):
    """The public key with this `kid` in the tenant's key set (RSA keys only)."""
    if not isinstance(kid, str):
        raise InvalidToken("kid")
    for key in keys.keys:
        if key.kid == kid and key.key_type == "RSA":
            return key.public_key
    raise InvalidToken("kid")


def verify_access_token(token: str, *, keys, issuers, now: float) -> AccessClaims:
    """Check signature, `typ`, issuer and lifetime (RFC 9068 §4); raise InvalidToken."""
    decoded = _decode(token, keys)
    if decoded.header.get("typ", "").lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("typ")
    claims = decoded.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=LEEWAY,
        iss={"essential": True, "values": list(issuers)},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidToken(exc.error) from exc
    return AccessClaims(dict(claims))


def verify_id_token_hint(hint, *, keys, issuers) -> dict:
    """The claims of an ID token this provider issued, expired or not (OIDC Core §3.1.2.1,
    RP-Initiated Logout §2: only who it names matters); raise InvalidToken for anything else.

    An access token is signed with the same key, so it is told apart by what only it has:
    `typ` `at+jwt` and the `client_id` and `scope` claims (RFC 9068 §2.1, §2.2); an ID
    token always names its audience (OIDC Core §2)."""
    decoded = _decode(hint, keys)
    claims = decoded.claims
    if str(decoded.header.get("typ", "")).lower() in ACCESS_TOKEN_TYPES or "client_id" in claims or "scope" in claims:
        raise InvalidToken("typ")
    # OIDC Core §2: `iss` and `sub` are strings; anything else (a list, an object) names no one.
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or iss not in issuers or not isinstance(sub, str) or not sub \
            or not claims.get("aud"):
        raise InvalidToken("claims")
    return dict(claims)
