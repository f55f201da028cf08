"""Magic-link sign-in: a one-time URL mailed through the tenant's SMTP pickup folder.

`begin` answers the same whether or not an account exists (no enumeration):
a known or admissible address gets a link, any other a note that there is no
account. The link is a one-time link of `codeb.invites` (signed token, only its
hash stored, five minutes, spent once). Opening it shows a button; only its
POST calls `complete`, so mail scanners that fetch links do not spend them.
`complete` also accepts an admin's account invitation and a sign-up link
(`codeb.signin.signup`), which open the same way. Those two complete whether or
not magic-link sign-in is on; a sign-in link of this method only while it is
on (`invites.LinkKind.needs_method`): switching magic links off stops the
links already mailed.
"""

from ..accounts import normalize_email
from ..accounts.profile import mailbox_of
from ..errors import AccountDisabled, SignInFailed
from ..invites import ACCOUNT, LINK_PATH, SIGNIN, SIGNUP, kind_of
from ..invites import issue as issue_link
from ..invites import peek as peek_link
from ..invites import take as take_link
from ..store import layout
from .base import (
    MAILED_PER_CLIENT,
    MAILED_PER_MAILBOX,
    Challenge,
    SignInContext,
    SignInMethod,
    VerifiedIdentity,
    hit_limits,
    submitted_field,
)
from .signup import account_for_sign_up, may_sign_up

LINK = SIGNIN
LINK_LIFETIME = LINK.lifetime
OPENS = (LINK, SIGNUP, ACCOUNT)  # the links `complete` accepts
PER_MAILBOX = MAILED_PER_MAILBOX  # the limits of every mailed link (`base`)
PER_CLIENT = MAILED_PER_CLIENT
THEN = ("passkey",)  # what the person asked to do right after the link
AMR = ("otp",)  # RFC 8176 §2: a one-time secret (here delivered by mail)


class MagicLink(SignInMethod):
    name = "magic_link"
    # Invitations and sign-up links stand on their own; `_usable` refuses this method's own
    # sign-in links once it is off.
    completes_while_disabled = True
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
        return Challenge(view="check_inbox", data={"email": email}, sent=True)

    def _usable(self, ctx: SignInContext, link):
        """The link, if its kind may complete now: a sign-in link only while this method is on."""
        kind = kind_of(link, OPENS)
        if kind.needs_method and kind.needs_method not in (ctx.tenant.setting("methods", default=[]) or ()):
            raise SignInFailed("error.link_signin_disabled")
        return link

    def peek(self, ctx: SignInContext, link) -> dict | None:
        """The pending link's record, without spending it (None if used or gone)."""
        return peek_link(ctx.store, self._usable(ctx, link), OPENS)

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        record = take_link(ctx.store, self._usable(ctx, submitted_field(submitted, "link")), OPENS)
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
