"""Pushed authorization requests (RFC 9126) at `/par`.

A client sends its authorization request's parameters straight to the provider, over the
back channel and authenticated, and gets a `request_uri` to send the browser to
`/authorize` with instead of them (§2). The front channel then carries nothing an
attacker could change, and the provider knows, before the person sees anything, which
client asked and that the request is good.

The endpoint is the one `/token` is, then the one `/authorize` is:

1. `CHECKS`: the parameters in the form-encoded body only (§2.1), each once, a Basic
   header that decodes, one way of client authentication (`codeb.oidc.token`'s
   checks), and no `request_uri` (§2.1: it "MUST NOT be provided").
2. The client authenticates exactly as at `/token` (§2.1, RFC 6749 §2.3): Authlib's
   methods registered on the provider, endpoint name `pushed_authorization_request`
   (what reaches `Client.check_endpoint_auth_method`); a public client names itself
   with `client_id` (method `none`). A failure is `invalid_client`, 401 however it
   tried, as at revocation (RFC 6749 §5.2 allows it; one failure, one answer).
3. `client_id` in the body, if sent, names the authenticated client (§2.1), and is
   filled in with it otherwise (an `Authorization: Basic` client may leave it out).
4. The authorization endpoint's own checks, `authorize.CHECKS`, on what was pushed:
   redirect URI registered, `response_type`, scope, PKCE (required for public and FAPI
   2.0 clients), `prompt`, `max_age`, lengths. What would be a page for the person at
   `/authorize` (a redirect URI not registered) is `invalid_request` here: this answer
   goes to the authenticated client, never to a browser (§2.3).

A DPoP proof sent with the push (RFC 9449 §10.1: `htm` POST, `htu` this endpoint, the nonce as
at `/token`) binds the code to its key: its thumbprint becomes the request's `dpop_jkt`, and a
`dpop_jkt` pushed beside it that names another key is `invalid_request`. Every answer to a
request with a proof carries the next `DPoP-Nonce`.

Then the parameters the authorization endpoint keeps are saved under the hash of the
`request_uri`'s random part for `PUSHED_LIFETIME` seconds (`authorize.push`) and the
answer is 201 `{"request_uri", "expires_in"}`, not cached (§2.2). The authorization
endpoint redeems it once (`authorize.redeem`; the design is in its docstring, with FAPI
2.0 mode). Every error is a JSON OAuth error (§2.3), never a redirect: nothing here
comes from or goes to the browser.
"""

import json

from . import authorize, dpop
from . import token as token_endpoint
from .discovery import CLIENT_AUTH_METHODS
from .errors import AuthorizePage, InvalidClientError, InvalidRequestError, OAuth2Error, reply_for
from .requests import NO_STORE, ProtocolRequest, Reply

ENDPOINT = "pushed_authorization_request"  # RFC 9126 §5: the metadata's name for it
# What /authorize shows the person, said to the client instead (§2.3: invalid_request).
PAGE_DESCRIPTIONS = {
    "error.authorize.missing_redirect_uri": "Missing 'redirect_uri'.",
    "error.authorize.redirect_uri_mismatch": "'redirect_uri' is not registered for this client.",
}


def check_body_only(request: ProtocolRequest) -> None:
    # §2.1: the parameters are the form-encoded body; a query beside it would be a second source.
    if request.args:
        raise InvalidRequestError("Parameters belong in the request body, not the URL.")


def check_no_request_uri(request: ProtocolRequest) -> None:
    if "request_uri" in request.payload.datalist:  # §2.1
        raise InvalidRequestError("'request_uri' cannot be pushed.")


CHECKS = [
    check_body_only,
    token_endpoint.check_single_values,
    token_endpoint.check_basic_header,
    token_endpoint.check_one_client_authentication,
    check_no_request_uri,
]


def authenticate(provider, request: ProtocolRequest):
    """The client, authenticated as at /token; `invalid_client` 401 otherwise."""
    try:
        return provider.authenticate_client(request, list(CLIENT_AUTH_METHODS), endpoint=ENDPOINT)
    except InvalidClientError as error:
        # Authlib answers a failed `client_secret_post` or `none` with 400; one failure, one answer.
        error.status_code = 401
        raise


def pushed_params(request: ProtocolRequest, client) -> dict:
    """The authorization request's parameters, naming the client that pushed them (§2.1)."""
    params = dict(request.payload.data)
    if params.setdefault("client_id", client.get_client_id()) != client.get_client_id():
        raise InvalidRequestError("'client_id' names another client than the one authenticated.")
    return params


def bind_to_proof(provider, request: ProtocolRequest, params: dict) -> None:
    """RFC 9449 §10.1: the code is bound to the key of the DPoP proof sent here, if one was."""
    value = dpop.header_of(request)
    if value is None:
        return
    proof = dpop.check(provider, value, method="POST", path="/par")
    if params.setdefault("dpop_jkt", proof.jkt) != proof.jkt:
        raise InvalidRequestError("'dpop_jkt' names another key than the DPoP proof's.")


def check_authorization_request(provider, params: dict) -> None:
    """`authorize.CHECKS` on the pushed parameters; a failure the endpoint would show the
    person is `invalid_request` for the client here."""
    ctx = authorize.Context(params=params, multi={k: [v] for k, v in params.items()}, pushed=True)
    try:
        authorize.validate(provider, ctx)
    except AuthorizePage as page:
        description = PAGE_DESCRIPTIONS.get(page.message_id, "The authorization request is not valid.")
        raise InvalidRequestError(description) from None


def respond(provider, request: ProtocolRequest) -> Reply:
    """§2.2: 201 with the `request_uri` and its `expires_in`; §2.3: an OAuth error otherwise."""
    try:
        for check in CHECKS:
            check(request)
        client = authenticate(provider, request)
        params = pushed_params(request, client)
        bind_to_proof(provider, request, params)
        check_authorization_request(provider, params)
    except OAuth2Error as error:
        return provider.with_dpop_nonce(reply_for(error), request)
    body = {"request_uri": authorize.push(provider, params), "expires_in": authorize.PUSHED_LIFETIME}
    return provider.with_dpop_nonce(Reply(201, json.dumps(body), [("Content-Type", "application/json"), *NO_STORE]),
                                    request)
