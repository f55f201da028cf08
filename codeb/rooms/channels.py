"""Chat channels: `channels/<id>/` in the tenant's folder.

`channel.json` holds the channel (name, kind, archived, members with their roles, guests),
changed only by locked read-modify-writes; `messages/` its events in segment files
(codeb.store.segments: one appended line per post, edit or delete); `read/<person>.json`
how far each member has read, one small document per member so that reading never
contends with posting. `memberships/<person>.json` lists a person's channels, so the
shell's card is one read and not a scan: it is derived, written after the channel, and
each entry is checked against `channel.json` before it is trusted.

Every operation names who acts (`Participant`). Who is not in a channel meets a
`NotFound`, as if it did not exist; a member who may not do something a `Forbidden`; an
archived channel takes no more writes (`Conflict`). Posting is rate-limited per
participant, a guest's posts like a member's.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import Conflict, Forbidden, NotFound, RateLimited
from ..store import layout
from . import Participant, check_id, clean_name, clean_text, messages, new_id

POSTS_PER_MINUTE = 30
CHANGES_LIMIT = 500
KINDS = ("channel", "meeting")
_CHANNEL = "channel"
_MESSAGES = "messages"
_READ = "read"


@dataclass(frozen=True)
class Channel:
    id: str
    kind: str
    name: str
    created: int
    created_by: str
    archived: bool
    members: dict
    guests: dict

    def role_of(self, who: Participant) -> str | None:
        if who.sub is not None:
            return (self.members.get(who.sub) or {}).get("role")
        return "guest" if who.guest in self.guests else None


def _channel(doc: dict) -> Channel:
    return Channel(id=doc["id"], kind=doc.get("kind", "channel"), name=doc["name"], created=doc["created"],
                   created_by=doc.get("created_by", ""), archived=bool(doc.get("archived")),
                   members=dict(doc.get("members") or {}), guests=dict(doc.get("guests") or {}))


def _sender(who: Participant) -> dict:
    return {"sub": who.sub} if who.sub is not None else {"guest": who.guest, "name": who.name}


class Channels:
    def __init__(self, store):
        self.store = store

    # -- the channel -----------------------------------------------------------------

    def create(self, *, name, by: Participant, kind: str = "channel", members: Iterable[str] = ()) -> Channel:
        if by.sub is None:
            raise Forbidden("error.rooms.guest_cannot")
        if kind not in KINDS:
            raise ValueError(kind)
        now = int(self.store.clock())
        cid = new_id()
        people: dict[str, dict] = {by.sub: {"role": "owner", "joined": now}}
        for sub in members:
            people.setdefault(sub, {"role": "member", "joined": now})
        doc = {"id": cid, "kind": kind, "name": clean_name(name), "created": now, "created_by": by.sub,
               "archived": False, "members": people, "guests": {}}
        self.store.create(layout.CHANNELS, cid, _CHANNEL, doc=doc)
        for sub in people:
            self._remember(sub, cid)
        return _channel(doc)

    def get(self, cid: str) -> Channel:
        doc = self.store.read(layout.CHANNELS, check_id(cid), _CHANNEL)
        if doc is None:
            raise NotFound("error.rooms.not_found")
        return _channel(doc)

    def _in(self, cid: str, who: Participant) -> Channel:
        channel = self.get(cid)
        if channel.role_of(who) is None:
            raise NotFound("error.rooms.not_found")
        return channel

    def _writable(self, cid: str, who: Participant) -> Channel:
        channel = self._in(cid, who)
        if channel.archived:
            raise Conflict("error.rooms.archived")
        return channel

    def _change(self, cid: str, change) -> Channel:
        with self.store.update(layout.CHANNELS, check_id(cid), _CHANNEL) as doc:
            change(doc)
        return _channel(doc)

    def of_person(self, sub: str) -> list[Channel]:
        doc = self.store.read(layout.MEMBERSHIPS, layout.person(sub)) or {}
        found = []
        for cid in doc.get("channels", {}):
            try:
                channel = self.get(cid)
            except NotFound:
                continue
            if sub in channel.members:
                found.append(channel)
        return found

    def _remember(self, sub: str, cid: str) -> None:
        with self.store.update(layout.MEMBERSHIPS, layout.person(sub), default={"channels": {}}) as doc:
            doc["channels"][cid] = int(self.store.clock())

    def _forget(self, sub: str, cid: str) -> None:
        if not self.store.exists(layout.MEMBERSHIPS, layout.person(sub)):
            return
        with self.store.update(layout.MEMBERSHIPS, layout.person(sub)) as doc:
            doc["channels"].pop(cid, None)

    def rename(self, cid, *, by: Participant, name) -> Channel:
        self._owner(self._writable(cid, by), by)
        name = clean_name(name)
        return self._change(cid, lambda doc: doc.update(name=name))

    def archive(self, cid, *, by: Participant) -> Channel:
        channel = self._in(cid, by)
        self._owner(channel, by)
        return channel if channel.archived else self._change(cid, lambda doc: doc.update(archived=True))

    def close(self, cid) -> Channel:
        """Archive without an actor: a meeting that ended takes its chat with it."""
        return self._change(cid, lambda doc: doc.update(archived=True))

    @staticmethod
    def _owner(channel: Channel, by: Participant) -> None:
        if channel.role_of(by) != "owner":
            raise Forbidden("error.rooms.owner_only")

    def add_member(self, cid, *, by: Participant, sub: str) -> Channel:
        if by.is_guest:
            raise Forbidden("error.rooms.guest_cannot")
        self._writable(cid, by)
        now = int(self.store.clock())
        channel = self._change(cid, lambda doc: doc["members"].setdefault(sub, {"role": "member", "joined": now}))
        self._remember(sub, cid)
        return channel

    def remove_member(self, cid, *, by: Participant, sub: str) -> Channel:
        channel = self._in(cid, by)
        if by.sub != sub:
            self._owner(channel, by)
        if sub not in channel.members:
            raise NotFound("error.rooms.not_a_member")

        def remove(doc):
            owners = [s for s, m in doc["members"].items() if m.get("role") == "owner"]
            if owners == [sub]:
                raise Conflict("error.rooms.last_owner")
            doc["members"].pop(sub, None)
        channel = self._change(cid, remove)
        self._forget(sub, cid)
        return channel

    def add_guest(self, cid, *, guest: str, name: str) -> Channel:
        now = int(self.store.clock())
        return self._change(cid, lambda doc: doc["guests"].setdefault(guest, {"name": name, "joined": now}))

    def remove_guest(self, cid, *, guest: str) -> Channel:
        return self._change(cid, lambda doc: doc["guests"].pop(guest, None))

    def delete(self, cid, *, by: Participant, admin: bool = False) -> None:
        channel = self.get(cid)
        if not admin:
            if channel.role_of(by) is None:
                raise NotFound("error.rooms.not_found")
            self._owner(channel, by)
        self.store.remove_tree(layout.CHANNELS, channel.id)
        for sub in channel.members:
            self._forget(sub, channel.id)

    # -- messages --------------------------------------------------------------------

    def _log(self, cid: str):
        return self.store.segments(layout.CHANNELS, check_id(cid), _MESSAGES)

    def post(self, cid, *, by: Participant, text, mentions: Iterable[str] = ()) -> dict:
        channel = self._writable(cid, by)
        text = clean_text(text)
        wait = self.store.counter(layout.POSTS_PER_PARTICIPANT).hit(by.key, POSTS_PER_MINUTE, 60)
        if wait:
            raise RateLimited(wait, "error.rooms.posting_too_fast")
        named = [sub for sub in dict.fromkeys(mentions) if sub in channel.members and sub != by.sub]
        event = self._log(cid).append({"op": "post", "from": _sender(by), "name": by.name, "text": text,
                                       "mentions": named})
        return messages.fold([event])[event["seq"]]

    def _own(self, cid, by: Participant, message: int) -> dict:
        self._writable(cid, by)
        found = messages.fold(self._log(cid).all()).get(message)
        if found is None or found["deleted"]:
            raise NotFound("error.rooms.no_such_message")
        if not messages.is_from(found, _sender(by)):
            raise Forbidden("error.rooms.not_yours")
        return found

    def edit(self, cid, *, by: Participant, message: int, text) -> dict:
        found = self._own(cid, by, message)
        text = clean_text(text)
        event = self._log(cid).append({"op": "edit", "message": message, "from": _sender(by), "text": text})
        return {**found, "text": text, "edited": event["at"]}

    def delete_message(self, cid, *, by: Participant, message: int) -> dict:
        found = self._own(cid, by, message)
        self._log(cid).append({"op": "delete", "message": message, "from": _sender(by)})
        return {**found, "text": None, "deleted": True}

    def history(self, cid, *, by: Participant, before: int | None = None, limit: int = 50) -> list[dict]:
        self._in(cid, by)
        folded = messages.fold(self._log(cid).all())
        shown = [m for m in folded.values() if before is None or m["id"] < before]
        return shown[-limit:]

    def changes(self, cid, *, by: Participant, after: int) -> list[dict]:
        self._in(cid, by)
        return [messages.event_view(e) for e in self._log(cid).after(after, CHANGES_LIMIT)]

    def search(self, cid, *, by: Participant, query: str, limit: int = 50) -> list[dict]:
        self._in(cid, by)
        found = [m for m in messages.fold(self._log(cid).all()).values() if messages.matches(m, query)]
        return list(reversed(found))[:limit]

    def stamp(self, cid) -> str:
        state = self.store.stamp(layout.CHANNELS, check_id(cid), _CHANNEL)
        return f"{state}/{self._log(cid).stamp()}"

    # -- read state ------------------------------------------------------------------

    def mark_read(self, cid, *, by: Participant, seq: int) -> None:
        self._in(cid, by)
        if by.sub is None:
            return  # a guest's reading is not kept
        seq = min(int(seq), self._log(cid).last())
        parts = (layout.CHANNELS, cid, _READ, layout.person(by.sub))
        current = (self.store.read(*parts) or {}).get("seq", 0)
        if seq > current:
            with self.store.update(*parts, default={"seq": 0}) as doc:
                doc["seq"] = max(doc.get("seq", 0), seq)

    def unread(self, cid, *, by: Participant) -> dict:
        log = self._log(cid)
        last = log.last()
        read = 0
        if by.sub is not None:
            read = (self.store.read(layout.CHANNELS, cid, _READ, layout.person(by.sub)) or {}).get("seq", 0)
        count = mentions = 0
        if last > read:
            for message in messages.fold(log.after(read)).values():
                if not message["deleted"] and not messages.is_from(message, _sender(by)):
                    count += 1
                    mentions += by.sub in message["mentions"]
        return {"count": count, "mentions": mentions, "last": last}

    # -- GDPR --------------------------------------------------------------------------

    def _all_ids(self) -> list[str]:
        return [cid for cid in self.store.folders(layout.CHANNELS) if self.store.exists(layout.CHANNELS, cid, _CHANNEL)]

    def export_of(self, sub: str) -> list[dict]:
        """Every live message the person posted, with its channel (Art. 20)."""
        out = []
        for cid in self._all_ids():
            channel = self.get(cid)
            for message in messages.fold(self._log(cid).all()).values():
                if not message["deleted"] and message["from"].get("sub") == sub:
                    out.append({"channel": channel.name, "channel_id": cid, "kind": channel.kind,
                                "at": message["at"], "text": message["text"], "edited": message["edited"]})
        return out

    def erase_person(self, sub: str) -> int:
        """The person's texts leave the disk; their messages stay as gaps ("deleted") where others'
        threads need them. They leave every channel; a channel nobody is left in goes (Art. 17)."""
        erased = 0

        def blank(record: dict) -> dict:
            if (record.get("from") or {}).get("sub") == sub and record.get("op") in ("post", "edit"):
                record.update(text=None, name="", erased=True)
            return record
        for cid in self._all_ids():
            erased += sum(1 for r in self._log(cid).all() if r.get("op") == "post" and
                          (r.get("from") or {}).get("sub") == sub and r.get("text") is not None)
            self._log(cid).rewrite(blank)
            self.store.delete(layout.CHANNELS, cid, _READ, layout.person(sub))
            channel = self.get(cid)
            if sub in channel.members:
                self._leave_for_good(cid, sub)
        self.store.delete(layout.MEMBERSHIPS, layout.person(sub))
        return erased

    def _leave_for_good(self, cid: str, sub: str) -> None:
        def leave(doc):
            was_owner = doc["members"].pop(sub, {}).get("role") == "owner"
            owners = [s for s, m in doc["members"].items() if m.get("role") == "owner"]
            if was_owner and not owners and doc["members"]:
                oldest = min(doc["members"], key=lambda s: doc["members"][s].get("joined", 0))
                doc["members"][oldest]["role"] = "owner"
        channel = self._change(cid, leave)
        if not channel.members:
            self.store.remove_tree(layout.CHANNELS, cid)
