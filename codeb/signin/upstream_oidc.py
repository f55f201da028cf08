"""Sign in with the company's identity provider over OpenID Connect ("Sign in with Acme").

`begin` sends the browser to the upstream (`codeb.upstreams.oidc` builds the
request) after filing what the answer must match: a *request record* under the
hash of its `state` (ten minutes, taken once), holding the upstream, the
`nonce`, the PKCE verifier, the waiting authorization request and the browser
it was made for (the hash of its session's CSRF token). The upstream sends the
browser back to `GET /signin/oidc/callback`, which the web layer hands to
`complete`: the record is taken (a replayed or forged `state` finds none), must
belong to this browser, then the response's `iss` (RFC 9207), the code exchange
and the ID token are checked, every refusal audited with its exact reason.

Which account the identity signs in: one rule for every protocol (`codeb.signin.federation`).

Signing out of CodeB offers to sign out at the provider too when its discovery names an
`end_session_endpoint` (RP-Initiated Logout: the ID token as `id_token_hint`, back to
`/signin/oidc/signed-out`).

Home-realm discovery: `claims` takes an address whose domain an enabled OIDC upstream
claims, so "Continue" after the email goes straight there (with `login_hint`).
"""

import secrets
from urllib.parse import urlencode

from ..store import layout, secret_id
from ..upstreams import Upstreams, redirect_uri, signed_out_url
from ..upstreams.checks import UpstreamError, check_url
from .base import Challenge, NotMine, SignInContext, VerifiedIdentity
from .federation import REQUEST_LIFETIME, Asserted, Federated

ERRORS = {  # the upstream's `error` parameter → what the person reads
    "access_denied": "error.upstream.denied",
    "login_required": "error.upstream.denied",
    "consent_required": "error.upstream.denied",
    "interaction_required": "error.upstream.denied",
}


def _requests(store):
    return store.transient(layout.UPSTREAM_REQUESTS)


class UpstreamOIDC(Federated):
    name = "oidc"
    kind = "oidc"

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        upstream, hint = self.chosen_upstream(ctx, submitted)
        protocol = _protocol()
        try:
            metadata = protocol.discover(upstream["issuer"])
        except UpstreamError as error:
            raise self.failed(ctx, upstream, error.message_id, error.reason) from None
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        _requests(ctx.store).put(secret_id(state), {
            "upstream": upstream["id"], "nonce": nonce, "verifier": verifier,
            "browser": secret_id(ctx.browser) if ctx.browser else None,
            "interaction": submitted.get("i") or None, "link_to": ctx.linking, "created": ctx.now(),
        }, ttl=REQUEST_LIFETIME)
        url = protocol.authorization_url(upstream, metadata, redirect_uri=redirect_uri(ctx.base_url), state=state,
                                         nonce=nonce, code_verifier=verifier, login_hint=hint)
        return Challenge(data={}, redirect=url)

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        state = submitted.get("state")
        if not isinstance(state, str) or not 0 < len(state) <= 200:
            raise NotMine("state")
        record = _requests(ctx.store).take(secret_id(state))
        if record is None or "nonce" not in record:  # never issued, expired, spent, or not an OIDC request
            raise self.failed(ctx, None, "error.upstream.expired", "unknown or spent state")
        if not ctx.browser or record.get("browser") != secret_id(ctx.browser):
            raise self.failed(ctx, None, "error.upstream.expired", "state of another browser")
        upstream = Upstreams(ctx.store).get(record["upstream"])
        interaction = record.get("interaction")
        if upstream is None or not upstream.get("enabled", True) or upstream.get("kind", "oidc") != self.kind:
            raise self.failed(ctx, None, "error.upstream.unknown", "the upstream is gone or off",
                              interaction=interaction)
        try:
            claims, id_token, metadata = self._verified_claims(ctx, upstream, record, submitted)
        except UpstreamError as error:
            raise self.failed(ctx, upstream, error.message_id, error.reason, interaction=interaction) from None
        mapping = upstream["claims"]
        sent_amr = claims["amr"] if isinstance(claims.get("amr"), list) else []
        return self.identity(ctx, upstream, Asserted(
            issuer=claims["iss"], subject=claims["sub"], email=claims.get(mapping["email"]),
            email_verified=claims.get("email_verified") is True, name=claims.get(mapping["name"]),
            login=claims.get(mapping.get("login", "preferred_username")),
            groups=claims.get(mapping["groups"]), amr=tuple(a for a in sent_amr if isinstance(a, str))), interaction,
            record.get("link_to"), logout={"id_token": id_token} if metadata.get("end_session_endpoint") else None)

    def sign_out_url(self, ctx: SignInContext, upstream: dict, kept: dict, *, state: str) -> tuple[str, dict] | None:
        """OpenID Connect RP-Initiated Logout 1.0 §2, when discovery names an end_session_endpoint."""
        endpoint = _protocol().discover(upstream["issuer"]).get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        check_url(endpoint, "the end_session_endpoint")
        query = urlencode({"id_token_hint": kept["id_token"], "client_id": upstream["client_id"], "state": state,
                           "post_logout_redirect_uri": signed_out_url(ctx.base_url, self.kind)})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", {}

    def signed_out(self, ctx: SignInContext, upstream: dict, logout: dict, submitted) -> bool:
        return True  # the provider sends the browser to the post-logout redirect URI once it is done

    # -- the checks --------------------------------------------------------------------

    def _verified_claims(self, ctx, upstream: dict, record: dict, submitted) -> tuple[dict, str, dict]:
        """(the ID token's claims, with userinfo's where needed; the ID token; the discovery document)."""
        protocol = _protocol()
        metadata = protocol.discover(upstream["issuer"])
        protocol.check_response_issuer(submitted, metadata, metadata["issuer"])
        if submitted.get("error"):
            error = str(submitted["error"])[:60]
            raise UpstreamError(ERRORS.get(error, "error.upstream.refused"), f"the upstream answered {error}")
        code = submitted.get("code")
        if not isinstance(code, str) or not 0 < len(code) <= 4096:
            raise UpstreamError("error.upstream.refused", "the response has no code")
        token = protocol.exchange_code(upstream, metadata, redirect_uri=redirect_uri(ctx.base_url), code=code,
                                       code_verifier=record["verifier"],
                                       key=protocol.assertion_key(ctx.store, upstream))
        keys = protocol.key_set(metadata, kid=protocol.kid_of(token["id_token"]))
        claims = protocol.verify_id_token(
            token["id_token"], metadata=metadata, keys=keys,
            client_id=upstream["client_id"], nonce=record["nonce"], now=ctx.now(),
            tenant_ids=upstream.get("tenant_ids", ()))
        if metadata.get("userinfo_endpoint") and isinstance(token.get("access_token"), str):
            wanted = upstream["claims"]
            if not all(wanted[k] in claims for k in ("email", "name")):
                claims = {**protocol.userinfo(metadata, token["access_token"], sub=claims["sub"]), **claims}
        return claims, token["id_token"], metadata


def _protocol():
    """`codeb.upstreams.oidc`: requests, Authlib's client and joserfc load at the first company
    sign-in, not when the app starts (tests/structure/test_startup.py)."""
    from ..upstreams import oidc  # noqa: PLC0415 -- at first use (see above)

    return oidc

