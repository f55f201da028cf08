"""The hand-off: the first admin of a tenant just made goes from the host site's progress page
to the new tenant's admin console, signed in, without a second mail.

The protocol, in two halves that meet only in the new tenant's folder:

1. The host site (codeb.web.get_tenant), asked by the browser its sign-up request is
   bound to (its cookie's secret), `issue`s a token: 32 random bytes, stored only as
   their SHA-256 in the new tenant's transient records (`handoffs`), with the request
   it belongs to, the hash of that browser's secret, the admin's login and when the
   email was verified. It is valid for LIFETIME (one minute) and the browser is sent
   straight on to `https://<new host>/handoff?t=<tenant>.<token>`.
2. The tenant's `/handoff` (codeb.web.handoff) `redeem`s it: the tenant named in the
   token must be this one (a token of another tenant is told as such, and its record
   is never looked for here); the record is moved into `spent-handoffs` by one rename
   (exactly one caller ever gets it, in any process), then checked by `verify` (a pure
   function): spent already (a replay), expired, or good. A good one is the admin's
   verified identity; the web layer signs the browser in as every sign-in does
   (codeb.signin.flow.finish: a fresh session).

What the person proved is their mailbox, by the one-time link the sign-up page mailed
(opened a few minutes before): so `amr` is `otp` (RFC 8176 §2), as for the tenant's own
magic link, `auth_time` is when that link was opened, and the method is `handoff`.
The token is a bearer secret for one minute; what binds it to the browser is that only
the bound browser can have one made, and that it travels in that browser's own
redirect. It is never written to a log: the audit lines name the request.
"""

import secrets
from dataclasses import dataclass

from ..errors import SignInFailed
from ..store import layout, names, secret_id
from .base import VerifiedIdentity

LIFETIME = 60       # seconds a token can be redeemed
KEPT = 600          # seconds its record (and its spent marker) stay, so a late or second use is told
METHOD = "handoff"
AMR = ("otp",)
TOKEN_BYTES = 32
MAX_TOKEN = 200


@dataclass(frozen=True)
class Presented:
    tenant: str
    token: str


def issue(store, *, tenant: str, request_id: str, browser: str, login: str, verified_at: int) -> str:
    """A new hand-off token for `tenant` (whose store this is); what goes into the URL."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = int(store.clock())
    store.transient(layout.HANDOFFS).put(secret_id(token), {
        "tenant": tenant, "request": request_id, "browser": browser, "login": login,
        "verified_at": int(verified_at), "issued": now, "valid_until": now + LIFETIME}, ttl=KEPT)
    return f"{tenant}.{token}"


def parse(value) -> Presented:
    """The tenant and token of a presented `t` parameter; SignInFailed if it is none."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN or "." not in value:
        raise SignInFailed("error.handoff.invalid")
    tenant, _, token = value.partition(".")
    if not names.TENANT_PATTERN.fullmatch(tenant) or not token or not token.replace("-", "").replace("_", "").isalnum():
        raise SignInFailed("error.handoff.invalid")
    return Presented(tenant=tenant, token=token)


def verify(*, presented: Presented, expected_tenant: str, record: dict | None, taken: bool,
           now: float) -> VerifiedIdentity:
    """The checks, in order, of a token whose record was looked for (`record`: what the spent
    marker holds now, None if there is none) and moved by this caller (`taken`)."""
    if presented.tenant != expected_tenant:
        raise SignInFailed("error.handoff.other_tenant")
    if record is None or record.get("tenant") != expected_tenant:
        raise SignInFailed("error.handoff.invalid")
    if not taken:
        raise SignInFailed("error.handoff.used")
    if now > record.get("valid_until", 0):
        raise SignInFailed("error.handoff.expired")
    return VerifiedIdentity(login=record["login"], method=METHOD, amr=AMR,
                            auth_time=int(record.get("verified_at") or now),
                            detail={"request": record.get("request")})


def redeem(store, value, *, tenant: str) -> VerifiedIdentity:
    """Spend a presented token at `tenant` (whose store this is): its identity, or SignInFailed."""
    presented = parse(value)
    if presented.tenant != tenant:  # never looked up here: it is not this tenant's
        return verify(presented=presented, expected_tenant=tenant, record=None, taken=False, now=store.clock())
    rid = secret_id(presented.token)
    spent = store.transient(layout.SPENT_HANDOFFS)
    taken = store.transient(layout.HANDOFFS).move_to(rid, spent)
    return verify(presented=presented, expected_tenant=tenant, record=spent.get(rid), taken=taken,
                  now=store.clock())
