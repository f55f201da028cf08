"""Magic-link sign-in: a one-time URL mailed through the tenant's SMTP pickup folder.

`begin` answers the same whether or not an account exists (no enumeration):
a known or admissible address gets a link, any other a note that there is no
account. The link is a one-time link of `codeb.invites` (signed token, only its
hash stored, five minutes, spent once). Opening it shows a button; only its
POST calls `complete`, so mail scanners that fetch links do not spend them.
`complete` also accepts an admin's account invitation, which opens the same way.
"""

from ..accounts import normalize_email
from ..accounts.profile import mailbox_of
from ..errors import AccountDisabled, SignInFailed
from ..invites import ACCOUNT, LINK_PATH, LinkKind
from ..invites import issue as issue_link
from ..invites import peek as peek_link
from ..invites import take as take_link
from ..store import layout
from .base import Challenge, SignInContext, SignInMethod, VerifiedIdentity, hit_limits, submitted_field
from .signup import account_for_sign_up, may_sign_up

LINK_LIFETIME = 300
LINK = LinkKind("signin", salt="codeb.magic-link", lifetime=LINK_LIFETIME, prefix="")
OPENS = (LINK, ACCOUNT)  # the links `complete` accepts
# Rate limits, each (how many, per seconds). A mailbox is the address without its +tag
# and case (`Name+1@x` and `name+2@x` are one); a client is an IPv4 address or an IPv6 /64.
PER_MAILBOX = ((5, 900),)  # five links to one mailbox per quarter hour
PER_CLIENT = (
    (120, 60),             # a burst: two a second for a minute, then wait
    (600, 900),            # the ceiling: an office of 300 behind one NAT address signs in twice over
)
THEN = ("passkey",)  # what the person asked to do right after the link
AMR = ("otp",)  # RFC 8176 §2: a one-time secret (here delivered by mail)


class MagicLink(SignInMethod):
    name = "magic_link"
    completes_while_disabled = True  # a mailed link (and an invitation) stays good for its lifetime
    complete_failure_view = "problem"  # its `complete` is posted from the link's own page
    opens_links = True

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        """Send a link; `then="passkey"` asks to create a passkey right after it is used."""
        email = normalize_email(submitted_field(submitted, "email"))
        then = submitted.get("then") or None
        hit_limits(ctx.store, layout.MAGIC_PER_CLIENT, ctx.client_network, PER_CLIENT)
        hit_limits(ctx.store, layout.MAGIC_PER_ADDRESS, mailbox_of(email), PER_MAILBOX)
        account = ctx.accounts.find_by_email(email)
        language = (account and account.language) or ctx.language
        if (account and not account.disabled) or (account is None and may_sign_up(ctx.tenant, email)):
            link = issue_link(ctx.store, LINK, {
                "email": email,
                "interaction": submitted.get("i") or None,
                "language": language,
                "then": then if then in THEN else None,
            })
            ctx.mailer.send("magic_link", to=email, language=language, url=f"{ctx.base_url}{LINK_PATH}{link}",
                            minutes=LINK_LIFETIME // 60, new_account=account is None)
        else:
            ctx.mailer.send("no_account", to=email, language=language, url=f"{ctx.base_url}/signin")
        return Challenge(view="check_inbox", data={"email": email})

    def peek(self, ctx: SignInContext, link) -> dict | None:
        """The pending link's record, without spending it (None if used or gone)."""
        return peek_link(ctx.store, link, OPENS)

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        record = take_link(ctx.store, submitted_field(submitted, "link"), OPENS)
        if record is None:
            raise SignInFailed("error.link_used")
        account, created = account_for_sign_up(ctx, record["email"], record.get("language"))
        if account.disabled:
            raise AccountDisabled()
        if not account.email_verified:
            account = ctx.accounts.mark_email_verified(account.login)
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR,
                                auth_time=ctx.now(), interaction=record.get("interaction"),
                                created=created, detail={"then": record.get("then")})

    def usable_by(self, account) -> bool:
        return bool(account.email)
