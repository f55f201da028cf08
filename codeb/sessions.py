"""Browser sessions, kept server-side so any process can end them (DESIGN invariant 1).

The cookie holds a random session id; the store holds only its hash, under
`transient/sessions/`. A session is valid while its record lives and, once
signed in, while its account exists, is enabled and was not told to end every
session after this one began (`sessions_not_before`). Signing in always starts
a new session id, so an id planted before sign-in is worthless (no fixation).
"""

import secrets
from dataclasses import dataclass, field

from .store import secret_id

ANONYMOUS_LIFETIME = 3600
SIGNED_IN_LIFETIME = 12 * 3600


@dataclass
class Session:
    sid: str
    data: dict = field(default_factory=dict)
    new: bool = False
    modified: bool = False

    @property
    def login(self) -> str | None:
        return self.data.get("login")

    @property
    def csrf(self) -> str:
        if "csrf" not in self.data:
            self.data["csrf"] = secrets.token_urlsafe(32)
            self.modified = True
        return self.data["csrf"]

    def set(self, key, value) -> None:
        if self.data.get(key) != value:
            self.data[key] = value
            self.modified = True

    def pop(self, key, default=None):
        if key in self.data:
            self.modified = True
        return self.data.pop(key, default)


class Sessions:
    def __init__(self, store):
        self.records = store.transient("sessions")
        self.clock = store.clock

    def start(self, data: dict | None = None) -> Session:
        return Session(sid=secrets.token_urlsafe(32), data=dict(data or {}), new=True,
                       modified=True)

    def load(self, sid: str | None, accounts) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        record = self.records.get(secret_id(sid))
        if record is None:
            return None
        data = record.get("data", {})
        if data.get("login"):
            account = accounts.get(data["login"])
            if (account is None or account.disabled
                    or data.get("created", 0) <= account.sessions_not_before):
                self.records.delete(secret_id(sid))
                return None
        return Session(sid=sid, data=data)

    def save(self, session: Session) -> None:
        now = self.clock()
        session.data.setdefault("created", now)
        if session.login:
            ttl = session.data.get("auth_time", now) + SIGNED_IN_LIFETIME - now
        else:
            ttl = session.data["created"] + ANONYMOUS_LIFETIME - now
        self.records.put(secret_id(session.sid), {"data": session.data}, ttl=max(ttl, 1))
        session.modified = False

    def end(self, session: Session) -> None:
        self.records.delete(secret_id(session.sid))

    def sign_in(self, old: Session | None, identity, *, keep: dict | None = None) -> Session:
        """A fresh session for a verified identity; the old id is ended."""
        if old is not None and not old.new:
            self.end(old)
        now = self.clock()
        data = {
            "login": identity.login,
            "auth_time": identity.auth_time,
            "amr": list(identity.amr),
            "method": identity.method,
            "detail": identity.detail,
            "created": now,
        }
        data.update(keep or {})
        return Session(sid=secrets.token_urlsafe(32), data=data, new=True, modified=True)
