"""DPoP (RFC 9449): tokens bound to a key the client holds, proven on every request.

A client that sends a `DPoP` header with its token request proves it holds a private key:
the header is a JWT (`typ` `dpop+jwt`) signed with that key, carrying the public key
(`jwk`), the request's method and URL (`htm`, `htu`), a fresh `jti` and `iat`, and the
server's nonce. The access token it gets names the key's thumbprint (`cnf.jkt`, RFC 7638)
and is a `DPoP` token; a public client's refresh chain is bound to the key too (§5), and a
refresh must prove the same key. At the provider's resources (`/userinfo`), a bound token
is accepted only as `Authorization: DPoP` with a proof for that request whose `ath` is the
token's hash (§7); presented as a bearer token it is refused (§7.2).

What this module checks, in order (§4.3): one header; a compact JWS; `typ`; an asymmetric
algorithm of `ALGORITHMS` (never `none`, never HMAC); a public `jwk` (no private members)
whose signature verifies; `htm` and `htu` (the URL without query or fragment, under any of
the tenant's host names); `iat` within `WINDOW` of the server's clock; the server's nonce
(`nonce`, below); for a resource, `ath`; and the `jti` used once (`layout.DPOP_PROOFS`, an
exclusive create, for as long as a proof is accepted).

**Nonces** (§8, §9) are required on every proof: a proof made without the current nonce is
refused with `use_dpop_nonce` and the nonce in a `DPoP-Nonce` header, and every answer to a
DPoP request carries a fresh one. A nonce is stateless and costs no write: a time slot and
its HMAC under the tenant's nonce key (`layout.DPOP_NONCE_KEY`), good for the slot it was made
in and the next, so any process checks what another handed out. So a proof cannot be made
ahead of time and kept: at most `2 × NONCE_SLOT` before use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from ..store import layout, secret_id
from ..tenants.secrets import named_secret
from .discovery import DPOP_ALGORITHMS

ALGORITHMS = tuple(DPOP_ALGORITHMS)
WINDOW = 60  # seconds a proof's iat may differ from the server's clock
NONCE_SLOT = 300  # seconds a nonce is handed out for; it is good in its slot and the next
MAX_PROOF = 4096
MAX_HEADER = 2048
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
NONCE = re.compile(r"[0-9]{1,12}\.[A-Za-z0-9_-]{22}")


class InvalidDpopProof(OAuth2Error):
    """RFC 9449 §5, §7.1: the proof is missing, malformed, or does not match the request."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonce(OAuth2Error):
    """RFC 9449 §8: the proof must carry the server's nonce, which this answer sends."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, nonce: str, description: str = "Make the proof again with the server's DPoP nonce."):
        super().__init__(description)
        self.nonce = nonce

    def get_headers(self):
        return [*super().get_headers(), ("DPoP-Nonce", self.nonce)]


class ResourceChallenge(OAuth2Error):
    """At a protected resource, a DPoP failure is 401 with a `DPoP` challenge (§7.1, §9)."""

    status_code = 401

    def __init__(self, error: str, description: str, *, nonce: str | None = None):
        super().__init__(description)
        self.error = error
        self.nonce = nonce

    def get_headers(self):
        headers = [*super().get_headers(), ("WWW-Authenticate", f'DPoP error="{self.error}", '
                                            f'error_description="{self.get_error_description()}", '
                                            f'algs="{" ".join(ALGORITHMS)}"')]
        return headers + ([("DPoP-Nonce", self.nonce)] if self.nonce else [])


@dataclass(frozen=True)
class Proof:
    jkt: str  # the thumbprint of the key the proof was signed with (RFC 7638, SHA-256)
    alg: str = "ES256"  # what it was signed with (a FAPI 2.0 client's must be one of FAPI_ALGORITHMS)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def token_hash(token: str) -> str:
    """`ath` (§4.2): base64url of the SHA-256 of the access token's ASCII."""
    return _b64(hashlib.sha256(token.encode("ascii", "replace")).digest())


# -- nonces ------------------------------------------------------------------------------

def _nonce_for(store, slot: int) -> str:
    mac = hmac.new(named_secret(store, layout.DPOP_NONCE_KEY), f"dpop-nonce:{slot}".encode(), hashlib.sha256)
    return f"{slot}.{_b64(mac.digest()[:16])}"


def nonce(store, now: float) -> str:
    """The nonce to hand out now (a `DPoP-Nonce` header of every DPoP answer)."""
    return _nonce_for(store, int(now) // NONCE_SLOT)


def nonce_ok(store, value, now: float) -> bool:
    if not isinstance(value, str) or not NONCE.fullmatch(value):
        return False
    slot = int(value.partition(".")[0])
    current = int(now) // NONCE_SLOT
    return slot in (current, current - 1) and hmac.compare_digest(value, _nonce_for(store, slot))


# -- proofs ------------------------------------------------------------------------------

def header_of(request) -> str | None:
    """The request's one DPoP header (§4.3 1.: not more than one), None without one."""
    values = request.headers.getlist("DPoP") if hasattr(request.headers, "getlist") else \
        [v for k, v in request.headers.items() if k.lower() == "dpop"]
    if len(values) > 1:
        raise InvalidDpopProof("Send one DPoP header.")
    return values[0] if values else None


def header_of_safe(request) -> str | None:
    """The DPoP header for deciding whether to send a nonce: the first, even if there are two."""
    try:
        return header_of(request)
    except InvalidDpopProof:
        return "several"


DEFAULT_PORTS = {"http": 80, "https": 443}


def _without_query(url: str) -> str | None:
    """The URL without query and fragment, as RFC 3986 §6 compares it (scheme and host in lower
    case, the scheme's default port left out, an empty path as `/`); None if it is no URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a broken IPv6 literal (`https://[abc/`), a port that is no number
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def check(provider, value: str, *, method: str, path: str, access_token: str | None = None,
          fail=InvalidDpopProof) -> Proof:
    """The proof in `value` for `method` on `path` of this tenant (any of its issuers), and for
    `access_token` at a resource; raises `fail` (or `UseDpopNonce`) naming what is wrong."""
    now = provider.now()
    header, claims, key = _verified(value, fail)
    if header.get("typ") != "dpop+jwt":
        raise fail("The DPoP proof's 'typ' is not dpop+jwt.")
    if claims.get("htm") != method:
        raise fail("The DPoP proof is for another method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or len(htu) > 2000 \
            or _without_query(htu) not in {_without_query(i + path) for i in provider.issuers}:
        raise fail("The DPoP proof is for another URL.")
    iat, jti = claims.get("iat"), claims.get("jti")
    # A NumericDate (RFC 7519 §2): a JSON number, which may have a fraction.
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or not abs(iat - now) <= WINDOW:
        raise fail("The DPoP proof is too old or from the future.")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise fail("The DPoP proof has no valid 'jti'.")
    if access_token is not None and not hmac.compare_digest(str(claims.get("ath", "")), token_hash(access_token)):
        raise fail("The DPoP proof is not for this access token.")
    if not nonce_ok(provider.store, claims.get("nonce"), now):
        fresh = nonce(provider.store, now)
        if fail is InvalidDpopProof:
            raise UseDpopNonce(fresh)
        raise ResourceChallenge("use_dpop_nonce", "Make the proof again with the server's DPoP nonce.", nonce=fresh)
    used = provider.store.transient(layout.DPOP_PROOFS)
    if not used.create(secret_id(f"{key.thumbprint()}\x00{jti}"), {}, ttl=2 * WINDOW):
        raise fail("The DPoP proof was used before.")
    return Proof(key.thumbprint(), header["alg"])


def _verified(value, fail):
    """(header, claims, key) of a proof whose signature its own `jwk` verifies."""
    if not isinstance(value, str) or len(value) > MAX_PROOF or value.count(".") != 2:
        raise fail("The DPoP proof is not a JWT.")
    try:
        header = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=="))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise fail("The DPoP proof is not a JWT.") from None
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise fail("The DPoP proof's algorithm is not one this server accepts.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or PRIVATE_MEMBERS & set(jwk) or jwk.get("kty") not in ("RSA", "EC", "OKP"):
        raise fail("The DPoP proof's 'jwk' is not a public key.")
    try:
        key = import_key(jwk)
        registry = jws.JWSRegistry(algorithms=[header["alg"]])
        registry.max_header_length = MAX_HEADER  # the proof's header carries its public key (RSA: ~700 bytes)
        signed = jws.deserialize_compact(value, key, registry=registry)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError, KeyError, RecursionError):
        raise fail("The DPoP proof's signature is not valid.") from None
    if not isinstance(claims, dict):
        raise fail("The DPoP proof's claims are not an object.")
    return header, claims, key


def token_request_proof(provider, request) -> Proof | None:
    """At /token: the proof of a DPoP request, None for a bearer one; a client that must use DPoP
    (`require_dpop`, FAPI) without a proof is refused once its client is known (`require`)."""
    value = header_of(request)
    return None if value is None else check(provider, value, method="POST", path="/token")


def resource_proof(provider, request, access_token: str) -> Proof | None:
    """At a resource: the proof for this request and token, None when the token came as Bearer."""
    value = header_of(request)
    scheme = (request.headers.get("Authorization") or "").partition(" ")[0].lower()
    if scheme != "dpop":
        return None
    if value is None:
        raise ResourceChallenge("invalid_dpop_proof", "A DPoP token needs a DPoP proof.")
    path = urlsplit(request.url).path
    return check(provider, value, method=request.method, path=path, access_token=access_token,
                 fail=lambda d: ResourceChallenge("invalid_dpop_proof", d))
