"""Upstream OpenID Connect: CodeB as the relying party of a company's identity provider.

Protocol only, no Flask: the sign-in method (`codeb.signin.upstream`) keeps the
request's state and calls these. Authlib's client builds the authorization
request (PKCE S256, `state`, `nonce`) and exchanges the code, authenticating as
the upstream's `token_auth` says (a secret, none, or a `private_key_jwt` assertion
Authlib signs with the tenant's key, `codeb.upstreams.client_key`); joserfc verifies
the ID token. What the standards leave to the relying party is checked here:

- discovery (OIDC Discovery §4.3): the document's `issuer` is exactly the one
  configured; every endpoint is https (plain http only on loopback);
- the authorization response: `iss` (RFC 9207) equals the issuer when the
  upstream sends it, and must be sent when its discovery says it does;
- the ID token (OIDC Core §3.1.3.7): signed by a key of the upstream's JWKS with
  an asymmetric algorithm (never `none`, never an HMAC whose key an attacker
  could learn), `iss` exactly, `aud` contains our client id, `azp` is our client
  id when present or when `aud` names others, `exp` and `iat` within SKEW, the
  `nonce` this browser's request sent, a `sub`.
- Entra ID's multi-tenant issuer: a discovery `issuer` holding `{tenantid}` is a
  template; the token's `iss` must be that template with the token's own `tid`,
  and that `tid` must be one the admin listed (else any Entra customer could
  sign in).

Discovery documents and key sets are cached per process (MAX_CACHED each, for
an hour); a token signed by a key id the cached set lacks refetches the set
once (key rotation), at most every REFETCH_AFTER seconds per set.
"""

import json
import time

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from ..store.cache import MISSING, Memo
from . import client_key, token_auth
from .checks import MULTI_TENANT, TEMPLATE, TENANT_ID, UpstreamError, check_url, multi_tenant
from .fetch import TIMEOUT, get_bytes

__all__ = ["TENANT_ID", "UpstreamError", "check_url", "multi_tenant"]

SKEW = 60  # seconds of clock difference allowed for exp, iat, nbf
MAX_CACHED = 64
CACHE_FOR = 3600
REFETCH_AFTER = 30
ASSERTION_LIFETIME = 60  # seconds a private_key_jwt client assertion is good for: it is sent at once
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def _get_json(url: str, what: str) -> dict:
    body = get_bytes(url, what, accept="application/json")
    try:
        doc = json.loads(body)
    except ValueError:
        raise UpstreamError("error.upstream.unreachable", f"{what}: not JSON") from None
    if not isinstance(doc, dict):
        raise UpstreamError("error.upstream.unreachable", f"{what}: not a JSON object")
    return doc


# Fetched documents per process, by URL: (when fetched, by the monotonic clock, what was fetched).
# A Memo keyed by URL with no file stamp (None): bounded, thread-safe, least recently used out.
_discovered = Memo(size=MAX_CACHED)  # issuer -> discovery document
_key_sets = Memo(size=MAX_CACHED)    # jwks_uri -> KeySet


def _cached(memo: Memo, key: str, max_age: float):
    entry = memo.get(key, None)
    if entry is MISSING or time.monotonic() - entry[0] > max_age:
        return None
    return entry[1]


def _fetched_ago(memo: Memo, key: str) -> float | None:
    entry = memo.get(key, None)
    return None if entry is MISSING else time.monotonic() - entry[0]


def _keep(memo: Memo, key: str, value) -> None:
    memo.put(key, None, (time.monotonic(), value))


def discover(issuer: str, *, fresh: bool = False) -> dict:
    """The upstream's discovery document, checked (see the module's notes)."""
    issuer = check_url(issuer, "the issuer")
    cached = None if fresh else _cached(_discovered, issuer, CACHE_FOR)
    if cached is not None:
        return cached
    found = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
    metadata = checked_metadata(found, issuer)
    _keep(_discovered, issuer, metadata)
    return metadata


def issuer_named(issuer: str) -> str:
    """The issuer a discovery document must name: the configured one; for Entra ID's
    `organizations` or `common`, the `{tenantid}` template in that place."""
    match = MULTI_TENANT.fullmatch(issuer)
    return issuer.replace(f"/{match[1]}/", f"/{TEMPLATE}/") if match else issuer


def checked_metadata(doc: dict, issuer: str) -> dict:
    if doc.get("issuer") != issuer_named(issuer):
        raise UpstreamError("error.upstream.bad_discovery",
                            f"discovery names issuer {str(doc.get('issuer'))[:200]!r}, not {issuer!r}")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        check_url(doc.get(name), name)
    if doc.get("userinfo_endpoint") is not None:
        check_url(doc["userinfo_endpoint"], "userinfo_endpoint")
    types = doc.get("response_types_supported")
    if isinstance(types, list) and "code" not in types:
        raise UpstreamError("error.upstream.bad_discovery", "the upstream offers no authorization code flow")
    return doc


def key_set(metadata: dict, *, kid: str | None = None) -> KeySet:
    """The upstream's signing keys; refetched once when `kid` is not among them (rotation)."""
    uri = metadata["jwks_uri"]
    keys = _cached(_key_sets, uri, CACHE_FOR)
    if keys is not None and (kid is None or any(k.kid == kid for k in keys.keys)):
        return keys
    age = _fetched_ago(_key_sets, uri)
    if keys is not None and age is not None and age < REFETCH_AFTER:
        return keys  # refetched a moment ago: an unknown kid is the token's problem
    try:
        keys = KeySet.import_key_set(_get_json(uri, "jwks"))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise UpstreamError("error.upstream.unreachable", f"jwks: {type(error).__name__}") from None
    _keep(_key_sets, uri, keys)
    return keys


def kid_of(token: str) -> str | None:
    """The key id a compact JWS names in its header (None when it names none or is broken:
    then `verify_id_token` refuses it)."""
    try:
        kid = extract_compact(token.encode("ascii")).protected.get("kid")
    except (JoseError, ValueError, UnicodeError):
        return None
    return kid if isinstance(kid, str) else None


def session(upstream: dict, redirect_uri: str, *, key: client_key.ClientKey | None = None) -> OAuth2Session:
    """Authlib's client for one upstream: PKCE S256, the client authentication it was given
    (`token_auth`); for `private_key_jwt`, `key` signs the assertion."""
    method = token_auth(upstream)
    return OAuth2Session(
        client_id=upstream["client_id"], scope=" ".join(upstream["scopes"]), redirect_uri=redirect_uri,
        client_secret=key.private if method == "private_key_jwt" and key else upstream.get("client_secret") or None,
        code_challenge_method="S256", token_endpoint_auth_method=method)


def assertion_key(store, upstream: dict) -> client_key.ClientKey | None:
    """The tenant's client key when this upstream knows CodeB by it (private_key_jwt), made at first use."""
    return client_key.load(store) if token_auth(upstream) == "private_key_jwt" else None


def client_assertion(token_endpoint: str, key: client_key.ClientKey) -> PrivateKeyJWT:
    """Authlib's private_key_jwt (RFC 7523 §2.2, §3; OIDC Core §9): iss = sub = our client id,
    aud = the token endpoint, a fresh `jti`, RS256 with our key's `kid` in the header (the
    upstream picks it from our JWKS), and a short life instead of Authlib's hour."""
    return PrivateKeyJWT(token_endpoint, claims={"exp": int(time.time()) + ASSERTION_LIFETIME},
                         headers={"kid": key.kid})


def authorization_url(upstream: dict, metadata: dict, *, redirect_uri: str, state: str, nonce: str,
                      code_verifier: str, login_hint: str | None = None) -> str:
    extra = {"login_hint": login_hint} if login_hint else {}
    if upstream.get("hosted_domain"):
        extra["hd"] = upstream["hosted_domain"]  # Google Workspace: only that domain's accounts
    with session(upstream, redirect_uri) as client:
        url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=code_verifier, **extra)
    return url


def check_response_issuer(response: dict, metadata: dict, expected: str) -> None:
    """RFC 9207: the authorization response's `iss`, when sent (and when promised), is the issuer."""
    sent = response.get("iss")
    if sent is None:
        if metadata.get("authorization_response_iss_parameter_supported") is True:
            raise UpstreamError("error.upstream.wrong_issuer", "the response lacks the iss the upstream promised")
        return
    if sent != expected and not multi_tenant(expected):
        raise UpstreamError("error.upstream.wrong_issuer", f"the response names issuer {str(sent)[:200]!r}")


def exchange_code(upstream: dict, metadata: dict, *, redirect_uri: str, code: str, code_verifier: str,
                  key: client_key.ClientKey | None = None) -> dict:
    """The token response for the authorization code (Authlib's client, RFC 6749 §4.1.3); `key`
    (`assertion_key`) signs the client assertion of a private_key_jwt upstream."""
    if token_auth(upstream) == "private_key_jwt" and key is None:
        raise UpstreamError("error.upstream.refused", "private_key_jwt without the tenant's client key")
    with session(upstream, redirect_uri, key=key) as client:
        if key is not None:
            client.register_client_auth_method(client_assertion(metadata["token_endpoint"], key))
        try:
            token = client.fetch_token(metadata["token_endpoint"], code=code, code_verifier=code_verifier,
                                       timeout=TIMEOUT, allow_redirects=False)
        except OAuthError as error:
            raise UpstreamError("error.upstream.refused", f"token endpoint: {error.error}") from None
        except (requests.RequestException, ValueError) as error:
            raise UpstreamError("error.upstream.unreachable", f"token endpoint: {type(error).__name__}") from None
    if not isinstance(token.get("id_token"), str):
        raise UpstreamError("error.upstream.refused", "the token response has no ID token")
    return dict(token)


def verify_id_token(id_token: str, *, metadata: dict, keys: KeySet, client_id: str, nonce: str, now: float,
                    tenant_ids=()) -> dict:
    """The ID token's claims once every check of OIDC Core §3.1.3.7 passed (module notes)."""
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except JoseError as error:
        raise UpstreamError("error.upstream.bad_token", f"ID token signature: {error.error}") from None
    except ValueError as error:
        raise UpstreamError("error.upstream.bad_token", f"ID token: {error}") from None
    claims = token.claims
    issuer = expected_issuer(metadata["issuer"], claims, tenant_ids)
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=SKEW,
        iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
        nonce={"essential": True, "value": nonce})
    try:
        registry.validate(claims)
    except JoseError as error:
        raise UpstreamError("error.upstream.bad_token", f"ID token claims: {error.error} {error.description or ''}"
                            .strip()) from None
    if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > now + SKEW:
        raise UpstreamError("error.upstream.bad_token", "ID token issued in the future")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != client_id:
        raise UpstreamError("error.upstream.bad_token", "ID token authorized for another client (azp)")
    if not isinstance(claims.get("sub"), str) or not 0 < len(claims["sub"]) <= 255:
        raise UpstreamError("error.upstream.bad_token", "ID token without a usable sub")
    return claims


def expected_issuer(issuer: str, claims: dict, tenant_ids) -> str:
    """The issuer the token must name: the discovery's, or Entra ID's template filled with the
    token's `tid` when that directory is one the admin allowed."""
    if TEMPLATE not in issuer:
        return issuer
    tid = claims.get("tid")
    if not isinstance(tid, str) or not TENANT_ID.fullmatch(tid):
        raise UpstreamError("error.upstream.bad_token", "multi-tenant ID token without a directory (tid)")
    if tid.lower() not in {t.lower() for t in tenant_ids}:
        raise UpstreamError("error.upstream.wrong_issuer", f"directory {tid} is not allowed")
    return issuer.replace(TEMPLATE, tid)


def userinfo(metadata: dict, access_token: str, *, sub: str) -> dict:
    """The upstream's userinfo (OIDC Core §5.3.2): its `sub` must be the ID token's."""
    try:
        answer = requests.get(metadata["userinfo_endpoint"], timeout=TIMEOUT, allow_redirects=False,
                              headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        doc = answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError):
        doc = None
    if not isinstance(doc, dict):
        raise UpstreamError("error.upstream.unreachable", "userinfo did not answer")
    if doc.get("sub") != sub:
        raise UpstreamError("error.upstream.bad_token", "userinfo is about another subject")
    return doc
