"""The tenant's OpenID Provider, built on Authlib's AuthorizationServer.

No Flask here: requests arrive as `ProtocolRequest` (method, URL, headers and
parameters) and leave as `Reply` (status, body, headers) or as a decision the
web layer acts on (`NeedsSignIn`, `NeedsLogoutConfirmation`). One Provider is
made per request for the tenant that request belongs to; everything it knows
comes from the tenant's store, so any process can answer any step.
"""

import json
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.consts import default_json_headers
from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oidc.rpinitiated import EndSessionEndpoint

from ..store import secret_id
from ..tenants import is_loopback
from . import authorize, keys
from .clients import SCOPES, Clients
from .grants import CodeGrant, OpenIDCode, Pkce, Principal, RefreshGrant, user_info
from .tokens import REFRESH_LIFETIME, TOKEN_LIFETIME, InvalidToken, issue_access_token, verify_access_token

PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "end_session_endpoint": "/logout",
}
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


# -- requests and replies ----------------------------------------------------

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
    """An HTTP request as the protocol code sees it, whoever received it."""

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

    account: object
    auth_time: int
    amr: tuple
    method: str = ""
    detail: dict = field(default_factory=dict)
    session: str | None = None  # the browser session's listed id (its secret_id)


@dataclass
class NeedsSignIn:
    params: dict
    client: object
    login_hint: str | None
    ui_locales: str | None


@dataclass
class NeedsLogoutConfirmation:
    client: object
    params: dict
    redirect_uri: str | None  # where the RP asked to go, if registered and proven


def add_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- the provider ------------------------------------------------------------

class Logout(EndSessionEndpoint):
    def validate_request(self, request):
        req = super().validate_request(request)
        # RP-Initiated Logout §2: the OP was the issuer of the hint; the
        # signature proves the key, the `iss` claim the issuer.
        if req.id_token_claims is not None and req.id_token_claims.get("iss") not in self.server.issuers:
            raise InvalidRequestError("'id_token_hint' was not issued here.")
        return req

    def get_server_jwks(self):
        return self.server.keys.public

    def get_algorithms(self):
        return ["RS256"]

    def end_session(self, end_session_request):
        self.server.end_browser_session()


class Provider(AuthorizationServer):
    def __init__(self, *, tenant, issuer: str, accounts, end_browser_session=lambda: None):
        super().__init__(scopes_supported=list(SCOPES))
        self.tenant = tenant
        self.store = tenant.store
        self.issuer = issuer
        self.issuers = {issuer} | {f"https://{h}" for h in tenant.hosts}
        self.accounts = accounts
        self.clients = Clients(self.store, issuer)
        self.keys = keys.load(self.store)
        self.codes = self.store.transient("codes")
        self.refresh_tokens = self.store.transient("refresh-tokens")
        self.revoked = self.store.transient("revoked-grants")
        self.grants = self.store.transient("grants")
        self.end_browser_session = end_browser_session
        self.register_grant(CodeGrant, [OpenIDCode(self), Pkce()])
        self.register_grant(RefreshGrant)
        self.register_token_generator("default", self.generate_bearer_token)
        self.register_endpoint(Logout)

    def now(self) -> int:
        return int(self.store.clock())

    # Authlib's storage and framework hooks ----------------------------------

    def query_client(self, client_id):
        return self.clients.get(client_id)

    def create_oauth2_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        if isinstance(body, dict):
            body = json.dumps(body)
        return Reply(status, body or "", list(headers))

    def send_signal(self, name, *args, **kwargs):
        pass

    def generate_bearer_token(self, grant_type, client, user=None, scope=None,
                              expires_in=None, include_refresh_token=True):
        token = {
            "token_type": "Bearer",
            "access_token": issue_access_token(
                signing_key=self.keys.current, issuer=self.issuer, tenant=self.tenant.name,
                client_id=client.get_client_id(), principal=user, scope=scope, now=self.now()),
            "expires_in": TOKEN_LIFETIME,
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token, request):
        if "refresh_token" not in token:
            return
        principal: Principal = request.user
        self.refresh_tokens.put(secret_id(token["refresh_token"]), {
            "client_id": request.client.get_client_id(),
            "scope": token["scope"],
            **principal.record(),
        }, ttl=REFRESH_LIFETIME)

    def user_info(self, account, scope):
        return user_info(account, scope, self.tenant.name)

    # Grants ------------------------------------------------------------------

    def revoke_grant(self, gid: str) -> None:
        self.revoked.put(gid, {"revoked": self.now()}, ttl=REFRESH_LIFETIME)

    def grant_revoked(self, gid) -> bool:
        if not isinstance(gid, str) or not re.fullmatch(r"[0-9a-f]{32}", gid):
            return True  # a token without a grant id of ours is no token of ours
        return self.revoked.get(gid) is not None

    # Endpoints -----------------------------------------------------------------

    def authorize(self, request: ProtocolRequest, signed_in: SignedIn | None, *,
                  just_signed_in: bool = False):
        """Reply (a redirect to the client), NeedsSignIn, or raise AuthorizePage."""
        params = request.payload.data
        ctx = authorize.Context(params=params, multi=request.payload.datalist)
        try:
            authorize.validate(self, ctx)
        except authorize.AuthorizeError as error:
            return self.to_client(ctx.redirect_uri, params, error=error.error,
                                  error_description=error.description)
        session = (signed_in.account, signed_in.auth_time) if signed_in else None
        if authorize.session_satisfies(ctx, session, self.now(), just_signed_in=just_signed_in):
            return self._issue_code(request, signed_in)
        if "none" in ctx.prompts:  # OIDC Core §3.1.2.6
            return self.to_client(ctx.redirect_uri, params, error="login_required",
                                  error_description="The person is not signed in.")
        return NeedsSignIn(params=authorize.kept_params(params), client=ctx.client,
                           login_hint=params.get("login_hint"), ui_locales=params.get("ui_locales"))

    def _issue_code(self, request, signed_in: SignedIn) -> Reply:
        principal = Principal(signed_in.account, int(signed_in.auth_time), tuple(signed_in.amr),
                              grant_id=secrets.token_hex(16))
        try:
            grant = self.get_consent_grant(request, end_user=principal)
        except OAuth2Error as error:
            return self._oauth_error_reply(request, error)
        reply = self._with_iss(self.create_authorization_response(request, grant_user=principal, grant=grant))
        self.grants.put(principal.grant_id, {
            "login": signed_in.account.login, "client_id": request.payload.client_id,
            "method": signed_in.method, "detail": signed_in.detail, "auth_time": principal.auth_time,
            "session": signed_in.session,
        }, ttl=REFRESH_LIFETIME)
        return reply

    def verify_bearer(self, token: str):
        """(claims, account) for a valid access token of this tenant, else None."""
        try:
            claims = verify_access_token(token, keys=self.keys.verifying, issuers=self.issuers,
                                         now=self.now())
        except InvalidToken:
            return None
        account = self.accounts.find_by_sub(claims.sub)
        if (claims.claims.get("tenant") != self.tenant.name or self.grant_revoked(claims.gid)
                or account is None or account.disabled):
            return None
        return claims, account

    def _oauth_error_reply(self, request, error: OAuth2Error) -> Reply:
        if not error.redirect_uri:
            raise authorize.AuthorizePage("error.authorize.invalid_request")
        return self.to_client(error.redirect_uri, request.payload.data, error=error.error,
                              error_description=error.description)

    def _with_iss(self, reply: Reply) -> Reply:
        # RFC 9207 §2: every authorization response names the issuer.
        if reply.status != 302 or not reply.location:
            raise authorize.AuthorizePage("error.authorize.invalid_request")
        return Reply(302, "", [("Location", add_query(reply.location, {"iss": self.issuer}))])

    def to_client(self, redirect_uri: str, params: dict, **result) -> Reply:
        result["state"] = params.get("state")
        result["iss"] = self.issuer
        return Reply(302, "", [("Location", add_query(redirect_uri, result))])

    def token(self, request: ProtocolRequest) -> Reply:
        reply = self.create_token_response(request)
        return self._no_store(reply)

    @staticmethod
    def _no_store(reply: Reply) -> Reply:
        names = {k.lower() for k, _ in reply.headers}
        reply.headers += [h for h in NO_STORE if h[0].lower() not in names]
        return reply

    def userinfo(self, request: ProtocolRequest) -> Reply:
        """OIDC Core §5.3, bearer token per RFC 6750 §2.1 (header) or §2.2 (form body)."""
        header = request.headers.get("Authorization") or ""
        in_body = request.form.get("access_token") if request.method == "POST" else None
        if header and in_body:
            return self._bearer_error(400, "invalid_request", "Use one way to send the token.")
        token = header[7:].strip() if header[:7].lower() == "bearer " else in_body
        if not token:
            return Reply(401, "", [("WWW-Authenticate", f'Bearer realm="{self.issuer}"')] + NO_STORE)
        verified = self.verify_bearer(token)
        if verified is None:
            return self._bearer_error(401, "invalid_token", "The access token is not valid.")
        claims, account = verified
        if "openid" not in claims.scope.split():
            return self._bearer_error(403, "insufficient_scope", "The token lacks 'openid'.")
        body = json.dumps(self.user_info(account, claims.scope))
        return Reply(200, body, list(default_json_headers))

    def _bearer_error(self, status, error, description) -> Reply:
        value = f'Bearer realm="{self.issuer}", error="{error}", error_description="{description}"'
        body = json.dumps({"error": error, "error_description": description})
        return Reply(status, body, [("WWW-Authenticate", value)] + list(default_json_headers))

    def logout(self, request: ProtocolRequest, *, session_sub: str | None, confirmed: bool):
        """RP-Initiated Logout 1.0. Reply (a redirect), None (show the signed-out page),
        or NeedsLogoutConfirmation; raises OAuth2Error for a bad request."""
        req = self.validate_endpoint_request("end_session", request)
        hint_sub = (req.id_token_claims or {}).get("sub")
        if (req.needs_confirmation or (session_sub and hint_sub != session_sub)) and not confirmed:
            return NeedsLogoutConfirmation(client=req.client, params=dict(request.payload.data),
                                           redirect_uri=req.redirect_uri)
        return self.create_endpoint_response("end_session", req)

    def metadata(self) -> dict:
        """OpenID Provider Metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 9207)."""
        urls = {name: self.issuer + path for name, path in PATHS.items()}
        return {
            "issuer": self.issuer,
            **urls,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr",
                                 "tenant", "roles", "name", "nickname", "preferred_username",
                                 "locale", "email", "email_verified"],
            "prompt_values_supported": sorted(authorize.PROMPTS),
            "ui_locales_supported": self.tenant.available_languages,
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }
