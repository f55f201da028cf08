"""Access tokens (RFC 9068 JWT profile) and their verification (DESIGN invariant 4).

An access token is an RS256 JWT, `typ` `at+jwt`, signed with the tenant's
current key (its `kid` in the header), valid for one hour, carrying `sub`,
`tenant`, `roles`, `amr`, `auth_time` and `gid`, the id of the grant it came
from: when an authorization code is replayed or a rotated refresh token is
reused, the whole grant is revoked and every token carrying its `gid` stops
working at once (RFC 9700 §4.14.2, RFC 6749 §4.1.2).
"""

import secrets
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError

from ..store.cache import MISSING, Memo

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §2.1
TOKEN_LIFETIME = 3600          # access and ID tokens: one hour
REFRESH_LIFETIME = 30 * 86400  # refresh tokens: thirty days, rotated on every use
CODE_LIFETIME = 60             # authorization codes: RFC 6749 §4.2 "short", ≤ 10 min
LEEWAY = 60                    # clock skew accepted when checking exp/iat
MACHINE = "client_credentials"  # the `gty` of a token a client got for itself

# Access tokens whose signature and `kid` were checked, by their exact text, with the key set
# that checked them: a relying party presents one token for its hour, and its signature is
# the same every time. Only the signature is remembered; `typ`, issuer and lifetime are checked
# on every use, and a changed key set (rotation, a key retired) checks the signature again.
_verified = Memo(size=1024)


class InvalidToken(Exception):
    """The bearer token is not one this tenant issued, or no longer valid."""


@dataclass(frozen=True)
class AccessClaims:
    claims: dict

    sub = property(lambda self: self.claims["sub"])
    scope = property(lambda self: self.claims.get("scope", ""))
    gid = property(lambda self: self.claims.get("gid"))
    client_id = property(lambda self: self.claims.get("client_id"))
    machine = property(lambda self: self.claims.get("gty") == MACHINE)  # a client_credentials token: no person

    @property
    def jkt(self) -> str | None:
        """The DPoP key the token is bound to (RFC 9449 §6.1), None for a bearer token."""
        cnf = self.claims.get("cnf")
        return cnf.get("jkt") if isinstance(cnf, dict) and isinstance(cnf.get("jkt"), str) else None

    def meant_for(self, client_id: str) -> bool:
        """Issued to this client, for it: `client_id` and `aud` both name it (RFC 9068 §2.2, §4)."""
        aud = self.claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        return self.client_id == client_id and client_id in audiences


def issue_access_token(*, signing_key, issuer: str, tenant: str, client_id: str,
                       principal, scope: str, now: int, lifetime: int = TOKEN_LIFETIME,
                       jkt: str | None = None) -> str:
    claims = {
        "iss": issuer,
        "sub": principal.sub,
        "aud": client_id,
        "client_id": client_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
        "tenant": tenant,
        "roles": principal.roles,
        "auth_time": principal.auth_time,
        "amr": list(principal.amr),
        "gid": principal.grant_id,
    }
    if jkt:
        claims["cnf"] = {"jkt": jkt}  # RFC 9449 §6.1: bound to the client's DPoP key
    header = {"alg": "RS256", "typ": "at+jwt", "kid": signing_key.kid}
    return jwt.encode(header, claims, signing_key, algorithms=["RS256"])


def issue_machine_token(*, signing_key, issuer: str, tenant: str, client, scope: str, grant_id: str,
                        now: int, lifetime: int = TOKEN_LIFETIME, jkt: str | None = None) -> str:
    """A client_credentials token (RFC 6749 §4.4): the client acts for itself, so `sub` is its id
    (RFC 9068 §2.2), `aud` the resource servers it was given (its own id without one), no person's
    `roles`, `amr` or `auth_time`, and `gty` saying so: the provider's own resources, which
    serve people, refuse it (`AccessClaims.machine`). Its `gid` lets it be revoked (RFC 7009)."""
    claims = {
        "iss": issuer,
        "sub": client.client_id,
        "aud": list(client.audience) if client.audience else client.client_id,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
        "scope": scope or "",
        "tenant": tenant,
        "roles": [],
        "gty": MACHINE,
        "gid": grant_id,
    }
    if jkt:
        claims["cnf"] = {"jkt": jkt}
    header = {"alg": "RS256", "typ": "at+jwt", "kid": signing_key.kid}
    return jwt.encode(header, claims, signing_key, algorithms=["RS256"])


def _decode(token, keys):
    """A compact JWS of ours, its RS256 signature checked against the tenant's keys (joserfc;
    RFC 8725 §3.1: the algorithm is ours, never what the token names). Every token of ours
    names its key (DESIGN invariant 4), so one without a string `kid` is not ours."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise InvalidToken("malformed")
    try:
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError) as exc:
        # joserfc checks a malformed `crit` (RFC 7515 §4.1.11: a list of names) by using it,
        # so `null` or `[null]` there raises TypeError: malformed like any other (hypothesis).
        raise InvalidToken("signature") from exc
    if not isinstance(decoded.header.get("kid"), str):
        raise InvalidToken("kid")
    return decoded


def _signed(token, keys) -> tuple[dict, dict]:
    """(header, claims) of a token whose signature `keys` verify; raises InvalidToken."""
    if not isinstance(token, str):
        raise InvalidToken("malformed")
    stamp = (keys,)  # a tuple compares its item by identity first: one check per use
    found = _verified.get(token, stamp)
    if found is MISSING:
        decoded = _decode(token, keys)
        found = (dict(decoded.header), dict(decoded.claims))
        _verified.put(token, stamp, found)
    return found


def verify_access_token(token: str, *, keys, issuers, now: float) -> AccessClaims:
    """Check signature, `typ`, issuer and lifetime (RFC 9068 §4); raise InvalidToken."""
    header, claims = _signed(token, keys)
    if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("typ")
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
