"""The tenant's OpenID Provider: Authlib's AuthorizationServer with its hooks filled.

One Provider is made per request for the tenant that request belongs to, a light view
sharing Authlib's registrations with every other (see `Provider`);
everything it knows comes from the tenant's store, so any process can answer
any step. The endpoints are modules of their own (`authorize`, `userinfo`,
`logout`, `discovery`; `/token` is Authlib's after the checks of `token`); this class only connects
Authlib to the store: clients, codes and refresh tokens, the signing keys,
and the token format.
"""

import json
import secrets
from collections import defaultdict
from contextlib import ExitStack
from functools import cached_property

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.authenticate_client import ClientAuthentication

from ..store import layout
from . import dpop
from . import token as token_endpoint
from .client_assertion import PrivateKeyJwt
from .client_settings import FAPI_ALGORITHMS
from .clients import SCOPES, Clients
from .errors import OAuth2Error, reply_for
from .grants import (
    CodeGrant,
    Grants,
    MachineGrant,
    OpenIDCode,
    Pkce,
    Principal,
    RefreshChain,
    RefreshGrant,
    RefreshRecord,
)
from .introspection import Introspection
from .keys import SigningKeys
from .keys import load as load_keys
from .logout import Logout
from .requests import NO_STORE, ProtocolRequest, Reply
from .revocation import Revocation
from .tokens import issue_access_token, issue_machine_token


class Provider(AuthorizationServer):
    """A request's view of the tenant's provider. Authlib's registrations (which grants,
    with which extensions, answer `/authorize` and `/token`) hold nothing of a tenant or a
    request, so every Provider in the process shares one set of them, made by the first one;
    what is bound to this request's server (the client authentication, the logout endpoint,
    the ID token extension) is made from it at first use, on the step that needs it."""

    _authorization_grants: list = []  # filled once, by `_register_grants`
    _token_grants: list = []
    _token_generators: dict = {}
    _extensions: list = []

    def __init__(self, *, tenant, issuer: str, accounts, sessions, end_browser_session=lambda: None):
        """`sessions` are the tenant's browser sessions (codeb.accounts.sessions): a token of
        the office shell lives only as long as the one it came from."""
        # Not AuthorizationServer.__init__: it would make the registrations again per request.
        if not Provider._token_grants:
            _register_grants()
        self._hooks: defaultdict = defaultdict(set)
        self.scopes_supported = SCOPES_SUPPORTED
        self.tenant = tenant
        self.store = tenant.store
        self.issuer = issuer
        self.accounts = accounts
        self.sessions = sessions
        self.end_browser_session = end_browser_session
        self.dpop: dpop.Proof | None = None  # this token request's DPoP proof (`token`), if it sent one

    @cached_property
    def issuers(self) -> set[str]:
        return {self.issuer} | {f"https://{h}" for h in self.tenant.hosts}

    @cached_property
    def clients(self) -> Clients:
        return Clients(self.store, self.issuer)

    @cached_property
    def codes(self):
        return self.store.transient(layout.CODES)

    @cached_property
    def refresh_tokens(self):  # from before chains
        return self.store.transient(layout.REFRESH_TOKENS)

    @cached_property
    def refresh_chains(self) -> RefreshChain:
        return RefreshChain(self.store, self.now)

    @cached_property
    def grants(self) -> Grants:
        return Grants(self.store, self.now)

    @cached_property
    def _client_auth(self):
        methods = ClientAuthentication(self.query_client)
        methods.register("client_secret_basic", token_endpoint.authenticate_client_secret_basic)
        methods.register(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(self))
        return methods

    @cached_property
    def _endpoints(self) -> dict:
        return {Logout.ENDPOINT_NAME: [Logout(self)], Revocation.ENDPOINT_NAME: [Revocation(self)],
                Introspection.ENDPOINT_NAME: [Introspection(self)]}

    @cached_property
    def keys(self) -> SigningKeys:
        """The signing keys, read at the first step that signs or verifies: discovery and
        the sign-in pages need none, so a fresh process answers them without parsing RSA keys."""
        return load_keys(self.store)

    def generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                       include_refresh_token=True):
        return self.generate_bearer_token(grant_type, client, user, scope, expires_in, include_refresh_token)

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
        lifetime = client.access_token_lifetime
        jkt = self.dpop.jkt if self.dpop else None
        if client.require_dpop and jkt is None:  # `token` refused it already; never a bearer token for it
            raise dpop.InvalidDpopProof("This client's tokens must be DPoP-bound: send a DPoP proof.")
        if client.fapi and self.dpop and self.dpop.alg not in FAPI_ALGORITHMS:  # FAPI 2.0 §5.4.1
            raise dpop.InvalidDpopProof(f"This client's DPoP proofs must be signed with {', '.join(FAPI_ALGORITHMS)}.")
        if user is None:  # client_credentials: the client itself, for its audience (grants.MachineGrant)
            access = issue_machine_token(
                signing_key=self.keys.current, issuer=self.issuer, tenant=self.tenant.name, client=client,
                scope=scope, grant_id=secrets.token_hex(16), now=self.now(), lifetime=lifetime, jkt=jkt)
        else:
            access = issue_access_token(
                signing_key=self.keys.current, issuer=self.issuer, tenant=self.tenant.name,
                client_id=client.get_client_id(), principal=user, scope=scope, now=self.now(), lifetime=lifetime,
                jkt=jkt)
        token = {"token_type": "DPoP" if jkt else "Bearer", "access_token": access, "expires_in": lifetime,
                 "scope": scope}
        if include_refresh_token:
            token["refresh_token"] = RefreshChain.new_token(user.grant_id) if isinstance(user, Principal) \
                else secrets.token_urlsafe(32)
        return token

    def save_token(self, token, request):
        if "refresh_token" not in token:
            return
        principal: Principal = request.user
        old = getattr(request, "refresh_token", None)
        if isinstance(old, RefreshRecord) and old.presented is not None:
            # The rotation, one write of the chain read under the lock held since.
            self.refresh_chains.rotate_held(principal.grant_id, old.doc, token["refresh_token"], token["scope"])
            return
        bound = {"jkt": self.dpop.jkt} if self.dpop and request.client.public else {}  # RFC 9449 §5
        self.refresh_chains.start(principal.grant_id, {
            "client_id": request.client.get_client_id(),
            "scope": token["scope"],
            **principal.record(),
            **bound,
        }, token["refresh_token"], lifetime=request.client.refresh_token_lifetime)

    # The token endpoint (RFC 6749 §3.2): our checks, then Authlib's grants -------------

    def token(self, request: ProtocolRequest) -> Reply:
        try:
            token_endpoint.validate(request)
            self.dpop = dpop.token_request_proof(self, request)
            if self.dpop is None and self._claimed_client_requires_dpop(request):
                raise dpop.InvalidDpopProof("This client's tokens must be DPoP-bound: send a DPoP proof.")
        except OAuth2Error as error:
            return self.with_dpop_nonce(reply_for(error), request)
        with ExitStack() as hold:  # what a grant locks is held until its reply is made
            request.hold = hold
            reply = self.with_dpop_nonce(self.create_token_response(request), request)
        names = {k.lower() for k, _ in reply.headers}
        reply.headers += [h for h in NO_STORE if h[0].lower() not in names]
        return reply


    def _claimed_client_requires_dpop(self, request: ProtocolRequest) -> bool:
        """Whether the client this request names (not yet authenticated: only to refuse, before
        any code is spent) must use DPoP."""
        claimed = token_endpoint.claimed_client_id(request)
        client = self.clients.get(claimed) if claimed else None
        return bool(client and client.require_dpop)

    def with_dpop_nonce(self, reply: Reply, request: ProtocolRequest) -> Reply:
        """Every answer to a DPoP request carries the nonce for its next proof (RFC 9449 §8.2)."""
        if dpop.header_of_safe(request) is not None and not any(k.lower() == "dpop-nonce" for k, _ in reply.headers):
            reply.headers = [*reply.headers, ("DPoP-Nonce", dpop.nonce(self.store, self.now()))]
        return reply


def _openid_code(grant) -> None:
    """The ID token extension of a code grant, bound to the grant's own Provider."""
    OpenIDCode(grant.server)(grant)


def _register_grants() -> None:
    """The one set of registrations every Provider shares (see `Provider`), made by the
    first Provider of the process (made twice by two racing threads, both alike)."""
    registry = AuthorizationServer()
    registry.register_grant(CodeGrant, [_openid_code, Pkce()])  # Pkce keeps no state of a request
    registry.register_grant(RefreshGrant)
    registry.register_grant(MachineGrant)
    Provider._authorization_grants = registry._authorization_grants
    Provider._token_grants = registry._token_grants


SCOPES_SUPPORTED = list(SCOPES)
