"""Signing up: its own step, apart from any sign-in method.

A person without an account enters their email (`begin`); if the tenant's
sign-up policy admits the address, a one-time sign-up link (`invites.SIGNUP`:
signed, stored as a hash, fifteen minutes, spent once) is mailed. Following it
ends in the magic-link module's `complete`, which proves the mailbox for every
kind of link and creates the account (`account_for_sign_up`); a sign-up link
completes whether or not magic-link sign-in is on. With passkeys on, the link
asks for a passkey right after it (`then="passkey"`, see `flow`).

`begin` answers the same whatever the address (no enumeration); only the mail
differs: a sign-up link, a sign-in link for an existing account (if magic-link
sign-in is on), a note that the account exists (otherwise), or the note that
this site admits no one new with this address.
"""

import hmac

from .. import audit
from ..accounts import normalize_email
from ..accounts.links import Links
from ..accounts.profile import mailbox_of
from ..errors import BadInput, Conflict, SignUpRefused
from ..invites import LINK_PATH, SIGNIN, SIGNUP
from ..invites import issue as issue_link
from ..store import layout, secret_id
from ..upstreams import Upstreams
from .base import MAILED_PER_CLIENT, MAILED_PER_MAILBOX, NotMine, hit_limits

PASSKEY = "passkey"      # `then`: the passkey ceremony right after the link


def policy_of(tenant) -> dict:
    """The sign-up policy the sign-in page states: `open`, `domains` (with the domains) or `invite`."""
    policy = tenant.setting("signup", "policy", default="open")
    domains = tenant.setting("signup", "domains", default=[]) if policy == "domains" else []
    return {"policy": policy, "domains": list(domains or ())}


def may_sign_up(tenant, email: str) -> bool:
    """The tenant's sign-up policy: `open`, `domains` (listed domains) or `invite`."""
    policy = tenant.setting("signup", "policy", default="open")
    if policy == "open":
        return True
    if policy == "domains":
        domain = email.rsplit("@", 1)[-1]
        return domain in tenant.setting("signup", "domains", default=[])
    return False


def send_no_account(ctx, email: str, language: str, *, disabled: bool = False) -> None:
    """The mail for an address that cannot sign in here: who asked, why there is no link, what
    to do (ask the admin; sign up with an address the policy admits, with the page's link), and
    that nothing needs doing if it was not you. `disabled`: the address's account is disabled."""
    policy = policy_of(ctx.tenant)
    ctx.mailer.send("no_account", to=email, language=language, email=email, disabled=disabled,
                    policy=policy["policy"], domains=", ".join(policy["domains"]),
                    url=f"{ctx.base_url}/signin")


def account_for_sign_up(ctx, email: str, language: str | None, proven: dict | None = None):
    """The account for a verified email, created now if the policy allows; (account, created).
    `proven` (a sign-up link's, `begin`): a new account created in the browser that proved it
    is linked to it too, its name prefilled; in any other browser the link only proves the
    mailbox, so a PID presented by someone else never reaches the account of who opens it."""
    account = ctx.accounts.find_by_email(email)
    if account is not None:
        return account, False
    if not may_sign_up(ctx.tenant, email):
        raise SignUpRefused()
    if proven and not (ctx.browser and hmac.compare_digest(proven.get("browser", ""), secret_id(ctx.browser))):
        proven = None
    try:
        account = ctx.accounts.create(email=email, language=language,
                                      display_name=(proven or {}).get("display_name") or None)
    except Conflict:  # a parallel sign-in created it a moment ago
        return ctx.accounts.find_by_email(email), False
    if proven and proven.get("link"):
        link = proven["link"]
        try:
            Links(ctx.accounts).link(account.login, link["upstream"], link["issuer"], link["subject"],
                                     verified=link.get("verified"))
        except Conflict:  # that identity was linked to another account meanwhile: this one goes without
            return account, True
        audit.append(ctx.store, "wallet.linked", login=account.login, sub=account.sub, name=link["name"])
        account = ctx.accounts.require(account.login)
    return account, True


def unless_company_only(ctx, identifier: str) -> bool:
    """`claims` of the methods that take an address (a mailed link, a password): NotMine for an
    address a company's identity provider claims for itself, so "Continue" does not offer them."""
    if Upstreams(ctx.store).only_way_for(identifier) is not None:
        raise NotMine("a company's identity provider claims this domain for itself")
    return True


def refuse_if_company_only(ctx, email: str) -> None:
    """An address of a domain a company's identity provider claims for itself signs in and up
    only through it (`Upstreams.only_way_for`): BadInput that names it."""
    upstream = Upstreams(ctx.store).only_way_for(email)
    if upstream is not None:
        raise BadInput("error.upstream.use_company", name=upstream["name"])


def begin(ctx, submitted, *, methods, interaction: str | None = None, proven: dict | None = None) -> dict:
    """Mail what fits the address (see the module doc); what the "check your mail" page shows.

    `methods` are the tenant's enabled sign-in methods, by name. `proven`: what else the person
    proved in this browser before asking (an EU Wallet's PID: `link`, `display_name`,
    `browser`); only a sign-up link carries it, so only a new account is ever linked to it
    (`account_for_sign_up`)."""
    email = normalize_email(submitted.get("email") if hasattr(submitted, "get") else None)
    refuse_if_company_only(ctx, email)
    # Counted like magic links (by mailbox and client network), on counters of their own.
    hit_limits(ctx.store, layout.SIGNUP_PER_CLIENT, ctx.client_network, MAILED_PER_CLIENT)
    hit_limits(ctx.store, layout.SIGNUP_PER_ADDRESS, mailbox_of(email), MAILED_PER_MAILBOX)
    account = ctx.accounts.find_by_email(email)
    language = (account and account.language) or ctx.language
    # With passkeys on, the ceremony follows the link (for an existing account too, if it has none).
    then = PASSKEY if PASSKEY in methods else None
    record = {"email": email, "interaction": interaction, "language": language, "then": then}
    if account is None and may_sign_up(ctx.tenant, email):
        link = issue_link(ctx.store, SIGNUP, {**record, "proven": proven} if proven else record)
        ctx.mailer.send("signup", to=email, language=language, url=f"{ctx.base_url}{LINK_PATH}{link}",
                        minutes=SIGNUP.lifetime // 60, passkey=then == PASSKEY)
    elif account is None:
        send_no_account(ctx, email, language)
    elif not account.disabled and SIGNIN.needs_method in methods:
        link = issue_link(ctx.store, SIGNIN, record)
        ctx.mailer.send("magic_link", to=email, language=language, url=f"{ctx.base_url}{LINK_PATH}{link}",
                        minutes=SIGNIN.lifetime // 60, new_account=False)
    else:
        ctx.mailer.send("account_exists", to=email, language=language, url=f"{ctx.base_url}/signin")
    return {"email": email}
