"""Bearer tokens at the provider's own resources: `/userinfo`, and the office shell's API.

`verify_bearer` is the one check of an access token presented to this tenant:
signature, `typ`, issuer and lifetime (`tokens.verify_access_token`), then the
tenant, the grant not revoked, the account there and enabled, the token issued
after the account's `tokens_not_before` (disabling it, signing out everywhere:
the same second counts as before, as `iat` is whole seconds), and one rule of
the provider's own: a token of the office shell (the first-party browser app)
lives no longer than the browser session it came from, so signing out there
ends it everywhere, `/userinfo` included. Failures are RFC 6750 errors.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oidc.core import UserInfo

from . import dpop
from .clients import FIRST_PARTY
from .errors import BearerRequestInvalid, BearerRequired, InvalidTokenError, ScopeInsufficient
from .requests import ProtocolRequest
from .tokens import AccessClaims, InvalidToken, verify_access_token

INVALID = "The access token is not valid."


@dataclass(frozen=True)
class Bearer:
    """A verified access token: its claims, the account it names, and (where read) the note of
    the grant it came from: how the person signed in."""

    claims: AccessClaims
    account: Any  # codeb.accounts.Account; None for a client_credentials token (only `active_token` gives one)
    grant: dict


def claims_for(account, scope: str, tenant: str) -> UserInfo:
    """Claims about the account, filtered by the granted scope (OIDC Core §5.4)."""
    scopes = set((scope or "").split())
    info = UserInfo(sub=account.sub, tenant=tenant, roles=account.roles)
    if "profile" in scopes:
        info.update(name=account.display_name, preferred_username=account.login,
                    nickname=account.nickname, locale=account.language)
        info = UserInfo({k: v for k, v in info.items() if v is not None})
    if "email" in scopes:
        info.update(email=account.email, email_verified=account.email_verified)
    if "verified_identity" in scopes and account.identity_verified:
        info["verified_claims"] = verified_claims(account.identity_verified)
    return info


def verified_claims(verified: dict) -> dict:
    """That the person proved who they are, shaped as OpenID Connect for Identity Assurance's
    `verified_claims`: the trust framework (eIDAS), when, and the evidence (an EU Digital
    Identity Wallet's PID, its type and issuer). Only that: CodeB keeps none of the PID's
    values (codeb.signin.wallet), so `claims` vouches for none."""
    moment = datetime.fromtimestamp(int(verified.get("at", 0)), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"verification": {"trust_framework": "eidas", "assurance_level": "high", "time": moment,
                             "evidence": [{"type": "electronic_record",
                                           "record": {"type": str(verified.get("credential_type", "")),
                                                      "source": {"name": str(verified.get("issuer", ""))}}}]},
            "claims": {}}


def token_of(request: ProtocolRequest, realm: str) -> str:
    """The access token, from the header (RFC 6750 §2.1, RFC 9449 §7.1 `DPoP`) or, on POST, the
    form body (RFC 6750 §2.2)."""
    header = request.headers.get("Authorization") or ""
    in_body = request.form.get("access_token") if request.method == "POST" else None
    if header and in_body:
        raise BearerRequestInvalid("Use one way to send the token.", realm=realm)
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() in ("bearer", "dpop") else in_body
    if not token:
        raise BearerRequired(realm)
    return token


def active_token(provider, token: str, *, with_grant: bool = False) -> Bearer:
    """The token's Bearer if it is valid by the provider's own rules, whoever presents it and
    however (introspection asks this, RFC 7662 §2.2): signature, `typ`, issuer, lifetime, the
    tenant, the grant not revoked, then for a person's token the account and the shell's
    session rule, for a client_credentials token (no account) its client still allowed that
    grant. The grant's note is read only for the shell's own tokens (its rule needs it) or when
    the caller asks (`with_grant`), so a relying party's call costs no read."""
    try:
        claims = verify_access_token(token, keys=provider.keys.verifying, issuers=provider.issuers,
                                     now=provider.now())
    except InvalidToken:
        raise InvalidTokenError(INVALID, realm=provider.issuer) from None
    if claims.claims.get("tenant") != provider.tenant.name or provider.grants.is_revoked(claims.gid):
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    if claims.machine:
        client = provider.clients.get(claims.client_id)
        if client is None or not client.check_grant_type("client_credentials"):
            raise InvalidTokenError(INVALID, realm=provider.issuer)
        return Bearer(claims, None, {})
    account = provider.accounts.find_by_sub(claims.sub)
    if account is None or account.disabled or claims.claims["iat"] <= account.tokens_not_before:
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    first_party = claims.client_id == FIRST_PARTY
    grant = (provider.grants.get(claims.gid) or {}) if first_party or with_grant else {}
    if first_party and not provider.sessions.alive(grant.get("session"), account):
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    return Bearer(claims, account, grant)


def verify_bearer(provider, token: str, *, with_grant: bool = False, audience: str | None = None,
                  proof: "dpop.Proof | None" = None) -> Bearer:
    """The Bearer of a token presented to one of the provider's own resources, which serve
    people: an active token (`active_token`) of a person, for this resource if it serves one
    client only (`audience`: every other client's token is refused, RFC 9068 §4), and proven
    with its key if it is DPoP-bound (`proof`)."""
    bearer = active_token(provider, token, with_grant=with_grant)
    claims = bearer.claims
    if bearer.account is None:  # a client_credentials token: no person's resources
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    if audience is not None and not claims.meant_for(audience):
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    # RFC 9449 §7: a bound token only with a proof of its key (never as a bearer token), and a
    # proof only with a bound token.
    if (claims.jkt or proof) and (proof is None or claims.jkt != proof.jkt):
        raise InvalidTokenError(INVALID, realm=provider.issuer)
    return bearer


def verify_request(provider, request: ProtocolRequest, *, with_grant: bool = False,
                   audience: str | None = None) -> Bearer:
    token = token_of(request, provider.issuer)
    proof = dpop.resource_proof(provider, request, token)
    try:
        return verify_bearer(provider, token, with_grant=with_grant, audience=audience, proof=proof)
    except InvalidTokenError as error:
        if proof is None:
            raise
        # RFC 9449 §7.1: a request made with the DPoP scheme is answered with a DPoP challenge.
        raise dpop.ResourceChallenge("invalid_token", error.get_error_description()) from None


def userinfo(provider, request: ProtocolRequest) -> dict:
    """OIDC Core §5.3: the claims the token's scope allows; raises an OAuth2Error."""
    bearer = verify_request(provider, request)
    if "openid" not in bearer.claims.scope.split():
        raise ScopeInsufficient("The token lacks 'openid'.", realm=provider.issuer)
    return dict(claims_for(bearer.account, bearer.claims.scope, provider.tenant.name))
