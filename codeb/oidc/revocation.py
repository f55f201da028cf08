"""Token revocation (RFC 7009) at `/revoke`, on Authlib's RevocationEndpoint.

A client says it no longer needs a token (signing out, an app removed). What it hands
back is found the one way `/introspect` finds a token too (`find`): the hint
(`token_type_hint`, RFC 7009 §2.1) only says which type to look at first, every type is
looked at, and an unknown hint is no error (`unsupported_token_type` is for a type the
server cannot revoke, and it revokes every type it issues). A token is found only while it
is valid by the provider's own rules: an access token as `userinfo.active_token` checks
it (the check under every resource of this tenant), a refresh token while it is its
grant's current one (`grants.RefreshChain`) and the person still stands behind it.

Revoking either token revokes its grant (`Grants.revoke`): its refresh chain and every
access token carrying its `gid` stop at once, which RFC 7009 §2.1 allows ("revocation of
related tokens and the underlying authorization grant"), and nothing else does: another
grant of the same person or client keeps working.

Only the client a token was issued to may revoke it. A token that is not valid, not ours,
or another client's is answered like a revoked one, 200 with nothing changed (§2.2:
"invalid tokens do not cause an error response"), so the endpoint tells nobody whether a
string is some other client's live token. A client that does not authenticate is
`invalid_client` (§2.2.1), 401 whichever way it tried. Public clients name themselves
with `client_id` (method `none`) and revoke their own tokens (§5 discusses why).

The request checks (every parameter once, one client authentication; `codeb.oidc.token`)
and the shape of the `token` parameter are shared with introspection, which imports them.
"""

import re
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import TokenEndpoint
from authlib.oauth2.rfc7009 import RevocationEndpoint

from .. import audit
from ..store import secret_id
from . import token as token_endpoint
from .discovery import CLIENT_AUTH_METHODS
from .errors import InvalidClientError, InvalidRequestError, InvalidTokenError, OAuth2Error, reply_for
from .grants import Principal, RefreshChain, principal_from
from .requests import NO_STORE, ProtocolRequest, Reply
from .userinfo import Bearer, active_token

MAX_TOKEN = 8192  # longer than any token of ours (codeb.oidc.tokens reads no longer JWS)
VSCHAR = re.compile(r"[\x20-\x7e]+")  # RFC 6749 Appendix A.12, A.17: access and refresh tokens

# Before client authentication, as at /token (RFC 6749 §2.3, §3.2).
CHECKS = [
    token_endpoint.check_single_values,
    token_endpoint.check_basic_header,
    token_endpoint.check_one_client_authentication,
]


def validate(request: ProtocolRequest) -> None:
    for check in CHECKS:
        check(request)


def check_token_parameter(request: ProtocolRequest) -> None:
    """RFC 7009 §2.1, RFC 7662 §2.1: `token` is required, in the form body; nothing that could
    not be a token of ours is looked up."""
    value = request.form.get("token")
    if not value:
        raise InvalidRequestError("'token' is required in the request body.")
    if len(value) > MAX_TOKEN:
        raise InvalidRequestError("'token' is too long.")
    if not VSCHAR.fullmatch(value):
        raise InvalidRequestError("'token' holds characters no token has.")


class Valid:
    """A token `find` found, which it does only while the token is valid."""

    def is_expired(self) -> bool:  # Authlib's IntrospectionEndpoint asks
        return False

    def is_revoked(self) -> bool:
        return False


@dataclass(frozen=True)
class AccessToken(Valid):
    """An access token, valid as `active_token` checks it (a person's, or a machine client's)."""

    bearer: Bearer
    type_hint = "access_token"  # its name among token types (RFC 7009 §2.1)

    client_id = property(lambda self: self.bearer.claims.client_id)
    gid = property(lambda self: self.bearer.claims.gid)
    account = property(lambda self: self.bearer.account)


@dataclass(frozen=True)
class RefreshToken(Valid):
    """A refresh token: its grant's current one, the grant not revoked, the person the same."""

    doc: dict  # the chain (or, from before chains, the token's own record)
    principal: Principal
    type_hint = "refresh_token"

    client_id = property(lambda self: self.doc["client_id"])
    gid = property(lambda self: self.doc["gid"])
    account = property(lambda self: self.principal.account)


Found = AccessToken | RefreshToken


def find_access(provider, token: str) -> AccessToken | None:
    if token.count(".") != 2:  # a compact JWS (RFC 7515 §7.1); refresh tokens have one dot or none
        return None
    try:
        return AccessToken(active_token(provider, token))
    except InvalidTokenError:
        return None


def find_refresh(provider, token: str) -> RefreshToken | None:
    """Read only: nothing is spent or rotated, and a spent token is simply not current."""
    gid = RefreshChain.grant_of(token)
    doc = provider.refresh_chains.get(gid) if gid else provider.refresh_tokens.get(secret_id(token))
    if doc is None or (gid and not RefreshChain.is_current(doc, token)):
        return None
    if provider.grants.is_revoked(doc.get("gid")):
        return None
    principal = principal_from(provider, doc)
    return RefreshToken(doc, principal) if principal else None


def find(provider, token: str, hint: str | None) -> Found | None:
    """RFC 7009 §2.1, RFC 7662 §2.1: the hint says where to look first; without finding the
    token there, the server "MUST extend its search across all of its supported token types"."""
    order = (find_refresh, find_access) if hint == "refresh_token" else (find_access, find_refresh)
    for look in order:
        found = look(provider, token)
        if found is not None:
            return found
    return None


class PresentedToken(TokenEndpoint):
    """What revocation and introspection share: how the client authenticates, and how the
    token it presents is checked and found."""

    def authenticate_endpoint_client(self, request):
        try:
            return super().authenticate_endpoint_client(request)
        except InvalidClientError as error:
            # Authlib answers an unknown client of `client_secret_post` or `none` with 400;
            # RFC 6749 §5.2 allows 401 for every failed client authentication, and the
            # endpoint answers one failure one way (with its Basic challenge).
            error.status_code = 401
            raise

    def check_params(self, request, client):
        check_token_parameter(request)  # and the hint is only a hint: never refused

    def query_token(self, token_string, token_type_hint):
        return find(self.server, token_string, token_type_hint)


class Revocation(PresentedToken, RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)  # discovery: revocation accepts what /token does

    def authenticate_token(self, request, client):
        """The token, if it was issued to `client` (RFC 7009 §2.1); otherwise None, which is
        answered as an invalid token is (§2.2) instead of Authlib's `invalid_grant`."""
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        return token if token is not None and token.client_id == client.get_client_id() else None

    def revoke_token(self, token: Found, request):
        self.server.grants.revoke(token.gid)
        person = {"login": token.account.login, "sub": token.account.sub} if token.account else {}
        audit.append(self.server.store, "token.revoked", client_id=token.client_id, gid=token.gid,
                     token_type=token.type_hint, **person)


def never_stored(reply: Reply) -> Reply:
    """RFC 6749 §5.1, RFC 7662 §2.2: what concerns tokens is never cached."""
    names = {name.lower() for name, _ in reply.headers}
    reply.headers += [h for h in NO_STORE if h[0].lower() not in names]
    return reply


def respond(provider, request: ProtocolRequest) -> Reply:
    """RFC 7009 §2.2: 200 whether or not anything was revoked; an OAuth error otherwise."""
    try:
        validate(request)
    except OAuth2Error as error:
        return reply_for(error)
    return never_stored(provider.create_endpoint_response(Revocation.ENDPOINT_NAME, request))
