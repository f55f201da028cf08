"""Meeting rooms (codeb.rooms.meetings): times, presence, the mesh limit, WebRTC signalling, ending.

Presence and signals are transient records, so the tests move a test clock past their
lifetimes instead of sleeping. "Two processes" are two Store objects on one folder: they
share nothing but the files, as IIS's worker processes do.
"""

import threading

import pytest

from codeb.errors import BadInput, Conflict, Forbidden, NotFound, RateLimited
from codeb.rooms import Participant, new_id
from codeb.rooms.channels import Channels
from codeb.rooms.meetings import (
    LONGEST,
    MESH_LIMIT,
    PRESENCE_TTL,
    SIGNAL_LIMIT,
    SIGNAL_TTL,
    SIGNALS_PER_MINUTE,
    Meetings,
)
from codeb.store import Store, layout
from tests.support.clock import Clock

ANN = Participant(sub="sub-ann", name="Ann")    # creates the meetings: their owner
BOB = Participant(sub="sub-bob", name="Bob")
CARL = Participant(sub="sub-carl", name="Carl")
DORA = Participant(sub="sub-dora", name="Dora")
EVE = Participant(sub="sub-eve", name="Eve")    # invited to none
MEMBERS = ("sub-bob", "sub-carl", "sub-dora")
HOUR = 3600


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    root = tmp_path / "tenant"
    root.mkdir()
    return Store(str(root), clock=clock)


@pytest.fixture
def meetings(store):
    return Meetings(store)


@pytest.fixture
def meeting(meetings):
    return meetings.create(name="Weekly sync", by=ANN, members=MEMBERS)


def guest_of(store, meeting, name="Gus") -> Participant:
    """A guest let into the meeting's chat, as codeb.rooms.guests does when an invite is redeemed."""
    guest = Participant(guest=new_id(), name=name)
    Channels(store).add_guest(meeting.channel, guest=guest.guest, name=name)
    return guest


def offer(n: int) -> dict:
    return {"type": "offer", "sdp": f"v=0 #{n}"}


def pending_files(store) -> list[str]:
    return store.list(layout.TRANSIENT, layout.MEETING_SIGNALS)


def wait(meetings, meeting, clock, seconds: int, *who: Participant) -> None:
    """Let `seconds` pass while `who` stay in the room, their browsers beating every 20 s."""
    while seconds > 0:
        step = min(seconds, PRESENCE_TTL - 10)
        clock.advance(step)
        seconds -= step
        for person in who:
            meetings.join(meeting.id, by=person)


# -- the meeting ------------------------------------------------------------------------


def test_a_meeting_has_its_chat_its_owner_and_its_members(meetings, store, clock):
    starts = int(clock.now) + HOUR
    created = meetings.create(name="  Quarterly   review ", by=ANN, starts=starts, ends=starts + HOUR,
                              members=["sub-bob"])
    assert created.name == "Quarterly review" and created.owner == "sub-ann"
    assert (created.starts, created.ends, created.ended) == (starts, starts + HOUR, None)
    assert meetings.get(created.id) == created
    chat = Channels(store).get(created.channel)
    assert chat.kind == "meeting" and chat.name == "Quarterly review"
    assert chat.role_of(ANN) == "owner" and chat.role_of(BOB) == "member" and chat.role_of(EVE) is None
    assert [m.id for m in meetings.of_person("sub-bob")] == [created.id]
    assert meetings.of_person("sub-eve") == []


def test_of_person_lists_meetings_only_not_channels(meetings, store):
    Channels(store).create(name="Team", by=ANN, members=["sub-bob"])
    first = meetings.create(name="Later", by=ANN, starts=int(store.clock()) + 2 * HOUR, members=["sub-bob"])
    second = meetings.create(name="Sooner", by=ANN, starts=int(store.clock()) + HOUR, members=["sub-bob"])
    assert [m.id for m in meetings.of_person("sub-bob")] == [second.id, first.id]


def test_a_member_added_to_the_chat_is_invited_to_the_meeting(meetings, store, meeting):
    with pytest.raises(Forbidden):
        meetings.join(meeting.id, by=EVE)
    Channels(store).add_member(meeting.channel, by=BOB, sub="sub-eve")
    assert meetings.join(meeting.id, by=EVE)["peer"]


@pytest.mark.parametrize("starts, ends", [
    pytest.param(10, 5, id="ends-before-starts"),
    pytest.param(10, 10, id="ends-at-starts"),
    pytest.param(10, 10 + LONGEST + 1, id="longer-than-7-days"),
    pytest.param(366 * 24 * HOUR, None, id="more-than-a-year-ahead"),
    pytest.param(None, -1, id="ends-in-the-past"),
    pytest.param(None, LONGEST + 1, id="ends-more-than-7-days-from-now"),
    pytest.param(-LONGEST - 1, None, id="started-long-ago"),
    pytest.param("10", None, id="a-string"),
    pytest.param(10.5, None, id="a-float"),
    pytest.param(True, None, id="a-bool"),
    pytest.param(None, [20], id="a-list"),
])
def test_times_that_make_no_meeting_are_refused(meetings, store, clock, starts, ends):
    def from_now(value):  # the ints are seconds from now; anything else is sent as it is
        return int(clock.now) + value if type(value) is int else value

    with pytest.raises(BadInput) as caught:
        meetings.create(name="Bad", by=ANN, starts=from_now(starts), ends=from_now(ends))
    assert caught.value.message_id == "error.meetings.times"
    assert store.list(layout.MEETINGS) == [] and store.usage(layout.CHANNELS)["files"] == 0  # nothing half made


def test_the_longest_meeting_a_year_ahead_is_accepted(meetings, clock):
    starts = int(clock.now) + 365 * 24 * HOUR
    assert meetings.create(name="Far", by=ANN, starts=starts, ends=starts + LONGEST).ends == starts + LONGEST


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "nul\x00byte", "bidi\u202eoverride", None],
                         ids=["empty", "blank", "too-long", "a-control-character", "a-bidi-override", "none"])
def test_a_name_must_be_one_clean_line(meetings, name):
    with pytest.raises(BadInput) as caught:
        meetings.create(name=name, by=ANN)
    assert caught.value.message_id == "error.rooms.name"


def test_a_guest_cannot_create_a_meeting(meetings, store, meeting):
    with pytest.raises(Forbidden):
        meetings.create(name="Mine", by=guest_of(store, meeting))


@pytest.mark.parametrize("mid", ["../meetings", "ABCDEFGHIJKLMNOP", "", None, "a" * 16])
def test_an_unknown_or_malformed_id_is_not_found(meetings, mid):
    with pytest.raises(NotFound):
        meetings.get(mid)
    with pytest.raises(NotFound):
        meetings.join(mid, by=ANN)


def test_is_over_after_its_end(meetings, clock):
    created = meetings.create(name="Short", by=ANN, ends=int(clock.now) + 60)
    assert not created.is_over(clock.now + 60)
    assert created.is_over(clock.now + 61)
    assert not meetings.create(name="Open", by=ANN).is_over(clock.now + 10 * LONGEST)


# -- presence ---------------------------------------------------------------------------


def test_presence_lasts_while_the_heartbeat_comes_and_then_lapses(meetings, meeting, clock):
    first = meetings.join(meeting.id, by=BOB)
    since = int(clock.now)
    for _ in range(5):  # a heartbeat every 20 s keeps Bob in the room, as the same peer
        clock.advance(PRESENCE_TTL - 10)
        again = meetings.join(meeting.id, by=BOB)
        assert again["peer"] == first["peer"]
    assert meetings.present(meeting.id) == [{"peer": first["peer"], "name": "Bob", "guest": False, "since": since}]
    clock.advance(PRESENCE_TTL)  # the tab was closed: no more heartbeats
    assert meetings.present(meeting.id) == []
    assert meetings.join(meeting.id, by=BOB)["peer"] != first["peer"]  # a new peer for a new visit


def test_present_lists_participants_by_arrival(meetings, store, meeting, clock):
    guest = guest_of(store, meeting)
    meetings.join(meeting.id, by=CARL)
    clock.advance(1)
    meetings.join(meeting.id, by=guest)
    clock.advance(1)
    answer = meetings.join(meeting.id, by=ANN)
    meetings.join(meeting.id, by=CARL)  # a heartbeat does not move Carl to the end
    assert [(p["name"], p["guest"]) for p in answer["present"]] == [("Carl", False), ("Gus", True), ("Ann", False)]
    assert [p["name"] for p in meetings.present(meeting.id)] == ["Carl", "Gus", "Ann"]


def test_a_fifth_participant_is_refused_until_someone_leaves(meetings, store, meeting):
    for who in (ANN, BOB, CARL, DORA):
        meetings.join(meeting.id, by=who)
    guest = guest_of(store, meeting)
    with pytest.raises(Conflict) as caught:
        meetings.join(meeting.id, by=guest)
    assert caught.value.message_id == "error.meetings.full" and caught.value.params == {"limit": MESH_LIMIT}
    meetings.join(meeting.id, by=DORA)  # who is in keeps beating
    meetings.leave(meeting.id, by=CARL)
    assert meetings.join(meeting.id, by=guest)["peer"]
    assert len(meetings.present(meeting.id)) == MESH_LIMIT


def test_a_lapsed_participant_frees_the_place(meetings, store, meeting, clock):
    for who in (ANN, BOB, CARL, DORA):
        meetings.join(meeting.id, by=who)
    clock.advance(PRESENCE_TTL + 1)
    assert meetings.join(meeting.id, by=guest_of(store, meeting))["present"][0]["name"] == "Gus"


def test_two_processes_never_admit_a_fifth(store, meeting, clock):
    """Eight people join at once through two processes: four get in, and four are refused."""
    people = [Participant(sub=f"sub-{n}", name=str(n)) for n in range(8)]
    for person in people:
        Channels(store).add_member(meeting.channel, by=ANN, sub=person.sub)
    processes = [Meetings(Store(store.root, clock=clock)), Meetings(Store(store.root, clock=clock))]
    outcomes: list[str] = []

    def enter(index: int) -> None:
        try:
            processes[index % 2].join(meeting.id, by=people[index])
            outcomes.append("in")
        except Conflict as error:
            outcomes.append(error.message_id)

    threads = [threading.Thread(target=enter, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["error.meetings.full"] * 4 + ["in"] * 4
    assert len(Meetings(store).present(meeting.id)) == MESH_LIMIT


def test_a_removed_member_cannot_join_again(meetings, store, meeting):
    meetings.join(meeting.id, by=BOB)
    Channels(store).remove_member(meeting.channel, by=ANN, sub="sub-bob")
    with pytest.raises(Forbidden):
        meetings.join(meeting.id, by=BOB)
    with pytest.raises(Forbidden):
        meetings.signals(meeting.id, by=BOB)


def test_a_guest_of_another_meeting_is_refused(meetings, store, meeting):
    other = meetings.create(name="Other", by=ANN)
    guest = guest_of(store, other)
    assert meetings.join(other.id, by=guest)["peer"]
    with pytest.raises(Forbidden):
        meetings.join(meeting.id, by=guest)
    with pytest.raises(Forbidden):  # nor may the guest poll or signal into it
        meetings.signals(meeting.id, by=guest)


def test_a_guest_of_a_channel_is_no_participant_of_a_meeting(meetings, store, meeting):
    team = Channels(store).create(name="Team", by=ANN)
    guest = Participant(guest=new_id(), name="Gus")
    Channels(store).add_guest(team.id, guest=guest.guest, name="Gus")
    with pytest.raises(Forbidden):
        meetings.join(meeting.id, by=guest)
    with pytest.raises(NotFound):  # a channel is not a meeting, though a meeting's id is its chat's
        meetings.join(team.id, by=ANN)


def test_leave_takes_only_ones_own_record(meetings, meeting):
    meetings.join(meeting.id, by=ANN)
    meetings.join(meeting.id, by=BOB)
    meetings.leave(meeting.id, by=BOB)
    meetings.leave(meeting.id, by=BOB)  # twice: nothing more happens
    meetings.leave(meeting.id, by=EVE)  # someone never in it: nothing happens
    assert [p["name"] for p in meetings.present(meeting.id)] == ["Ann"]


# -- signalling ---------------------------------------------------------------------------


@pytest.fixture
def pair(meetings, meeting):
    """Ann and Bob in the room: their peer ids."""
    return meetings.join(meeting.id, by=ANN)["peer"], meetings.join(meeting.id, by=BOB)["peer"]


def test_signals_arrive_once_and_in_the_order_sent(meetings, meeting, pair):
    ann, bob = pair
    sent = [("offer", offer(0))] + [("candidate", {"candidate": f"c{n}", "sdpMid": "0"}) for n in range(11)]
    for kind, data in sent:
        meetings.signal(meeting.id, by=ANN, to_peer=bob, kind=kind, data=data)
    meetings.signal(meeting.id, by=BOB, to_peer=ann, kind="answer", data={"type": "answer", "sdp": "v=0"})
    got = meetings.signals(meeting.id, by=BOB)
    assert [(s["kind"], s["data"]) for s in got] == sent  # 11 sorts after 2: the numbers are padded
    assert {s["from"] for s in got} == {ann}
    assert meetings.signals(meeting.id, by=BOB) == []
    assert meetings.signals(meeting.id, by=ANN) == [{"from": bob, "kind": "answer",
                                                     "data": {"type": "answer", "sdp": "v=0"}}]


def test_an_unfetched_signal_expires(meetings, meeting, pair, clock):
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1))
    wait(meetings, meeting, clock, SIGNAL_TTL + 1, BOB)
    assert meetings.join(meeting.id, by=BOB)["peer"] == pair[1]  # Bob stayed; the signal did not
    assert meetings.signals(meeting.id, by=BOB) == []


def test_the_order_survives_a_quiet_queue(meetings, meeting, pair, clock):
    """The queue's counter outlives its signals: after a pause the numbers go on, never back."""
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1))
    wait(meetings, meeting, clock, SIGNAL_TTL - 5, ANN, BOB)
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(2))
    wait(meetings, meeting, clock, 6, ANN, BOB)  # the first has expired; the counter, refreshed by the second, has not
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(3))
    assert [s["data"]["sdp"] for s in meetings.signals(meeting.id, by=BOB)] == ["v=0 #2", "v=0 #3"]


@pytest.mark.parametrize("to_peer", [
    pytest.param("gone", id="an-unknown-word"),
    pytest.param("../../keys/signing", id="a-path"),
    pytest.param("abcdefghijklmnop", id="a-well-formed-stranger"),
    pytest.param(None, id="none"),
    pytest.param(["x"], id="a-list"),
])
def test_a_signal_to_a_peer_not_present_is_refused(meetings, meeting, pair, store, to_peer):
    with pytest.raises(NotFound) as caught:
        meetings.signal(meeting.id, by=ANN, to_peer=to_peer, kind="offer", data=offer(1))
    assert caught.value.message_id == "error.meetings.peer_gone"
    assert pending_files(store) == []


def test_a_signal_to_a_peer_who_left_or_lapsed_is_refused(meetings, meeting, pair, clock):
    ann, bob = pair
    meetings.leave(meeting.id, by=BOB)
    with pytest.raises(NotFound):
        meetings.signal(meeting.id, by=ANN, to_peer=bob, kind="offer", data=offer(1))
    carl = meetings.join(meeting.id, by=CARL)["peer"]
    clock.advance(PRESENCE_TTL + 1)
    meetings.join(meeting.id, by=ANN)
    with pytest.raises(NotFound):
        meetings.signal(meeting.id, by=ANN, to_peer=carl, kind="offer", data=offer(1))


def test_a_peer_of_another_meeting_is_not_reachable(meetings, meeting, pair):
    other = meetings.create(name="Other", by=ANN, members=["sub-carl"])
    carl_elsewhere = meetings.join(other.id, by=CARL)["peer"]
    with pytest.raises(NotFound):
        meetings.signal(meeting.id, by=ANN, to_peer=carl_elsewhere, kind="offer", data=offer(1))


def test_who_is_not_in_the_room_can_neither_signal_nor_poll(meetings, meeting, pair):
    for call in (lambda: meetings.signal(meeting.id, by=CARL, to_peer=pair[0], kind="offer", data=offer(1)),
                 lambda: meetings.signals(meeting.id, by=CARL)):
        with pytest.raises(Conflict) as caught:
            call()
        assert caught.value.message_id == "error.meetings.not_joined"


def test_a_peer_cannot_take_anothers_signals(meetings, meeting, pair):
    meetings.join(meeting.id, by=CARL)
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1))
    assert meetings.signals(meeting.id, by=CARL) == []
    assert len(meetings.signals(meeting.id, by=BOB)) == 1


def test_leaving_drops_the_signals_waiting_for_one(meetings, meeting, pair, store):
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1))
    meetings.leave(meeting.id, by=BOB)
    assert pending_files(store) == []


@pytest.mark.parametrize("kind, data, message_id", [
    pytest.param("offer", {"sdp": "x" * SIGNAL_LIMIT}, "error.meetings.signal_too_large", id="too-large"),
    pytest.param("offer", {"sdp": "é" * (SIGNAL_LIMIT // 2)}, "error.meetings.signal_too_large",
                 id="too-large-in-utf8-bytes"),
    pytest.param("hangup", offer(1), "error.meetings.signal", id="an-unknown-kind"),
    pytest.param(None, offer(1), "error.meetings.signal", id="no-kind"),
    pytest.param("offer", "v=0", "error.meetings.signal", id="data-not-an-object"),
    pytest.param("offer", [1, 2], "error.meetings.signal", id="data-a-list"),
    pytest.param("offer", {"n": float("nan")}, "error.meetings.signal", id="not-json"),
])
def test_malformed_signals_are_refused(meetings, meeting, pair, store, kind, data, message_id):
    with pytest.raises(BadInput) as caught:
        meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind=kind, data=data)
    assert caught.value.message_id == message_id
    assert pending_files(store) == []


def test_the_largest_signal_passes(meetings, meeting, pair):
    data = {"sdp": "x" * (SIGNAL_LIMIT - len('{"sdp":""}'))}
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=data)
    assert meetings.signals(meeting.id, by=BOB)[0]["data"] == data


def test_a_peer_cannot_signal_itself(meetings, meeting, pair):
    with pytest.raises(BadInput):
        meetings.signal(meeting.id, by=ANN, to_peer=pair[0], kind="offer", data=offer(1))


def test_signals_are_rate_limited_per_participant(meetings, meeting, pair, clock):
    ann, bob = pair
    for n in range(SIGNALS_PER_MINUTE):
        meetings.signal(meeting.id, by=ANN, to_peer=bob, kind="candidate", data={"n": n})
    with pytest.raises(RateLimited) as caught:
        meetings.signal(meeting.id, by=ANN, to_peer=bob, kind="candidate", data={"n": -1})
    assert caught.value.message_id == "error.meetings.signalling_too_fast" and caught.value.retry_after > 0
    meetings.leave(meeting.id, by=ANN)  # a new peer id brings no new allowance
    meetings.join(meeting.id, by=ANN)
    with pytest.raises(RateLimited):
        meetings.signal(meeting.id, by=ANN, to_peer=bob, kind="candidate", data={"n": -1})
    meetings.signal(meeting.id, by=BOB, to_peer=meetings.join(meeting.id, by=ANN)["peer"], kind="answer",
                    data={"n": 0})  # Bob has his own
    wait(meetings, meeting, clock, 61, ANN, BOB)  # the next minute
    meetings.signal(meeting.id, by=ANN, to_peer=bob, kind="candidate", data={"n": 0})


def test_two_processes_polling_take_each_signal_once(store, meeting, pair, clock):
    """Bob's page polls through two worker processes at once: every signal reaches one of them."""
    ann, bob = pair
    count = 40
    for n in range(count):
        Meetings(store).signal(meeting.id, by=ANN, to_peer=bob, kind="candidate", data={"n": n})
    processes = [Meetings(Store(store.root, clock=clock)), Meetings(Store(store.root, clock=clock))]
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def poll(index: int) -> None:
        start.wait(timeout=10)
        for _ in range(count):  # bounded: each round takes at least one signal or finds none
            got = processes[index].signals(meeting.id, by=BOB)
            if not got:
                break
            taken[index].extend(s["data"]["n"] for s in got)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(taken[0] + taken[1]) == list(range(count))  # none twice, none lost
    assert all(part == sorted(part) for part in taken)  # each process got its share in order


# -- ending -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "guest"])
def test_only_the_owner_ends_a_meeting(meetings, store, meeting, who):
    by = BOB if who == "member" else guest_of(store, meeting)
    with pytest.raises(Forbidden):
        meetings.end(meeting.id, by=by)
    assert meetings.get(meeting.id).ended is None and not Channels(store).get(meeting.channel).archived


def test_ending_archives_the_chat_and_empties_the_room(meetings, store, meeting, pair, clock):
    guest = guest_of(store, meeting)
    meetings.join(meeting.id, by=guest)
    meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1))
    clock.advance(5)
    ended = meetings.end(meeting.id, by=ANN)
    assert ended.ended == int(clock.now) and ended.is_over(clock.now)
    assert Channels(store).get(meeting.channel).archived
    assert meetings.present(meeting.id) == []
    assert pending_files(store) == [] and store.list(layout.TRANSIENT, layout.MEETING_PRESENCE) == []
    clock.advance(5)
    assert meetings.end(meeting.id, by=ANN).ended == ended.ended  # again: nothing changes


def test_nobody_joins_signals_or_polls_an_ended_meeting(meetings, store, meeting, pair):
    guest = guest_of(store, meeting)
    meetings.end(meeting.id, by=ANN)
    for who in (ANN, BOB, guest):
        with pytest.raises(Conflict) as caught:
            meetings.join(meeting.id, by=who)
        assert caught.value.message_id == "error.meetings.over"
    for call in (lambda: meetings.signal(meeting.id, by=ANN, to_peer=pair[1], kind="offer", data=offer(1)),
                 lambda: meetings.signals(meeting.id, by=BOB),
                 lambda: meetings.ring(meeting.id, by=ANN, sub="sub-bob", lang="en")):
        with pytest.raises(Conflict):
            call()


def test_after_its_end_a_meeting_is_over_and_closes_itself(meetings, store, clock):
    short = meetings.create(name="Stand-up", by=ANN, ends=int(clock.now) + 15 * 60, members=["sub-bob"])
    bob = meetings.join(short.id, by=BOB)["peer"]
    meetings.join(short.id, by=ANN)
    meetings.signal(short.id, by=ANN, to_peer=bob, kind="offer", data=offer(1))
    clock.advance(15 * 60 + 1)
    assert meetings.get(short.id).is_over(clock.now)
    with pytest.raises(Conflict) as caught:
        meetings.join(short.id, by=BOB)
    assert caught.value.message_id == "error.meetings.over"
    assert Channels(store).get(short.channel).archived  # its guests lose the chat too
    assert pending_files(store) == [] and meetings.get(short.id).ended is None  # nobody ended it


def test_an_archived_chat_closes_the_room(meetings, store, meeting):
    Channels(store).archive(meeting.channel, by=ANN)
    with pytest.raises(Conflict):
        meetings.join(meeting.id, by=BOB)


# -- ringing -------------------------------------------------------------------------------


def test_the_owner_rings_a_member_in_their_language(meetings, meeting):
    message = meetings.ring(meeting.id, by=ANN, sub="sub-bob", lang="en")
    assert message == {"title": "Meeting: Weekly sync", "body": "Ann is asking you to join now.",
                       "url": f"/office.html#meeting={meeting.id}", "tag": f"ring-{meeting.id}"}
    german = meetings.ring(meeting.id, by=ANN, sub="sub-bob", lang="de")
    assert german["title"] == "Besprechung: Weekly sync" and german["body"] == "Ann bittet Sie, jetzt dazuzukommen."
    unnamed = meetings.ring(meeting.id, by=Participant(sub="sub-ann"), sub="sub-bob", lang="en")
    assert unnamed["body"] == "You are asked to join the meeting now."


def test_only_the_owner_rings_and_only_members(meetings, store, meeting):
    with pytest.raises(Forbidden):
        meetings.ring(meeting.id, by=BOB, sub="sub-carl", lang="en")
    with pytest.raises(Forbidden):
        meetings.ring(meeting.id, by=guest_of(store, meeting), sub="sub-carl", lang="en")
    with pytest.raises(BadInput) as caught:
        meetings.ring(meeting.id, by=ANN, sub="sub-eve", lang="en")
    assert caught.value.message_id == "error.meetings.ring_member"
