"""The optional password, only where the tenant allows it (method `password`).

Wrong passwords slow down and then lock, per account and per client IP: after
three failures for an account (twenty from one IP) each further attempt must
wait twice as long as the one before (1 s, 2 s, 4 s … at most fifteen minutes),
after ten (fifty from one IP) it is locked for fifteen minutes. Failures are
forgotten half an hour after the last one. The answer never says whether the account exists: an unknown address
costs the same PBKDF2 work, counts failures the same way, and gets the same
message.

An attempt is counted as a failure before its password is checked, under the
counter's lock (`_admit`): parallel guesses each see the ones before them, so
no more than the free tries are ever verified at once. A right password then
clears the account's count and gives the client's attempt back.
"""

from ..accounts import normalize_email
from ..accounts.passwords import verify_password
from ..errors import AccountDisabled, BadInput, RateLimited, SignInFailed
from ..store import layout, secret_id
from .base import Challenge, SignInContext, SignInMethod, VerifiedIdentity, submitted_field
from .signup import refuse_if_company_only, unless_company_only

FREE_FAILURES = {"account": 3, "client": 20}
LOCK_AFTER = {"account": 10, "client": 50}
LOCK_SECONDS = 900
FORGET_AFTER = 2 * LOCK_SECONDS
AMR = ("pwd",)


class PasswordSignIn(SignInMethod):
    name = "password"
    takes_identifier = True  # identifier first: it can take the step after the email field

    def claims(self, ctx: SignInContext, identifier: str) -> bool:
        return unless_company_only(ctx, identifier)

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        """Identifier first: the page that asks for the password of the email given."""
        email = normalize_email(submitted_field(submitted, "email"))
        refuse_if_company_only(ctx, email)
        return Challenge(view="begin", data={"email": email})

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        email, password = submitted_field(submitted, "email"), submitted_field(submitted, "password")
        try:
            email = normalize_email(email)
        except BadInput:
            raise SignInFailed("error.password_wrong") from None
        refuse_if_company_only(ctx, email)
        self._admit(ctx, "account", email)
        try:
            self._admit(ctx, "client", ctx.client_ip)
        except RateLimited:
            self._give_back(ctx, "account", email)
            raise
        account = ctx.accounts.find_by_email(email)
        record = account.password if account else None
        if not verify_password(record, password):
            raise SignInFailed("error.password_wrong")  # already counted by _admit
        self._give_back(ctx, "client", ctx.client_ip)  # a right password is no failure
        self._failures(ctx).delete(self._rid("account", email))
        if account.disabled:
            raise AccountDisabled()
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR, auth_time=ctx.now())

    def usable_by(self, account) -> bool:
        return account.has_password

    @staticmethod
    def _failures(ctx):
        return ctx.store.transient(layout.PASSWORD_FAILURES)

    @staticmethod
    def _rid(kind: str, key: str) -> str:
        return secret_id(f"{kind}:{key}")

    def _admit(self, ctx, kind: str, key: str) -> None:
        """Let this attempt through and count it as a failure, in one step under the counter's
        lock; RateLimited (nothing counted) while the failures before it make it wait."""
        rid, records = self._rid(kind, key), self._failures(ctx)
        with records.lock(rid):
            record = records.get(rid) or {"count": 0, "last": 0}
            wait = self.wait_after(kind, record["count"]) - (ctx.now() - record["last"])
            if wait > 0:
                raise RateLimited(wait, "error.password_locked" if record["count"] >= LOCK_AFTER[kind]
                                  else "error.password_slow_down")
            records.put(rid, {"count": record["count"] + 1, "last": ctx.now()}, ttl=FORGET_AFTER)

    def _give_back(self, ctx, kind: str, key: str) -> None:
        """Un-count an attempt `_admit` counted that did not fail (right password, or refused elsewhere)."""
        rid, records = self._rid(kind, key), self._failures(ctx)
        with records.lock(rid):
            record = records.get(rid)
            if record is not None and record["count"] > 0:
                records.put(rid, {"count": record["count"] - 1, "last": record["last"]},
                            ttl=max(1, record["expires"] - ctx.now()))

    @staticmethod
    def wait_after(kind: str, failures: int) -> int:
        """Seconds an attempt must wait after `failures` consecutive failures."""
        if failures >= LOCK_AFTER[kind]:
            return LOCK_SECONDS
        if failures < FREE_FAILURES[kind]:
            return 0
        return min(2 ** (failures - FREE_FAILURES[kind]), LOCK_SECONDS)
