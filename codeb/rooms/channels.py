"""Channels: conversations of a tenant's accounts and their guests (issue 14, the workspace).

A channel is a folder `channels/<id>/` (layout.CHANNELS):

- `channel.json`: its name, kind ("channel", or "meeting" for a meeting's chat), members
  (sub -> role "owner" | "member", joined) and guests (guest id -> name, joined), and
  whether it is archived. It is the truth about who is in the channel; every change to it
  is a read-modify-write through `store.update`.
- `messages/`: its log in segment files (`codeb.store.segments`): posts, edits and deletes,
  each one appended line with a gap-free seq; `codeb.rooms.messages` folds them into what
  people see. A post never rewrites a document, so a busy channel costs one line per post.
- `read/<person>.json`: how far each account has read (a seq that never goes back).

`memberships/<person>.json` (layout.MEMBERSHIPS) lists the channels a person is in, so that
their list is one read and not a scan of every channel. It is derived: whoever changes a
channel's members updates it in the same operation, under the channel's own lock (taken
around the document's), adding an entry before the channel lists the person and dropping it
after the channel no longer does, so a crash in between leaves an entry too many and never
one too few. `of_person` checks every entry against channel.json and drops stale ones
silently. Locks are always taken in one order: the channel, then its document, then a
person's memberships; the log's own lock comes last (`delete` takes it under the channel's)
and nothing is locked while it is held.

Who may do what: members (accounts) read and write; owners also rename, archive and delete
(an admin may delete any channel); a guest (`codeb.rooms.guests`) acts only in a channel that
lists them, posts and changes only their own messages, adds nobody, and loses access when
the channel is archived. An archived channel is read-only for its members (Conflict). Posts
and edits count against one limit per participant (30 a minute, all channels together),
which keeps a script with a stolen session from flooding every channel it is in.

GDPR (Art. 15 and 17): `export_of` lists what an account wrote anywhere; `erase_person`
takes the account out of every channel and rewrites the logs so its texts are gone from
disk, their seqs kept so that nobody else's messages move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import BadInput, Conflict, Forbidden, NotFound, RateLimited
from ..store import layout
from ..store.segments import Segments
from . import ROOM_ID, Participant, check_id, clean_name, clean_text, new_id
from . import messages as log_records

KINDS = ("channel", "meeting")
CHANNEL_DOC = "channel"      # channels/<id>/channel.json
MESSAGES = "messages"        # channels/<id>/messages/: the log
READ = "read"                # channels/<id>/read/<person>.json
POSTS_PER_MINUTE = 30        # posts and edits per participant
HISTORY_LIMIT = 200          # messages one history page holds at most
CHANGES_LIMIT = 500          # records one poll gets at most; the next poll gets the rest
SEARCH_LIMIT = 200
QUERY_LIMIT = 200            # characters of a search


@dataclass(frozen=True)
class Channel:
    id: str
    kind: str
    name: str
    created: int
    created_by: str             # the creator's sub ("" once erased)
    archived: bool              # read-only, and its guests lose access
    members: dict[str, dict]    # sub -> {"role": "owner" | "member", "joined": int}
    guests: dict[str, dict]     # guest id -> {"name": str, "joined": int}

    @classmethod
    def from_doc(cls, doc: dict) -> Channel:
        return cls(id=doc["id"], kind=doc["kind"], name=doc["name"], created=doc["created"],
                   created_by=doc["created_by"], archived=bool(doc.get("archived")),
                   members={s: dict(m) for s, m in doc["members"].items()},
                   guests={g: dict(v) for g, v in doc.get("guests", {}).items()})

    def role_of(self, who: Participant) -> str | None:
        """"owner", "member", "guest" or None (not in this channel)."""
        if who.is_guest:
            return "guest" if who.guest in self.guests else None
        member = self.members.get(who.sub) if who.sub is not None else None
        return member["role"] if member else None


class Channels:
    def __init__(self, store):
        self.store = store

    # -- the channel -------------------------------------------------------------------------

    def create(self, *, name: str, by: Participant, kind: str = "channel", members: Iterable[str] = ()) -> Channel:
        """A channel owned by `by`, with `members` (subs the caller checked are accounts)."""
        _account(by)
        if kind not in KINDS:
            raise ValueError(f"no channel kind {kind!r}")
        name = clean_name(name)
        owner = _sub(by.sub)
        now = int(self.store.clock())
        roster: dict[str, dict] = {owner: {"role": "owner", "joined": now}}
        for sub in members:
            roster.setdefault(_sub(sub), {"role": "member", "joined": now})
        cid = new_id()
        doc: dict = {"id": cid, "kind": kind, "name": name, "created": now, "created_by": owner,
                     "archived": False, "members": roster, "guests": {}}
        with self.store.lock(layout.CHANNELS, cid):
            for sub in roster:
                self._listed(sub, add=cid)
            if not self.store.create(layout.CHANNELS, cid, CHANNEL_DOC, doc=doc):
                raise Conflict("error.conflict")  # 80 random bits taken: never, unless the disk lies
        return Channel.from_doc(doc)

    def get(self, cid) -> Channel:
        doc = self.store.read(layout.CHANNELS, check_id(cid), CHANNEL_DOC)
        if doc is None:
            raise NotFound("error.rooms.not_found")
        return Channel.from_doc(doc)

    def of_person(self, sub: str) -> list[Channel]:
        """The channels (and meeting chats) `sub` is a member of, by name."""
        listed = (self.store.read(layout.MEMBERSHIPS, layout.person(sub)) or {}).get("channels", [])
        found, stale = [], []
        for cid in listed:
            channel = self._find(cid)
            if channel is not None and sub in channel.members:
                found.append(channel)
            else:
                stale.append(cid)
        for cid in stale:
            self._drop_stale(sub, cid)
        return sorted(found, key=lambda c: (c.name.casefold(), c.id))

    def rename(self, cid, *, by: Participant, name: str) -> Channel:
        """An owner renames an open channel."""
        name = clean_name(name)

        def rename(channel: Channel, doc: dict) -> None:
            _owner(channel, by)
            _open(channel)
            doc["name"] = name

        return self._change(cid, rename)

    def archive(self, cid, *, by: Participant) -> Channel:
        """Read-only from now on, and its guests lose access. Archiving twice changes nothing."""
        def archive(channel: Channel, doc: dict) -> None:
            _owner(channel, by)
            _archived(doc, int(self.store.clock()))

        return self._change(cid, archive)

    def close(self, cid) -> Channel:
        """Archive without an actor: a meeting's chat when the meeting is over
        (`codeb.rooms.meetings`), whose owner may be gone by then."""
        return self._change(cid, lambda channel, doc: _archived(doc, int(self.store.clock())))

    def add_member(self, cid, *, by: Participant, sub: str) -> Channel:
        """Any member adds an account (the caller checked `sub` is one); adding a member
        again changes nothing. A new member's unread count starts at what is there now."""
        sub = _sub(sub)

        def add(channel: Channel, doc: dict) -> None:
            _member(channel, by)
            _open(channel)
            if sub not in doc["members"]:
                doc["members"][sub] = {"role": "member", "joined": int(self.store.clock())}

        return self._change(cid, add)

    def remove_member(self, cid, *, by: Participant, sub: str) -> Channel:
        """An owner removes a member, or a member leaves (in an archived channel too: to
        be rid of it). The last owner cannot leave: someone must be able to archive it."""

        def remove(channel: Channel, doc: dict) -> None:
            _member(channel, by)
            if sub != by.sub and channel.role_of(by) != "owner":
                raise Forbidden("error.rooms.owner_only")
            if sub not in channel.members:
                raise NotFound("error.rooms.not_a_member")
            owners = [s for s, m in channel.members.items() if m["role"] == "owner"]
            if owners == [sub]:
                raise Conflict("error.rooms.last_owner")
            del doc["members"][sub]

        return self._change(cid, remove)

    def add_guest(self, cid, *, guest: str, name: str) -> Channel:
        """Let a guest in (codeb.rooms.guests calls this when a guest redeems an invite);
        a guest let in again keeps when they joined and shows the name given now."""
        guest = check_id(guest)
        name = clean_name(name)

        def add(channel: Channel, doc: dict) -> None:
            _open(channel)
            joined = doc["guests"].get(guest, {}).get("joined", int(self.store.clock()))
            doc["guests"][guest] = {"name": name, "joined": joined}

        return self._change(cid, add)

    def remove_guest(self, cid, *, guest: str) -> Channel:
        def remove(channel: Channel, doc: dict) -> None:
            doc["guests"].pop(guest, None)

        return self._change(cid, remove)

    def delete(self, cid, *, by: Participant, admin: bool = False) -> None:
        """An owner (or an admin of the tenant: `admin`, which the caller checked) deletes the
        channel: its folder goes, messages and read state with it, and every membership."""
        cid = check_id(cid)
        with self.store.lock(layout.CHANNELS, cid):
            channel = self.get(cid)
            if not admin:
                _owner(channel, by)
            self._remove(channel)

    # -- messages ------------------------------------------------------------------------------

    def post(self, cid, *, by: Participant, text: str, mentions: Iterable[str] = ()) -> dict:
        """Write a message: `{"id", "at", "from", "name", "text", "mentions", "edited", "deleted"}`."""
        channel = self._writer(cid, by)
        text = clean_text(text)
        kept = log_records.mentions_of(mentions, channel.members)
        self._count_post(by)
        return log_records.message(self._log(channel.id).append(log_records.post(by, text, kept)))

    def edit(self, cid, *, by: Participant, message: int, text: str) -> dict:
        """Change the text of one's own message (not a deleted one); mentions in it are kept
        if they are still members."""
        channel = self._writer(cid, by)
        text = clean_text(text)
        shown = self._own_message(channel, by, message)
        kept = log_records.mentions_of(shown["mentions"], channel.members)
        self._count_post(by)
        record = self._log(channel.id).append(log_records.edit(by, shown["id"], text, kept))
        log_records.apply(shown, record)
        return shown

    def delete_message(self, cid, *, by: Participant, message: int) -> dict:
        """Delete one's own message: shown as deleted, and its text is taken off the disk."""
        channel = self._writer(cid, by)
        shown = self._own_message(channel, by, message)
        log = self._log(channel.id)
        record = log.append(log_records.delete(by, shown["id"]))
        log.rewrite(log_records.Scrub(shown["id"]), after=shown["id"] - 1)
        log_records.apply(shown, record)
        return shown

    def history(self, cid, *, by: Participant, before: int | None = None, limit: int = 50) -> list[dict]:
        """The last `limit` messages (with an id below `before`, if given), oldest first, their
        edits and deletes folded in. Read from the newest segment back, as far as needed."""
        channel = self._reader(cid, by)
        if before is not None:
            before = _number(before, "before")
        limit = _limit(limit, HISTORY_LIMIT)
        chunks: list[list[dict]] = []
        posts = 0
        for chunk in self._log(channel.id).newest_first():
            chunks.append(chunk)
            posts += sum(1 for r in chunk if r.get("op") == "post" and (before is None or r["seq"] < before))
            if posts >= limit:
                break
        shown = log_records.fold(r for chunk in reversed(chunks) for r in chunk)
        return [m for m in shown if before is None or m["id"] < before][-limit:]

    def changes(self, cid, *, by: Participant, after: int) -> list[dict]:
        """The records after seq `after` as they are (posts, edits, deletes), for a poll to apply
        to what it has: at most CHANGES_LIMIT, the next poll asks from the last one's seq."""
        channel = self._reader(cid, by)
        after = _number(after, "after")
        return [log_records.event(r) for r in self._log(channel.id).after(after, limit=CHANGES_LIMIT)]

    def search(self, cid, *, by: Participant, query: str, limit: int = 50) -> list[dict]:
        """Live messages containing `query` (case-insensitive: casefold), newest first."""
        channel = self._reader(cid, by)
        if not isinstance(query, str) or not query.strip() or len(query.strip()) > QUERY_LIMIT:
            raise BadInput("error.rooms.query")
        limit = _limit(limit, SEARCH_LIMIT)
        return log_records.search(self._log(channel.id).newest_first(), query.strip().casefold(), limit)

    def mark_read(self, cid, *, by: Participant, seq: int) -> None:
        """An account has read up to `seq` (never back, never past the last record). A guest
        keeps no read state: they see one conversation, in one browser."""
        seq = _number(seq, "seq")
        cid = check_id(cid)
        with self.store.lock(layout.CHANNELS, cid):  # `delete` holds it too: no read state in a deleted folder
            channel = self._reader(cid, by)
            if by.is_guest or by.sub is None:
                return
            seq = min(seq, self._log(cid).last())
            person = layout.person(by.sub)
            with self.store.update(layout.CHANNELS, channel.id, READ, person, default={"seq": 0}) as doc:
                doc["seq"] = max(doc["seq"], seq)

    def unread(self, cid, *, by: Participant) -> dict:
        """`{"count": live messages by others after what `by` read, "mentions": how many of
        them mention `by`, "last": the last seq}`; for a guest the count is 0."""
        channel = self._reader(cid, by)
        log = self._log(channel.id)
        if by.is_guest or by.sub is None:
            return {"count": 0, "mentions": 0, "last": log.last()}
        seen = self._read_up_to(channel.id, by.sub)
        count, mentions = log_records.unread(log.after(seen), by.sub)
        return {"count": count, "mentions": mentions, "last": log.last()}

    def stamp(self, cid) -> str:
        """Changes with any message and any change of the channel: for ETags of polls."""
        cid = check_id(cid)
        doc = self.store.stamp(layout.CHANNELS, cid, CHANNEL_DOC)
        if doc is None:
            raise NotFound("error.rooms.not_found")
        seen = f"{doc}:{self._log(cid).stamp()}"
        return hashlib.sha256(seen.encode("utf-8")).hexdigest()[:20]

    # -- GDPR ----------------------------------------------------------------------------------------

    def export_of(self, sub: str) -> list[dict]:
        """Art. 15: every live message `sub` wrote, in any channel, whether still a member or
        not: `[{"channel": name, "channel_id", "at", "text", "edited"}]`, by channel and time."""
        found = []
        for channel in self._all():
            for shown in log_records.fold(self._log(channel.id).after(0)):
                if shown["from"].get("sub") == sub and not shown["deleted"]:
                    found.append({"channel": channel.name, "channel_id": channel.id, "at": shown["at"],
                                  "text": shown["text"], "edited": shown["edited"]})
        return found

    def erase_person(self, sub: str) -> int:
        """Art. 17: `sub` leaves every channel (a last owner's channel passes to its oldest
        member; one left with nobody is deleted) and their texts are rewritten away in every
        log. Returns how many of their messages were erased."""
        erased = 0
        for channel in self._all():
            if not self._forget_member(channel.id, sub):
                continue  # deleted: nobody was left
            erasure = log_records.Erasure(sub)
            self._log(channel.id).rewrite(erasure)
            erased += erasure.count
        self.store.delete(layout.MEMBERSHIPS, layout.person(sub))
        return erased

    # -- the steps ---------------------------------------------------------------------------------

    def _log(self, cid: str) -> Segments:
        return self.store.segments(layout.CHANNELS, cid, MESSAGES)

    def _find(self, cid) -> Channel | None:
        try:
            return self.get(cid)
        except NotFound:
            return None

    def _all(self) -> list[Channel]:
        """Every channel of the tenant (a scan: for GDPR, not for requests)."""
        found = (self._find(cid) for cid in self.store.folders(layout.CHANNELS) if ROOM_ID.fullmatch(cid))
        return [channel for channel in found if channel is not None]

    def _reader(self, cid, by: Participant) -> Channel:
        """The channel, if `by` is in it (a guest only while it is not archived)."""
        channel = self.get(cid)
        role = channel.role_of(by)
        if role is None or (role == "guest" and channel.archived):
            raise Forbidden("error.rooms.not_in_channel")
        return channel

    def _writer(self, cid, by: Participant) -> Channel:
        channel = self._reader(cid, by)
        _open(channel)
        return channel

    def _own_message(self, channel: Channel, by: Participant, message) -> dict:
        """The message `message` as it is now, if `by` wrote it and it is not deleted."""
        if type(message) is not int or message < 1:
            raise NotFound("error.rooms.no_such_message")
        records = self._log(channel.id).after(message - 1)
        if not records or records[0]["seq"] != message or records[0].get("op") != "post":
            raise NotFound("error.rooms.no_such_message")
        shown = log_records.fold(r for r in records if r["seq"] == message or r.get("message") == message)[0]
        if shown["deleted"]:
            raise NotFound("error.rooms.no_such_message")
        if log_records.author_key(shown["from"]) != by.key:
            raise Forbidden("error.rooms.not_yours")
        return shown

    def _count_post(self, by: Participant) -> None:
        wait = self.store.counter(layout.POSTS_PER_PARTICIPANT).hit(by.key, POSTS_PER_MINUTE, 60)
        if wait:
            raise RateLimited(wait, "error.rooms.posting_too_fast")

    def _read_up_to(self, cid: str, sub: str) -> int:
        doc = self.store.read(layout.CHANNELS, cid, READ, layout.person(sub))
        return doc["seq"] if doc else 0

    def _change(self, cid, change: Callable[[Channel, dict], None]) -> Channel:
        cid = check_id(cid)
        with self.store.lock(layout.CHANNELS, cid):
            return self._change_locked(cid, change)

    def _change_locked(self, cid: str, change: Callable[[Channel, dict], None]) -> Channel:
        """One read-modify-write of channel.json, with `change(channel as it is, doc)` checking
        and changing it, and the memberships and read state of whom it adds or removes.
        The caller holds the channel's lock."""
        if not self.store.exists(layout.CHANNELS, cid, CHANNEL_DOC):
            raise NotFound("error.rooms.not_found")
        with self.store.update(layout.CHANNELS, cid, CHANNEL_DOC) as doc:
            before = set(doc["members"])
            change(Channel.from_doc(doc), doc)
            added = set(doc["members"]) - before
            removed = before - set(doc["members"])
            for sub in sorted(added):  # listed before the channel lists them: never one too few
                self._listed(sub, add=cid)
        last = self._log(cid).last() if added else 0
        for sub in sorted(added):  # a new member has read what was there: no flood of "unread"
            self.store.write(layout.CHANNELS, cid, READ, layout.person(sub), doc={"seq": last})
        for sub in sorted(removed):
            self._listed(sub, drop=cid)
            self.store.delete(layout.CHANNELS, cid, READ, layout.person(sub))
        return Channel.from_doc(doc)

    def _listed(self, sub: str, *, add: str | None = None, drop: str | None = None) -> None:
        """Add or drop one channel in `memberships/<person>.json`."""
        with self.store.update(layout.MEMBERSHIPS, layout.person(sub), default={"channels": []}) as doc:
            kept = [c for c in doc["channels"] if c not in (add, drop)]
            doc["channels"] = [*kept, add] if add else kept

    def _drop_stale(self, sub: str, cid: str) -> None:
        """Drop a memberships entry whose channel does not list the person, checked again under
        the channel's lock: an `add_member` running now lists them first and is kept."""
        if not isinstance(cid, str) or not ROOM_ID.fullmatch(cid):
            self._listed(sub, drop=cid)
            return
        with self.store.lock(layout.CHANNELS, cid):
            channel = self._find(cid)
            if channel is None or sub not in channel.members:
                self._listed(sub, drop=cid)

    def _remove(self, channel: Channel) -> None:
        """The channel's folder and every membership of it; the caller holds its lock."""
        self._log(channel.id).remove()  # under the log's lock: no append lands in it meanwhile
        self.store.remove_tree(layout.CHANNELS, channel.id)
        for sub in sorted(channel.members):
            self._listed(sub, drop=channel.id)

    def _forget_member(self, cid: str, sub: str) -> bool:
        """Take `sub` out of a channel for good (erasure). False if that left nobody, and the
        channel was deleted."""
        with self.store.lock(layout.CHANNELS, cid):
            channel = self._find(cid)
            if channel is None:
                return False
            if set(channel.members) <= {sub} and sub in channel.members:
                self._remove(channel)
                return False
            if sub in channel.members or channel.created_by == sub:
                self._change_locked(cid, lambda _, doc: _without(doc, sub))
        return True


def _without(doc: dict, sub: str) -> None:
    """`sub` out of a channel's document; if they were its last owner, its oldest member
    (then the first by sub) becomes one."""
    gone = doc["members"].pop(sub, None)
    if doc.get("created_by") == sub:
        doc["created_by"] = ""
    if gone and gone["role"] == "owner" and not any(m["role"] == "owner" for m in doc["members"].values()):
        oldest = min(doc["members"], key=lambda s: (doc["members"][s]["joined"], s))
        doc["members"][oldest]["role"] = "owner"


def _archived(doc: dict, now: int) -> None:
    if not doc.get("archived"):
        doc["archived"] = True
        doc["archived_at"] = now


def _account(by: Participant) -> None:
    if by.is_guest or by.sub is None:
        raise Forbidden("error.rooms.guest_cannot")


def _member(channel: Channel, by: Participant) -> None:
    """`by` is an account in the channel (a guest of it is told what they cannot do)."""
    role = channel.role_of(by)
    if role is None:
        raise Forbidden("error.rooms.not_in_channel")
    if role == "guest":
        raise Forbidden("error.rooms.guest_cannot")


def _owner(channel: Channel, by: Participant) -> None:
    _member(channel, by)
    if channel.role_of(by) != "owner":
        raise Forbidden("error.rooms.owner_only")


def _open(channel: Channel) -> None:
    if channel.archived:
        raise Conflict("error.rooms.archived")


def _sub(value) -> str:
    """A sub the caller checked names an account: here only its shape (a non-empty string)."""
    if not isinstance(value, str) or not value:
        raise ValueError("a member is named by the sub of an account")
    return value


def _number(value, name: str) -> int:
    if type(value) is not int or value < 0:
        raise BadInput("error.rooms.parameter", name=name)
    return value


def _limit(value, most: int) -> int:
    if type(value) is not int or value < 1:
        raise BadInput("error.rooms.parameter", name="limit")
    return min(value, most)
