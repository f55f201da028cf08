"""Token introspection (RFC 7662) at `/introspect`, on Authlib's IntrospectionEndpoint, and
its answer as a signed JWT when asked for (RFC 9701).

A resource server asks whether a token is active and what it stands for. The token is
found as revocation finds it (`revocation.find`): the hint only says where to look first
(RFC 7662 §2.1), and a token is found only while it is valid by the provider's own rules,
an access token exactly as `userinfo.active_token` checks it under every resource of this
tenant (revoked grant, disabled account, `tokens_not_before`, the office shell's session; a
client_credentials token while its client may still use that grant),
a refresh token while it is its grant's current one. Nothing is spent or rotated.

Who may ask (RFC 7662 §2.1, §4): only an authenticated confidential client, so `none` is no
method here and a public client is `invalid_client`. A client learns about the tokens
issued to it or meant for it (its id is the token's `client_id` or in its `aud`), and about
its own refresh tokens; one of the tenant's own resource servers (`Client.resource_server`:
the XMPP server, the PBX) about any of the tenant's access tokens. Whatever else it asks
about, like an invalid, expired or revoked token, is `{"active": false}` and nothing more
(§2.2), so the answer never tells which of these it was.

An active access token is described by its own claims (§2.2: `scope`, `client_id`, `exp`,
`iat`, `nbf`, `sub`, `aud`, `iss`, `jti`), the account's login as `username`, its `tenant`
and `roles` (DESIGN invariant 4), and its confirmation `cnf` when it is sender-constrained
(RFC 9449 §6.2: then its `token_type` is `DPoP`).

With `Accept: application/token-introspection+jwt` (RFC 9701 §4) the same answer comes as
a JWT signed with the tenant's current key (§5): `typ` `token-introspection+jwt`, the
provider as `iss`, the asking client as `aud`, `iat`, and the answer in
`token_introspection`; nothing at its top level could make it pass for an access token.
"""

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt

from .discovery import CLIENT_AUTH_METHODS
from .errors import OAuth2Error, reply_for
from .requests import ProtocolRequest, Reply
from .revocation import AccessToken, Found, PresentedToken, RefreshToken, never_stored, validate

JWT_RESPONSE = "application/token-introspection+jwt"  # RFC 9701 §4, §7.1
ACCESS_CLAIMS = ("exp", "iat", "nbf", "sub", "aud", "iss", "jti", "tenant", "roles", "cnf", "gty")


def audiences(claims: dict) -> list:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []


def may_introspect(client, token: Found) -> bool:
    """RFC 7662 §4: a client learns only about tokens it has a reason to know."""
    client_id = client.get_client_id()
    if isinstance(token, RefreshToken):
        return token.client_id == client_id
    claims = token.bearer.claims.claims
    return client.resource_server or token.client_id == client_id or client_id in audiences(claims)


def describe_access(token: AccessToken) -> dict:
    claims = token.bearer.claims.claims
    person = {"username": token.account.login} if token.account else {}  # a machine client's has none
    return {
        "active": True,
        "scope": token.bearer.claims.scope,
        "client_id": token.client_id,
        **person,
        "token_type": "DPoP" if token.bearer.claims.jkt else "Bearer",
        **{name: claims[name] for name in ACCESS_CLAIMS if name in claims},
    }


def describe_refresh(provider, token: RefreshToken) -> dict:
    """A refresh token has no claims of its own: what its chain keeps and whom it stands for."""
    return {
        "active": True,
        "scope": token.doc.get("scope") or "",
        "client_id": token.client_id,
        "username": token.account.login,
        "sub": token.account.sub,
        "iss": provider.issuer,
        "exp": token.doc["expires"],
        "tenant": provider.tenant.name,
        "roles": token.account.roles,
    }


def asks_for_jwt(request: ProtocolRequest) -> bool:
    """RFC 9701 §4: the JWT answer is what the Accept header asks for (RFC 9110 §12.5.1;
    a media range with `q=0` is one it refuses)."""
    for item in (request.headers.get("Accept") or "").split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        if media != JWT_RESPONSE:
            continue
        weights = [p.partition("=")[2].strip() for p in params if p.partition("=")[0].strip() == "q"]
        try:
            if not weights or float(weights[0]) > 0:
                return True
        except ValueError:
            return True  # a malformed weight is no refusal
    return False


def signed(provider, client, answer: dict) -> str:
    """RFC 9701 §5: the answer as a JWT of the tenant's current key (joserfc, RS256)."""
    header = {"alg": "RS256", "typ": "token-introspection+jwt", "kid": provider.keys.kid}
    claims = {"iss": provider.issuer, "aud": client.get_client_id(), "iat": provider.now(),
              "token_introspection": answer}
    return jwt.encode(header, claims, provider.keys.current, algorithms=["RS256"])


class Introspection(PresentedToken, IntrospectionEndpoint):
    # RFC 7662 §2.1: the caller is authorised; a public client's `client_id` proves nothing.
    CLIENT_AUTH_METHODS = [m for m in CLIENT_AUTH_METHODS if m != "none"]

    def check_permission(self, token: Found, client, request) -> bool:
        return may_introspect(client, token)

    def introspect_token(self, token: Found) -> dict:
        if isinstance(token, RefreshToken):
            return describe_refresh(self.server, token)
        return describe_access(token)

    def create_endpoint_response(self, request):
        status, answer, headers = super().create_endpoint_response(request)
        if asks_for_jwt(request):
            return status, signed(self.server, request.client, answer), [("Content-Type", JWT_RESPONSE)]
        return status, answer, headers


def respond(provider, request: ProtocolRequest) -> Reply:
    """RFC 7662 §2.2 (or RFC 9701 §5): the token's description, `{"active": false}` for every
    token the caller may not learn about; an OAuth error for a bad request or caller (§2.3)."""
    try:
        validate(request)
    except OAuth2Error as error:
        return reply_for(error)
    return never_stored(provider.create_endpoint_response(Introspection.ENDPOINT_NAME, request))
