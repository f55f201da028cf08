"""`private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core §9) on Authlib's verifier.

A client set to `private_key_jwt` (codeb.oidc.client_settings) proves itself with a JWT it
signed with a key whose public half it registered, inline (`jwks`) or at a `jwks_uri`.
Authlib's `JWTBearerClientAssertion` reads the assertion and checks `iss` = `sub` = the
client, `aud`, `exp` and the presence of `jti`; what it leaves to the server is filled here:

- **the algorithms**: only asymmetric ones (`ASSERTION_ALGORITHMS`), never what the token
  names alone (RFC 8725 §3.1) and never `none` or an HMAC keyed with a public key;
- **the audience**: the tenant's issuer (FAPI 2.0 §5.3.2.1 asks for it) or the URL of the
  endpoint the assertion is sent to, under any of the tenant's host names (RFC 7523 §3, 3.);
- **a short life**: `exp` no more than `MAX_LIFETIME` after `iat` (or after now, without
  `iat`), so the record that stops a replay need live only as long;
- **single use**: each `jti` is recorded per client by an exclusive create
  (`Transient.create`), so in any process exactly one request gets through with it
  (RFC 7523 §3, 7.); a replay is `invalid_client`;
- **the keys**: a registered JWKS is used as it is; a `jwks_uri` is fetched (one bounded GET,
  no redirects, a short timeout) and kept per process for `JWKS_CACHE` seconds, and fetched
  again at once when an assertion names a `kid` it does not hold (the client rotated).
"""

from __future__ import annotations

import json
import time

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..store import layout, secret_id
from .client_settings import ASSERTION_ALGORITHMS, FAPI_ALGORITHMS

MAX_LIFETIME = 300  # seconds an assertion may live: it is made for one request, sent at once
LEEWAY = 60
JWKS_CACHE = 300  # seconds a fetched jwks_uri is kept per process
MIN_REFETCH = 10  # seconds at least between two fetches of one jwks_uri
JWKS_TIMEOUT = 5
MAX_JWKS_BODY = 64 * 1024

ENDPOINTS = ("/token", "/revoke", "/introspect", "/par")  # where a client authenticates

_fetched: dict[str, tuple[float, dict]] = {}  # jwks_uri → (when fetched, its JWK Set)


class PrivateKeyJwt(JWTBearerClientAssertion):
    """Bound to one request's Provider: its issuers name the audiences, its store keeps the jtis."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider):
        super().__init__(validate_jti=True, leeway=LEEWAY)
        self.provider = provider
        self.client = None  # the client whose keys verified the assertion (`resolve_client_public_key`)

    def __call__(self, query_client, request):
        try:
            return super().__call__(query_client, request)
        except InvalidClientError as error:
            error.status_code = 401  # RFC 6749 §5.2: a failed client authentication may be 401
            raise
        except RecursionError:  # Authlib's reading of an assertion whose JSON is nested thousands deep
            raise InvalidClientError(description="The client assertion is not a JWT.", status_code=401) from None

    def get_audiences(self):
        return [audience for issuer in sorted(self.provider.issuers)
                for audience in (issuer, *(issuer + path for path in ENDPOINTS))]

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except (JoseError, ValueError, TypeError, RecursionError):
            raise InvalidClientError(description="The client assertion's signature is not valid.") from None
        self.verify_claims(token.claims, alg=token.header["alg"])
        return token.claims

    def verify_claims(self, claims, alg: str):
        """Authlib's checks (iss = sub, aud, exp, a jti used once), on the provider's clock, and
        a short life. A FAPI 2.0 client's assertion (§5.3.2.1, §5.4.1) names the issuer alone, as
        a string, never an endpoint or a list (which an audience injection would exploit), and
        is signed with PS256, ES256 or EdDSA."""
        now = self.provider.now()
        registry = jwt.JWTClaimsRegistry(
            now=now, leeway=self.leeway, iss={"essential": True}, sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()}, exp={"essential": True})
        try:
            registry.validate(claims)
        except JoseError as error:
            raise InvalidClientError(description=f"The client assertion is not valid: {error.error}.") from None
        client = self.client  # found by the assertion's `sub` when its key was resolved
        if client is not None and client.fapi:
            if not isinstance(claims["aud"], str) or claims["aud"] not in self.provider.issuers:
                raise InvalidClientError(description="A FAPI 2.0 client's assertion names the issuer alone as its "
                                                     "audience.")
            if alg not in FAPI_ALGORITHMS:
                raise InvalidClientError(description="A FAPI 2.0 client signs its assertions with "
                                                     f"{', '.join(FAPI_ALGORITHMS)}.")
        exp, iat = claims["exp"], claims.get("iat")
        if iat is not None and (not isinstance(iat, (int, float)) or isinstance(iat, bool)):
            raise InvalidClientError(description="The client assertion's 'iat' is not a number.")
        if exp - (iat if iat is not None else now) > MAX_LIFETIME or (iat is not None and iat > now + LEEWAY):
            raise InvalidClientError(description=f"A client assertion may live at most {MAX_LIFETIME} seconds.")
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="The client assertion's 'iss' and 'sub' differ.")
        if not self.validate_jti(claims, claims.get("jti")):
            raise InvalidClientError(description="The client assertion has no 'jti', or it was used before.")

    def validate_jti(self, claims, jti):
        if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
            return False
        used = self.provider.store.transient(layout.CLIENT_ASSERTIONS)
        ttl = max(1, int(claims["exp"]) + LEEWAY - self.provider.now())
        return used.create(secret_id(f"{claims['sub']}\x00{jti}"), {"client_id": claims["sub"]}, ttl=ttl)

    def resolve_client_public_key(self, client):
        self.client = client
        if not client.check_endpoint_auth_method(self.CLIENT_AUTH_METHOD, "token"):
            raise InvalidClientError(description="The client cannot authenticate with private_key_jwt.")
        if client.jwks:
            return KeySet.import_key_set(client.jwks)
        if client.jwks_uri:
            return _Rotating(client.jwks_uri)
        raise InvalidClientError(description="The client registered no keys.")


class _Rotating:
    """joserfc's key resolver for a `jwks_uri`: the cached set, fetched again for an unknown kid."""

    def __init__(self, uri: str):
        self.uri = uri

    def __call__(self, obj):
        kid = obj.headers().get("kid")
        keys = key_set(self.uri)
        if kid is not None and not any(k.get("kid") == kid for k in keys["keys"]):
            keys = key_set(self.uri, fresh=True)
        try:
            found = KeySet.import_key_set(keys)  # type: ignore[arg-type]
            return found.get_by_kid(kid) if kid is not None else found.keys[0]
        except (JoseError, ValueError, KeyError, IndexError):
            raise InvalidClientError(description="The client assertion names no key of the client.") from None


def key_set(uri: str, *, fresh: bool = False) -> dict:
    """The JWK Set at a client's `jwks_uri`, from this process's cache unless stale or `fresh`."""
    now = time.monotonic()
    cached = _fetched.get(uri)
    if cached and not fresh and now - cached[0] < JWKS_CACHE:
        return cached[1]
    if cached and fresh and now - cached[0] < MIN_REFETCH:  # an unknown kid is no lever to make us fetch
        return cached[1]
    keys = _fetch(uri)
    _fetched[uri] = (now, keys)
    return keys


def _fetch(uri: str) -> dict:
    import requests  # noqa: PLC0415 -- only a client with a jwks_uri pays for it
    from urllib3.exceptions import HTTPError  # noqa: PLC0415 -- inside requests

    deadline = time.monotonic() + JWKS_TIMEOUT  # for the whole answer: a server dripping bytes holds nobody long
    try:
        answer = requests.get(uri, timeout=JWKS_TIMEOUT, allow_redirects=False, stream=True,
                              headers={"Accept": "application/jwk-set+json, application/json"})
        with answer:
            body = b""
            while len(body) <= MAX_JWKS_BODY:
                if time.monotonic() >= deadline:
                    raise TimeoutError(uri)
                chunk = answer.raw.read1(8192, decode_content=True)  # what one read brings: the deadline holds
                if not chunk:
                    break
                body += chunk
    except (requests.RequestException, HTTPError, OSError, ValueError):
        # urllib3's errors reach through `raw`: a broken gzip body, a short one, a stalled read.
        raise InvalidClientError(description="The client's jwks_uri could not be fetched.") from None
    try:
        keys = json.loads(body) if answer.status_code == 200 and len(body) <= MAX_JWKS_BODY else None
    except ValueError:
        keys = None
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise InvalidClientError(description="The client's jwks_uri holds no JWK Set.")
    private = {"d", "p", "q", "dp", "dq", "qi", "k"}
    return {"keys": [k for k in keys["keys"] if isinstance(k, dict) and not private & set(k)]}
