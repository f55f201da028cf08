"""The OpenID Provider's errors: Authlib's own classes, and the few it lacks.

Protocol errors towards a client are Authlib's `OAuth2Error` subclasses
(RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; OIDC Core §3.1.2.6), raised where the
failure is found and turned into a reply in one place (`reply_for`, or a
redirect to the client by the provider). A failure that must not go back to a
client, because the client or its redirect URI is not proven, is an
`AuthorizePage`: a page for the person, never a redirect.

Nothing here imports `authlib.oidc.core`: its package loads joserfc's JWE and
cryptography's X.509, and every response's error handling reads this module, so
the OIDC Core errors (`login_required`, `request_not_supported`, ...) are imported
by the endpoint that raises them (`authorize`), which needs that package anyway.
"""

import json

from authlib.consts import default_json_headers
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError

from ..errors import CodebError
from .requests import NO_STORE, Reply

__all__ = [
    "AuthorizePage",
    "BearerRequestInvalid",
    "BearerRequired",
    "InsufficientScopeError",
    "InvalidClientError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTokenError",
    "OAuth2Error",
    "ScopeInsufficient",
    "UnsupportedResponseTypeError",
    "quoted",
    "reply_for",
]

SHOWN = 40  # the most of a request's own text an error description repeats


def quoted(value: str) -> str:
    """A request's own text (a parameter name, a scope) fit to name in an error description:
    RFC 6749 §4.1.2.1 allows only %x20-21 / %x23-5B / %x5D-7E there, and Authlib refuses to
    build an error holding anything else (ValueError, a 500), so each other character is `?`."""
    shown = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in value[:SHOWN])
    return f"'{shown}'" + ("..." if len(value) > SHOWN else "")


class AuthorizePage(CodebError):
    """A bad client or redirect URI: shown to the person, never redirected (RFC 9700 §4.11.2)."""

    status = 400


class BearerRequired(OAuth2Error):
    """A protected resource asked for without any token: RFC 6750 §3.1 says to answer
    with the challenge alone, no error code."""

    status_code = 401

    def __init__(self, realm: str):
        super().__init__()
        self.realm = realm

    def get_body(self):
        return []

    def get_headers(self):
        return [("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class _Challenge:
    """At a protected resource every error carries the RFC 6750 §3 challenge, with its realm."""

    def __init__(self, description: str, *, realm: str):
        super().__init__(description)  # type: ignore[call-arg]
        self.realm = realm

    def get_headers(self):
        value = (f'Bearer realm="{self.realm}", error="{self.error}", '  # type: ignore[attr-defined]
                 f'error_description="{self.get_error_description()}"')  # type: ignore[attr-defined]
        return super().get_headers() + [("WWW-Authenticate", value)]  # type: ignore[misc]


class BearerRequestInvalid(_Challenge, InvalidRequestError):
    """The token was sent in more than one way (RFC 6750 §2: exactly one)."""


class ScopeInsufficient(_Challenge, InsufficientScopeError):
    """The token is good but was not granted what this resource needs."""


def reply_for(error: OAuth2Error) -> Reply:
    """The HTTP reply for a protocol error: JSON body (empty for a bare challenge), its
    headers, never cached."""
    status, body, headers = error()
    headers = list(headers)
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers += default_json_headers
    names = {name.lower() for name, _ in headers}
    return Reply(status, json.dumps(body) if body else "", headers + [h for h in NO_STORE if h[0].lower() not in names])
