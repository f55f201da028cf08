"""The authorization endpoint as an ordered list of small checks.

Read top to bottom, `CHECKS` is the whole endpoint: the client and its exact
redirect URI come first, and until both are proven every failure is a page for
the person, never a redirect (RFC 9700 §4.11.2, RFC 6749 §4.1.2.1). After
that, failures go back to the client as OAuth errors with `state` and `iss`.
Then the browser session decides (`respond`): a code at once, `login_required`
for `prompt=none`, or an interaction for the sign-in page; and before a code, the
person's consent where it is needed (`codeb.oidc.consent`): the consent screen, or
`consent_required` for `prompt=none`.

A request arrives in one of two forms (`arrived`). Plain, its parameters in the query
(or form). Or pushed (RFC 9126): the client first sent them, authenticated, to `/par`
(`codeb.oidc.par`, which runs these very checks on them) and got a `request_uri`; at
`/authorize` that `request_uri` with the `client_id` stands for the pushed parameters,
which are used instead of the query's (§4; RFC 9101 §5: every other query parameter is
ignored) and checked again here as any request is (§4). The pushed request is kept under
the hash of its random part (`push`), lives `PUSHED_LIFETIME` seconds, belongs to the
client that pushed it (§4), and is spent by its first use (`redeem`, a `Transient.take`:
one caller in any process), the one-time use §4 recommends. Since the person may sign in
first, it is spent when `/authorize` first reads it, and what it held travels on in the
interaction like any request's parameters, with the note that it was pushed (`PUSHED`),
which only a resumed interaction is believed (`respond(resumed=True)`). An unknown,
expired, spent or another client's `request_uri` is a page for the person: it proves no
redirect URI.

Per client (`codeb.oidc.client_settings`): `require_par` refuses a plain request with
`invalid_request` (RFC 9126 §5, §6; its redirect URI is proven, so the error goes back
to it). FAPI 2.0 mode (`fapi`, Security Profile §5.3.2.2) is, at this endpoint: PAR
required (1.: `require_par` follows from `fapi`), `response_type=code` only (the only
type there is), PKCE with S256 required (4., `check_pkce`, as for public clients), the
`redirect_uri` in the pushed request (pushed parameters replace the query's, and
`check_redirect_uri` requires one), a `request_uri` living less than 600 seconds (60),
and `iss` in every authorization response (7., RFC 9207: always sent).

A code may be bound to the client's DPoP key (RFC 9449 §10): `dpop_jkt`, the key's SHA-256
JWK thumbprint, in a plain or pushed request, or the DPoP proof sent to `/par` (§10.1, which
fills it in), is kept with the code, and `/token` then spends it only with a proof of that
key (`grants.CodeGrant`).
"""

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)

from ..store import layout, secret_id
from . import consent
from .discovery import PROMPTS
from .errors import (
    AuthorizePage,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedResponseTypeError,
    quoted,
)
from .grants import Principal
from .requests import NeedsConsent, NeedsSignIn, ProtocolRequest, Reply, SignedIn, add_query
from .tokens import InvalidToken, verify_id_token_hint

CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
DPOP_JKT = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_AGE = re.compile(r"[0-9]{1,10}")  # ASCII digits: str.isdigit() also takes "²", which int() refuses
SINGLE_VALUED = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                 "prompt", "max_age", "code_challenge", "code_challenge_method",
                 "login_hint", "id_token_hint", "ui_locales", "dpop_jkt")
# Parameters worth keeping while the person signs in; everything else is ignored.
KEPT = SINGLE_VALUED + ("response_mode",)
# The longest value of each kept parameter: an interaction stores them for half an hour, for
# anyone who asks (DESIGN: the sign-in flow, step 2). Generous for every real value.
MAX_LENGTH = {
    "response_type": 32, "client_id": 64, "redirect_uri": 2000,
    "scope": 256,            # every scope of SCOPES fits in 40
    "state": 512, "nonce": 512,
    "prompt": 64, "max_age": 10,
    "code_challenge": 128,   # RFC 7636 §4.2: 43 to 128 characters
    "code_challenge_method": 16,
    "login_hint": 254,       # an email address (RFC 5321 §4.5.3.1.3)
    "id_token_hint": 8192,   # as any token (tokens.verify_*)
    "ui_locales": 100, "response_mode": 16,
    "dpop_jkt": 43,          # RFC 9449 §10: a SHA-256 JWK thumbprint, base64url (RFC 7638)
}
# Pushed authorization requests (RFC 9126 §2.2): the URN prefix of a `request_uri`, its
# random part (what `secrets.token_urlsafe(32)` makes), and how long it may wait (short,
# §4; FAPI 2.0 §5.3.2.2: less than 600 seconds).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
REQUEST_URI_RANDOM = re.compile(r"[A-Za-z0-9_-]{43}")
PUSHED_LIFETIME = 60
# The note an interaction keeps that its request was pushed; believed only when resumed.
PUSHED = "pushed"


@dataclass
class Context:
    """What the checks learn about one authorization request."""

    params: dict
    multi: dict = field(default_factory=dict)  # parameter -> every value sent
    client: Any = None  # codeb.oidc.clients.Client, once check_client found it
    redirect_uri: str | None = None
    prompts: set = field(default_factory=set)
    max_age: int | None = None
    hint_sub: str | None = None
    pushed: bool = False  # the parameters came from /par (RFC 9126), not from the query


def check_client(ctx: Context, provider) -> None:
    client_id = ctx.params.get("client_id")
    if not client_id:
        raise AuthorizePage("error.authorize.missing_client")
    ctx.client = provider.query_client(client_id)
    if ctx.client is None:
        raise AuthorizePage("error.authorize.unknown_client")


def check_redirect_uri(ctx: Context, provider) -> None:
    uri = ctx.params.get("redirect_uri")
    if not uri:
        raise AuthorizePage("error.authorize.missing_redirect_uri")
    if not ctx.client.check_redirect_uri(uri):  # exact match, RFC 9700 §4.1.3
        raise AuthorizePage("error.authorize.redirect_uri_mismatch")
    ctx.redirect_uri = uri


def check_single_values(ctx: Context, provider) -> None:
    for name in SINGLE_VALUED:
        if len(ctx.multi.get(name, ())) > 1:
            raise InvalidRequestError(f"'{name}' appears more than once.")


def check_lengths(ctx: Context, provider) -> None:
    for name, limit in MAX_LENGTH.items():
        value = ctx.params.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidRequestError(f"'{name}' is longer than {limit} characters.")


def check_response_type(ctx: Context, provider) -> None:
    response_type = ctx.params.get("response_type")
    if not response_type:
        raise InvalidRequestError("Missing 'response_type'.")
    if response_type != "code":
        raise UnsupportedResponseTypeError("Only 'code' is supported.")
    mode = ctx.params.get("response_mode")
    if mode and mode != "query":
        raise InvalidRequestError("Only response_mode 'query' is supported.")


def check_request_object(ctx: Context, provider) -> None:
    # OIDC Core §6: an OP that does not support request objects says so.
    if "request" in ctx.params:
        raise RequestNotSupportedError("Request objects are not supported.")
    if "request_uri" in ctx.params:
        raise RequestURINotSupportedError("'request_uri' is not supported.")


def check_pushed(ctx: Context, provider) -> None:
    # RFC 9126 §6: a client that must push its requests (`require_par`, FAPI 2.0) may not
    # send a plain one; the error goes back to its proven redirect URI.
    if ctx.client.require_par and not ctx.pushed:
        raise InvalidRequestError("This client must push its authorization requests (PAR, RFC 9126).")


def check_scope(ctx: Context, provider) -> None:
    scopes = scope_to_list(ctx.params.get("scope") or "") or []
    unknown = [s for s in scopes if s not in provider.scopes_supported]
    if unknown:
        raise InvalidScopeError(f"Unknown scope {quoted(unknown[0])}.")


def check_pkce(ctx: Context, provider) -> None:
    challenge = ctx.params.get("code_challenge")
    method = ctx.params.get("code_challenge_method")
    if challenge is None:
        # RFC 9700 §2.1.1: public clients MUST use PKCE; FAPI 2.0 §5.3.2.2 4.: its clients too.
        if ctx.client.public or ctx.client.fapi:
            raise InvalidRequestError("PKCE ('code_challenge') is required.")
        if method:
            raise InvalidRequestError("Missing 'code_challenge'.")
        return
    if method != "S256":
        raise InvalidRequestError("'code_challenge_method' must be S256.")
    if not CODE_CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("Malformed 'code_challenge'.")


def check_dpop_jkt(ctx: Context, provider) -> None:
    jkt = ctx.params.get("dpop_jkt")
    if jkt is not None and not DPOP_JKT.fullmatch(jkt):
        raise InvalidRequestError("'dpop_jkt' must be the key's SHA-256 JWK thumbprint, base64url-encoded.")


def check_prompt(ctx: Context, provider) -> None:
    prompts = set((ctx.params.get("prompt") or "").split())
    if prompts - PROMPTS:
        raise InvalidRequestError("Unknown 'prompt' value.")
    if "none" in prompts and len(prompts) > 1:  # OIDC Core §3.1.2.1
        raise InvalidRequestError("'prompt=none' cannot be combined.")
    ctx.prompts = prompts


def check_max_age(ctx: Context, provider) -> None:
    raw = ctx.params.get("max_age")
    if raw is None or raw == "":
        return
    if not MAX_AGE.fullmatch(str(raw)):
        raise InvalidRequestError("'max_age' must be a non-negative integer.")
    ctx.max_age = int(raw)


def check_id_token_hint(ctx: Context, provider) -> None:
    hint = ctx.params.get("id_token_hint")
    if not hint:
        return
    try:  # an ID token of ours, never an access token; expired is fine
        claims = verify_id_token_hint(hint, keys=provider.keys.verifying, issuers=provider.issuers)
    except InvalidToken:
        raise InvalidRequestError("'id_token_hint' is not an ID token of this provider.") from None
    ctx.hint_sub = claims["sub"]


CHECKS = [
    check_client,
    check_redirect_uri,
    check_single_values,
    check_lengths,
    check_response_type,
    check_request_object,
    check_pushed,
    check_scope,
    check_pkce,
    check_dpop_jkt,
    check_prompt,
    check_max_age,
    check_id_token_hint,
]


def validate(provider, ctx: Context) -> Context:
    """Run every check in order; raise AuthorizePage or an OAuth2Error on the first failure."""
    for check in CHECKS:
        check(ctx, provider)
    return ctx


def session_satisfies(ctx: Context, signed_in, now: float, *, just_signed_in: bool) -> bool:
    """Whether the browser's sign-in can answer this request without asking again.

    `signed_in` is (account, auth_time) or None. Right after the sign-in page,
    `prompt=login` and `max_age` are satisfied by that very sign-in.
    """
    if signed_in is None:
        return False
    account, auth_time = signed_in
    if ctx.hint_sub and ctx.hint_sub != account.sub:
        return False
    if just_signed_in:
        return True
    if "login" in ctx.prompts:
        return False
    # OIDC Core §3.1.2.1: a sign-in older than max_age must be renewed.
    return ctx.max_age is None or now - auth_time <= ctx.max_age


def may_continue(provider, params: dict, signed_in: SignedIn) -> bool:
    """Whether the browser's session, as it stands, may answer a waiting request ("Signed in as
    … Continue"): `prompt=login`, an exceeded `max_age` or another account's `id_token_hint`
    ask for a sign-in instead."""
    ctx = Context(params=params)
    try:
        check_prompt(ctx, provider)
        check_max_age(ctx, provider)
        check_id_token_hint(ctx, provider)
    except OAuth2Error:
        return False
    return session_satisfies(ctx, (signed_in.account, signed_in.auth_time), provider.now(), just_signed_in=False)


def access_denied(provider, params: dict) -> Reply:
    """The person declined ("Back to the app", "Deny"): `access_denied` with `state` to the
    client (RFC 6749 §4.1.2.1), only at a redirect URI the client still has registered;
    otherwise AuthorizePage."""
    ctx = Context(params=params)
    check_client(ctx, provider)
    check_redirect_uri(ctx, provider)
    assert ctx.redirect_uri is not None  # check_redirect_uri proved it or raised
    return redirect_error(provider, ctx.redirect_uri, params, AccessDeniedError("The person declined."))


def kept_params(params: dict, *, pushed: bool = False) -> dict:
    """The parameters an interaction stores while the person signs in (and /par for its
    `request_uri`); with the note that they were pushed, if they were."""
    kept = {k: params[k] for k in KEPT if params.get(k) is not None}
    return {**kept, PUSHED: "yes"} if pushed else kept


# -- pushed requests (RFC 9126): saved by /par, redeemed once here ------------------

def push(provider, params: dict) -> str:
    """Keep a pushed request's checked parameters (their client's id among them) and answer
    the `request_uri` that stands for them (§2.2). Only the hash of its random part is stored,
    as for every secret a request presents (DESIGN invariant 3)."""
    random = secrets.token_urlsafe(32)
    provider.store.transient(layout.PUSHED_REQUESTS).put(
        secret_id(random), {"client_id": params["client_id"], "params": kept_params(params)},
        ttl=PUSHED_LIFETIME)
    return REQUEST_URI_PREFIX + random


def redeem(provider, request_uri: str, client_id: str) -> dict | None:
    """The pushed parameters `request_uri` stands for, spent by this call; None if it is
    unknown, expired, already used, or another client's (RFC 9126 §4). Taken before the client is
    compared: a `request_uri` shown with the wrong client is spent as well."""
    random = request_uri[len(REQUEST_URI_PREFIX):]
    if not request_uri.startswith(REQUEST_URI_PREFIX) or not REQUEST_URI_RANDOM.fullmatch(random):
        return None
    record = provider.store.transient(layout.PUSHED_REQUESTS).take(secret_id(random))
    if record is None or record.get("client_id") != client_id:
        return None
    return record["params"]


def pushed_request(provider, request: ProtocolRequest) -> ProtocolRequest:
    """RFC 9126 §4: the request `request_uri` stands for, in place of this one; AuthorizePage
    while no redirect URI is proven (a repeated `client_id` or `request_uri`, an unknown client,
    a `request_uri` not or no longer good)."""
    multi = request.payload.datalist
    if any(len(multi.get(name, ())) > 1 for name in ("client_id", "request_uri")):
        raise AuthorizePage("error.authorize.invalid_request")
    ctx = Context(params=request.payload.data)
    check_client(ctx, provider)
    params = redeem(provider, request.payload.data["request_uri"], ctx.client.get_client_id())
    if params is None:
        raise AuthorizePage("error.authorize.request_uri_expired")
    url = urlunsplit(urlsplit(request.url)._replace(query="", fragment=""))
    return ProtocolRequest("GET", url, request.headers, {k: [v] for k, v in params.items()})


def arrived(provider, request: ProtocolRequest, *, resumed: bool) -> tuple[ProtocolRequest, bool]:
    """The request to answer, and whether its parameters were pushed. A resumed interaction's
    note is believed (it was made here, from a request these checks passed); a query's is not.
    A `request_uri` that is no PAR URN is left to `check_request_object` (not supported)."""
    if resumed:
        return request, request.payload.data.get(PUSHED) == "yes"
    uri = request.payload.data.get("request_uri")
    if isinstance(uri, str) and uri.startswith(REQUEST_URI_PREFIX):
        return pushed_request(provider, request), True
    return request, False


# -- the endpoint ----------------------------------------------------------------

def respond(provider, request: ProtocolRequest, signed_in: SignedIn | None, *, resumed: bool = False,
            just_signed_in: bool = False, chosen: bool = False, consented: bool = False):
    """A Reply (a redirect to the client), NeedsSignIn, NeedsConsent, or raise AuthorizePage.
    `resumed`: the request is an interaction's, waiting since it arrived (`arrived`);
    `chosen`: the person picked the account on the sign-in page (answers `select_account`);
    `consented`: they allowed this very request on the consent screen."""
    request, pushed = arrived(provider, request, resumed=resumed)
    params = request.payload.data
    ctx = Context(params=params, multi=request.payload.datalist, pushed=pushed)
    try:
        validate(provider, ctx)
        session = (signed_in.account, signed_in.auth_time) if signed_in else None
        # OIDC Core §3.1.2.1: `select_account` shows the page ("Signed in as … Continue").
        choosing = "select_account" in ctx.prompts and not (chosen or just_signed_in)
        if signed_in is not None and not choosing and session_satisfies(
                ctx, session, provider.now(), just_signed_in=just_signed_in):
            asked = consent.needed(client=ctx.client, account=signed_in.account, scope=params.get("scope"),
                                   prompts=ctx.prompts, consented=consented)
            if asked is None:
                return issue_code(provider, request, signed_in)
            if "none" in ctx.prompts:  # OIDC Core §3.1.2.6
                raise ConsentRequiredError("The person has not allowed this app.")
            return NeedsConsent(params=kept_params(params, pushed=ctx.pushed), client=ctx.client,
                                scopes=asked.scopes)
        if "none" in ctx.prompts:  # OIDC Core §3.1.2.6
            raise LoginRequiredError("The person is not signed in.")
    except OAuth2Error as error:
        if ctx.redirect_uri is None:  # not proven: no redirect (RFC 9700 §4.11.2)
            raise AuthorizePage("error.authorize.invalid_request") from None
        return redirect_error(provider, ctx.redirect_uri, params, error)
    return NeedsSignIn(params=kept_params(params, pushed=ctx.pushed), client=ctx.client,
                       login_hint=params.get("login_hint"), ui_locales=params.get("ui_locales"))


def issue_code(provider, request: ProtocolRequest, signed_in: SignedIn) -> Reply:
    """The code, through Authlib's grant; the grant's sign-in is noted for later (/api/me)."""
    principal = Principal(signed_in.account, int(signed_in.auth_time), tuple(signed_in.amr),
                          grant_id=secrets.token_hex(16))
    grant = provider.get_consent_grant(request, end_user=principal)
    reply = provider.create_authorization_response(request, grant_user=principal, grant=grant)
    # RFC 9207 §2: every authorization response names the issuer.
    if reply.status != 302 or not reply.location:
        raise AuthorizePage("error.authorize.invalid_request")
    provider.grants.note(principal.grant_id, {
        "login": signed_in.account.login, "client_id": request.payload.client_id,
        "method": signed_in.method, "detail": signed_in.detail, "auth_time": principal.auth_time,
        "session": signed_in.session,
    })
    return Reply(302, "", [("Location", add_query(reply.location, {"iss": provider.issuer}))])


def redirect_error(provider, redirect_uri: str, params: dict, error: OAuth2Error) -> Reply:
    """An OAuth error to the client's proven redirect URI, with `state` and `iss` (RFC 9207)."""
    body = dict(error.get_body())
    body.pop("state", None)
    state = params.get("state")
    if isinstance(state, str) and len(state) > MAX_LENGTH["state"]:
        state = None  # refused for its length: not echoed into the client's URL either
    result = {**body, "state": state, "iss": provider.issuer}
    return Reply(302, "", [("Location", add_query(redirect_uri, result))])
