"""A relying party's protocol settings: how it authenticates, what it may ask for, how it is held.

What an admin sets per client, on the clients page or with `client set`, checked here once
and stored in the client's document (`Clients.configure`); `Client` reads them back. The
endpoints obey them: which grants it may use, which client authentication is its one
(RFC 6749 §2.3; `private_key_jwt` with its JWKS or `jwks_uri`, RFC 7523 §2.2), whether its
authorization requests must be pushed (RFC 9126 §6), whether its tokens must be DPoP-bound
(RFC 9449 §5), where its back-channel logouts go (OpenID Connect Back-Channel Logout 1.0 §2.2),
its token lifetimes within the tenant's bounds, whether it is one of the tenant's own resource
servers (the XMPP server, the PBX: it may introspect any of the tenant's access tokens, RFC 7662
§2.1), and the FAPI 2.0 Security Profile, which is these settings combined and kept together (`FAPI`).

A client that sets nothing keeps today's behaviour: authorization code and refresh token,
`client_secret_basic` or `client_secret_post` (or `none` if public), bearer tokens of one hour.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from ..errors import BadInput
from ..tenants.hosts import is_loopback

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_METHODS, "private_key_jwt", "none")
# What a private_key_jwt client assertion may be signed with (RFC 7523 §3; FAPI 2.0 §5.4.1: PS256,
# ES256 or EdDSA; RFC 9864 names Ed25519 what EdDSA meant, and both are taken).
ASSERTION_ALGORITHMS = ("RS256", "PS256", "ES256", "Ed25519", "EdDSA")
# FAPI 2.0 §5.4.1: a FAPI client's client assertions and DPoP proofs are PS256, ES256 or EdDSA only.
FAPI_ALGORITHMS = ("PS256", "ES256", "Ed25519", "EdDSA")

ACCESS_TOKEN_LIFETIME = 3600  # the promise: one hour, unless an admin shortens it for a client
ACCESS_TOKEN_BOUNDS = (60, 3600)
REFRESH_TOKEN_LIFETIME = 30 * 86400
REFRESH_TOKEN_BOUNDS = (3600, 30 * 86400)
FAPI_CODE_LIFETIME = 60  # FAPI 2.0 §5.3.2.1: codes of at most 60 seconds (CodeB's are already 60)

# An API scope or audience a machine client is given (RFC 6749 §3.3: scope-token = 1*NQCHAR).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,100}")
MAX_JWKS = 20_000  # characters of a client's registered JWKS

# What FAPI 2.0 (Security Profile, final) asks of a client, and what this mode therefore sets:
# PAR (§5.3.2.2 1.), sender-constrained tokens (§5.3.2.1 1.: DPoP here), confidential client
# authenticated with private_key_jwt (§5.3.2.1 2.), PKCE S256 (§5.3.2.2 4.), and the `iss`
# authorization response parameter (§5.3.2.2 7., which CodeB always sends).
FAPI = {"require_par": True, "require_dpop": True, "token_endpoint_auth_method": "private_key_jwt"}


def check_grant_types(values, *, public: bool) -> list[str]:
    values = [v for v in dict.fromkeys(values or ()) if v]
    unknown = [v for v in values if v not in GRANT_TYPES]
    if unknown or not values:
        raise BadInput("error.client_grant_types", value=", ".join(unknown)[:80])
    if public and "client_credentials" in values:
        raise BadInput("error.client_credentials_public")
    if "refresh_token" in values and "authorization_code" not in values:
        raise BadInput("error.client_refresh_needs_code")
    return values


def check_auth_method(method, *, public: bool, has_keys: bool) -> str | None:
    if method in (None, ""):
        return None
    if method not in AUTH_METHODS:
        raise BadInput("error.client_auth_method", value=str(method)[:40])
    if public != (method == "none"):
        raise BadInput("error.client_auth_method_public")
    if method == "private_key_jwt" and not has_keys:
        raise BadInput("error.client_needs_keys")
    return method


def check_jwks(value) -> dict | None:
    """A client's public keys, as a JWK Set (RFC 7517 §5): every key parsed by joserfc, none
    private, each with a distinct `kid` when there is more than one (so an assertion names its key)."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        if len(value) > MAX_JWKS:
            raise BadInput("error.client_jwks")
        try:
            value = json.loads(value)
        except ValueError:
            raise BadInput("error.client_jwks") from None
    from joserfc.errors import JoseError  # noqa: PLC0415 -- only a client with keys pays for joserfc
    from joserfc.jwk import KeySet  # noqa: PLC0415

    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise BadInput("error.client_jwks")
    private = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
    keys = value["keys"]
    if any(not isinstance(k, dict) or private & set(k) for k in keys):
        raise BadInput("error.client_jwks_private")
    kids = [k.get("kid") for k in keys]
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise BadInput("error.client_jwks")
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError):
        raise BadInput("error.client_jwks") from None
    return {"keys": keys}


def check_url(url, message_id: str, *, called: bool = True) -> str | None:
    """An optional URL an admin sets on a client: empty for none, else an absolute https URL
    without user or password, so it never runs script (`javascript:`), leaves TLS or hides a
    second host. A URL CodeB itself calls (`called`: a client's `jwks_uri`, its back-channel
    logout URI) may also be http to the loopback (a test, or an app on the same server) and has
    no fragment (Back-Channel Logout §2.2: it MAY have a query, MUST NOT have a fragment). A
    URL only a browser opens (a logo, a home page) is https, fragment or not; the pages that
    show a logo allow exactly its origin in their CSP `img-src`."""
    url = (url or "").strip() if isinstance(url, str) or url is None else url
    if not url:
        return None
    if not isinstance(url, str) or len(url) > 2000 or any(c.isspace() for c in url) \
            or (called and not url.isascii()):  # an HTTP request line is ASCII (RFC 3986 §2: percent-encode)
        raise BadInput(message_id, uri=str(url)[:80])
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise BadInput(message_id, uri=url[:80]) from None
    loopback = called and parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname)
    if not (parts.scheme == "https" or loopback) or not parts.hostname or parts.username \
            or parts.password or (called and parts.fragment):
        raise BadInput(message_id, uri=url[:80])
    return url


def check_lifetime(value, bounds: tuple[int, int], message_id: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise BadInput(message_id, low=bounds[0], high=bounds[1]) from None
    if not bounds[0] <= seconds <= bounds[1]:
        raise BadInput(message_id, low=bounds[0], high=bounds[1])
    return seconds


def check_scope_tokens(values, message_id: str) -> list[str]:
    values = [v.strip() for v in values or () if isinstance(v, str) and v.strip()]
    for value in values:
        if not SCOPE_TOKEN.fullmatch(value):
            raise BadInput(message_id, value=value[:40])
    return list(dict.fromkeys(values))


FLAGS = ("require_par", "require_dpop", "fapi", "resource_server")

# Each setting's check, given its value and whether the client is public.
CHECKS = {
    "grant_types": lambda v, public: check_grant_types(v, public=public),
    "jwks": lambda v, public: check_jwks(v),
    "jwks_uri": lambda v, public: check_url(v, "error.client_jwks_uri"),
    "backchannel_logout_uri": lambda v, public: check_url(v, "error.client_backchannel_uri"),
    "access_token_lifetime": lambda v, public: check_lifetime(v, ACCESS_TOKEN_BOUNDS, "error.client_access_lifetime"),
    "refresh_token_lifetime": lambda v, public: check_lifetime(v, REFRESH_TOKEN_BOUNDS,
                                                               "error.client_refresh_lifetime"),
    "api_scopes": lambda v, public: check_scope_tokens(v, "error.client_api_scope"),
    "audience": lambda v, public: check_scope_tokens(v, "error.client_audience"),
    **{flag: (lambda v, public: bool(v)) for flag in FLAGS},
}
SETTINGS = (*CHECKS, "token_endpoint_auth_method")


def checked(doc: dict, changes: dict) -> dict:
    """The client document `doc` with `changes` (setting name → value, as a form or the CLI
    gives them) applied and checked together; raises BadInput naming the first that is wrong.
    Only the names in `changes` change; FAPI mode keeps its combination whatever else is asked."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise ValueError(f"not a client setting: {sorted(unknown)}")
    public = bool(doc.get("public"))
    new = dict(doc)
    for name, value in changes.items():
        if name in CHECKS:
            new[name] = CHECKS[name](value, public)
    if new.get("jwks") and new.get("jwks_uri"):
        raise BadInput("error.client_jwks_both")  # RFC 7591 §2: MUST NOT both be present
    if new.get("resource_server") and public:
        raise BadInput("error.client_resource_server_public")
    if new.get("fapi") and public:
        raise BadInput("error.client_fapi_public")
    method = changes.get("token_endpoint_auth_method", new.get("token_endpoint_auth_method"))
    if new.get("fapi"):
        new.update(FAPI)
        method = FAPI["token_endpoint_auth_method"]
    new["token_endpoint_auth_method"] = check_auth_method(method, public=public,
                                                          has_keys=bool(new.get("jwks") or new.get("jwks_uri")))
    for name in SETTINGS:  # a setting cleared is no setting: its default applies
        if new.get(name) in (None, [], False):
            new.pop(name, None)
    return new
