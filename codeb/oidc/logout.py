"""RP-Initiated Logout 1.0 at `/logout`, on Authlib's EndSessionEndpoint."""

from authlib.oidc.rpinitiated import EndSessionEndpoint

from .requests import NeedsLogoutConfirmation, ProtocolRequest
from .tokens import InvalidToken, verify_id_token_hint


class Logout(EndSessionEndpoint):
    def validate_request(self, request):
        # RP-Initiated Logout §2: the OP MUST validate that it issued the hint as an ID token
        # (`tokens.verify_id_token_hint`: our key, our issuer, never an access token). A hint
        # that is not one proves nothing: the request goes on as one without a hint, so the
        # person is asked first (§6) and there is no post-logout redirect (§3, §4).
        hint = request.payload.data.get("id_token_hint")
        if hint and not self.is_our_id_token(hint):
            request = request.without("id_token_hint")
        return super().validate_request(request)

    def is_our_id_token(self, hint) -> bool:
        try:
            verify_id_token_hint(hint, keys=self.server.keys.verifying, issuers=self.server.issuers)
        except InvalidToken:
            return False
        return True

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
        return NeedsLogoutConfirmation(client=req.client, params=dict(req.request.payload.data),
                                       redirect_uri=req.redirect_uri)
    return provider.create_endpoint_response(Logout.ENDPOINT_NAME, req)
