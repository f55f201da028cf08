"""The workspace: chat channels, meeting rooms, guests and TURN credentials (README: the workspace).

Conversations live in the tenant's folder through the store, like everything else: a
channel is a folder (`channels/<id>/`) whose messages are an append-only log in
segment files (`codeb.store.segments`), so a busy channel is never one growing document
and a post is one appended line. A meeting (`codeb.rooms.meetings`) is a room with a
time and presence, and its chat is a channel of kind "meeting". Nothing here imports
Flask: `codeb.web.workspace` parses requests and calls this package.

Who acts is a `Participant`: an account of the tenant, by its `sub` (never the login,
which a later account may get), or a guest (`codeb.rooms.guests`), who is never an
account and sees one conversation only, its `Scope`.
"""

import re
import secrets
import unicodedata
from dataclasses import dataclass

from ..errors import BadInput, NotFound

ROOM_ID = re.compile(r"[a-z2-7]{16}")  # ids of channels, meetings, guests and invites: 80 random bits
TEXT_LIMIT = 4000  # characters in one message
NAME_LIMIT = 80    # characters in a channel's or a meeting's name
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Participant:
    """Who acts in a conversation: an account (by its sub) or a guest (by guest id)."""

    sub: str | None = None
    guest: str | None = None
    name: str = ""  # the display name shown beside what they do, as it was then

    def __post_init__(self):
        if (self.sub is None) == (self.guest is None):
            raise ValueError("a participant is an account or a guest")

    @property
    def key(self) -> str:
        """One string per participant: `a:<sub>` or `g:<guest id>`."""
        return f"a:{self.sub}" if self.sub is not None else f"g:{self.guest}"

    @property
    def is_guest(self) -> bool:
        return self.guest is not None


@dataclass(frozen=True)
class Scope:
    """The one conversation a guest may see: a channel or a meeting."""

    kind: str  # "channel" | "meeting"
    id: str

    def __post_init__(self):
        if self.kind not in ("channel", "meeting"):
            raise BadInput("error.rooms.scope")
        check_id(self.id)


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def check_id(value) -> str:
    """An id from a request: one that could exist, or 404 (an unknown id is not a bad request)."""
    if not isinstance(value, str) or not ROOM_ID.fullmatch(value):
        raise NotFound("error.rooms.not_found")
    return value


def clean_text(value, *, limit: int = TEXT_LIMIT, message_id: str = "error.rooms.text") -> str:
    """A message's text: not empty, at most `limit` characters, no control characters but
    line breaks and tabs (a bidi override or a NUL has no place in a chat line)."""
    if not isinstance(value, str):
        raise BadInput(message_id, limit=limit)
    text = value.replace("\r\n", "\n").strip()
    if not text or len(text) > limit or any(_forbidden(ch) for ch in text):
        raise BadInput(message_id, limit=limit)
    return text


def clean_name(value) -> str:
    """A channel's or a meeting's name: one line of 1 to 80 characters."""
    if not isinstance(value, str):
        raise BadInput("error.rooms.name", limit=NAME_LIMIT)
    name = " ".join(value.split())
    if not name or len(name) > NAME_LIMIT or any(_forbidden(ch) for ch in name):
        raise BadInput("error.rooms.name", limit=NAME_LIMIT)
    return name


def _forbidden(ch: str) -> bool:
    return ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn")
