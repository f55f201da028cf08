"""Every failure a person or a client can meet, one small class each.

A `CodebError` carries the id of its message in the catalogues (`codeb/i18n`)
and the HTTP status it maps to; the web layer's one error handler renders it in
the person's language. `str(error)` is the English text, for the CLI and logs.
Protocol errors towards relying parties are Authlib's `OAuth2Error` classes and
are rendered by the OpenID Provider, not here.
"""

from collections.abc import Mapping
from contextlib import contextmanager

from . import i18n


class CodebError(Exception):
    message_id = "error.generic"
    status = 400
    field: str | None = None  # the form field the failure is about, if one (see `concerning`)
    # For a temporary failure of the server: the OAuth error code a protocol endpoint answers
    # (RFC 6749 §4.1.2.1 `temporarily_unavailable`) and the seconds a Retry-After header names.
    oauth_error: str | None = None
    retry_after: int | None = None

    def __init__(self, message_id: str | None = None, *, field: str | None = None, **params):
        self.message_id = message_id or self.message_id
        self.params = params
        if field is not None:
            self.field = field
        super().__init__(self.message_id)

    def __str__(self) -> str:
        return i18n.translate("en", self.message_id, **self.params)


@contextmanager
def concerning(field: str | Mapping[str, str]):
    """A failure raised in the block is about this form field: the page shows it beside it.
    For one call that checks several fields, a mapping names the field per message id."""
    try:
        yield
    except CodebError as error:
        if error.field is None:
            error.field = field.get(error.message_id) if isinstance(field, Mapping) else field
        raise


class InvalidName(CodebError):
    """A tenant, login or path segment that must not become part of a path."""

    status = 400

    def __init__(self, kind: str, value):
        shown = repr(value)[:80]
        super().__init__(f"error.invalid_name.{kind}", value=shown)


class StoreBusy(CodebError):
    """A document's lock could not be taken in time."""

    message_id = "error.store_busy"
    status = 503
    oauth_error = "temporarily_unavailable"
    retry_after = 1


class StorageFull(CodebError):
    """The data folder's volume (or the account's quota on it) has no room for a write.

    Nothing was changed: the store removes its temporary file and the old document stays.
    503 with Retry-After rather than WebDAV's 507: the condition is the server's, passes
    once an operator frees space, and 503 is what browsers, relying parties and a load
    balancer (ARR) understand as "try again later"."""

    message_id = "error.storage_full"
    status = 503
    oauth_error = "temporarily_unavailable"
    retry_after = 60


class StoreCorrupt(CodebError):
    """A document exists but is not valid JSON of a known schema."""

    message_id = "error.store_corrupt"
    status = 500


class NotFound(CodebError):
    message_id = "error.not_found"
    status = 404


class UnknownTenant(NotFound):
    message_id = "error.unknown_tenant"


class Conflict(CodebError):
    message_id = "error.conflict"
    status = 409


class Forbidden(CodebError):
    """The signed-in person may not do this (another account's link, say)."""

    message_id = "error.forbidden"
    status = 403


class BadInput(CodebError):
    """A form or command argument that fails validation; the id says which."""

    status = 400


class MailNotSent(CodebError):
    """The pickup folder could not take a message; what needed the mail is undone."""

    message_id = "error.mail_not_sent"
    status = 503


class CsrfFailed(CodebError):
    message_id = "error.csrf"
    status = 400


class RateLimited(CodebError):
    message_id = "error.rate_limited"
    status = 429

    def __init__(self, retry_after: int, message_id: str | None = None):
        minutes = max(1, (int(retry_after) + 59) // 60)
        super().__init__(message_id, minutes=minutes)
        self.retry_after = int(retry_after)


class TooEarly(RateLimited):
    """Asked again before the step's minimum interval (resending a magic link), in seconds."""

    message_id = "error.too_early"

    def __init__(self, retry_after: int, message_id: str | None = None):
        seconds = max(1, int(retry_after))
        CodebError.__init__(self, message_id, seconds=seconds)
        self.retry_after = seconds


class SignInFailed(CodebError):
    """A sign-in method could not verify the person; the id says why. `interaction`: the app's
    authorization request the sign-in was for, when the method knew it (a company sign-in
    coming back): the sign-in page it leads to still serves that app."""

    message_id = "error.signin_failed"
    status = 400
    interaction: str | None = None


class SignUpRefused(SignInFailed):
    message_id = "error.signup_refused"
    status = 403


class AccountDisabled(SignInFailed):
    message_id = "error.account_disabled"
    status = 403


class ReauthRequired(CodebError):
    """A credential change needs a recent sign-in (codeb.accounts.sessions.RECENT_SIGN_IN)."""

    message_id = "error.reauth_required"
    status = 403


class InteractionExpired(CodebError):
    message_id = "error.interaction_expired"
    status = 400


class Unauthorized(CodebError):
    """The caller's credential names nobody any more (a guest whose access has ended): 401."""

    message_id = "error.signin_required"
    status = 401


class Gone(CodebError):
    """What a link or an address named was real but is over for good (RFC 9110 §15.5.11):
    an expired, revoked or used-up guest invitation, a conversation that has ended. Unlike
    404 it tells the person the link was genuine, and a client that asking again is useless."""

    status = 410
