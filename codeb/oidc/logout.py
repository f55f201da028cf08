"""RP-Initiated Logout 1.0 at `/logout`, on Authlib's EndSessionEndpoint."""

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint

from .requests import NeedsLogoutConfirmation, ProtocolRequest


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


def logout(provider, request: ProtocolRequest, *, session_sub: str | None, confirmed: bool):
    """A Reply (a redirect), None (show the signed-out page), or NeedsLogoutConfirmation
    when the relying party is not proven or names someone else; raises OAuth2Error for a
    bad request."""
    req = provider.validate_endpoint_request(Logout.ENDPOINT_NAME, request)
    hint_sub = (req.id_token_claims or {}).get("sub")
    if (req.needs_confirmation or (session_sub and hint_sub != session_sub)) and not confirmed:
        return NeedsLogoutConfirmation(client=req.client, params=dict(request.payload.data),
                                       redirect_uri=req.redirect_uri)
    return provider.create_endpoint_response(Logout.ENDPOINT_NAME, req)
