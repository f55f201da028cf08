"""Meeting rooms: a name and a time, who is in the room now, and the WebRTC signalling between them.

A meeting is `meetings/<id>.json` (name, owner, optional `starts` and `ends`, `ended` once its
owner ended it). Its chat is a channel of kind "meeting" (`codeb.rooms.channels`), made with
it and archived when it ends, and that channel's members and guests are the meeting's: one
membership, so adding a person to the chat invites them, and a guest's access ends with the
archived channel. The meeting takes its channel's id, so one id names both and the meetings
of a person are the meeting channels they are in, with no index of their own.

Presence is a heartbeat: `join` writes a transient record `<meeting>.<peer>` (ttl 30 s) that
the browser refreshes every few seconds; a tab closed without `leave` is gone from the room
half a minute later, in every process, with nothing to clean up. The peer id is random and
stays while the record lives, so the browsers address each other by it and never by a sub.
Audio and video are a full mesh between the browsers (each sends its streams to each other
one), which stays usable up to MESH_LIMIT people: a fifth `join` is refused. The record
listing is the kind's folder filtered by the meeting's prefix, and the mesh check runs under
one lock per meeting, so two processes cannot both admit the fourth person.

Signalling (the SDP offers and answers and ICE candidates of RFC 8829 §3, and a `bye`) goes
through the same polling API: `signal` stores a transient record (ttl 60 s) named
`<meeting>.<to peer>.<n>.<random>`, `n` counted per recipient under that queue's lock, so the
names sort in the order of creation in every process and on every server of a farm (a clock
would not: two servers' clocks differ, and an offer must reach its peer before the candidates
that follow it). `signals` lists the recipient's queue and `take`s each record, which renames
it away first: of two processes polling at once, exactly one gets each signal. Only peers
present in the same meeting signal each other, in payloads of at most 16 KB, at most 300 a
minute per participant (a negotiation between four people needs a few dozen).

Joining, signalling or polling a meeting that is over (ended, or past `ends`) is refused;
the first such request after `ends` archives the chat and clears the room, as `end` does.
"""

import json
import secrets
from dataclasses import dataclass

from ..errors import BadInput, Conflict, Forbidden, NotFound, RateLimited
from ..i18n import translate
from ..store import layout
from . import ROOM_ID, Participant, check_id, clean_name, new_id
from .channels import Channel, Channels

MESH_LIMIT = 4             # peers in one room: a mesh sends each stream to every other peer
PRESENCE_TTL = 30          # seconds a heartbeat keeps a participant in the room (browsers beat every ~5 s)
SIGNAL_TTL = 60            # seconds a signal waits for its peer (the browsers restart a stalled negotiation)
SIGNAL_KINDS = ("offer", "answer", "candidate", "bye")
SIGNAL_LIMIT = 16 * 1024   # bytes of a signal's data as JSON: an SDP with four streams is a few KB
SIGNALS_PER_MINUTE = 300   # per participant and meeting
SIGNALS_PER_POLL = 100     # taken by one `signals` call; the rest come with the next poll
LONGEST = 7 * 24 * 3600    # a meeting ends at most 7 days after it starts
AHEAD = 365 * 24 * 3600    # and starts at most a year ahead


@dataclass(frozen=True)
class Meeting:
    id: str
    name: str
    owner: str                # the sub of who created it
    created: int
    starts: int | None
    ends: int | None
    ended: int | None         # when the owner ended it
    channel: str              # its chat: a channel of kind "meeting"

    def is_over(self, now: float) -> bool:
        return self.ended is not None or (self.ends is not None and now > self.ends)

    @classmethod
    def from_doc(cls, doc: dict) -> "Meeting":
        return cls(id=doc["id"], name=doc["name"], owner=doc["owner"], created=doc["created"],
                   starts=doc.get("starts"), ends=doc.get("ends"), ended=doc.get("ended"),
                   channel=doc["channel"])


def check_times(starts, ends, now: int) -> tuple[int | None, int | None]:
    """`starts` and `ends` as given, if they make a meeting: whole seconds, a start at most a
    year ahead (and not more than the longest meeting ago), an end after the start, not past,
    and at most 7 days after the start (or after now, without one)."""
    for value in (starts, ends):
        if value is not None and type(value) is not int:  # bool is an int, and no time
            raise BadInput("error.meetings.times")
    begin = now if starts is None else starts
    if starts is not None and not now - LONGEST <= starts <= now + AHEAD:
        raise BadInput("error.meetings.times")
    if ends is not None and not max(begin, now) < ends <= begin + LONGEST:
        raise BadInput("error.meetings.times")
    return starts, ends


def signal_data(data) -> dict:
    """A signal's payload: a JSON object of at most SIGNAL_LIMIT bytes (what the browser's
    RTCSessionDescription or RTCIceCandidate serialises to; the server never reads into it)."""
    if not isinstance(data, dict):
        raise BadInput("error.meetings.signal")
    try:
        size = len(json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise BadInput("error.meetings.signal") from exc
    if size > SIGNAL_LIMIT:
        raise BadInput("error.meetings.signal_too_large", limit=SIGNAL_LIMIT)
    return data


class Meetings:
    def __init__(self, store):
        self.store = store
        self.channels = Channels(store)
        self.presence = store.transient(layout.MEETING_PRESENCE)
        self.pending = store.transient(layout.MEETING_SIGNALS)

    # -- the meeting -------------------------------------------------------------

    def create(self, *, name, by: Participant, starts: int | None = None, ends: int | None = None,
               members=()) -> Meeting:
        """A meeting owned by `by` with its chat, `members` (subs the caller checked are
        accounts) in it. Everything is checked before the channel is made."""
        if by.is_guest:
            raise Forbidden("error.meetings.accounts_only")
        name = clean_name(name)
        now = int(self.store.clock())
        starts, ends = check_times(starts, ends, now)
        chat = self.channels.create(name=name, by=by, kind="meeting", members=members)
        doc = {"id": chat.id, "name": name, "owner": by.sub, "created": now, "starts": starts, "ends": ends,
               "ended": None, "channel": chat.id}
        try:
            if not self.store.create(layout.MEETINGS, chat.id, doc=doc):
                raise Conflict("error.conflict")  # 80 random bits taken: never, unless the disk lies
        except Exception:
            self.channels.delete(chat.id, by=by)  # no chat without its meeting
            raise
        return Meeting.from_doc(doc)

    def get(self, mid) -> Meeting:
        doc = self.store.read(layout.MEETINGS, check_id(mid))
        if doc is None:
            raise NotFound("error.rooms.not_found")
        return Meeting.from_doc(doc)

    def of_person(self, sub: str) -> list[Meeting]:
        """The meetings whose chat has `sub` as a member, by their start (or creation)."""
        found = []
        for chat in self.channels.of_person(sub):
            if chat.kind != "meeting":
                continue
            doc = self.store.read(layout.MEETINGS, chat.id)  # the meeting has its channel's id
            if doc is not None:
                found.append(Meeting.from_doc(doc))
        return sorted(found, key=lambda m: (m.created if m.starts is None else m.starts, m.id))

    def end(self, mid, *, by: Participant) -> Meeting:
        """The owner ends the meeting: its chat is archived (its guests lose access) and
        the room is emptied. Ending an ended meeting changes nothing."""
        meeting = self.get(mid)
        self._owner_only(meeting, by)
        with self.store.update(layout.MEETINGS, meeting.id) as doc:
            if doc.get("ended") is None:
                doc["ended"] = int(self.store.clock())
        self._close(meeting, self.channels.get(meeting.channel))
        return self.get(meeting.id)

    def ring(self, mid, *, by: Participant, sub: str, lang: str) -> dict:
        """The push message that calls a member into the meeting now, in the rung person's
        language; sending it is `codeb.notify.push`'s (the web layer's call)."""
        meeting = self.get(mid)
        self._owner_only(meeting, by)
        chat = self.channels.get(meeting.channel)
        if meeting.is_over(self.store.clock()) or chat.archived:
            raise Conflict("error.meetings.over")
        if sub not in chat.members:
            raise BadInput("error.meetings.ring_member")
        if by.name:
            body = translate(lang, "push.ring.body", name=by.name)
        else:
            body = translate(lang, "push.ring.body_unnamed")
        return {"title": translate(lang, "push.ring.title", meeting=meeting.name), "body": body,
                "url": f"/office.html#meeting={meeting.id}", "tag": f"ring-{meeting.id}"}

    # -- presence --------------------------------------------------------------------

    def join(self, mid, *, by: Participant) -> dict:
        """Enter the room or stay in it (the heartbeat): `{"peer": own peer id, "present": [...]}`."""
        meeting, _ = self._admit(mid, by)
        with self.presence.lock(meeting.id):
            # Read again under the lock `end` empties the room under: once it is ended, no
            # join that waited for the lock writes a record after the room was cleared.
            if self.get(meeting.id).is_over(self.store.clock()):
                raise Conflict("error.meetings.over")
            present = self._present(meeting.id)
            others = [doc for doc in present if doc["key"] != by.key]
            mine = next((doc for doc in present if doc["key"] == by.key), None)
            if mine is None and len(others) >= MESH_LIMIT:
                raise Conflict("error.meetings.full", limit=MESH_LIMIT)
            # A peer id looks like a room id (16 of a-z2-7): a `to_peer` is checked by ROOM_ID.
            record = {"peer": mine["peer"] if mine else new_id(),
                      "since": mine["since"] if mine else int(self.store.clock()),
                      "key": by.key, "name": by.name, "guest": by.is_guest}
            self.presence.put(f"{meeting.id}.{record['peer']}", record, ttl=PRESENCE_TTL)
        return {"peer": record["peer"], "present": [_shown(doc) for doc in _by_arrival(others + [record])]}

    def leave(self, mid, *, by: Participant) -> None:
        """Leave the room at once (closing the tab lets the heartbeat lapse instead)."""
        mid = check_id(mid)
        with self.presence.lock(mid):
            for doc in self._present(mid):
                if doc["key"] == by.key:
                    self.presence.delete(f"{mid}.{doc['peer']}")
                    self._drop(f"{mid}.{doc['peer']}")

    def present(self, mid) -> list[dict]:
        """Who is in the room, by arrival: `[{"peer", "name", "guest", "since"}]`. The caller
        checked that the asker may see the meeting (`join` answers it to participants)."""
        return [_shown(doc) for doc in self._present(check_id(mid))]

    # -- signalling ----------------------------------------------------------------------

    def signal(self, mid, *, by: Participant, to_peer: str, kind: str, data: dict) -> None:
        """Leave a WebRTC signal for another peer present in the same meeting."""
        if kind not in SIGNAL_KINDS:
            raise BadInput("error.meetings.signal")
        data = signal_data(data)
        meeting, _ = self._admit(mid, by)
        sender = self._own(meeting.id, by)
        if to_peer == sender["peer"]:
            raise BadInput("error.meetings.signal")
        if not isinstance(to_peer, str) or not ROOM_ID.fullmatch(to_peer) \
                or self.presence.get(f"{meeting.id}.{to_peer}") is None:
            raise NotFound("error.meetings.peer_gone")
        # Keyed by participant, not by peer: a new peer id (leave, join) gets no new allowance.
        wait = self.store.counter(layout.MEETING_SIGNALS_PER_PEER).hit(
            f"{meeting.id}.{by.key}", SIGNALS_PER_MINUTE, 60)
        if wait:
            raise RateLimited(wait, "error.meetings.signalling_too_fast")
        self._queue(f"{meeting.id}.{to_peer}", {"from": sender["peer"], "kind": kind, "data": data})

    def signals(self, mid, *, by: Participant) -> list[dict]:
        """The signals waiting for `by`'s peer, in the order they were sent, each handed to
        one caller only: `[{"from": peer, "kind", "data"}]`."""
        meeting, _ = self._admit(mid, by)
        queue = f"{meeting.id}.{self._own(meeting.id, by)['peer']}"
        taken = []
        for rid in self._names(self.pending, queue + ".")[:SIGNALS_PER_POLL]:
            record = self.pending.take(rid)
            if record is not None:  # another process took it, or it expired
                taken.append({"from": record["from"], "kind": record["kind"], "data": record["data"]})
        return taken

    # -- the steps -------------------------------------------------------------------------

    def _admit(self, mid, by: Participant) -> tuple[Meeting, Channel]:
        """The meeting and its chat, if `by` is in it and it is not over. A member or guest
        of its chat is a participant; a guest of any other conversation is not."""
        meeting = self.get(mid)
        chat = self.channels.get(meeting.channel)
        if chat.role_of(by) is None:
            raise Forbidden("error.meetings.not_invited")
        if meeting.is_over(self.store.clock()) or chat.archived:
            # Past its end with nobody to end it: closed as `end` would (archived chat, empty
            # room). An ended one is tidied once more, which finds nothing left to do.
            self._close(meeting, chat)
            raise Conflict("error.meetings.over")
        return meeting, chat

    def _owner_only(self, meeting: Meeting, by: Participant) -> None:
        if by.is_guest or by.sub != meeting.owner:
            raise Forbidden("error.meetings.owner_only")

    def _close(self, meeting: Meeting, chat: Channel) -> None:
        """Archive the chat and empty the room: presence, waiting signals, their counters."""
        if not chat.archived:  # without an actor: the owner may be gone (erased) when the time runs out
            self.channels.close(meeting.channel)
        with self.presence.lock(meeting.id):
            for rid in self._names(self.presence, meeting.id + "."):
                self.presence.delete(rid)
        self._drop(meeting.id)

    def _drop(self, prefix: str) -> None:
        """Delete the signals of one queue (`<meeting>.<peer>`) or of a whole meeting, and the
        queues' counters: every record named `prefix` or starting with `prefix.`."""
        for rid in self._names(self.pending, prefix):
            if rid == prefix or rid.startswith(prefix + "."):
                self.pending.delete(rid)

    def _own(self, mid: str, by: Participant) -> dict:
        """`by`'s presence record: who signals must be in the room (and joins again when its
        heartbeat lapsed, say in a tab the browser had put to sleep)."""
        mine = next((doc for doc in self._present(mid) if doc["key"] == by.key), None)
        if mine is None:
            raise Conflict("error.meetings.not_joined")
        return mine

    def _present(self, mid: str) -> list[dict]:
        """The live presence records of a meeting, by arrival (`get` drops expired ones)."""
        found = (self.presence.get(rid) for rid in self._names(self.presence, mid + "."))
        return _by_arrival([doc for doc in found if doc is not None])

    def _names(self, kind, prefix: str) -> list[str]:
        """Names of a transient kind's records that start with `prefix`, sorted: the records of
        one meeting or one queue (Transient lists no folder, so the folder is read here)."""
        return [rid for rid in self.store.list(layout.TRANSIENT, kind.kind) if rid.startswith(prefix)]

    def _queue(self, queue: str, record: dict) -> None:
        """Append a signal to a peer's queue: the next number of the queue, counted in a record
        named like the queue itself (no signal's name is the queue's: theirs go on after a dot).
        The counter outlives every signal it numbered, so a live queue never counts from 1 again."""
        with self.pending.lock(queue):
            number = (self.pending.get(queue) or {}).get("next", 0) + 1
            self.pending.put(queue, {"next": number}, ttl=SIGNAL_TTL + 1)
            # Written under the lock: once a number is seen, every smaller one is on disk.
            self.pending.put(f"{queue}.{number:012d}.{secrets.token_hex(4)}", record, ttl=SIGNAL_TTL)


def _by_arrival(docs: list[dict]) -> list[dict]:
    return sorted(docs, key=lambda doc: (doc["since"], doc["key"]))


def _shown(doc: dict) -> dict:
    return {"peer": doc["peer"], "name": doc["name"], "guest": doc["guest"], "since": doc["since"]}
