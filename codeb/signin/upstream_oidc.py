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

Which account the identity signs in, one rule (the issue's linking rule):

1. an account already linked to (issuer, subject) — the link is the identity;
2. else the account of the asserted email, only if the upstream says the email is
   verified (`email_verified` true), the admin marked the upstream authoritative,
   and the address is of one of its domains: then the identity is linked to it;
   an account of that email otherwise is never entered (error.upstream.not_linked);
3. else a new account under the tenant's sign-up policy, linked at once, its email
   verified when the upstream says so, its roles from the upstream's groups by the
   admin's mapping, and the first-sign-in screen prefilled with the upstream's name.

Home-realm discovery: `claims` takes an address whose domain an enabled upstream
claims, so "Continue" after the email goes straight there (with `login_hint`).
"""

import secrets

from .. import audit
from ..accounts import normalize_email
from ..accounts.links import Links
from ..accounts.profile import clean_display_name
from ..errors import AccountDisabled, BadInput, Conflict, SignInFailed, SignUpRefused
from ..store import layout, secret_id
from ..upstreams import Upstreams, redirect_uri
from ..upstreams.checks import UpstreamError
from .base import Challenge, NotMine, SignInContext, SignInMethod, VerifiedIdentity, hit_limits
from .signup import may_sign_up

REQUEST_LIFETIME = 600
# Requests one client network may send to upstreams, each (how many, per seconds): an office
# behind one NAT address signs in; a flood of request records does not fill the disk.
PER_CLIENT = ((120, 60), (900, 900))
AMR = ("fed",)  # RFC 8176 §2: federated authentication
# The RFC 8176 values an upstream's `amr` may add (anything else it sends is dropped).
UPSTREAM_AMR = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
                          "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"})
ERRORS = {  # the upstream's `error` parameter → what the person reads
    "access_denied": "error.upstream.denied",
    "login_required": "error.upstream.denied",
    "consent_required": "error.upstream.denied",
    "interaction_required": "error.upstream.denied",
}


def _requests(store):
    return store.transient(layout.UPSTREAM_REQUESTS)


class UpstreamOIDC(SignInMethod):
    name = "oidc"
    takes_identifier = True  # home-realm discovery: a claimed domain goes to its upstream
    stands_apart = True      # its buttons are forms of their own, not choices of the email form
    calls_back = True        # the upstream sends the browser back to GET /signin/oidc/callback

    def usable_by(self, account) -> bool:
        return bool(account.links)

    def page_part(self, tenant) -> dict:
        return {"upstreams": [{"id": u["id"], "name": u["name"]} for u in Upstreams(tenant.store).enabled()]}

    def claims(self, ctx: SignInContext, identifier: str) -> bool:
        if Upstreams(ctx.store).for_domain(identifier.rsplit("@", 1)[-1]) is None:
            raise NotMine("no upstream claims this domain")
        return True

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        upstreams = Upstreams(ctx.store)
        hint = submitted.get("email") if isinstance(submitted.get("email"), str) else None
        if "upstream" in submitted:
            upstream = upstreams.get(submitted["upstream"])
        elif hint:
            upstream = upstreams.for_domain(normalize_email(hint).rsplit("@", 1)[-1])
        else:
            raise NotMine("upstream")
        if upstream is None or not upstream.get("enabled", True):
            raise BadInput("error.upstream.unknown")
        hit_limits(ctx.store, layout.UPSTREAM_PER_CLIENT, ctx.client_network, PER_CLIENT)
        protocol = _protocol()
        try:
            metadata = protocol.discover(upstream["issuer"])
        except UpstreamError as error:
            raise self._failed(ctx, upstream, error.message_id, error.reason) from None
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        _requests(ctx.store).put(secret_id(state), {
            "upstream": upstream["id"], "nonce": nonce, "verifier": verifier,
            "browser": secret_id(ctx.browser) if ctx.browser else None,
            "interaction": submitted.get("i") or None, "created": ctx.now(),
        }, ttl=REQUEST_LIFETIME)
        url = protocol.authorization_url(upstream, metadata, redirect_uri=redirect_uri(ctx.base_url), state=state,
                                         nonce=nonce, code_verifier=verifier,
                                         login_hint=normalize_email(hint) if hint else None)
        return Challenge(data={}, redirect=url)

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        state = submitted.get("state")
        if not isinstance(state, str) or not 0 < len(state) <= 200:
            raise NotMine("state")
        record = _requests(ctx.store).take(secret_id(state))
        if record is None:  # never issued, expired, or spent: a replayed answer finds nothing
            raise self._failed(ctx, None, "error.upstream.expired", "unknown or spent state")
        if not ctx.browser or record.get("browser") != secret_id(ctx.browser):
            raise self._failed(ctx, None, "error.upstream.expired", "state of another browser")
        upstream = Upstreams(ctx.store).get(record["upstream"])
        if upstream is None or not upstream.get("enabled", True):
            raise self._failed(ctx, None, "error.upstream.unknown", "the upstream is gone or off")
        try:
            claims = self._verified_claims(ctx, upstream, record, submitted)
        except UpstreamError as error:
            raise self._failed(ctx, upstream, error.message_id, error.reason) from None
        account, created = self._account(ctx, upstream, claims)
        if account.disabled:
            raise AccountDisabled()
        sent_amr = claims.get("amr")
        sent_amr = sent_amr if isinstance(sent_amr, list) else []
        return VerifiedIdentity(
            login=account.login, method=self.name, auth_time=ctx.now(),
            amr=AMR + tuple(sorted({a for a in sent_amr if a in UPSTREAM_AMR})),
            detail={"upstream": upstream["id"], "upstream_name": upstream["name"]},
            interaction=record.get("interaction"), created=created)

    # -- the checks --------------------------------------------------------------------

    def _verified_claims(self, ctx, upstream: dict, record: dict, submitted) -> dict:
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
                                       code_verifier=record["verifier"])
        keys = protocol.key_set(metadata, kid=protocol.kid_of(token["id_token"]))
        claims = protocol.verify_id_token(
            token["id_token"], metadata=metadata, keys=keys,
            client_id=upstream["client_id"], nonce=record["nonce"], now=ctx.now(),
            tenant_ids=upstream.get("tenant_ids", ()))
        if metadata.get("userinfo_endpoint") and isinstance(token.get("access_token"), str):
            wanted = upstream["claims"]
            if not all(wanted[k] in claims for k in ("email", "name")):
                claims = {**protocol.userinfo(metadata, token["access_token"], sub=claims["sub"]), **claims}
        return claims

    def _account(self, ctx, upstream: dict, claims: dict):
        """(account, created) by the module's linking rule."""
        links = Links(ctx.accounts)
        issuer = claims["iss"]
        linked = links.find(issuer, claims["sub"])
        if linked is not None:
            return linked, False
        mapping = upstream["claims"]
        try:
            email = normalize_email(claims.get(mapping["email"]))
        except BadInput:
            raise self._failed(ctx, upstream, "error.upstream.no_email", "no usable email claim") from None
        verified = claims.get("email_verified") is True
        domain = email.rsplit("@", 1)[-1]
        existing = ctx.accounts.find_by_email(email)
        if existing is not None:
            if existing.disabled:
                raise AccountDisabled()  # not linked either
            if not (verified and upstream.get("authoritative") and domain in upstream.get("domains", ())):
                raise self._failed(ctx, upstream, "error.upstream.not_linked",
                                   f"an account of {email} exists; email verified: {verified}, authoritative: "
                                   f"{bool(upstream.get('authoritative'))}")
            self._link(ctx, links, existing.login, upstream, issuer, claims["sub"])
            audit.append(ctx.store, "upstream.linked", login=existing.login, sub=existing.sub,
                         upstream=upstream["id"], name=upstream["name"], by="email")
            return existing, False
        if not may_sign_up(ctx.tenant, email):
            raise SignUpRefused("error.upstream.no_account")
        roles = ["user"] + sorted({role for group, role in upstream.get("roles", {}).items()
                                   if group in _groups(claims.get(mapping["groups"]))})
        try:
            name = clean_display_name(claims.get(mapping["name"]))
        except BadInput:
            name = None  # none given, or not one to show: the person types theirs at the first sign-in
        try:
            account = ctx.accounts.create(email=email, roles=roles, display_name=name, language=ctx.language,
                                          email_verified=verified)
        except Conflict:
            raise self._failed(ctx, upstream, "error.upstream.not_linked", "an account of the email appeared") from None
        self._link(ctx, links, account.login, upstream, issuer, claims["sub"])
        return ctx.accounts.require(account.login), True

    def _link(self, ctx, links: Links, login: str, upstream: dict, issuer: str, subject: str) -> None:
        try:
            links.link(login, upstream, issuer, subject)
        except Conflict:
            raise self._failed(ctx, upstream, "error.upstream.linked_elsewhere", "identity linked elsewhere") from None

    def _failed(self, ctx, upstream: dict | None, message_id: str, reason: str) -> SignInFailed:
        audit.append(ctx.store, "upstream.refused", upstream=upstream["id"] if upstream else None,
                     name=upstream["name"] if upstream else None, reason=reason[:300], ip=ctx.client_ip)
        return SignInFailed(message_id)


def _protocol():
    """`codeb.upstreams.oidc`: requests, Authlib's client and joserfc load at the first company
    sign-in, not when the app starts (tests/structure/test_startup.py)."""
    from ..upstreams import oidc  # noqa: PLC0415 -- at first use (see above)

    return oidc


def _groups(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {g for g in value if isinstance(g, str)} if isinstance(value, list) else set()

