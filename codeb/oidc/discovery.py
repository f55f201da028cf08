"""OpenID Provider Metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 9207): what this provider does.

The prompts and client authentication methods are declared here and enforced by the
endpoints that import them (`authorize`, `grants`), not the other way round: a fresh
process answers discovery without loading Authlib's OIDC grants or joserfc.
"""

import hashlib
import json

from ..store.cache import MISSING as _MISSING
from ..store.cache import Memo
from .client_settings import ASSERTION_ALGORITHMS as _ASSERTION_ALGORITHMS
from .clients import SCOPES

PROMPTS = {"none", "login", "consent", "select_account"}
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
ASSERTION_ALGORITHMS = list(_ASSERTION_ALGORITHMS)  # private_key_jwt (codeb.oidc.client_settings)
# The endpoints that authenticate a client (revocation, introspection, PAR) accept what /token does.
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
DPOP_ALGORITHMS = ["ES256", "RS256", "PS256", "Ed25519", "EdDSA"]  # RFC 9449 §5.1: the proofs this server checks

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "end_session_endpoint": "/logout",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "pushed_authorization_request_endpoint": "/par",
}


# The serialized document per tenant folder and issuer, kept while the tenant's settings are
# unchanged (`Tenant.stamp`, which `Tenants.get` revalidates on every request): the
# languages it lists come from them, everything else from the code and the issuer.
_documents = Memo(size=256)


def document(tenant, issuer: str) -> tuple[bytes, str]:
    """The metadata as JSON bytes, and their entity tag (RFC 9110 §8.8.3) for revalidation."""
    key = (tenant.store.root, issuer)
    cached = _documents.get(key, tenant.stamp)
    if cached is not _MISSING and tenant.stamp is not None:
        return cached
    body = json.dumps(metadata(issuer, tenant)).encode("utf-8")
    made = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    _documents.put(key, tenant.stamp, made)
    return made


def metadata(issuer: str, tenant) -> dict:
    """The document for `issuer`, the URL of `tenant` (codeb.tenants.Tenant) the request came to."""
    urls = {name: issuer + path for name, path in PATHS.items()}
    return {
        "issuer": issuer,
        **urls,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": [m for m in CLIENT_AUTH_METHODS if m != "none"],
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        # RFC 9701 §6: introspection answered as a signed JWT when asked for (its Accept header).
        "introspection_signing_alg_values_supported": ["RS256"],
        "require_pushed_authorization_requests": False,  # RFC 9126 §5: per client (`require_par`), not for all
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "backchannel_logout_supported": True,  # Back-Channel Logout 1.0 §2.1
        "backchannel_logout_session_supported": True,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr",
                             "sid", "tenant", "roles", "name", "nickname", "preferred_username",
                             "locale", "email", "email_verified", "verified_claims"],
        "prompt_values_supported": sorted(PROMPTS),
        "ui_locales_supported": tenant.available_languages,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
