"""Names that may become part of a path (DESIGN invariant 2).

Nothing from a request reaches the file system until it matched one of these
patterns. The patterns exclude `/`, `\\`, `..`, drive letters, NUL and every
other control character by construction: only the listed characters exist.
"""

import re
from functools import lru_cache

from ..errors import InvalidName

# A tenant name is a DNS label: it doubles as a folder and an IIS site name.
TENANT_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

# A login: lowercase letters, digits, and single dots, hyphens or underscores
# between them (alice, alice.smith, a-b_c). It is also the local part of the
# person's SIP/XMPP address, so it stays within what both accept.
LOGIN_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9]|[._-](?=[a-z0-9])){0,63}")

# Segments the store itself composes (hashes, kinds, ids it generated).
# No trailing dot: Windows drops it.
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_-])?")

# Names Windows reserves in every folder, with or without an extension.
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(10)]
    + [f"lpt{i}" for i in range(10)]
)


def _check(kind: str, value, pattern: re.Pattern) -> str:
    if not isinstance(value, str):
        raise InvalidName(kind, value)
    return _checked(kind, value, pattern)


@lru_cache(maxsize=4096)  # the same few names (kinds, folders, a tenant's logins) on every request
def _checked(kind: str, value: str, pattern: re.Pattern) -> str:
    """`value` if it passed, remembered; a name that fails raises each time (never remembered)."""
    if not pattern.fullmatch(value) or ".." in value:
        raise InvalidName(kind, value)
    if value.split(".", maxsplit=1)[0].lower() in WINDOWS_RESERVED:
        # It fits the pattern, so the pattern's message would not say why.
        raise InvalidName("reserved", value)
    return value


def tenant_name(value) -> str:
    """Return `value` if it is a valid tenant name, else raise InvalidName."""
    return _check("tenant", value, TENANT_PATTERN)


def login_name(value) -> str:
    """Return `value` if it is a valid login, else raise InvalidName."""
    return _check("login", value, LOGIN_PATTERN)


def segment(value) -> str:
    """A path segment composed by the store (never `.`/`..`, never a separator)."""
    return _check("segment", value, SEGMENT_PATTERN)
