"""Sign-in methods: one module each, one small interface (DESIGN: the sign-in flow).

A method runs its ceremony in two steps, `begin` and `complete`, and ends in a
`VerifiedIdentity` or a `SignInFailed`. It never creates a session or a token:
the web layer does that the same way for every method, so the protocol code
never learns how the person proved who they are. `REGISTRY` lists the methods
by name; `enabled(tenant)` the ones a tenant switched on.
"""

from dataclasses import dataclass, field
from typing import Protocol

from ..errors import Conflict, SignUpRefused


@dataclass(frozen=True)
class VerifiedIdentity:
    login: str
    method: str                 # the module's name, e.g. "magic_link"
    amr: tuple[str, ...]        # RFC 8176 values for the ID token
    auth_time: int
    detail: dict = field(default_factory=dict)   # e.g. which passkey
    interaction: str | None = None               # the authorization request to resume
    created: bool = False                        # the account was created by this sign-in


@dataclass
class SignInContext:
    """What a method may use: the tenant and its accounts, mail, limits, where links point."""

    tenant: object
    accounts: object
    mailer: object
    base_url: str
    client_ip: str
    language: str

    @property
    def store(self):
        return self.tenant.store

    def now(self) -> int:
        return int(self.tenant.store.clock())


class SignInMethod(Protocol):
    name: str

    def begin(self, ctx: SignInContext, **submitted): ...

    def complete(self, ctx: SignInContext, **submitted) -> VerifiedIdentity: ...


def may_sign_up(tenant, email: str) -> bool:
    """The tenant's sign-up policy: `open`, `domains` (listed domains) or `invite`."""
    policy = tenant.setting("signup", "policy", default="open")
    if policy == "open":
        return True
    if policy == "domains":
        domain = email.rsplit("@", 1)[-1]
        return domain in tenant.setting("signup", "domains", default=[])
    return False


def account_for_sign_up(ctx: SignInContext, email: str, language: str | None):
    """The account for a verified email, created now if the policy allows."""
    account = ctx.accounts.find_by_email(email)
    if account is not None:
        return account, False
    if not may_sign_up(ctx.tenant, email):
        raise SignUpRefused()
    try:
        return ctx.accounts.create(email=email, language=language), True
    except Conflict:  # a parallel sign-in created it a moment ago
        return ctx.accounts.find_by_email(email), False


from . import magic_link, passkey, password  # noqa: E402

REGISTRY = {magic_link.MagicLink.name: magic_link.MagicLink,
            passkey.PasskeySignIn.name: passkey.PasskeySignIn,
            password.PasswordSignIn.name: password.PasswordSignIn}


def enabled(tenant) -> dict:
    return {name: REGISTRY[name]() for name in tenant.setting("methods", default=[])
            if name in REGISTRY}
