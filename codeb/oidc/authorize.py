"""The authorization endpoint as an ordered list of small checks.

Read top to bottom, `CHECKS` is the whole endpoint: the client and its exact
redirect URI come first, and until both are proven every failure is a page for
the person, never a redirect (RFC 9700 §4.11.2, RFC 6749 §4.1.2.1). After
that, failures go back to the client as OAuth errors with `state` and `iss`.
Then the browser session decides: a code at once, `login_required` for
`prompt=none`, or an interaction for the sign-in page.
"""

import re
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import scope_to_list
from joserfc import jwt
from joserfc.errors import JoseError

from ..errors import CodebError

PROMPTS = {"none", "login", "consent", "select_account"}
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
SINGLE_VALUED = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                 "prompt", "max_age", "code_challenge", "code_challenge_method",
                 "login_hint", "id_token_hint", "ui_locales")
# Parameters worth keeping while the person signs in; everything else is ignored.
KEPT = SINGLE_VALUED + ("response_mode",)


class AuthorizePage(CodebError):
    """A bad client or redirect URI: shown to the person, never redirected."""

    status = 400


@dataclass
class AuthorizeError(Exception):
    """An OAuth error for the client, sent to its verified redirect URI."""

    error: str
    description: str = ""


@dataclass
class Context:
    """What the checks learn about one authorization request."""

    params: dict
    multi: dict = field(default_factory=dict)  # parameter -> every value sent
    client: object = None
    redirect_uri: str | None = None
    prompts: set = field(default_factory=set)
    max_age: int | None = None
    hint_sub: str | None = None


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
            raise AuthorizeError("invalid_request", f"'{name}' appears more than once.")


def check_response_type(ctx: Context, provider) -> None:
    response_type = ctx.params.get("response_type")
    if not response_type:
        raise AuthorizeError("invalid_request", "Missing 'response_type'.")
    if response_type != "code":
        raise AuthorizeError("unsupported_response_type", "Only 'code' is supported.")
    mode = ctx.params.get("response_mode")
    if mode and mode != "query":
        raise AuthorizeError("invalid_request", "Only response_mode 'query' is supported.")


def check_request_object(ctx: Context, provider) -> None:
    # OIDC Core §6: an OP that does not support request objects says so.
    if "request" in ctx.params:
        raise AuthorizeError("request_not_supported", "Request objects are not supported.")
    if "request_uri" in ctx.params:
        raise AuthorizeError("request_uri_not_supported", "'request_uri' is not supported.")


def check_scope(ctx: Context, provider) -> None:
    scopes = scope_to_list(ctx.params.get("scope") or "") or []
    unknown = [s for s in scopes if s not in provider.scopes_supported]
    if unknown:
        raise AuthorizeError("invalid_scope", f"Unknown scope '{unknown[0]}'.")


def check_pkce(ctx: Context, provider) -> None:
    challenge = ctx.params.get("code_challenge")
    method = ctx.params.get("code_challenge_method")
    if challenge is None:
        if ctx.client.public:  # RFC 9700 §2.1.1: public clients MUST use PKCE
            raise AuthorizeError("invalid_request", "PKCE ('code_challenge') is required.")
        if method:
            raise AuthorizeError("invalid_request", "Missing 'code_challenge'.")
        return
    if method != "S256":
        raise AuthorizeError("invalid_request", "'code_challenge_method' must be S256.")
    if not CODE_CHALLENGE.fullmatch(challenge):
        raise AuthorizeError("invalid_request", "Malformed 'code_challenge'.")


def check_prompt(ctx: Context, provider) -> None:
    prompts = set((ctx.params.get("prompt") or "").split())
    if prompts - PROMPTS:
        raise AuthorizeError("invalid_request", "Unknown 'prompt' value.")
    if "none" in prompts and len(prompts) > 1:  # OIDC Core §3.1.2.1
        raise AuthorizeError("invalid_request", "'prompt=none' cannot be combined.")
    ctx.prompts = prompts


def check_max_age(ctx: Context, provider) -> None:
    raw = ctx.params.get("max_age")
    if raw is None or raw == "":
        return
    if not str(raw).isdigit() or len(str(raw)) > 10:
        raise AuthorizeError("invalid_request", "'max_age' must be a non-negative integer.")
    ctx.max_age = int(raw)


def check_id_token_hint(ctx: Context, provider) -> None:
    hint = ctx.params.get("id_token_hint")
    if not hint:
        return
    try:  # expired hints are fine (OIDC Core §3.1.2.1): only who it names matters
        token = jwt.decode(hint, provider.keys.verifying, algorithms=["RS256"])
    except (JoseError, ValueError):
        raise AuthorizeError("invalid_request", "'id_token_hint' is not an ID token of this provider.") from None
    if token.claims.get("iss") not in provider.issuers or not token.claims.get("sub"):
        raise AuthorizeError("invalid_request", "'id_token_hint' is not an ID token of this provider.")
    ctx.hint_sub = token.claims["sub"]


CHECKS = [
    check_client,
    check_redirect_uri,
    check_single_values,
    check_response_type,
    check_request_object,
    check_scope,
    check_pkce,
    check_prompt,
    check_max_age,
    check_id_token_hint,
]


def validate(provider, ctx: Context) -> Context:
    """Run every check in order; raise AuthorizePage or AuthorizeError on the first failure."""
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
    if ctx.max_age is not None and now - auth_time > ctx.max_age:  # OIDC Core §3.1.2.1
        return False
    return True


def kept_params(params: dict) -> dict:
    """The parameters an interaction stores while the person signs in."""
    return {k: params[k] for k in KEPT if params.get(k) is not None}
