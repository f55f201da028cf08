"""OpenID Provider Metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 9207): what this provider does.

The prompts and client authentication methods are declared here and enforced by the
endpoints that import them (`authorize`, `grants`), not the other way round: a fresh
process answers discovery without loading Authlib's OIDC grants or joserfc.
"""

from .clients import SCOPES

PROMPTS = {"none", "login", "consent", "select_account"}
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "end_session_endpoint": "/logout",
}


def metadata(issuer: str, tenant) -> dict:
    """The document for `issuer`, the URL of `tenant` (codeb.tenants.Tenant) the request came to."""
    urls = {name: issuer + path for name, path in PATHS.items()}
    return {
        "issuer": issuer,
        **urls,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr",
                             "tenant", "roles", "name", "nickname", "preferred_username",
                             "locale", "email", "email_verified"],
        "prompt_values_supported": sorted(PROMPTS),
        "ui_locales_supported": tenant.available_languages,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
