"""Magic-link sign-in: a one-time URL mailed through the tenant's SMTP pickup folder.

`begin` answers the same whether or not an account exists (no enumeration):
a known or admissible address gets a link, any other a note that there is no
account. The link carries a random token signed with the tenant's session
secret (itsdangerous: garbage and old links fail before any disk access); the
store keeps only the token's SHA-256, for five minutes, and `take` spends it
exactly once. Opening the link shows a button; only its POST calls `complete`,
so mail scanners that fetch links do not spend them.
"""

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..errors import AccountDisabled, RateLimited, SignInFailed
from ..oidc.keys import session_secret
from ..store import secret_id
from ..users import normalize_email
from . import SignInContext, VerifiedIdentity, account_for_sign_up, may_sign_up

LINK_LIFETIME = 300
INVITE_LIFETIME = 7 * 86400  # an invitation waits a week for its person
INVITE_PREFIX = "i."
PER_ADDRESS = (5, 900)   # five links per address per quarter hour
PER_CLIENT = (20, 900)   # twenty requests per client IP per quarter hour
THEN = ("passkey",)  # what the person asked to do right after the link
AMR = ("otp",)  # RFC 8176 §2: a one-time secret (here delivered by mail)


@dataclass(frozen=True)
class LinkSent:
    email: str


def _serializer(ctx: SignInContext, salt: str = "codeb.magic-link") -> URLSafeTimedSerializer:
    clock = ctx.store.clock

    class Signer(TimestampSigner):  # link age by the tenant's clock, like the record's
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(session_secret(ctx.store), salt=salt, signer=Signer)


class MagicLink:
    name = "magic_link"

    def begin(self, ctx: SignInContext, *, email: str, interaction: str | None = None,
              then: str | None = None) -> LinkSent:
        """Send a link; `then="passkey"` asks to create a passkey right after it is used."""
        email = normalize_email(email)
        self._limit(ctx, "magic-client", ctx.client_ip, PER_CLIENT)
        self._limit(ctx, "magic-address", email, PER_ADDRESS)
        account = ctx.accounts.find_by_email(email)
        language = (account and account.language) or ctx.language
        if (account and not account.disabled) or (account is None and may_sign_up(ctx.tenant, email)):
            token = secrets.token_urlsafe(32)
            ctx.store.transient("magic-links").put(secret_id(token), {
                "email": email,
                "interaction": interaction,
                "language": language,
                "then": then if then in THEN else None,
            }, ttl=LINK_LIFETIME)
            url = f"{ctx.base_url}/link/{_serializer(ctx).dumps(token)}"
            ctx.mailer.send("magic_link", to=email, language=language, url=url,
                            minutes=LINK_LIFETIME // 60, new_account=account is None)
        else:
            ctx.mailer.send("no_account", to=email, language=language, url=f"{ctx.base_url}/signin")
        return LinkSent(email=email)

    @staticmethod
    def _limit(ctx: SignInContext, kind: str, key: str, rule: tuple[int, int]) -> None:
        wait = ctx.store.counter(kind).hit(key, *rule)
        if wait:
            raise RateLimited(wait)

    def invite(self, ctx: SignInContext, *, account, inviter: str) -> None:
        """Mail an admin-created account its invitation: a link valid for a week, used once."""
        token = secrets.token_urlsafe(32)
        language = account.language or ctx.language
        ctx.store.transient("magic-links").put(secret_id(token), {
            "email": account.email, "interaction": None, "language": language, "then": None,
        }, ttl=INVITE_LIFETIME)
        signed = _serializer(ctx, "codeb.invitation").dumps(token)
        ctx.mailer.send("invitation", to=account.email, language=language, inviter=inviter,
                        url=f"{ctx.base_url}/link/{INVITE_PREFIX}{signed}", days=INVITE_LIFETIME // 86400)

    @staticmethod
    def check_link(ctx: SignInContext, link: str) -> str:
        """The token inside a link, if its signature is good and it is not too old."""
        try:
            if isinstance(link, str) and link.startswith(INVITE_PREFIX):
                return _serializer(ctx, "codeb.invitation").loads(link[len(INVITE_PREFIX):],
                                                                   max_age=INVITE_LIFETIME)
            return _serializer(ctx).loads(link, max_age=LINK_LIFETIME)
        except SignatureExpired:
            raise SignInFailed("error.link_expired") from None
        except BadSignature:
            raise SignInFailed("error.link_invalid") from None

    @classmethod
    def peek(cls, ctx: SignInContext, link: str) -> dict | None:
        """The pending link's record, without spending it (None if used or gone)."""
        token = cls.check_link(ctx, link)
        return ctx.store.transient("magic-links").get(secret_id(token))

    def complete(self, ctx: SignInContext, *, link: str) -> VerifiedIdentity:
        token = self.check_link(ctx, link)
        record = ctx.store.transient("magic-links").take(secret_id(token))
        if record is None:
            raise SignInFailed("error.link_used")
        account, created = account_for_sign_up(ctx, record["email"], record.get("language"))
        if account.disabled:
            raise AccountDisabled()
        if not account.doc.get("email_verified"):
            account = ctx.accounts.mark_email_verified(account.login)
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR,
                                auth_time=ctx.now(), interaction=record.get("interaction"),
                                created=created, detail={"then": record.get("then")})
