"""Signing up: a method that verified an email (or, later, an upstream identity) for which
no account exists yet creates one, if the tenant's sign-up policy allows it."""

from ..errors import Conflict, SignUpRefused


def may_sign_up(tenant, email: str) -> bool:
    """The tenant's sign-up policy: `open`, `domains` (listed domains) or `invite`."""
    policy = tenant.setting("signup", "policy", default="open")
    if policy == "open":
        return True
    if policy == "domains":
        domain = email.rsplit("@", 1)[-1]
        return domain in tenant.setting("signup", "domains", default=[])
    return False


def account_for_sign_up(ctx, email: str, language: str | None):
    """The account for a verified email, created now if the policy allows; (account, created)."""
    account = ctx.accounts.find_by_email(email)
    if account is not None:
        return account, False
    if not may_sign_up(ctx.tenant, email):
        raise SignUpRefused()
    try:
        return ctx.accounts.create(email=email, language=language), True
    except Conflict:  # a parallel sign-in created it a moment ago
        return ctx.accounts.find_by_email(email), False
