"""What a person's profile may hold: email, login, display name, caller-ID nickname.

Each function cleans one field or refuses it with the message that says why.
"""

import re
import unicodedata

from ..errors import BadInput, InvalidName
from ..store import names

MAX_DISPLAY_NAME = 100
MAX_NICKNAME = 15  # caller-ID names (CNAM) carry 15 characters
NICKNAME_EXTRA = set(" .-'")
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(rf"[^@\s]{{1,64}}@{LABEL}(?:\.{LABEL})+")
ROLES = ("user", "admin")


def normalize_email(value) -> str:
    """Lowercased, trimmed email; BadInput with a clear message when malformed."""
    email = (value or "").strip().lower() if isinstance(value, str) else ""
    if len(email) > 254 or not EMAIL_PATTERN.fullmatch(email) or any(
        ord(c) < 33 or c in '<>()[]\\,;:"' for c in email
    ):
        raise BadInput("error.invalid_email")
    return email


def login_from_email(email: str) -> str:
    """A login suggested by an email's local part: `Jörg.Müller+x@…` -> `jorg.muller`."""
    local = email.split("@", maxsplit=1)[0].split("+", maxsplit=1)[0]
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
