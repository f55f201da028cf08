"""Magic-link sign-in: a one-time URL and code mailed through the tenant's SMTP pickup folder.

`begin` answers the same whether or not an account exists (no enumeration):
a known or admissible address gets a link and a code, any other a note that
explains why there is none. The link is a one-time link of `codeb.invites`
(signed token, only its hash stored, five minutes, spent once). Opening it
shows a button; only its POST calls `complete`, so mail scanners that fetch
links do not spend them. `complete` also accepts an admin's account invitation
and a sign-up link (`codeb.signin.signup`), which open the same way. Those two
complete whether or not magic-link sign-in is on; a sign-in link of this method
only while it is on (`invites.LinkKind.needs_method`): switching magic links
off stops the links already mailed.

The waiting browser. Every `begin` also opens a *pending sign-in*
(`transient/magic-pending/`, the link's five minutes) bound to the browser that
asked: the hash of its session's CSRF token, which only that browser sends.
Its "check your inbox" tab polls `status` for it and may finish it in two ways:

- **The link opened elsewhere.** This is the classic cross-device hole: an
  attacker asks for a link for the victim's address in the attacker's browser
  and waits for the victim to click it. So opening the link in a browser other
  than the asking one never signs the asking browser in by itself. The opening
  browser is signed in, as always (it holds the mailbox). Its page also shows
  who asked (browser and system from the User-Agent, the approximate time, the
  app) and asks "Was this you? Also sign in that device" with number matching:
  the waiting tab shows a two-digit number, the opening page offers three, and
  only a pick of the right one approves the pending sign-in. A wrong pick, or
  "this device only", refuses it, and the waiting tab says so. Once approved,
  the waiting tab's poll sees `approved` and posts `pending` to `complete`,
  which hands over the pending sign-in once (`take`): the waiting browser gets
  a session of its own, never the opener's. The authorization request that was
  waiting (the app) then belongs to the asking browser; without approval it
  stays with the opener, as before. The same browser (same session) opening the
  link simply continues; its waiting tab learns that it is signed in.
- **The code typed into the waiting tab.** The mail also carries a one-time
  code, valid as long as the link and spent together with it (whichever is used
  first takes the link's record; the other then fails). It completes only the
  pending sign-in of the browser it is typed into. Eight characters of
  Crockford's base 32 (40 bits; `O`/`I`/`L` read as `0`/`1`/`1`, no `U`) rather
  than six digits: an attacker who asks for codes for someone else's address
  gets CODE_ATTEMPTS guesses per pending sign-in and, by the per-mailbox limit,
  at most five pending sign-ins per quarter hour, which with six digits adds up
  to a fair chance over months (5 x 5 x 96 a day / 10^6), with 2^40 to none
  (about 2 x 10^-9 a day). Stored as an HMAC-SHA-256 under a key derived from
  the tenant's session secret and the pending sign-in's id (no plain code on
  disk, and no two pending sign-ins share a key), compared in constant time;
  CODE_ATTEMPTS wrong codes end the pending sign-in, and code attempts are
  counted per client network like the mails.

"Resend" mails a new link and code for the same address, no sooner than
RESEND_AFTER after the last one: the per-mailbox limit spread evenly.
"""

import hashlib
import hmac
import re
import secrets
from typing import TypeGuard

from ..accounts import normalize_email
from ..accounts.profile import mailbox_of
from ..accounts.sessions import describe_agent
from ..errors import AccountDisabled, NotFound, SignInFailed, TooEarly
from ..invites import ACCOUNT, LINK_PATH, SIGNIN, SIGNUP, kind_of, record_id, take_record
from ..invites import issue as issue_link
from ..invites import peek as peek_link
from ..invites import take as take_link
from ..store import layout, secret_id
from ..tenants.secrets import session_secret
from . import interactions
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
from .signup import account_for_sign_up, may_sign_up, refuse_if_company_only, send_no_account, unless_company_only

LINK = SIGNIN
LINK_LIFETIME = LINK.lifetime
OPENS = (LINK, SIGNUP, ACCOUNT)  # the links `complete` accepts
PER_MAILBOX = MAILED_PER_MAILBOX  # the limits of every mailed link (`base`)
PER_CLIENT = MAILED_PER_CLIENT
THEN = ("passkey",)  # what the person asked to do right after the link
AMR = ("otp",)  # RFC 8176 §2: a one-time secret (here delivered by mail)

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
CODE_LENGTH = 8
CODE_ATTEMPTS = 5
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
RESEND_AFTER = max(window // limit for limit, window in PER_MAILBOX)  # 900 s / 5 mails: 180 s
POLL_INTERVAL = 3  # seconds between the waiting tab's polls
PENDING_ID = re.compile(r"[0-9a-f]{32}")

# What a pending sign-in is: waiting for its link or code; approved by the number picked on
# the device that opened the link; refused there; signed in (the link opened in the asking
# browser itself); locked by wrong codes; used (its code was typed); expired (gone).
WAITING, APPROVED, REFUSED, SIGNED_IN, LOCKED, USED, EXPIRED = (
    "waiting", "approved", "refused", "signed_in", "locked", "used", "expired")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown_code(code: str) -> str:
    """The code as the mail shows it: two groups of four, easier to read and type."""
    return f"{code[:4]}-{code[4:]}"


def read_code(typed) -> str | None:
    """The code a person typed, as issued: case, spaces and the hyphen ignored, O/I/L read
    as 0/1/1 (Crockford); None if it cannot be a code at all."""
    if not isinstance(typed, str) or len(typed) > 4 * CODE_LENGTH:
        return None
    code = "".join(typed.split()).upper().translate(READ_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def code_digest(store, pid: str, code: str) -> str:
    """HMAC-SHA-256 of a code under a key of its own pending sign-in (tenant secret + id)."""
    key = hmac.new(session_secret(store), b"codeb.magic-code:" + pid.encode("ascii"), hashlib.sha256).digest()
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def match_numbers() -> tuple[int, list[int]]:
    """The waiting tab's two-digit number and the three the opening page offers (it among them)."""
    numbers = secrets.SystemRandom().sample(range(10, 100), 3)
    return numbers[0], sorted(numbers)


def _pending(store):
    return store.transient(layout.MAGIC_PENDING)


def _record_id(pid) -> str | None:
    return secret_id(pid) if isinstance(pid, str) and PENDING_ID.fullmatch(pid) else None


def _browser_id(ctx: SignInContext) -> str | None:
    return secret_id(ctx.browser) if ctx.browser else None


def _bound(record: dict | None, ctx: SignInContext) -> TypeGuard[dict]:
    """Whether the pending record belongs to the browser of `ctx` (constant-time compare)."""
    browser = _browser_id(ctx)
    return bool(record and browser and record.get("browser")
                and hmac.compare_digest(record["browser"], browser))


def asked_by(agent: str) -> dict:
    browser, system = describe_agent(agent)
    return {"browser": browser, "system": system}


class MagicLink(SignInMethod):
    name = "magic_link"
    # Invitations and sign-up links stand on their own; `_usable` refuses this method's own
    # sign-in links once it is off.
    completes_while_disabled = True
    complete_failure_view = "problem"  # its `complete` is posted from the link's own page
    opens_links = True
    takes_identifier = True  # identifier first: it can take the step after the email field

    # -- asking -------------------------------------------------------------------------

    def claims(self, ctx: SignInContext, identifier: str) -> bool:
        return unless_company_only(ctx, identifier)

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        """Send a link and code; `then="passkey"` asks to create a passkey right after it is used."""
        email = normalize_email(submitted_field(submitted, "email"))
        refuse_if_company_only(ctx, email)
        then = submitted.get("then") or None
        hit_limits(ctx.store, layout.MAGIC_PER_CLIENT, ctx.client_network, PER_CLIENT)
        hit_limits(ctx.store, layout.MAGIC_PER_ADDRESS, mailbox_of(email), PER_MAILBOX)
        interaction = submitted.get("i") or None
        pid = self._send(ctx, email, interaction=interaction, then=then if then in THEN else None)
        return Challenge(view="check_inbox", sent=True,
                         data={"email": email, "waiting_id": pid, "then": then if then in THEN else None})

    def _send(self, ctx: SignInContext, email: str, *, interaction, then) -> str:
        """Mail what fits the address and open the asking browser's pending sign-in; its id."""
        account = ctx.accounts.find_by_email(email)
        language = (account and account.language) or ctx.language
        waiting = interactions.get(ctx.store, interaction) if interaction else None
        pid, now = secrets.token_hex(16), ctx.now()
        number, choices = match_numbers()
        pending = {"browser": _browser_id(ctx), "asked": now, "agent": asked_by(ctx.agent),
                   "client": waiting["client_name"] if waiting else None, "number": number,
                   "choices": choices, "interaction": interaction, "then": then, "state": WAITING,
                   "attempts": 0, "code": None, "link": None}
        if (account and not account.disabled) or (account is None and may_sign_up(ctx.tenant, email)):
            code = new_code()
            link = issue_link(ctx.store, LINK, {"email": email, "interaction": interaction,
                                                "language": language, "then": then, "pending": pid})
            pending.update(code=code_digest(ctx.store, pid, code), link=record_id(ctx.store, link, (LINK,)))
            _pending(ctx.store).put(secret_id(pid), pending, ttl=LINK_LIFETIME)
            ctx.mailer.send("magic_link", to=email, language=language, url=f"{ctx.base_url}{LINK_PATH}{link}",
                            code=shown_code(code), minutes=LINK_LIFETIME // 60, new_account=account is None,
                            client=pending["client"], agent=pending["agent"], asked=now)
        else:
            # The same page and the same pending sign-in: only the mail tells there is no link.
            _pending(ctx.store).put(secret_id(pid), pending, ttl=LINK_LIFETIME)
            send_no_account(ctx, email, language, disabled=bool(account and account.disabled))
        return pid

    def resend(self, ctx: SignInContext, sent: dict) -> Challenge:
        """"Resend" on the check-inbox page: `sent` is what `begin` handed that page. A new link
        and code for the same address, no sooner than RESEND_AFTER after the last (TooEarly);
        the previous pending sign-in ends, so only the newest code works."""
        rid = _record_id(sent.get("waiting_id"))
        previous = _pending(ctx.store).get(rid) if rid else None
        if _bound(previous, ctx):
            wait = int(previous["asked"]) + RESEND_AFTER - ctx.now()
            if wait > 0:
                raise TooEarly(wait, "error.magic.resend_too_early")
        challenge = self.begin(ctx, {"email": sent.get("email"), "i": sent.get("i"), "then": sent.get("then")})
        if rid and _bound(previous, ctx):
            _pending(ctx.store).delete(rid)
        return challenge

    # -- the waiting tab ------------------------------------------------------------------

    def waiting(self, ctx: SignInContext, pid) -> dict | None:
        """What the check-inbox page shows of its pending sign-in (None if not this browser's)."""
        rid = _record_id(pid)
        record = _pending(ctx.store).get(rid) if rid else None
        if not _bound(record, ctx):
            return None
        return {"number": record["number"], "state": record["state"], "reason": record.get("reason"),
                "now": ctx.now(),
                "expires": int(record["expires"]), "resend_at": int(record["asked"]) + RESEND_AFTER,
                "attempts_left": CODE_ATTEMPTS - int(record.get("attempts", 0)), "interval": POLL_INTERVAL}

    def status(self, ctx: SignInContext, pid, *, signed_in_by: str | None = None) -> dict:
        """The poll's answer for the browser of `ctx`: its pending sign-in's state (and why it
        was refused); `expired` for one that is gone or belongs to another browser.
        `signed_in_by`: the pending sign-in whose link signed this browser's session in (the
        link opened in another tab of the asking browser): that tab's page is done."""
        if signed_in_by and signed_in_by == pid:
            return {"state": SIGNED_IN}
        shown = self.waiting(ctx, pid)
        if shown is None:
            return {"state": EXPIRED}
        answer = {"state": shown["state"], "expires": shown["expires"]}
        if shown["state"] == REFUSED:
            answer["reason"] = shown["reason"]
        return answer

    # -- the page of an opened link ---------------------------------------------------------

    def _usable(self, ctx: SignInContext, link):
        """The link, if its kind may complete now: a sign-in link only while this method is on."""
        kind = kind_of(link, OPENS)
        if kind.needs_method and not self._enabled(ctx):
            raise SignInFailed("error.link_signin_disabled")
        return link

    def _enabled(self, ctx: SignInContext) -> bool:
        return self.name in (ctx.tenant.setting("methods", default=[]) or ())

    def peek(self, ctx: SignInContext, link) -> dict | None:
        """The pending link's record, without spending it (None if used or gone)."""
        return peek_link(ctx.store, self._usable(ctx, link), OPENS)

    def asker(self, ctx: SignInContext, record: dict) -> dict | None:
        """Who asked for this link, if it was another browser than the one of `ctx` that opened
        it and its sign-in still waits: what the page shows before "Also sign in that device"."""
        rid = _record_id(record.get("pending"))
        pending = _pending(ctx.store).get(rid) if rid else None
        if pending is None or pending["state"] != WAITING or _bound(pending, ctx):
            return None
        return {"agent": pending["agent"], "asked": pending["asked"], "client": pending.get("client"),
                "choices": pending["choices"]}

    # -- completing --------------------------------------------------------------------------

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        if isinstance(submitted, dict) and "code" in submitted:
            return self._by_code(ctx, submitted)
        if isinstance(submitted, dict) and "pending" in submitted and "link" not in submitted:
            return self._approved(ctx, submitted)
        return self._by_link(ctx, submitted)

    def _by_link(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        record = take_link(ctx.store, self._usable(ctx, submitted_field(submitted, "link")), OPENS)
        if record is None:
            raise SignInFailed("error.link_used")
        account, created = account_for_sign_up(ctx, record["email"], record.get("language"), record.get("proven"))
        if account.disabled:
            raise AccountDisabled()
        if not account.email_verified:
            account = ctx.accounts.mark_email_verified(account.login)
        outcome = self._answer_asker(ctx, record.get("pending"), submitted.get("match"), account.login)
        # Approved: the app that was waiting and the passkey asked for belong to the asking device.
        handed_over = outcome == APPROVED
        detail = {"then": None if handed_over else record.get("then")}
        if outcome == SIGNED_IN:
            detail["pending"] = record["pending"]  # the waiting tab of this browser sees it signed in
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR, auth_time=ctx.now(),
                                interaction=None if handed_over else record.get("interaction"),
                                created=created, detail=detail)

    def _answer_asker(self, ctx: SignInContext, pid, match, login: str) -> str | None:
        """Settle the pending sign-in of a link just used: the asking browser itself; approved
        by the right number; refused by a wrong one or by none ("this device only")."""
        rid = _record_id(pid)
        if rid is None:
            return None
        try:
            with _pending(ctx.store).update(rid) as pending:
                if pending["state"] != WAITING:
                    return None
                if _bound(pending, ctx):
                    pending["state"] = SIGNED_IN
                elif isinstance(match, str) and match.isdigit() and int(match) == pending["number"]:
                    pending.update(state=APPROVED, login=login)
                else:
                    pending.update(state=REFUSED, reason="number" if match else "elsewhere")
                outcome = pending["state"]
        except NotFound:
            return None
        return outcome

    def _approved(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        """The waiting tab, once the opening device approved it: the pending sign-in, once."""
        rid = _record_id(submitted.get("pending"))
        pending = _pending(ctx.store).get(rid) if rid else None
        if not _bound(pending, ctx):
            raise SignInFailed("error.magic.pending_gone")
        if pending["state"] != APPROVED:
            raise SignInFailed(self._why_not(pending))
        taken = _pending(ctx.store).take(rid)
        if taken is None or taken["state"] != APPROVED or not _bound(taken, ctx):
            raise SignInFailed("error.magic.pending_gone")
        account = ctx.accounts.get(taken["login"])
        if account is None or account.disabled:
            raise AccountDisabled()
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR, auth_time=ctx.now(),
                                interaction=taken.get("interaction"), detail={"then": taken.get("then")})

    @staticmethod
    def _why_not(pending: dict) -> str:
        if pending["state"] == WAITING:
            return "error.magic.not_approved"
        if pending["state"] == REFUSED:
            return f"error.magic.refused_{pending.get('reason') or 'number'}"
        if pending["state"] == LOCKED:
            return "error.magic.code_locked"
        return "error.magic.pending_gone"

    def _by_code(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        """The code typed into the waiting tab: only that browser's pending sign-in, once."""
        if not self._enabled(ctx):
            raise SignInFailed("error.link_signin_disabled")
        hit_limits(ctx.store, layout.MAGIC_CODE_PER_CLIENT, ctx.client_network, PER_CLIENT)
        pid = submitted.get("pending")
        rid = _record_id(pid)
        if rid is None:
            raise SignInFailed("error.magic.pending_gone")
        code = read_code(submitted["code"])
        try:
            with _pending(ctx.store).update(rid) as pending:
                refusal, left, link = self._try_code(ctx, pending, pid, code)
        except NotFound:
            raise SignInFailed("error.magic.pending_gone") from None
        if refusal == "error.magic.code_wrong":
            raise SignInFailed(refusal, field="code", attempts=left)
        if refusal:
            raise SignInFailed(refusal, field="code")
        account, created = account_for_sign_up(ctx, link["email"], link.get("language"))
        if account.disabled:
            raise AccountDisabled()
        if not account.email_verified:
            account = ctx.accounts.mark_email_verified(account.login)
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR, auth_time=ctx.now(),
                                interaction=link.get("interaction"), created=created,
                                detail={"then": link.get("then")})

    @staticmethod
    def _try_code(ctx: SignInContext, pending: dict, pid: str, code: str | None):
        """Check a code under the pending record's lock: (refusal or None, tries left, the link's
        record). Changes to `pending` are saved when the caller's `update` ends."""
        if not _bound(pending, ctx):
            return "error.magic.pending_gone", 0, None
        if pending["state"] != WAITING:
            return MagicLink._why_not(pending), 0, None
        expected = pending.get("code") or ""
        given = code_digest(ctx.store, pid, code) if code else ""
        # compare_digest on equal-length strings: the time says nothing about the code.
        right = hmac.compare_digest((expected or "0" * 64).encode(), (given or "1" * 64).encode())
        if not (right and expected):
            pending["attempts"] = int(pending.get("attempts", 0)) + 1
            left = CODE_ATTEMPTS - pending["attempts"]
            if left <= 0:
                pending["state"] = LOCKED
                return "error.magic.code_locked", 0, None
            return "error.magic.code_wrong", left, None
        link = take_record(ctx.store, pending["link"])  # the link and its code are one secret
        pending["state"] = USED
        if link is None:
            return "error.link_used", 0, None
        return None, 0, link

    def usable_by(self, account) -> bool:
        return bool(account.email)
