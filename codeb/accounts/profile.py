"""What a person's profile may hold: email, login, display name, caller-ID nickname.

Each function cleans one field or refuses it with the message that says why.
"""

import re
import unicodedata
from email.errors import HeaderParseError
from email.policy import SMTP

from ..errors import BadInput, InvalidName
from ..store import names

MAX_DISPLAY_NAME = 100
MAX_NICKNAME = 15  # caller-ID names (CNAM) carry 15 characters
NICKNAME_EXTRA = set(" .-'")
# RFC 5322 §3.2.3 atext; a local part is a dot-atom of it (RFC 5321 §4.1.2 Dot-string).
# Quoted strings (`"a b"@x`) are refused: they are legal but rare, and every mailer and
# directory that receives the address would have to quote it the same way.
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LOCAL_PART = re.compile(rf"{ATEXT}(?:\.{ATEXT})*")
# RFC 5321 §4.1.2 Domain: LDH labels of 1 to 63 characters, at least two of them. A domain
# with non-ASCII letters is entered in its A-label form (`xn--…`, RFC 5890); no IDNA mapping
# is applied here, so what is stored is exactly where the mail goes.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN = re.compile(rf"{LABEL}(?:\.{LABEL})+")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_ADDRESS = 254    # RFC 5321 §4.5.3.1.3 path (256) less the angle brackets
ROLES = ("user", "admin")


def normalize_email(value) -> str:
    """Lowercased, trimmed email; BadInput with a clear message when it is not an address
    CodeB can deliver to.

    Internationalised addresses (RFC 6531 SMTPUTF8) are not supported: mail leaves
    through the server's SMTP pickup service (IIS SMTP), which cannot deliver them,
    so a non-ASCII address is refused with a message that says which characters work.
    """
    email = value.strip().lower() if isinstance(value, str) else ""
    if not email.isascii():
        raise BadInput("error.email_not_ascii")
    local, at, domain = email.rpartition("@")
    if (not at or len(email) > MAX_ADDRESS or len(local) > MAX_LOCAL_PART
            or not LOCAL_PART.fullmatch(local) or not DOMAIN.fullmatch(domain)
            or _as_the_mailer_reads(email) != email):
        raise BadInput("error.invalid_email")
    return email


def _as_the_mailer_reads(email: str) -> str | None:
    """The address a `To:` header holding `email` names, parsed as codeb.notify.mail's
    policy parses it: an RFC 2047 encoded word (`=?utf-8?q?…?=`) decodes to something else,
    an encoded CR/LF is refused, and either way the result differs from the input."""
    try:
        header = SMTP.header_factory("To", email)
        addresses = header.addresses
    except (HeaderParseError, ValueError, TypeError, IndexError):
        return None
    if len(addresses) != 1 or header.defects:
        return None
    return addresses[0].addr_spec


def mailbox_of(email: str) -> str:
    """The mailbox behind an address, for counting what one mailbox receives: the local part
    without its `+tag` (subaddress, RFC 5233) and case folded. Never an address to send to."""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', maxsplit=1)[0]}@{domain}"


def login_from_email(email: str) -> str:
    """A login suggested by an email's local part: `Jörg.Müller+x@…` -> `jorg.muller`."""
    return suggested_login(email.split("@", maxsplit=1)[0].split("+", maxsplit=1)[0])


def suggested_login(name: str) -> str:
    """A login suggested by a user name another system gave (a company's `preferred_username`,
    `CORP\\jdoe`, `jdoe@corp.example`): its ASCII letters, digits and single separators."""
    local = str(name).rsplit("\\", maxsplit=1)[-1].split("@", maxsplit=1)[0]
    ascii_only = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9._-]+", "", ascii_only.lower())
    cleaned = re.sub(r"[._-]{2,}", ".", cleaned).strip("._-")[:48] or "user"
    try:
        return names.login_name(cleaned)
    except InvalidName:
        return "user"


def clean_display_name(value) -> str:
    """What other people see in calls and chats: printable, one line, 1 to 100 characters."""
    text = " ".join(str(value or "").split())
    if not text or len(text) > MAX_DISPLAY_NAME or not text.isprintable():
        raise BadInput("error.display_name", limit=MAX_DISPLAY_NAME)
    return text


def clean_nickname(value) -> str | None:
    """The caller-ID name on outbound calls: letters, digits, spaces and . - ' only, at most 15."""
    text = " ".join(str(value or "").split())
    if not text:
        return None
    if len(text) > MAX_NICKNAME or not all(c.isalnum() or c in NICKNAME_EXTRA for c in text):
        raise BadInput("error.nickname", limit=MAX_NICKNAME)
    return text


def clean_roles(roles) -> list[str]:
    """Known roles only; everyone has `user`."""
    cleaned = sorted(set(roles) | {"user"})
    if any(r not in ROLES for r in cleaned):
        raise BadInput("error.invalid_role")
    return cleaned


def clean_language(value, available) -> str:
    """One of the tenant's languages."""
    if value not in available:
        raise BadInput("error.unknown_language")
    return value
