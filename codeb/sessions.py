"""Browser sessions: signed-in ones server-side, so any process can end them.

A signed-in session's cookie holds a random id; the store holds only its hash,
under `transient/sessions/` (DESIGN invariant 1). It is valid while its record
lives, its account exists and is enabled, and the account was not told to end
every session after this one began (`sessions_not_before`). Signing in always
starts a new id, so an id planted before sign-in is worthless (no fixation).

Before sign-in a browser only needs a CSRF token and a language: that fits in
the cookie itself, signed with the tenant's session secret, so anonymous
traffic writes nothing to disk and cannot fill it.
"""

import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .store import secret_id

ANONYMOUS_PREFIX = "a~"

ANONYMOUS_LIFETIME = 3600
SIGNED_IN_LIFETIME = 12 * 3600


@dataclass
class Session:
    sid: str | None  # None while anonymous
    data: dict = field(default_factory=dict)
    new: bool = False
    modified: bool = False

    @property
    def anonymous(self) -> bool:
        return self.sid is None

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
    def __init__(self, store, secret):
        """`secret` is a callable giving the tenant's session secret, read only when needed."""
        self.records = store.transient("sessions")
        self.clock = store.clock
        self._secret = secret

    @property
    def signed(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret(), salt="codeb.anonymous-session")

    def start(self) -> Session:
        """An anonymous session; it lives in its cookie until someone signs in."""
        return Session(sid=None, new=True, modified=True)

    def load(self, cookie: str | None, accounts) -> Session | None:
        if not cookie or len(cookie) > 1000:
            return None
        if cookie.startswith(ANONYMOUS_PREFIX):
            try:
                data = self.signed.loads(cookie[len(ANONYMOUS_PREFIX):], max_age=ANONYMOUS_LIFETIME)
            except BadSignature:
                return None
            return Session(sid=None, data=data if isinstance(data, dict) else {})
        sid = cookie
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

    def save(self, session: Session) -> str:
        """Persist the session; return the cookie value that names it."""
        session.modified = False
        if session.anonymous:
            return ANONYMOUS_PREFIX + self.signed.dumps(session.data)
        now = self.clock()
        ttl = session.data.get("auth_time", now) + SIGNED_IN_LIFETIME - now
        self.records.put(secret_id(session.sid), {"data": session.data}, ttl=max(ttl, 1))
        return session.sid

    def end(self, session: Session) -> None:
        if not session.anonymous:
            self.records.delete(secret_id(session.sid))

    def sign_in(self, old: Session | None, identity, *, keep: dict | None = None) -> Session:
        """A fresh session for a verified identity; the old id is ended."""
        if old is not None:
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
