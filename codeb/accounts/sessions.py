"""Browser sessions: signed-in ones server-side, so any process can end them.

A signed-in session's cookie holds a random id; the store holds only its hash,
under `transient/sessions/` (DESIGN invariant 1). It is valid while its record
lives, its account exists and is enabled, is the account it began for (the
record holds the account's `sub`: a later account with the same login is
someone else), and the account was not told to end every session after this
one began (`sessions_not_before`). Every live session is in the account's list
(at most `LISTED`: one more ends the oldest), so the person can see and end
each. Signing in always starts a new id, so an id planted before sign-in is
worthless (no fixation).

Before sign-in a browser only needs a CSRF token and a language: that fits in
the cookie itself, signed with the tenant's session secret, so anonymous
traffic writes nothing to disk and cannot fill it.
"""

import ipaddress
import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..errors import NotFound
from ..notify import push
from ..store import layout, secret_id
from . import app_passwords as app_password_store

ANONYMOUS_PREFIX = "a~"
LISTED = 20  # live signed-in sessions an account may have: each is listed on its settings page

ANONYMOUS_LIFETIME = 3600
SIGNED_IN_LIFETIME = 12 * 3600
SUPERUSER_LIFETIME = 3600
RECENT_SIGN_IN = 10 * 60  # adding or removing a passkey or the password needs a sign-in this recent
# A session's last activity ("seen") is kept to this many seconds, so a busy browser rewrites its
# own session record at most once per interval (and never the account document).
SEEN_GRANULARITY = 5 * 60
_REMOVED = object()  # in `Session.changes`: the key was removed


@dataclass
class Session:
    sid: str | None  # None while anonymous
    data: dict = field(default_factory=dict)
    new: bool = False
    modified: bool = False
    # What this request changed, key by key: saving a stored session applies only these to
    # its record, under the record's lock, so two requests of one browser that change
    # different keys at once both keep their change (last writer wins per key, not per session).
    changes: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.sid is None

    @property
    def login(self) -> str | None:
        return self.data.get("login")

    @property
    def listed_id(self) -> str:
        """The name the store and the account's list of sessions know a signed-in session by."""
        if self.sid is None:
            raise ValueError("an anonymous session is not stored")
        return secret_id(self.sid)

    def signed_in_recently(self, now: float) -> bool:
        """Whether the person proved who they are within RECENT_SIGN_IN seconds (`auth_time`)."""
        return self.sid is not None and now - float(self.data.get("auth_time") or 0) <= RECENT_SIGN_IN

    @property
    def csrf(self) -> str:
        if "csrf" not in self.data:
            self.data["csrf"] = self.changes["csrf"] = secrets.token_urlsafe(32)
            self.modified = True
        return self.data["csrf"]

    def set(self, key, value) -> None:
        if self.data.get(key) != value:
            self.data[key] = self.changes[key] = value
            self.modified = True

    def pop(self, key, default=None):
        if key in self.data:
            self.modified = True
            self.changes[key] = _REMOVED
        return self.data.pop(key, default)


class Sessions:
    def __init__(self, store, secret, ended=None):
        """`secret` is a callable giving the tenant's session secret, read only when needed.
        `ended(store, listed_id, data)` is told of every signed-in session that ends, so the
        apps it signed in hear of it (codeb.oidc.backchannel, wired by the web layer)."""
        self.records = store.transient(layout.SESSIONS)
        self.clock = store.clock
        self._secret = secret
        self.ended = ended

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
        if data.get("login") and not self._valid(data, accounts.get(data["login"])):
            self._drop(secret_id(sid))
            return None
        session = Session(sid=sid, data=data)
        now = self.clock()
        if data.get("login") and now - float(data.get("seen") or data.get("created") or 0) >= SEEN_GRANULARITY:
            session.set("seen", int(now))  # saved with the response, like any change to the session
        return session

    @staticmethod
    def _valid(data: dict, account) -> bool:
        """A signed-in session's rules beyond its record: its account there, enabled and the
        same account (its `sub`: a later account with the login is another person), and the
        session newer than the account's "sign out everywhere"."""
        return (account is not None and not account.disabled and data.get("sub") == account.sub
                and data.get("created", 0) > account.sessions_not_before)

    def _drop(self, listed_id: str) -> None:
        # Under the record's lock, so a request saving the session at this moment cannot
        # write it back (`save` only rewrites a record that is still there).
        with self.records.lock(listed_id):
            record = self.records.get(listed_id)
            self.records.delete(listed_id)
        if record is not None and self.ended is not None:  # only the one who removed it tells
            self.ended(self.records.store, listed_id, record.get("data", {}))

    def start_superuser(self) -> Session:
        """A break-glass session: server-side, no account, one hour (codeb.accounts.breakglass)."""
        now = self.clock()
        return Session(sid=secrets.token_urlsafe(32), new=True, modified=True,
                       data={"superuser": True, "created": now, "auth_time": now, "method": "breakglass"})

    def save(self, session: Session) -> str:
        """Persist the session; return the cookie value that names it."""
        session.modified = False
        changes, session.changes = session.changes, {}
        if session.sid is None:
            return ANONYMOUS_PREFIX + self.signed.dumps(session.data)
        if not session.new:
            # A session loaded before another request ended it (a sign-out, in another
            # process) stays ended: only a record that is still there is rewritten.
            try:
                with self.records.update(session.listed_id) as record:
                    data = record.setdefault("data", {})
                    for key, value in changes.items():
                        if value is _REMOVED:
                            data.pop(key, None)
                        else:
                            data[key] = value
                    session.data = dict(data)  # with what other requests changed meanwhile
            except NotFound:
                pass
            return session.sid
        now = self.clock()
        lifetime = SUPERUSER_LIFETIME if session.data.get("superuser") else SIGNED_IN_LIFETIME
        ttl = session.data.get("auth_time", now) + lifetime - now
        self.records.put(session.listed_id, {"data": session.data}, ttl=max(ttl, 1))
        return session.sid

    def alive(self, listed_id, account) -> bool:
        """Whether the signed-in session with this listed id (its secret_id) is still valid
        for `account`, by the rules `load` applies (a token bound to it lives no longer)."""
        if not isinstance(listed_id, str) or account is None:
            return False
        record = self.records.get(listed_id)
        data = record.get("data", {}) if record else {}
        return data.get("login") == account.login and self._valid(data, account)

    def end(self, session: Session) -> None:
        if session.sid is not None:
            self._drop(session.listed_id)

    def sign_in(self, old: Session | None, identity, *, sub: str, keep: dict | None = None) -> Session:
        """A fresh session for a verified identity, bound to its account's `sub`; the old id is ended."""
        if old is not None:
            self.end(old)
        now = self.clock()
        data = {
            "login": identity.login,
            "sub": sub,
            "auth_time": identity.auth_time,
            "amr": list(identity.amr),
            "method": identity.method,
            "detail": identity.detail,
            "created": now,
            # Made here, not by the first page that needs one: two pages opened at once would
            # each make their own, and the later save would void the other's forms.
            "csrf": secrets.token_urlsafe(32),
        }
        if getattr(identity, "sign_out", None):
            data["sign_out"] = identity.sign_out
        data.update(keep or {})
        return Session(sid=secrets.token_urlsafe(32), data=data, new=True, modified=True)

    # -- the account's list of its sessions (account settings) --------------------

    def remember(self, accounts, session: Session, *, ip: str, agent: str, also=None) -> None:
        """Note a new signed-in session in its account, so the person can see and end it. Ended
        sessions leave the list here; if more than `LISTED` are still alive, the oldest end, so
        none lives unlisted. `also` changes the document in the same update (what the sign-in
        itself changed: `VerifiedIdentity.account_change`), so the account is written once."""
        with accounts.update(session.login) as doc:
            if also is not None:
                also(doc)
            not_before = float(doc.get("sessions_not_before", 0))
            listed = [entry for entry in doc.get("sessions", []) if self._lives(entry, not_before)]
            listed.append({"id": session.listed_id, "created": int(self.clock()),
                           "ip": ip[:64], "agent": (agent or "")[:200],
                           "method": session.data.get("method"),
                           "passkey": (session.data.get("detail") or {}).get("name")})
            for oldest in listed[:-LISTED]:
                self._drop(oldest["id"])
            doc["sessions"] = listed[-LISTED:]
            doc["last_signin"] = int(self.clock())  # the admin's user list shows and sorts by it

    def _lives(self, entry: dict, not_before: float) -> bool:
        record = self.records.get(entry["id"])
        return bool(record) and record["data"].get("created", 0) > not_before

    def active(self, account) -> list[dict]:
        """The account's sessions that are still alive, newest first."""
        alive = [entry for entry in account.listed_sessions if self._lives(entry, account.sessions_not_before)]
        return sorted(alive, key=lambda e: e["created"], reverse=True)

    def devices(self, account, current: Session | None) -> list["Device"]:
        """The live sessions as the Devices section shows them: this browser's first (`current`,
        whose activity of this request is not saved yet), then by last activity, newest first."""
        not_before = account.sessions_not_before
        this = current.listed_id if current is not None and current.sid else None
        found = []
        for entry in account.listed_sessions:
            record = self.records.get(entry["id"])
            data = record.get("data", {}) if record else {}
            if entry["id"] == this and current is not None:
                data = current.data
            if not record or data.get("created", 0) <= not_before:
                continue
            browser, system = describe_agent(entry.get("agent", ""))
            found.append(Device(id=entry["id"], current=entry["id"] == this, browser=browser, system=system,
                                signed_in=int(entry["created"]), seen=int(data.get("seen") or entry["created"]),
                                method=entry.get("method"), passkey=entry.get("passkey"),
                                network=coarse_network(entry.get("ip", ""))))
        return sorted(found, key=lambda d: (not d.current, -d.seen))

    def end_listed(self, accounts, login: str, entry_id: str) -> bool:
        """End one of the account's sessions by its listed id (the hash of its cookie)."""
        with accounts.update(login) as doc:
            listed = doc.get("sessions", [])
            if not any(e["id"] == entry_id for e in listed):
                return False
            doc["sessions"] = [e for e in listed if e["id"] != entry_id]
        self._drop(entry_id)
        return True

    def end_others(self, accounts, login: str, keep: str) -> int:
        """End every listed session of the account but `keep` (this browser's); how many ended."""
        with accounts.update(login) as doc:
            listed = doc.get("sessions", [])
            ended = [e["id"] for e in listed if e["id"] != keep]
            doc["sessions"] = [e for e in listed if e["id"] == keep]
        for entry_id in ended:
            self._drop(entry_id)
        return len(ended)

    def end_all(self, accounts, login: str, *, app_passwords: bool = False) -> int:
        """Sign out everywhere: every process refuses the sessions, and the apps' codes, refresh
        and access tokens, issued until now (`Accounts.revoke_issued`); no device gets the
        person's notifications any more (their push subscriptions go). `app_passwords`: the
        person chose to end their native clients' app passwords too; how many were revoked."""
        accounts.revoke_issued(login)
        revoked = app_password_store.revoke_all(accounts, login) if app_passwords else 0
        with accounts.update(login) as doc:
            for entry in doc.get("sessions", []):
                self._drop(entry["id"])
            doc["sessions"] = []
        push.forget_person(accounts.store, doc["sub"])
        return revoked


@dataclass(frozen=True)
class Device:
    """One signed-in browser or app, as the person sees it in the Devices section."""

    id: str  # the listed id (hash of the cookie), what "End" names
    current: bool
    browser: str
    system: str
    signed_in: int
    seen: int
    method: str | None
    passkey: str | None
    network: str | None


def coarse_network(ip: str) -> str | None:
    """The network a session came from, coarse enough to recognise, not to locate: an IPv4
    /24 or an IPv6 /48. No GeoIP database is consulted; an unparseable address shows nothing."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if isinstance(address, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def describe_agent(agent: str) -> tuple[str, str]:
    """(browser, system) named from a User-Agent header, for the sessions list."""
    text = agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                           ("Chrome/", "Chrome"), ("Safari/", "Safari"))
                    if key in text), "")
    system = next((name for key, name in (("Windows", "Windows"), ("Android", "Android"),
                                          ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Mac OS X", "macOS"),
                                          ("CrOS", "ChromeOS"), ("Linux", "Linux")) if key in text), "")
    return browser, system

