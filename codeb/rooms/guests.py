"""Guests: outsiders let into one conversation by a link, never accounts.

Any member of a channel or a meeting (never a guest) may invite someone from outside into
that one conversation, its `Scope`. The invitation is `guests/invites/<id>.json`, and the
link that redeems it carries a token signed with the tenant's guest-invite key
(`codeb.tenants.secrets.named_secret`, itsdangerous with its own salt), holding the tenant,
the invite's id, its scope, its expiry and a random nonce. The store keeps only the token's
SHA-256 (DESIGN invariant 3), compared in constant time: a copy of the data folder lets
nobody in, and a link is refused before any disk access when its signature is wrong. A
link that verifies must still agree with its record on scope and expiry, so a forged or
edited link names nothing; it may be for one guest or for many (`multi`), as the inviter
chose, and the inviter or an admin may revoke it at any time.

Redeeming a link (`join`) takes a display name and makes a guest, `guests/<id>.json`: the
use is counted under the invite's lock, so of two browsers racing for a single-use link in
any two processes exactly one gets in. The guest joins the channel's guest list (a
meeting's chat is the channel with the meeting's id, `codeb.rooms.meetings`), which is what
lets `codeb.rooms.channels` show them, marked as a guest, and let them post there and
nowhere else. Their browser gets a session of its own: a random token whose hash names a
transient record (`layout.GUEST_SESSIONS`) that lives until the invite expires, at most
SESSION_LIFETIME, and is no signed-in session: a guest has no account, no `sub`, and
nothing the OpenID Provider would issue a token for.

Access ends at once when the conversation ends (the caller's `is_open`: the channel
archived, the meeting over), when the invite is revoked or expires, or when the inviter or
an admin removes the guest: `session` checks all of it on every request, from the session
record, the guest and the invite (three small documents), so no ended access survives in
another process. Revoking or removing also takes the guest off the channel's list and
deletes their session record.

Inviting is limited per account (INVITES_PER_HOUR) and redeeming per client network
(`count_join`, called by the web layer, which knows the network).
"""

import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from itsdangerous import BadSignature, URLSafeSerializer

from ..errors import BadInput, Conflict, Forbidden, Gone, NotFound, RateLimited
from ..store import layout, secret_id
from ..tenants.secrets import named_secret
from . import ROOM_ID, Participant, Scope, new_id
from .channels import Channels
from .meetings import Meetings

SALT = "codeb.guest-invite"  # itsdangerous salt: no other signed value of the tenant verifies as an invite
SHORTEST_INVITE = 5 * 60
LONGEST_INVITE = 30 * 86400
SESSION_LIFETIME = 12 * 3600  # a guest's browser session; a longer invite is redeemed again
NAME_LIMIT = 60               # characters in a guest's display name
TOKEN_LIMIT = 1000            # longer links and cookies are garbage, refused before any work
MULTI_USES = 200              # guests one multi-use link lets in: a leaked link cannot grow without end
INVITES_PER_HOUR = 20         # per inviting account
JOINS_PER_CLIENT = (10, 600)  # redemptions per client network: 10 per 10 minutes
# A rough address check: the mail goes through codeb.notify.mail, which parses it strictly
# again; this only keeps header syntax and whitespace out of what the invite records.
EMAIL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+")
EMAIL_LIMIT = 254  # RFC 5321 §4.5.3.1.3


@dataclass(frozen=True)
class Invite:
    """An invitation into one conversation, as its record holds it (never its link)."""

    id: str
    scope: Scope
    by: str            # the inviter's sub
    by_name: str       # their display name then ("" once their account is deleted)
    created: int
    expires: int
    multi: bool        # many guests may redeem it, else one
    uses: int          # guests who joined by it
    revoked: int | None
    email: str | None  # the address it was mailed to, if it was mailed


@dataclass(frozen=True)
class Guest:
    """An outsider in one conversation: a display name, no account."""

    id: str
    name: str
    scope: Scope
    invite: str         # the invite's id they joined by
    joined: int
    removed: int | None  # when the inviter or an admin removed them, or revoked their invite

    def participant(self) -> Participant:
        return Participant(guest=self.id, name=self.name)


class Roster(Protocol):
    """The channels' side of a guest (codeb.rooms.channels.Channels)."""

    def get(self, cid: str): ...
    def add_guest(self, cid: str, *, guest: str, name: str): ...
    def remove_guest(self, cid: str, *, guest: str): ...


def clean_guest_name(value) -> str:
    """A guest's display name: one line of 1 to NAME_LIMIT characters, no control or format
    characters (a bidi override would let a guest's name pose as someone else's)."""
    if not isinstance(value, str):
        raise BadInput("error.guests.name", limit=NAME_LIMIT)
    name = unicodedata.normalize("NFC", value.strip())
    if any(_forbidden(ch) for ch in name):
        raise BadInput("error.guests.name", limit=NAME_LIMIT)
    name = " ".join(name.split())
    if not name or len(name) > NAME_LIMIT:
        raise BadInput("error.guests.name", limit=NAME_LIMIT)
    return name


def _forbidden(ch: str) -> bool:
    # Cc: controls (line breaks too; a tab is only a space), Cf: format (bidi),
    # Zl/Zp: line and paragraph separators.
    return ch != "\t" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def clean_email(value) -> str | None:
    """The address an invitation is mailed to, lowercased; None when there is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    email = value.strip().lower() if isinstance(value, str) else ""
    if len(email) > EMAIL_LIMIT or not EMAIL.fullmatch(email):
        raise BadInput("error.guests.email")
    return email


def _scope_doc(scope: Scope) -> dict:
    return {"kind": scope.kind, "id": scope.id}


def _invite(doc: dict) -> Invite:
    return Invite(id=doc["id"], scope=Scope(**doc["scope"]), by=doc["by"], by_name=doc["by_name"],
                  created=doc["created"], expires=doc["expires"], multi=doc["multi"], uses=doc["uses"],
                  revoked=doc["revoked"], email=doc["email"])


def _guest(doc: dict) -> Guest:
    return Guest(id=doc["id"], name=doc["name"], scope=Scope(**doc["scope"]), invite=doc["invite"],
                 joined=doc["joined"], removed=doc["removed"])


def _known_id(value) -> str:
    """An invite's or a guest's id from a request, or 404 before it becomes a path."""
    if not isinstance(value, str) or not ROOM_ID.fullmatch(value):
        raise NotFound("error.guests.not_found")
    return value


class Guests:
    def __init__(self, store, tenant: str, *, is_open: Callable[[Scope], bool], roster: Roster | None = None):
        """`is_open(scope)`: whether the conversation still runs (the channel not archived,
        the meeting not over); the caller knows channels and meetings. `roster`: the
        channels a guest is listed in (codeb.rooms.channels.Channels on the same store)."""
        self.store = store
        self.tenant = tenant
        self.is_open = is_open
        self.roster: Roster = roster if roster is not None else Channels(store)
        self.sessions = store.transient(layout.GUEST_SESSIONS)

    def _now(self) -> int:
        return int(self.store.clock())

    def _links(self) -> URLSafeSerializer:
        return URLSafeSerializer(named_secret(self.store, layout.GUEST_INVITE_KEY), salt=SALT)

    # -- inviting ---------------------------------------------------------------------

    def invite(self, *, by: Participant, scope: Scope, ttl: int, multi: bool,
               email: str | None = None) -> tuple[Invite, str]:
        """A new invitation by a member of the conversation, and its link's token: shown or
        mailed once, kept nowhere (only its hash is)."""
        if by.is_guest or by.sub is None:
            raise Forbidden("error.guests.guest_cannot_invite")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not SHORTEST_INVITE <= ttl <= LONGEST_INVITE:
            raise BadInput("error.guests.ttl")
        if not isinstance(multi, bool):
            raise BadInput("error.guests.multi")
        email = clean_email(email)
        channel = self.roster.get(scope.id)
        if getattr(channel, "kind", scope.kind) != scope.kind:  # a meeting's chat is let into as the meeting
            raise NotFound("error.rooms.not_found")
        if channel.role_of(by) not in ("owner", "member"):
            raise Forbidden("error.guests.not_member")
        if not self.is_open(scope):
            raise Gone("error.guests.conversation_over")
        wait = self.store.counter(layout.INVITES_PER_ACCOUNT).hit(by.sub, INVITES_PER_HOUR, 3600)
        if wait:
            raise RateLimited(wait, "error.guests.too_many_invites")
        return self._record_invite(by, scope, ttl, multi, email)

    def _record_invite(self, by: Participant, scope: Scope, ttl: int, multi: bool,
                       email: str | None) -> tuple[Invite, str]:
        now = self._now()
        iid, expires = new_id(), now + ttl
        token = self._links().dumps({"t": self.tenant, "i": iid, "k": scope.kind, "s": scope.id, "e": expires,
                                     "n": secrets.token_urlsafe(16)})
        doc: dict = {"id": iid, "scope": _scope_doc(scope), "by": by.sub, "by_name": by.name, "created": now,
               "expires": expires, "multi": multi, "uses": 0, "revoked": None, "email": email,
               "token": secret_id(token), "guests": []}
        if not self.store.create(layout.GUESTS, layout.GUEST_INVITES, iid, doc=doc):
            raise Conflict("error.conflict")  # 80 random bits taken: never, unless the disk lies
        return _invite(doc), token

    def invites(self, scope: Scope | None = None) -> list[Invite]:
        """Every invitation (of one conversation), newest first."""
        found = [_invite(doc) for doc in self._docs(layout.GUESTS, layout.GUEST_INVITES)]
        return sorted((i for i in found if scope is None or i.scope == scope), key=lambda i: (-i.created, i.id))

    def _docs(self, *folder: str) -> list[dict]:
        docs = (self.store.read(*folder, name) for name in self.store.list(*folder))
        return [doc for doc in docs if doc is not None]  # deleted between the listing and the read

    def revoke(self, invite_id: str, *, by: Participant, admin: bool = False) -> Invite:
        """The inviter or an admin ends an invitation: its link stops working and the guests
        who joined by it lose access. Revoking it again changes nothing."""
        iid = _known_id(invite_id)
        with self.store.update(layout.GUESTS, layout.GUEST_INVITES, iid, default={}) as doc:
            if "id" not in doc:  # absent: refused, and so never written
                raise NotFound("error.guests.not_found")
            self._may_manage(doc, by, admin)
            if doc["revoked"] is None:
                doc["revoked"] = self._now()
            invite, joined = _invite(doc), list(doc["guests"])
        # Access ended with the write above (`session` reads the invite); now the traces.
        for gid in joined:
            self._end(gid, invite.revoked or self._now())
        return invite

    def _may_manage(self, invite: dict, by: Participant, admin: bool) -> None:
        if by.is_guest or not (admin or (by.sub is not None and by.sub == invite["by"])):
            raise Forbidden("error.guests.not_inviter")

    # -- redeeming ----------------------------------------------------------------------

    def check(self, token: str) -> Invite:
        """The invitation a link redeems, if it may still be redeemed: what the join page
        shows before the guest gives their name."""
        doc = self._record_of(token)
        self._usable(doc)
        return _invite(doc)

    def _record_of(self, token) -> dict:
        """The invite record a link names, if the link is one this tenant signed for it."""
        payload = self._payload(token)
        return self._matching(self.store.read(layout.GUESTS, layout.GUEST_INVITES, payload["i"]), payload, token)

    @staticmethod
    def _matching(doc: dict | None, payload: dict, token: str) -> dict:
        """The record, if it is the one the link was made for: its hash, scope and expiry. A
        link with another scope or expiry is forged (or its record replaced), and names nothing."""
        if (not doc or "id" not in doc or not hmac.compare_digest(doc["token"], secret_id(token))
                or doc["scope"] != {"kind": payload["k"], "id": payload["s"]} or doc["expires"] != payload["e"]):
            raise NotFound("error.guests.link_invalid")
        return doc

    def _payload(self, token) -> dict:
        if not isinstance(token, str) or not token or len(token) > TOKEN_LIMIT:
            raise NotFound("error.guests.link_invalid")
        try:
            payload = self._links().loads(token)
        except BadSignature:
            raise NotFound("error.guests.link_invalid") from None
        # Signed by this tenant's key, and for this tenant: a folder restored under another
        # tenant's name keeps its key, and must not take the old tenant's links.
        if (not isinstance(payload, dict) or set(payload) != {"t", "i", "k", "s", "e", "n"}
                or payload["t"] != self.tenant or not isinstance(payload["i"], str)
                or not ROOM_ID.fullmatch(payload["i"])):
            raise NotFound("error.guests.link_invalid")
        return payload

    def _usable(self, doc: dict) -> None:
        """Refuse an invitation that cannot be redeemed now, saying why (410: it was real)."""
        if doc["revoked"] is not None:
            raise Gone("error.guests.link_revoked")
        if doc["expires"] <= self._now():
            raise Gone("error.guests.link_expired")
        if doc["uses"] >= (MULTI_USES if doc["multi"] else 1):
            raise Gone("error.guests.link_used")
        if not self.is_open(Scope(**doc["scope"])):
            raise Gone("error.guests.conversation_over")

    def count_join(self, client_key: str) -> None:
        """Count one redemption from a client network (the web layer's key for it)."""
        wait = self.store.counter(layout.GUEST_JOINS_PER_CLIENT).hit(client_key, *JOINS_PER_CLIENT)
        if wait:
            raise RateLimited(wait, "error.guests.too_many_joins")

    def join(self, token: str, *, name: str) -> tuple[Guest, str]:
        """Redeem a link as a guest called `name`: the guest, and their session's token (the
        cookie's value). The checks run again under the invite's lock, and the use is
        counted there, so a single-use link lets in one guest however many race for it."""
        name = clean_guest_name(name)
        payload = self._payload(token)
        session = secrets.token_urlsafe(32)
        # `default`: an unknown invite is refused as a bad link (and, refused, never written).
        with self.store.update(layout.GUESTS, layout.GUEST_INVITES, payload["i"], default={}) as doc:
            self._matching(doc, payload, token)
            self._usable(doc)
            guest = self._admit(doc, name, session)
            doc["uses"] += 1
            doc["guests"].append(guest.id)
        return guest, session

    def _admit(self, invite: dict, name: str, session: str) -> Guest:
        now = self._now()
        gid = new_id()
        doc = {"id": gid, "name": name, "scope": invite["scope"], "invite": invite["id"], "joined": now,
               "removed": None, "session": secret_id(session)}
        if not self.store.create(layout.GUESTS, gid, doc=doc):
            raise Conflict("error.conflict")  # 80 random bits taken: never, unless the disk lies
        try:
            self.roster.add_guest(invite["scope"]["id"], guest=gid, name=name)
            ttl = min(invite["expires"] - now, SESSION_LIFETIME)
            self.sessions.put(secret_id(session), {"guest": gid}, ttl=ttl)
        except Exception:
            self.store.delete(layout.GUESTS, gid)  # no guest without their place and session
            raise
        return _guest(doc)

    # -- a guest's session ----------------------------------------------------------------

    def session(self, token: str | None) -> Guest | None:
        """The guest a session token belongs to, if they may still be in their conversation:
        the session lives, the guest was not removed, the invite is neither revoked nor
        expired, and the conversation is open. Checked on every request, so access ends at once."""
        if not isinstance(token, str) or not token or len(token) > TOKEN_LIMIT:
            return None
        sid = secret_id(token)
        record = self.sessions.get(sid)
        if record is None:
            return None
        doc = self.store.read(layout.GUESTS, record["guest"])
        if doc is None or doc["removed"] is not None or not hmac.compare_digest(doc["session"], sid):
            return None
        invite = self.store.read(layout.GUESTS, layout.GUEST_INVITES, doc["invite"])
        if invite is None or invite["revoked"] is not None or invite["expires"] <= self._now():
            return None
        guest = _guest(doc)
        return guest if self.is_open(guest.scope) else None

    def sign_out(self, token: str) -> None:
        """End a guest's session (they stay listed until removed; the link may let them in
        again if it is multi-use and still valid)."""
        if isinstance(token, str) and token and len(token) <= TOKEN_LIMIT:
            self.sessions.delete(secret_id(token))

    # -- the guests ------------------------------------------------------------------------

    def remove(self, guest_id: str, *, by: Participant, admin: bool = False) -> Guest:
        """The inviter or an admin takes a guest out of their conversation; their session
        ends. Removing them again changes nothing."""
        gid = _known_id(guest_id)
        doc = self.store.read(layout.GUESTS, gid)
        if doc is None:
            raise NotFound("error.guests.not_found")
        invite = self.store.read(layout.GUESTS, layout.GUEST_INVITES, doc["invite"])
        if invite is None:
            raise NotFound("error.guests.not_found")
        self._may_manage(invite, by, admin)
        return self._end(gid, self._now())

    def _end(self, gid: str, when: int) -> Guest:
        """Mark a guest removed, delete their session, take them off the channel's list."""
        with self.store.update(layout.GUESTS, gid) as doc:
            if doc["removed"] is None:
                doc["removed"] = when
            guest, sid = _guest(doc), doc["session"]
        self.sessions.delete(sid)
        try:
            self.roster.remove_guest(guest.scope.id, guest=gid)
        except NotFound:
            pass  # the channel was deleted: nothing lists them any more
        if guest.scope.kind == "meeting":  # out of the room now, not when their heartbeat lapses
            Meetings(self.store).leave(guest.scope.id, by=guest.participant())
        return guest

    def all(self) -> list[Guest]:
        """Every guest, removed ones included (`removed`), for the admin page: newest first."""
        found = [_guest(doc) for doc in self._docs(layout.GUESTS)]
        return sorted(found, key=lambda g: (-g.joined, g.id))

    def of_scope(self, scope: Scope) -> list[Guest]:
        return [guest for guest in self.all() if guest.scope == scope]

    # -- GDPR ------------------------------------------------------------------------------

    def forget_scope(self, scope: Scope) -> int:
        """A deleted conversation's guests and invitations leave the disk with it (a guest's
        data goes with their scope): the invitations first, so nobody joins meanwhile; then
        each guest, their session ended. How many guests."""
        for doc in self._docs(layout.GUESTS, layout.GUEST_INVITES):
            if doc["scope"] == _scope_doc(scope):
                self.store.delete(layout.GUESTS, layout.GUEST_INVITES, doc["id"])
        count = 0
        for doc in self._docs(layout.GUESTS):
            if doc["scope"] == _scope_doc(scope):
                self.sessions.delete(doc["session"])
                self.store.delete(layout.GUESTS, doc["id"])
                count += 1
        return count

    def forget_by(self, sub: str) -> None:
        """A deleted account's invitations: revoked (their guests lose access), and the
        inviter's name removed from them."""
        for name in self.store.list(layout.GUESTS, layout.GUEST_INVITES):
            doc = self.store.read(layout.GUESTS, layout.GUEST_INVITES, name)
            if doc is None or doc["by"] != sub:
                continue
            with self.store.update(layout.GUESTS, layout.GUEST_INVITES, name) as doc:
                doc["by_name"] = ""
                if doc["revoked"] is None:
                    doc["revoked"] = self._now()
                when, joined = doc["revoked"], list(doc["guests"])
            for gid in joined:
                self._end(gid, when)


def forget_inviter(store, sub: str) -> None:
    """A deleted account's invitations (codeb.accounts): revoked, the inviter's name dropped.
    Only the store is needed: no link is signed or read, and no conversation asked about."""
    Guests(store, "", is_open=lambda scope: False).forget_by(sub)
