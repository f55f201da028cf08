"""OpenID Provider Metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 9207): what this provider does."""

from .authorize import PROMPTS
from .clients import SCOPES
from .grants import CLIENT_AUTH_METHODS

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "end_session_endpoint": "/logout",
}


def metadata(provider) -> dict:
    urls = {name: provider.issuer + path for name, path in PATHS.items()}
    return {
        "issuer": provider.issuer,
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
        "ui_locales_supported": provider.tenant.available_languages,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
