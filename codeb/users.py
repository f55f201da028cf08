"""Accounts: one JSON document per person, `users/<login>.json` (DESIGN: users).

An account has a login (its file name and the local part of its SIP/XMPP
address), an opaque `sub` that is random, stable and never reused, a verified
email, roles, and a profile. Indexes map email and sub to the login; the
account document is the truth, so an index entry is trusted only when the
account it names agrees with it.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass

from .directory import Directory, entry_of
from .errors import BadInput, Conflict, NotFound
from .store import names

MAX_DISPLAY_NAME = 100
MAX_NICKNAME = 15  # caller-ID names (CNAM) carry 15 characters
NICKNAME_EXTRA = set(" .-'")
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")
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
    local = email.split("@")[0].split("+")[0]
    ascii_only = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9._-]+", "", ascii_only.lower())
    cleaned = re.sub(r"[._-]{2,}", ".", cleaned).strip("._-")[:48] or "user"
    try:
        return names.login_name(cleaned)
    except Exception:
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


@dataclass(frozen=True)
class Account:
    doc: dict

    login = property(lambda self: self.doc["login"])
    sub = property(lambda self: self.doc["sub"])
    email = property(lambda self: self.doc.get("email"))
    roles = property(lambda self: list(self.doc.get("roles", ["user"])))
    disabled = property(lambda self: bool(self.doc.get("disabled")))
    language = property(lambda self: self.doc.get("language"))

    @property
    def display_name(self) -> str:
        return self.doc.get("display_name") or self.login

    @property
    def sessions_not_before(self) -> float:
        return float(self.doc.get("sessions_not_before", 0))


class Accounts:
    """The accounts of one tenant."""

    def __init__(self, store, host: str):
        self.store = store
        self.host = host
        self.by_email = store.index("email")
        self.by_sub = store.index("sub")
        self.by_ext = store.index("ext")
        self.directory = Directory(store)

    def get(self, login: str) -> Account | None:
        doc = self.store.read("users", names.login_name(login))
        return Account(doc) if doc else None

    def require(self, login: str) -> Account:
        account = self.get(login)
        if account is None:
            raise NotFound()
        return account

    def find_by_email(self, email: str) -> Account | None:
        login = self.by_email.get(normalize_email(email))
        account = self.get(login) if login else None
        return account if account and account.email == normalize_email(email) else None

    def find_by_sub(self, sub: str) -> Account | None:
        login = self.by_sub.get(sub) if isinstance(sub, str) else None
        account = self.get(login) if login else None
        return account if account and account.sub == sub else None

    def list(self) -> list[str]:
        return self.store.list("users")

    def create(self, *, email: str, login: str | None = None, roles=("user",),
               display_name: str | None = None, language: str | None = None) -> Account:
        """Create an account; all of it or nothing (Conflict if the email is taken)."""
        email = normalize_email(email)
        roles = sorted(set(roles) | {"user"})
        if any(r not in ROLES for r in roles):
            raise BadInput("error.invalid_role")
        with self.by_email.lock(email):
            if self.find_by_email(email):
                raise Conflict("error.email_taken", email=email)
            doc = {
                "sub": secrets.token_urlsafe(24),
                "email": email,
                "email_verified": False,
                "display_name": display_name or email.split("@")[0],
                "nickname": None,
                "language": language,
                "roles": roles,
                "created": int(self.store.clock()),
                "profile_confirmed": False,
                "disabled": False,
                "sessions_not_before": 0,
            }
            for candidate in self._logins(login or login_from_email(email), exact=login is not None):
                doc.update(login=candidate, sip=f"{candidate}@{self.host}")
                if self.store.create("users", candidate, doc=doc):
                    break
            else:
                raise Conflict("error.login_taken", login=login)
            try:
                self.by_sub.put(doc["sub"], doc["login"])
                self.by_email.put(email, doc["login"])
                doc["ext"] = self._allocate_extension(doc["login"])
                if doc["ext"] is not None:
                    with self.store.update("users", doc["login"]) as live:
                        live["ext"] = doc["ext"]
                self.directory.put(doc["login"], entry_of(doc))
            except BaseException:
                # Roll back what was written; the email lock is still held.
                if doc.get("ext") is not None:
                    self.by_ext.remove(str(doc["ext"]), doc["login"])
                self.directory.remove(doc["login"])
                self.by_sub.remove(doc["sub"], doc["login"])
                self.store.delete("users", doc["login"])
                raise
        return Account(doc)

    def extension_range(self) -> tuple[int, int] | None:
        settings = self.store.read("tenant") or {}
        bounds = settings.get("extension_range")
        if not bounds or len(bounds) != 2 or not all(isinstance(b, int) for b in bounds):
            return None
        return bounds[0], bounds[1]

    def _allocate_extension(self, login: str) -> int | None:
        """The lowest free extension of the tenant's range, claimed for `login`.

        Concurrent creations agree through the index's exclusive create: each
        number is claimed by exactly one account. None when the range is full
        (the account still works; telephony waits for an admin to widen the range).
        """
        bounds = self.extension_range()
        if bounds is None:
            return None
        for number in range(bounds[0], bounds[1] + 1):
            key = str(number)
            holder = self.by_ext.get(key)
            if holder is not None and self._holds_extension(holder, number):
                continue
            if holder is not None:  # left behind by a crash: the account does not have it
                self.by_ext.remove(key, holder)
            if self.by_ext.claim(key, login):
                return number
        return None

    def _holds_extension(self, login: str, number: int) -> bool:
        account = self.get(login)
        # An account created this very moment has claimed but not yet written its ext.
        return account is not None and account.doc.get("ext") in (number, None)

    def find_by_extension(self, number) -> Account | None:
        login = self.by_ext.get(str(number))
        account = self.get(login) if login else None
        return account if account and account.doc.get("ext") == int(number) else None

    @staticmethod
    def _logins(wanted: str, exact: bool):
        """Candidate logins: `wanted` itself, then (unless exact) wanted2, wanted3 …"""
        yield names.login_name(wanted)
        if not exact:
            for n in range(2, 1000):
                yield names.login_name(f"{wanted[:58]}{n}")

    @contextmanager
    def update(self, login: str):
        """Lock and edit an account document (see Store.update); the directory follows."""
        with self.store.update("users", names.login_name(login)) as doc:
            before = entry_of(doc)
            yield doc
        if entry_of(doc) != before:
            self.directory.put(doc["login"], entry_of(doc))

    def update_profile(self, login: str, *, display_name, nickname, language, languages,
                       confirm: bool = False) -> Account:
        """Validate and store the profile fields; all of them or none."""
        display_name, nickname = clean_display_name(display_name), clean_nickname(nickname)
        if language not in languages:
            raise BadInput("error.unknown_language")
        with self.update(login) as doc:
            doc.update(display_name=display_name, nickname=nickname, language=language)
            if confirm:
                doc["profile_confirmed"] = True
        return Account(doc)

    # -- what an admin changes -------------------------------------------------

    def admins(self) -> list[str]:
        """Logins of the enabled admins (from the directory: one scan, no document reads)."""
        return sorted(login for login, entry in self.directory.all().items()
                      if "admin" in entry.get("roles", []) and not entry.get("disabled"))

    def _keeps_an_admin(self, login: str) -> None:
        if self.admins() == [login]:
            raise Conflict("error.last_admin")

    def set_roles(self, login: str, roles) -> Account:
        """New roles; the account's sessions end so the change reaches every new token."""
        roles = sorted(set(roles) | {"user"})
        if any(r not in ROLES for r in roles):
            raise BadInput("error.invalid_role")
        if "admin" not in roles:
            self._keeps_an_admin(login)
        with self.update(login) as doc:
            changed = doc.get("roles") != roles
            doc["roles"] = roles
        if changed:
            self.end_sessions(login)
        return self.require(login)

    def set_disabled(self, login: str, disabled: bool) -> Account:
        if disabled:
            self._keeps_an_admin(login)
        with self.update(login) as doc:
            doc["disabled"] = bool(disabled)
        if disabled:
            self.end_sessions(login)
        return self.require(login)

    def set_display_name(self, login: str, display_name) -> Account:
        with self.update(login) as doc:
            doc["display_name"] = clean_display_name(display_name)
        return Account(doc)

    def set_extension(self, login: str, number) -> Account:
        """Give the account another extension of the tenant's range, if it is free."""
        bounds = self.extension_range()
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise BadInput("error.extension_invalid") from None
        if bounds is None or not bounds[0] <= number <= bounds[1]:
            raise BadInput("error.extension_range", low=bounds[0] if bounds else 0,
                           high=bounds[1] if bounds else 0)
        account = self.require(login)
        if account.doc.get("ext") == number:
            return account
        holder = self.find_by_extension(number)
        if holder is not None or not self.by_ext.claim(str(number), login):
            raise Conflict("error.extension_taken", ext=number)
        with self.update(login) as doc:
            old, doc["ext"] = doc.get("ext"), number
        if old is not None:
            self.by_ext.remove(str(old), login)
        return Account(doc)

    def mark_email_verified(self, login: str) -> Account:
        with self.update(login) as doc:
            doc["email_verified"] = True
        return Account(doc)

    def end_sessions(self, login: str) -> None:
        """Invalidate every session of the account, in every process."""
        with self.update(login) as doc:
            doc["sessions_not_before"] = self.store.clock()

    def delete(self, login: str, *, keep_an_admin: bool = True) -> None:
        """Remove the account, its passkeys and every index entry; its sessions end with it."""
        if keep_an_admin:
            self._keeps_an_admin(login)
        with self.update(login) as doc:
            pass
        self._remove_files(doc)

    def _remove_files(self, doc: dict) -> None:
        self.directory.remove(doc["login"])
        if doc.get("ext") is not None:
            self.by_ext.remove(str(doc["ext"]), doc["login"])
        for passkey in doc.get("passkeys", []):
            self.store.index("credential").remove(passkey["id"], doc["login"])
        self.by_email.remove(doc["email"], doc["login"])
        self.by_sub.remove(doc["sub"], doc["login"])
        self.store.delete("users", doc["login"])
