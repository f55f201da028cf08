"""Relying parties registered with a tenant: `clients/<client_id>.json`.

A confidential client's secret is shown once, at registration, and stored only
as its SHA-256 (it is 256 random bits, so a slow hash adds nothing; DESIGN
invariant 3). Redirect URIs match exactly (RFC 9700 §4.1.3): no prefixes, no
wildcards, no normalisation.

The admin's page shows a new secret after a redirect (POST → 303 → GET), from a
record that lives five minutes and is deleted when shown (`hold_for_display`,
`take_for_display`). The record is filed under the hash of an unguessable token
that only the redirect URL carries, and the secret in it is sealed with a key
derived from that token, so the plaintext never reaches the disk either. The
two functions that seal and unseal import cryptography's AES-GCM themselves: every
request that names a client reads this module, and a fresh process should not
load cryptography's bindings for that (`tests/structure/test_startup.py`).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list

from ..errors import BadInput, NotFound
from ..store import layout, secret_id
from ..store.cache import Memo
from ..tenants.hosts import is_loopback
from . import client_settings
from .client_settings import ACCESS_TOKEN_LIFETIME, DEFAULT_GRANT_TYPES, REFRESH_TOKEN_LIFETIME, SECRET_METHODS

SCOPES = ("openid", "profile", "email", "offline_access", "verified_identity")
# What a client may ask for unless the admin says otherwise: `verified_identity` (that the person
# proved who they are with an EU Wallet PID, codeb.oidc.userinfo) only for clients allowed it.
DEFAULT_SCOPES = ("openid", "profile", "email", "offline_access")
FIRST_PARTY = "office"  # the office shell: CodeB's own browser app, a public client
SHOWN_SECRET_LIFETIME = 300

# Per process, revalidated by the file's stamp on every lookup (codeb.store.cache): parsed
# client documents, and the tenant hosts the office shell's redirect URIs follow. An admin's
# change in another process is seen by the next request here. A Client is shared: read only.
_clients = Memo(size=4096)
_hosts = Memo(size=256)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_redirect_uri_shape(uri: str) -> str:
    """A redirect URI a client may register: absolute, no fragment, https
    unless loopback (RFC 8252 §7.3) or a private-use scheme of a native app."""
    if not isinstance(uri, str) or len(uri) > 2000 or any(c.isspace() for c in uri):
        raise BadInput("error.invalid_redirect_uri", uri=str(uri)[:80])
    try:
        # urlsplit raises ValueError on a broken IPv6 literal (`http://[::1/`), .port on a
        # port that is not a number from 0 to 65535.
        parts = urlsplit(uri)
        parts.port  # noqa: B018
    except ValueError:
        raise BadInput("error.invalid_redirect_uri", uri=uri[:80]) from None
    if parts.fragment or not parts.scheme:
        raise BadInput("error.invalid_redirect_uri", uri=uri[:80])
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise BadInput("error.invalid_redirect_uri", uri=uri[:80])
        if parts.scheme == "http" and not (is_loopback(parts.hostname) or parts.hostname == "127.0.0.1"):
            raise BadInput("error.redirect_uri_needs_https", uri=uri[:80])
    elif parts.scheme in ("javascript", "data", "file", "vbscript") or "." not in parts.scheme:
        # Private-use schemes must be reverse domain names (RFC 8252 §7.1).
        raise BadInput("error.invalid_redirect_uri", uri=uri[:80])
    return uri


def check_logo_uri(uri) -> str | None:
    """The app's logo on the sign-in and consent pages."""
    return client_settings.check_url(uri, "error.invalid_logo_uri", called=False)


def check_home_url(url) -> str | None:
    """Where the office shell's Apps grid opens the client."""
    return client_settings.check_url(url, "error.invalid_home_url", called=False)


class Client(ClientMixin):
    def __init__(self, doc: dict):
        self.doc = doc
        self.client_id = doc["client_id"]
        self.client_metadata = {
            "post_logout_redirect_uris": list(doc.get("post_logout_redirect_uris", [])),
        }

    @property
    def public(self) -> bool:
        return bool(self.doc.get("public"))

    @property
    def name(self) -> str:
        return self.doc.get("name") or self.client_id

    @property
    def consent_required(self) -> bool:
        """A third-party app: the person allows it their data once per scope set (oidc.consent)."""
        return bool(self.doc.get("consent_required")) and not self.doc.get("first_party")

    @property
    def logo_uri(self) -> str | None:
        return self.doc.get("logo_uri") or None

    @property
    def home_url(self) -> str | None:
        return self.doc.get("home_url") or None

    # The protocol settings (codeb.oidc.client_settings) ----------------------------------

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self.doc.get("grant_types", DEFAULT_GRANT_TYPES))

    @property
    def token_endpoint_auth_method(self) -> str:
        """The client's one way of authenticating (RFC 7591 §2); a confidential client that set
        none may use either secret method."""
        return self.doc.get("token_endpoint_auth_method") or ("none" if self.public else "client_secret_basic")

    @property
    def jwks(self) -> dict | None:
        return self.doc.get("jwks")

    @property
    def jwks_uri(self) -> str | None:
        return self.doc.get("jwks_uri")

    @property
    def fapi(self) -> bool:
        return bool(self.doc.get("fapi"))

    @property
    def require_par(self) -> bool:
        return bool(self.doc.get("require_par")) or self.fapi

    @property
    def require_dpop(self) -> bool:
        return bool(self.doc.get("require_dpop")) or self.fapi

    @property
    def resource_server(self) -> bool:
        """One of the tenant's own resource servers: it may introspect any of the tenant's tokens."""
        return bool(self.doc.get("resource_server")) and not self.public

    @property
    def backchannel_logout_uri(self) -> str | None:
        return self.doc.get("backchannel_logout_uri") or None

    @property
    def access_token_lifetime(self) -> int:
        return int(self.doc.get("access_token_lifetime") or ACCESS_TOKEN_LIFETIME)

    @property
    def refresh_token_lifetime(self) -> int:
        return int(self.doc.get("refresh_token_lifetime") or REFRESH_TOKEN_LIFETIME)

    @property
    def api_scopes(self) -> tuple[str, ...]:
        """What a machine client may ask for with client_credentials (its own API scopes)."""
        return tuple(self.doc.get("api_scopes", ()))

    @property
    def audience(self) -> tuple[str, ...]:
        """The resource servers a machine client's tokens are for (their `aud`); its own id without one."""
        return tuple(self.doc.get("audience", ()))

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # OIDC Core §3.1.2.1: redirect_uri is required

    def get_allowed_scope(self, scope):
        allowed = set(self.doc.get("scopes", DEFAULT_SCOPES))
        return " ".join(s for s in scope_to_list(scope or "") if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.doc.get("redirect_uris", [])

    def check_client_secret(self, client_secret):
        stored = self.doc.get("secret_sha256")
        if not isinstance(stored, str) or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(stored, _hash(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        configured = self.doc.get("token_endpoint_auth_method")
        return method == configured if configured else method in SECRET_METHODS

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


def first_party(store, issuer: str) -> Client:
    """The office shell's client, derived from the tenant's hosts and the issuer in use.

    It is not stored: its redirect URIs follow the tenant's hosts. A browser app
    keeps no refresh token (RFC 9700 §4.14): it renews with `prompt=none`.
    """
    hosts = store.derived(_hosts, layout.TENANT, make=lambda doc: tuple(doc.get("hosts", []))) or ()
    origins = [issuer] + [f"https://{h}" for h in hosts if f"https://{h}" != issuer]
    return Client({
        "client_id": FIRST_PARTY,
        "name": "CodeB",
        "public": True,
        "first_party": True,
        "redirect_uris": [o + "/office.html" for o in origins],
        "post_logout_redirect_uris": [o + "/" for o in origins],
        "scopes": ["openid", "profile", "email"],
        "grant_types": ["authorization_code"],
    })


class Clients:
    def __init__(self, store, issuer: str | None = None):
        self.store = store
        self.issuer = issuer

    def get(self, client_id) -> Client | None:
        if not isinstance(client_id, str) or not client_id.isalnum() or len(client_id) > 64:
            return None
        if client_id == FIRST_PARTY:
            return first_party(self.store, self.issuer) if self.issuer else None
        return self.store.derived(_clients, layout.CLIENTS, client_id, make=Client)

    def require(self, client_id) -> Client:
        client = self.get(client_id)
        if client is None:
            raise NotFound("error.unknown_client")
        return client

    def list(self) -> builtins.list[Client]:
        return [c for c in (self.get(cid) for cid in self.store.list(layout.CLIENTS)) if c]

    def apps(self) -> builtins.list[Client]:
        """The clients people can open from the office shell: those with a home URL, by name."""
        return sorted((c for c in self.list() if c.home_url), key=lambda c: (c.name.casefold(), c.client_id))

    def add(self, *, name: str, redirect_uris: builtins.list[str], post_logout_redirect_uris=(),
            public: bool = False, scopes=DEFAULT_SCOPES, consent_required: bool = False,
            logo_uri: str | None = None, home_url: str | None = None) -> tuple[Client, str | None]:
        """Register a client; return it and its secret (None for a public client)."""
        name = (name or "").strip()
        logo_uri = check_logo_uri(logo_uri)
        if not name or len(name) > 100:
            raise BadInput("error.invalid_client_name")
        if not redirect_uris:
            raise BadInput("error.client_needs_redirect_uri")
        home_url = check_home_url(home_url)
        doc = {
            "client_id": secrets.token_hex(16),
            "name": name,
            "redirect_uris": [check_redirect_uri_shape(u) for u in redirect_uris],
            "post_logout_redirect_uris": [check_redirect_uri_shape(u) for u in post_logout_redirect_uris],
            "public": bool(public),
            "scopes": [s for s in scopes if s in SCOPES],
            "created": int(self.store.clock()),
            "consent_required": bool(consent_required),
            "logo_uri": logo_uri,
        }
        if home_url:
            doc["home_url"] = home_url
        secret = None if public else secrets.token_urlsafe(32)
        if secret:
            doc["secret_sha256"] = _hash(secret)
        self.store.create(layout.CLIENTS, doc["client_id"], doc=doc)
        return Client(doc), secret

    def update(self, client_id: str, *, name: str, redirect_uris, post_logout_redirect_uris=(),
               scopes=DEFAULT_SCOPES, consent_required: bool = False, logo_uri: str | None = None,
               home_url: str | None = None) -> Client:
        name = (name or "").strip()
        logo_uri = check_logo_uri(logo_uri)
        if not name or len(name) > 100:
            raise BadInput("error.invalid_client_name")
        if not redirect_uris:
            raise BadInput("error.client_needs_redirect_uri")
        home_url = check_home_url(home_url)
        redirect_uris = [check_redirect_uri_shape(u) for u in redirect_uris]
        post_logout = [check_redirect_uri_shape(u) for u in post_logout_redirect_uris]
        with self.store.update(layout.CLIENTS, self.require(client_id).client_id) as doc:
            doc.update(name=name, redirect_uris=redirect_uris, post_logout_redirect_uris=post_logout,
                       scopes=[s for s in scopes if s in SCOPES] or ["openid"],
                       consent_required=bool(consent_required), logo_uri=logo_uri)
            if home_url:
                doc["home_url"] = home_url
            else:
                doc.pop("home_url", None)
        return Client(doc)

    def configure(self, client_id: str, **changes) -> Client:
        """Change a client's protocol settings (codeb.oidc.client_settings: grant types, client
        authentication and keys, PAR, DPoP, FAPI 2.0, back-channel logout, lifetimes, API scopes
        and audience), checked together; raises BadInput, changing nothing, on the first wrong one."""
        client = self.require(client_id)
        if client.doc.get("first_party"):
            raise NotFound("error.unknown_client")
        with self.store.update(layout.CLIENTS, client.client_id) as doc:
            new = client_settings.checked(doc, changes)
            doc.clear()
            doc.update(new)
        return Client(doc)

    def new_secret(self, client_id: str) -> str:
        """A fresh secret for a confidential client (shown once); the old one stops working."""
        client = self.require(client_id)
        if client.public or client.doc.get("first_party"):
            raise BadInput("error.client_public_secret")
        secret = secrets.token_urlsafe(32)
        with self.store.update(layout.CLIENTS, client.client_id) as doc:
            doc["secret_sha256"] = _hash(secret)
        return secret

    def delete(self, client_id: str) -> bool:
        return self.get(client_id) is not None and self.store.delete(layout.CLIENTS, client_id)


# -- showing a new secret once, after a redirect ------------------------------------------

def _sealing_key(token: str) -> bytes:
    return hashlib.sha256(b"codeb.shown-secret\x00" + token.encode("utf-8")).digest()


def hold_for_display(store, client_id: str, secret: str, *, viewer: str) -> str:
    """Keep a new secret for one showing to `viewer` (what names the admin's browser);
    return the token the redirect URL carries."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 -- at first use (see above)

    token = secrets.token_urlsafe(32)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_sealing_key(token)).encrypt(nonce, secret.encode("utf-8"), client_id.encode("utf-8"))
    store.transient(layout.SHOWN_SECRETS).put(secret_id(token), {
        "client_id": client_id, "viewer": secret_id(viewer),
        "nonce": base64.b64encode(nonce).decode(), "sealed": base64.b64encode(sealed).decode(),
    }, ttl=SHOWN_SECRET_LIFETIME)
    return token


def take_for_display(store, token, *, client_id: str, viewer: str) -> str | None:
    """The secret held under `token` for this client and viewer, deleted as it is read; None
    once shown, expired, or asked for by another browser (which does not use it up)."""
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415 -- at first use (see above)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    records, rid = store.transient(layout.SHOWN_SECRETS), secret_id(token)
    record = records.get(rid)
    if record is None or record.get("client_id") != client_id or record.get("viewer") != secret_id(viewer):
        return None
    record = records.take(rid)
    if record is None:
        return None
    try:
        plain = AESGCM(_sealing_key(token)).decrypt(base64.b64decode(record["nonce"]),
                                                    base64.b64decode(record["sealed"]), client_id.encode("utf-8"))
    except (InvalidTag, KeyError, ValueError):
        return None
    return plain.decode("utf-8")
