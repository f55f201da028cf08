"""Requests and replies as the protocol code sees them, whoever received them.

No Flask here: a request arrives as a `ProtocolRequest` (method, URL, headers
and parameters) and leaves as a `Reply` (status, body, headers) or as a
decision the web layer acts on (`NeedsSignIn`, `NeedsLogoutConfirmation`).
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload

from ..tenants.hosts import is_loopback

NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class _Payload(OAuth2Payload):
    def __init__(self, datalist: dict[str, list[str]]):
        self._datalist = datalist
        self._data = {k: v[0] for k, v in datalist.items() if v}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class ProtocolRequest(OAuth2Request):
    """An HTTP request as the protocol code sees it."""

    def __init__(self, method: str, url: str, headers, query: dict[str, list[str]],
                 form: dict[str, list[str]] | None = None):
        parts = urlsplit(url)
        # Authlib refuses plain http except for `localhost`; a developer's
        # `acme.localhost` is loopback too (RFC 6761 §6.3), so check it as such.
        checked = url if not is_loopback(parts.hostname or "") else urlunsplit(("https",) + tuple(parts[1:]))
        super().__init__(method, checked, headers=headers)
        self.url = url
        self._query = query
        self._form = form or {}
        merged = {k: list(v) for k, v in query.items()}
        for k, v in self._form.items():
            merged.setdefault(k, []).extend(v)
        self.payload = _Payload(merged)

    @property
    def args(self):
        return {k: v[0] for k, v in self._query.items() if v}

    @property
    def form(self):
        return {k: v[0] for k, v in self._form.items() if v}

    def without(self, name: str) -> "ProtocolRequest":
        """The same request with one parameter left out (where it proved worthless)."""
        query = {k: v for k, v in self._query.items() if k != name}
        form = {k: v for k, v in self._form.items() if k != name}
        return ProtocolRequest(self.method, self.url, self.headers, query, form)

    @classmethod
    def from_params(cls, url: str, params: dict) -> "ProtocolRequest":
        """Rebuild an authorization request saved in an interaction."""
        return cls("GET", url, {}, {k: [v] for k, v in params.items()})


@dataclass
class Reply:
    status: int
    body: str = ""
    headers: list = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


@dataclass
class SignedIn:
    """The browser session's sign-in, as far as the protocol cares."""

    account: Any  # codeb.accounts.Account
    auth_time: int
    amr: tuple
    method: str = ""
    detail: dict = field(default_factory=dict)
    session: str | None = None  # the browser session's listed id (its secret_id)


@dataclass
class NeedsSignIn:
    params: dict
    client: Any  # codeb.oidc.clients.Client
    login_hint: str | None
    ui_locales: str | None


@dataclass
class NeedsConsent:
    """The person must allow the app these scopes first (codeb.oidc.consent)."""

    params: dict
    client: Any  # codeb.oidc.clients.Client
    scopes: tuple


@dataclass
class NeedsLogoutConfirmation:
    client: Any  # codeb.oidc.clients.Client
    params: dict
    redirect_uri: str | None  # where the RP asked to go, if registered and proven


def add_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))
