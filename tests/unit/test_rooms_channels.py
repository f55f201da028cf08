"""Channels (codeb.rooms.channels, codeb.rooms.messages): who may do what, messages and their
folding, read state, GDPR export and erasure, and four processes posting at once.

"Another process" is another Store object on the same folder (they share nothing but the
files), or a real process where the point is that they run at the same time. The posting
limit runs on a test clock moved by the tests; nothing sleeps.
"""

import os
import time

import pytest

from codeb.errors import BadInput, Conflict, Forbidden, NotFound, RateLimited
from codeb.rooms import TEXT_LIMIT, Participant, messages, new_id
from codeb.rooms.channels import CHANGES_LIMIT, POSTS_PER_MINUTE, Channel, Channels
from codeb.store import Store, layout
from codeb.store import segments as segments_module
from tests.store.test_concurrency import BARRIER_TIMEOUT, CTX, PROCESSES, run_processes
from tests.support.clock import Clock

ANN = Participant(sub="sub-ann", name="Ann")     # creates the channels: their owner
BOB = Participant(sub="sub-bob", name="Bob")     # a member
CARL = Participant(sub="sub-carl", name="Carl")  # an account in no channel


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def store(tmp_path, clock):
    root = tmp_path / "tenant"
    root.mkdir()
    return Store(str(root), clock=clock)


@pytest.fixture
def channels(store):
    return Channels(store)


@pytest.fixture
def team(channels):
    return channels.create(name="Team", by=ANN, members=["sub-bob"])


def guest_in(channels, channel, name="Gus") -> Participant:
    """A guest let in, as codeb.rooms.guests does when an invite is redeemed."""
    guest = Participant(guest=new_id(), name=name)
    channels.add_guest(channel.id, guest=guest.guest, name=name)
    return guest


def texts(messages):
    return [m["text"] for m in messages]


def raw_bytes(store, channel) -> bytes:
    """Everything on disk under the channel's folder."""
    found = b""
    for where, _, names in os.walk(store.folder(layout.CHANNELS, channel.id)):
        for name in sorted(names):
            with open(os.path.join(where, name), "rb") as f:
                found += f.read()
    return found


def refused(error, exc_type, message_id):
    assert isinstance(error.value, exc_type)
    assert error.value.message_id == message_id


# -- the channel ------------------------------------------------------------------------------


def test_create_makes_the_creator_owner_and_lists_everyone(channels, store, clock):
    chat = channels.create(name="  Team  ", by=ANN, members=["sub-bob", "sub-bob", "sub-ann", "sub-dora"])
    assert isinstance(chat, Channel)
    assert chat.name == "Team" and chat.kind == "channel" and not chat.archived
    assert chat.created == 1_800_000_000 and chat.created_by == "sub-ann"
    assert chat.members == {"sub-ann": {"role": "owner", "joined": 1_800_000_000},
                            "sub-bob": {"role": "member", "joined": 1_800_000_000},
                            "sub-dora": {"role": "member", "joined": 1_800_000_000}}
    assert chat.guests == {}
    assert channels.get(chat.id) == chat
    assert [c.id for c in channels.of_person("sub-bob")] == [chat.id]
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-dora"))["channels"] == [chat.id]
    assert os.path.isfile(os.path.join(store.root, "channels", chat.id, "channel.json"))
    assert chat.role_of(ANN) == "owner" and chat.role_of(BOB) == "member" and chat.role_of(CARL) is None


def test_a_meeting_chat_is_a_channel_of_its_own_kind(channels):
    chat = channels.create(name="Weekly", by=ANN, kind="meeting")
    assert channels.get(chat.id).kind == "meeting"
    with pytest.raises(ValueError):
        channels.create(name="Odd", by=ANN, kind="lobby")
    with pytest.raises(ValueError):
        channels.create(name="Odd", by=ANN, members=[None])


def test_a_guest_creates_no_channel(channels, team):
    gus = guest_in(channels, team)
    with pytest.raises(Forbidden) as error:
        channels.create(name="Mine", by=gus)
    refused(error, Forbidden, "error.rooms.guest_cannot")


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, 7], ids=["empty", "blank", "long", "int"])
def test_a_channel_needs_a_name(channels, name):
    with pytest.raises(BadInput) as error:
        channels.create(name=name, by=ANN)
    assert error.value.message_id == "error.rooms.name"


@pytest.mark.parametrize("cid", ["a" * 16, "A" * 16, "../../etc/passwd", "", None, "abc"],
                         ids=["unknown", "upper", "path", "empty", "none", "short"])
def test_an_unknown_or_malformed_id_is_not_found(channels, cid):
    with pytest.raises(NotFound):
        channels.get(cid)
    with pytest.raises(NotFound):
        channels.post(cid, by=ANN, text="hi")
    with pytest.raises(NotFound):
        channels.stamp(cid)


def test_of_person_lists_their_channels_by_name_and_drops_stale_entries(channels, store):
    zoo = channels.create(name="zoo", by=ANN, members=["sub-bob"])
    alpha = channels.create(name="Alpha", by=BOB)
    gone = channels.create(name="Gone", by=ANN, members=["sub-bob"])
    assert [c.name for c in channels.of_person("sub-bob")] == ["Alpha", "Gone", "zoo"]
    # Behind the index's back: bob taken out of channel.json, a channel's folder removed,
    # and an entry that is no channel id at all.
    with store.update(layout.CHANNELS, zoo.id, "channel") as doc:
        del doc["members"]["sub-bob"]
    store.remove_tree(layout.CHANNELS, gone.id)
    with store.update(layout.MEMBERSHIPS, layout.person("sub-bob")) as doc:
        doc["channels"].append("../x")
    assert [c.id for c in channels.of_person("sub-bob")] == [alpha.id]
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-bob"))["channels"] == [alpha.id]
    assert channels.of_person("sub-nobody") == []


def test_rename_is_for_owners(channels, team):
    gus = guest_in(channels, team)
    assert channels.rename(team.id, by=ANN, name="Core team").name == "Core team"
    assert channels.get(team.id).name == "Core team"
    for who, message_id in ((BOB, "error.rooms.owner_only"), (gus, "error.rooms.guest_cannot"),
                            (CARL, "error.rooms.not_in_channel")):
        with pytest.raises(Forbidden) as error:
            channels.rename(team.id, by=who, name="Mine")
        refused(error, Forbidden, message_id)
    with pytest.raises(BadInput):
        channels.rename(team.id, by=ANN, name="")
    channels.archive(team.id, by=ANN)
    with pytest.raises(Conflict) as error:
        channels.rename(team.id, by=ANN, name="Later")
    refused(error, Conflict, "error.rooms.archived")
    assert channels.get(team.id).name == "Core team"


def test_archive_is_for_owners_idempotent_and_read_only_after(channels, team, store, clock):
    channels.post(team.id, by=BOB, text="before")
    gus = guest_in(channels, team)
    with pytest.raises(Forbidden):
        channels.archive(team.id, by=BOB)
    with pytest.raises(Forbidden):
        channels.archive(team.id, by=gus)
    assert channels.archive(team.id, by=ANN).archived
    first = store.read(layout.CHANNELS, team.id, "channel")["archived_at"]
    clock.advance(100)
    assert channels.archive(team.id, by=ANN).archived
    assert store.read(layout.CHANNELS, team.id, "channel")["archived_at"] == first
    message = channels.history(team.id, by=ANN)[0]["id"]
    writes = [lambda: channels.post(team.id, by=BOB, text="after"),
              lambda: channels.edit(team.id, by=BOB, message=message, text="changed"),
              lambda: channels.delete_message(team.id, by=BOB, message=message),
              lambda: channels.add_member(team.id, by=ANN, sub="sub-carl"),
              lambda: channels.add_guest(team.id, guest=new_id(), name="Late")]
    for write in writes:
        with pytest.raises(Conflict) as error:
            write()
        refused(error, Conflict, "error.rooms.archived")
    assert texts(channels.history(team.id, by=BOB)) == ["before"], "members still read it"
    for read in (lambda: channels.history(team.id, by=gus), lambda: channels.changes(team.id, by=gus, after=0)):
        with pytest.raises(Forbidden):
            read()  # its guests lost access
    assert channels.remove_member(team.id, by=BOB, sub="sub-bob").members.keys() == {"sub-ann"}, "leaving is fine"


def test_close_archives_without_an_actor(channels, team):
    assert channels.close(team.id).archived
    assert channels.close(team.id).archived


def test_any_member_adds_an_account_but_a_guest_adds_nobody(channels, team, store):
    gus = guest_in(channels, team)
    for n in range(3):
        channels.post(team.id, by=ANN, text=f"old {n}")
    assert "sub-carl" in channels.add_member(team.id, by=BOB, sub="sub-carl").members
    assert channels.unread(team.id, by=CARL) == {"count": 0, "mentions": 0, "last": 3}, "joined now: read"
    assert [c.id for c in channels.of_person("sub-carl")] == [team.id]
    again = channels.add_member(team.id, by=ANN, sub="sub-carl")
    assert again.members["sub-carl"]["role"] == "member"
    with pytest.raises(Forbidden) as error:
        channels.add_member(team.id, by=gus, sub="sub-dora")
    refused(error, Forbidden, "error.rooms.guest_cannot")
    with pytest.raises(Forbidden) as error:
        channels.add_member(team.id, by=Participant(sub="sub-eve"), sub="sub-eve")
    refused(error, Forbidden, "error.rooms.not_in_channel")
    assert "sub-dora" not in channels.get(team.id).members
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-dora")) is None


def test_owners_remove_members_members_leave_the_last_owner_stays(channels, team, store):
    channels.add_member(team.id, by=ANN, sub="sub-carl")
    channels.mark_read(team.id, by=BOB, seq=0)
    with pytest.raises(Forbidden) as error:
        channels.remove_member(team.id, by=BOB, sub="sub-carl")
    refused(error, Forbidden, "error.rooms.owner_only")
    assert "sub-carl" not in channels.remove_member(team.id, by=ANN, sub="sub-carl").members
    assert channels.of_person("sub-carl") == []
    for nobody in ("sub-carl", None, ""):
        with pytest.raises(NotFound) as error:
            channels.remove_member(team.id, by=ANN, sub=nobody)
        refused(error, NotFound, "error.rooms.not_a_member")
    with pytest.raises(Conflict) as error:
        channels.remove_member(team.id, by=ANN, sub="sub-ann")
    refused(error, Conflict, "error.rooms.last_owner")
    assert store.exists(layout.CHANNELS, team.id, "read", layout.person("sub-bob"))
    assert "sub-bob" not in channels.remove_member(team.id, by=BOB, sub="sub-bob").members
    assert not store.exists(layout.CHANNELS, team.id, "read", layout.person("sub-bob"))
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-bob"))["channels"] == []
    with pytest.raises(Forbidden):
        channels.post(team.id, by=BOB, text="still here?")


def test_an_owner_may_leave_while_another_owner_stays(channels, team, store):
    with store.update(layout.CHANNELS, team.id, "channel") as doc:
        doc["members"]["sub-bob"]["role"] = "owner"
    assert channels.remove_member(team.id, by=ANN, sub="sub-ann").members.keys() == {"sub-bob"}


def test_guests_act_only_in_their_channel(channels, team):
    other = channels.create(name="Other", by=ANN)
    gus = guest_in(channels, team)
    gia = guest_in(channels, other, name="Gia")
    posted = channels.post(team.id, by=gus, text="hello from a guest")
    assert posted["from"] == {"guest": gus.guest, "name": "Gus"} and posted["name"] == "Gus"
    calls = [lambda: channels.post(team.id, by=gia, text="wrong room"),
             lambda: channels.history(team.id, by=gia),
             lambda: channels.changes(team.id, by=gia, after=0),
             lambda: channels.search(team.id, by=gia, query="guest"),
             lambda: channels.unread(team.id, by=gia),
             lambda: channels.mark_read(team.id, by=gia, seq=1),
             lambda: channels.edit(team.id, by=gia, message=posted["id"], text="x"),
             lambda: channels.delete(team.id, by=gia)]
    for call in calls:
        with pytest.raises(Forbidden) as error:
            call()
        refused(error, Forbidden, "error.rooms.not_in_channel")
    assert channels.get(team.id).guests[gus.guest]["name"] == "Gus"
    channels.remove_guest(team.id, guest=gus.guest)
    with pytest.raises(Forbidden):
        channels.history(team.id, by=gus)


def test_a_guest_let_in_again_keeps_when_they_joined(channels, team, clock):
    gus = guest_in(channels, team)
    joined = channels.get(team.id).guests[gus.guest]["joined"]
    clock.advance(60)
    again = channels.add_guest(team.id, guest=gus.guest, name="Gustav")
    assert again.guests[gus.guest] == {"name": "Gustav", "joined": joined}
    with pytest.raises(NotFound):
        channels.add_guest(team.id, guest="../x", name="Bad")


def test_delete_removes_the_folder_and_the_memberships(channels, team, store):
    channels.post(team.id, by=BOB, text="bye")
    with pytest.raises(Forbidden):
        channels.delete(team.id, by=BOB)
    channels.delete(team.id, by=ANN)
    assert not os.path.exists(store.folder(layout.CHANNELS, team.id))
    assert channels.of_person("sub-ann") == [] and channels.of_person("sub-bob") == []
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-bob"))["channels"] == []
    with pytest.raises(NotFound):
        channels.get(team.id)
    with pytest.raises(NotFound):
        channels.post(team.id, by=ANN, text="anyone?")
    with pytest.raises(NotFound):
        channels.mark_read(team.id, by=ANN, seq=1)
    assert not os.path.exists(store.folder(layout.CHANNELS, team.id)), "nothing brought the folder back"


def test_an_admin_deletes_any_channel(channels, team):
    channels.delete(team.id, by=CARL, admin=True)
    with pytest.raises(NotFound):
        channels.get(team.id)


def test_a_post_that_waited_for_a_deleted_channel_does_not_bring_it_back(channels, team, store):
    log = channels._log(team.id)
    channels.delete(team.id, by=ANN)
    with pytest.raises(NotFound):
        log.append({"op": "post", "from": {"sub": "sub-bob"}, "text": "late"})
    assert not os.path.exists(store.folder(layout.CHANNELS, team.id))


# -- posting ------------------------------------------------------------------------------------


def test_post_returns_the_message(channels, team, clock):
    clock.advance(7)
    posted = channels.post(team.id, by=BOB, text="  Hello @Ann  \n", mentions=["sub-ann"])
    assert posted == {"id": 1, "at": 1_800_000_007, "from": {"sub": "sub-bob"}, "name": "Bob",
                      "text": "Hello @Ann", "mentions": ["sub-ann"], "edited": None, "deleted": False}
    assert channels.history(team.id, by=ANN) == [posted]
    assert channels.post(team.id, by=ANN, text="second")["id"] == 2


@pytest.mark.parametrize("text", ["", "  \n ", "x" * (TEXT_LIMIT + 1), "nul\x00byte", "bell\x07", None, 42],
                         ids=["empty", "blank", "long", "nul", "control", "none", "int"])
def test_a_text_is_checked(channels, team, text):
    with pytest.raises(BadInput) as error:
        channels.post(team.id, by=BOB, text=text)
    assert error.value.message_id == "error.rooms.text"
    assert channels.history(team.id, by=BOB) == []


def test_the_longest_text_with_lines_and_tabs_is_fine(channels, team):
    text = "a\tb\n" + "x" * (TEXT_LIMIT - 4)
    assert channels.post(team.id, by=BOB, text=text)["text"] == text


def test_mentions_are_only_of_members(channels, team):
    posted = channels.post(team.id, by=BOB, text="hi",
                           mentions=["sub-ann", "sub-carl", "sub-ann", 7, None, "sub-bob"])
    assert posted["mentions"] == ["sub-ann", "sub-bob"]
    many = channels.post(team.id, by=BOB, text="hi", mentions=["sub-ann"] * 1000)
    assert many["mentions"] == ["sub-ann"]


def test_a_guests_mentions_of_members_are_kept_but_notify_nobody(channels, team):
    gus = guest_in(channels, team)
    posted = channels.post(team.id, by=gus, text="@Ann look", mentions=["sub-ann", "sub-carl"])
    assert posted["mentions"] == ["sub-ann"]
    channels.post(team.id, by=BOB, text="@Ann too", mentions=["sub-ann"])
    assert channels.unread(team.id, by=ANN) == {"count": 2, "mentions": 1, "last": 2}


def test_posting_is_limited_per_participant(channels, team, clock):
    for n in range(POSTS_PER_MINUTE):
        channels.post(team.id, by=BOB, text=f"spam {n}")
    with pytest.raises(RateLimited) as error:
        channels.post(team.id, by=BOB, text="one more")
    assert error.value.status == 429
    assert error.value.message_id == "error.rooms.posting_too_fast"
    assert 1 <= error.value.retry_after <= 60
    assert str(error.value) == "You are posting very fast. Please wait 1 minute."
    with pytest.raises(RateLimited):
        channels.edit(team.id, by=BOB, message=1, text="edits count too")
    assert channels.post(team.id, by=ANN, text="ann may")["id"] == POSTS_PER_MINUTE + 1, "per participant"
    assert len(channels.history(team.id, by=ANN, limit=100)) == POSTS_PER_MINUTE + 1, "refused posts wrote nothing"
    clock.advance(60)
    assert channels.post(team.id, by=BOB, text="a minute later")["text"] == "a minute later"


def test_the_limit_counts_a_guest_and_all_channels_together(channels, team):
    other = channels.create(name="Other", by=ANN, members=["sub-bob"])
    for n in range(POSTS_PER_MINUTE):
        channels.post(team.id if n % 2 else other.id, by=BOB, text=f"n{n}")
    with pytest.raises(RateLimited):
        channels.post(other.id, by=BOB, text="more")
    gus = guest_in(channels, team)
    for n in range(POSTS_PER_MINUTE):
        channels.post(team.id, by=gus, text=f"g{n}")
    with pytest.raises(RateLimited):
        channels.post(team.id, by=gus, text="more")


def test_non_members_do_nothing(channels, team):
    posted = channels.post(team.id, by=BOB, text="internal")
    calls = [lambda: channels.post(team.id, by=CARL, text="let me in"),
             lambda: channels.edit(team.id, by=CARL, message=posted["id"], text="x"),
             lambda: channels.delete_message(team.id, by=CARL, message=posted["id"]),
             lambda: channels.history(team.id, by=CARL),
             lambda: channels.changes(team.id, by=CARL, after=0),
             lambda: channels.search(team.id, by=CARL, query="internal"),
             lambda: channels.mark_read(team.id, by=CARL, seq=1),
             lambda: channels.unread(team.id, by=CARL),
             lambda: channels.rename(team.id, by=CARL, name="Mine"),
             lambda: channels.archive(team.id, by=CARL),
             lambda: channels.remove_member(team.id, by=CARL, sub="sub-bob"),
             lambda: channels.delete(team.id, by=CARL)]
    for call in calls:
        with pytest.raises(Forbidden) as error:
            call()
        refused(error, Forbidden, "error.rooms.not_in_channel")


# -- editing and deleting -------------------------------------------------------------------------


def test_edit_changes_ones_own_message(channels, team, clock):
    posted = channels.post(team.id, by=BOB, text="teh typo", mentions=["sub-ann"])
    clock.advance(30)
    edited = channels.edit(team.id, by=BOB, message=posted["id"], text="the typo")
    assert edited == {**posted, "text": "the typo", "edited": 1_800_000_030}
    assert channels.history(team.id, by=ANN) == [edited]
    with pytest.raises(Forbidden) as error:
        channels.edit(team.id, by=ANN, message=posted["id"], text="mine now")
    refused(error, Forbidden, "error.rooms.not_yours")
    with pytest.raises(BadInput):
        channels.edit(team.id, by=BOB, message=posted["id"], text="")
    assert texts(channels.history(team.id, by=ANN)) == ["the typo"]


def test_a_guest_edits_and_deletes_only_their_own(channels, team):
    gus = guest_in(channels, team)
    theirs = channels.post(team.id, by=gus, text="guest text")
    bobs = channels.post(team.id, by=BOB, text="bob text")
    assert channels.edit(team.id, by=gus, message=theirs["id"], text="guest edit")["text"] == "guest edit"
    for call in (lambda: channels.edit(team.id, by=gus, message=bobs["id"], text="x"),
                 lambda: channels.delete_message(team.id, by=gus, message=bobs["id"])):
        with pytest.raises(Forbidden) as error:
            call()
        refused(error, Forbidden, "error.rooms.not_yours")
    other_guest = guest_in(channels, team, name="Gus")  # the same name is not the same guest
    with pytest.raises(Forbidden):
        channels.edit(team.id, by=other_guest, message=theirs["id"], text="x")
    assert channels.delete_message(team.id, by=gus, message=theirs["id"])["deleted"]


@pytest.mark.parametrize("message", [0, -1, 99, "1", None, 1.0, True], ids=["zero", "negative", "absent", "str",
                                                                           "none", "float", "bool"])
def test_an_edit_needs_a_message_that_is_there(channels, team, message):
    channels.post(team.id, by=BOB, text="one")
    with pytest.raises(NotFound) as error:
        channels.edit(team.id, by=BOB, message=message, text="x")
    refused(error, NotFound, "error.rooms.no_such_message")


def test_an_edit_or_delete_is_no_message(channels, team):
    posted = channels.post(team.id, by=BOB, text="one")
    channels.edit(team.id, by=BOB, message=posted["id"], text="two")  # seq 2 is the edit
    with pytest.raises(NotFound):
        channels.edit(team.id, by=BOB, message=2, text="x")
    with pytest.raises(NotFound):
        channels.delete_message(team.id, by=BOB, message=2)


def test_delete_shows_a_deleted_message_and_takes_its_text_off_the_disk(channels, team, store):
    posted = channels.post(team.id, by=BOB, text="secret plan", mentions=["sub-ann"])
    channels.edit(team.id, by=BOB, message=posted["id"], text="secret plan v2")
    kept = channels.post(team.id, by=ANN, text="unrelated")
    with pytest.raises(Forbidden):
        channels.delete_message(team.id, by=ANN, message=posted["id"])
    deleted = channels.delete_message(team.id, by=BOB, message=posted["id"])
    assert deleted["deleted"] and deleted["text"] is None and deleted["mentions"] == []
    assert channels.history(team.id, by=ANN) == [deleted, kept]
    events = channels.changes(team.id, by=ANN, after=0)
    assert [e["op"] for e in events] == ["post", "edit", "post", "delete"]
    assert [e.get("text") for e in events] == [None, None, "unrelated", None], "no poll shows it"
    assert b"secret plan" not in raw_bytes(store, team)
    for call in (lambda: channels.delete_message(team.id, by=BOB, message=posted["id"]),
                 lambda: channels.edit(team.id, by=BOB, message=posted["id"], text="back")):
        with pytest.raises(NotFound):
            call()
    assert channels.search(team.id, by=ANN, query="secret") == []


def test_an_edit_that_lands_after_a_delete_changes_nothing(channels, team):
    """Two tabs: one deleted the message while the other's edit was on its way."""
    posted = channels.post(team.id, by=BOB, text="first")
    channels.delete_message(team.id, by=BOB, message=posted["id"])
    log = channels._log(team.id)
    log.append({"op": "edit", "message": posted["id"], "from": {"sub": "sub-bob"}, "text": "late", "mentions": []})
    log.append({"op": "edit", "message": posted["id"], "from": {"sub": "sub-ann"}, "text": "forged", "mentions": []})
    assert channels.history(team.id, by=ANN)[0]["deleted"]
    assert channels.search(team.id, by=ANN, query="late") == []


def test_an_edit_by_someone_else_in_the_log_is_ignored(channels, team):
    posted = channels.post(team.id, by=BOB, text="mine")
    channels._log(team.id).append({"op": "edit", "message": posted["id"], "from": {"sub": "sub-ann"},
                                   "text": "forged", "mentions": []})
    assert texts(channels.history(team.id, by=ANN)) == ["mine"]
    assert channels.search(team.id, by=ANN, query="forged") == []


# -- reading ----------------------------------------------------------------------------------------


def test_history_pages_back_across_segments(channels, team, clock, monkeypatch):
    monkeypatch.setattr(segments_module, "SEGMENT_EVENTS", 4)
    ids = []
    for n in range(12):
        clock.advance(61)  # past the posting limit
        ids.append(channels.post(team.id, by=BOB if n % 2 else ANN, text=f"m{n}")["id"])
    channels.edit(team.id, by=ANN, message=ids[0], text="m0 edited")  # far newer than its post
    channels.delete_message(team.id, by=BOB, message=ids[1])
    assert len(os.listdir(channels._log(team.id).path)) >= 4
    assert texts(channels.history(team.id, by=BOB, limit=3)) == ["m9", "m10", "m11"]
    page = channels.history(team.id, by=BOB, before=ids[9], limit=3)
    assert texts(page) == ["m6", "m7", "m8"]
    assert texts(channels.history(team.id, by=BOB, before=ids[2], limit=5)) == ["m0 edited", None]
    everything = channels.history(team.id, by=BOB, limit=500)
    assert [m["id"] for m in everything] == ids, "limit capped, but all 12 fit"
    assert everything[0]["edited"] is not None and everything[1]["deleted"]
    assert channels.history(team.id, by=BOB, before=1) == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "5"}, {"before": -1}, {"before": "3"}, {"limit": True}],
                         ids=["zero", "str", "negative", "before-str", "bool"])
def test_history_parameters_are_checked(channels, team, params):
    with pytest.raises(BadInput) as error:
        channels.history(team.id, by=BOB, **params)
    assert error.value.message_id == "error.rooms.parameter"


def test_changes_are_the_raw_records_after_a_seq(channels, team, clock):
    gus = guest_in(channels, team)
    first = channels.post(team.id, by=BOB, text="one", mentions=["sub-ann"])
    channels.post(team.id, by=gus, text="two")
    channels.edit(team.id, by=BOB, message=first["id"], text="one!")
    channels.delete_message(team.id, by=gus, message=2)
    events = channels.changes(team.id, by=ANN, after=0)
    assert events[0] == {"seq": 1, "at": 1_800_000_000, "op": "post", "message": 1, "from": {"sub": "sub-bob"},
                         "name": "Bob", "text": "one", "mentions": ["sub-ann"]}
    assert events[1]["from"] == {"guest": gus.guest, "name": "Gus"}
    assert events[2] == {"seq": 3, "at": 1_800_000_000, "op": "edit", "message": 1, "from": {"sub": "sub-bob"},
                         "text": "one!", "mentions": ["sub-ann"]}
    assert events[3] == {"seq": 4, "at": 1_800_000_000, "op": "delete", "message": 2,
                         "from": {"guest": gus.guest, "name": "Gus"}}
    assert [e["seq"] for e in channels.changes(team.id, by=BOB, after=2)] == [3, 4]
    assert channels.changes(team.id, by=gus, after=4) == []
    with pytest.raises(BadInput):
        channels.changes(team.id, by=ANN, after=-1)


def test_changes_come_at_most_500_at_a_time(channels, team):
    log = channels._log(team.id)
    for n in range(CHANGES_LIMIT + 20):
        log.append({"op": "post", "from": {"sub": "sub-bob"}, "name": "Bob", "text": f"n{n}", "mentions": []})
    first = channels.changes(team.id, by=ANN, after=0)
    assert [e["seq"] for e in first] == list(range(1, CHANGES_LIMIT + 1))
    rest = channels.changes(team.id, by=ANN, after=first[-1]["seq"])
    assert [e["seq"] for e in rest] == list(range(CHANGES_LIMIT + 1, CHANGES_LIMIT + 21))


def test_search_is_case_insensitive_over_live_texts_newest_first(channels, team, clock):
    channels.post(team.id, by=BOB, text="Meet at the Hauptstraße")
    clock.advance(61)
    channels.post(team.id, by=ANN, text="which STRASSE?")
    old = channels.post(team.id, by=ANN, text="strasse was wrong")
    channels.edit(team.id, by=ANN, message=old["id"], text="street now")
    gone = channels.post(team.id, by=BOB, text="Strasse, deleted")
    channels.delete_message(team.id, by=BOB, message=gone["id"])
    found = channels.search(team.id, by=ANN, query="  strasse ")
    assert texts(found) == ["which STRASSE?", "Meet at the Hauptstraße"]
    assert texts(channels.search(team.id, by=ANN, query="strasse", limit=1)) == ["which STRASSE?"]
    assert texts(channels.search(team.id, by=ANN, query="STREET")) == ["street now"]
    assert channels.search(team.id, by=ANN, query="wrong") == [], "the text before an edit is not found"


@pytest.mark.parametrize("query", ["", "   ", "q" * 201, None, 5], ids=["empty", "blank", "long", "none", "int"])
def test_a_search_needs_a_query(channels, team, query):
    with pytest.raises(BadInput) as error:
        channels.search(team.id, by=ANN, query=query)
    assert error.value.message_id == "error.rooms.query"


def test_search_across_segments(channels, team, clock, monkeypatch):
    monkeypatch.setattr(segments_module, "SEGMENT_EVENTS", 3)
    for n in range(10):
        clock.advance(61)
        posted = channels.post(team.id, by=BOB, text=f"needle {n}")
        if n == 2:
            late_edit = posted["id"]
    for n in range(5):
        channels.post(team.id, by=ANN, text=f"hay {n}")
    channels.edit(team.id, by=BOB, message=late_edit, text="changed")
    found = channels.search(team.id, by=ANN, query="NEEDLE")
    assert texts(found) == [f"needle {n}" for n in (9, 8, 7, 6, 5, 4, 3, 1, 0)]


# -- read state ------------------------------------------------------------------------------------------


def test_unread_counts_others_live_messages_and_mentions(channels, team):
    channels.post(team.id, by=ANN, text="mine")                        # 1: own
    channels.post(team.id, by=BOB, text="hi @Ann", mentions=["sub-ann"])  # 2
    gone = channels.post(team.id, by=BOB, text="oops", mentions=["sub-ann"])  # 3: deleted (4)
    channels.delete_message(team.id, by=BOB, message=gone["id"])
    channels.post(team.id, by=BOB, text="plain")                       # 5
    assert channels.unread(team.id, by=ANN) == {"count": 2, "mentions": 1, "last": 5}
    assert channels.unread(team.id, by=BOB) == {"count": 1, "mentions": 0, "last": 5}
    channels.mark_read(team.id, by=ANN, seq=2)
    assert channels.unread(team.id, by=ANN) == {"count": 1, "mentions": 0, "last": 5}
    channels.mark_read(team.id, by=ANN, seq=1)  # never back
    assert channels.unread(team.id, by=ANN)["count"] == 1
    channels.mark_read(team.id, by=ANN, seq=10_000)  # never past the last
    assert channels.unread(team.id, by=ANN) == {"count": 0, "mentions": 0, "last": 5}
    channels.post(team.id, by=BOB, text="new")
    assert channels.unread(team.id, by=ANN) == {"count": 1, "mentions": 0, "last": 6}


def test_read_state_is_per_person_and_seen_by_other_processes(channels, team, store):
    channels.post(team.id, by=BOB, text="one")
    channels.mark_read(team.id, by=ANN, seq=1)
    other = Channels(Store(store.root, clock=store.clock))
    assert other.unread(team.id, by=ANN)["count"] == 0
    assert other.unread(team.id, by=BOB)["count"] == 0, "bob's own"
    doc = store.read(layout.CHANNELS, team.id, "read", layout.person("sub-ann"))
    assert doc["seq"] == 1
    with pytest.raises(BadInput):
        channels.mark_read(team.id, by=ANN, seq="2")


def test_a_guest_keeps_no_read_state(channels, team, store):
    gus = guest_in(channels, team)
    channels.post(team.id, by=BOB, text="hi")
    channels.mark_read(team.id, by=gus, seq=1)
    assert channels.unread(team.id, by=gus) == {"count": 0, "mentions": 0, "last": 1}
    assert store.list(layout.CHANNELS, team.id, "read") == []


# -- stamp -----------------------------------------------------------------------------------------------


def test_the_stamp_changes_with_messages_and_the_channel(channels, team, store):
    stamps = [channels.stamp(team.id)]
    assert channels.stamp(team.id) == stamps[0], "stable while nothing changes"
    posted = channels.post(team.id, by=BOB, text="one")
    stamps.append(channels.stamp(team.id))
    channels.edit(team.id, by=BOB, message=posted["id"], text="two")
    stamps.append(channels.stamp(team.id))
    channels.rename(team.id, by=ANN, name="Renamed")
    stamps.append(channels.stamp(team.id))
    channels.add_member(team.id, by=ANN, sub="sub-carl")
    stamps.append(channels.stamp(team.id))
    assert len(set(stamps)) == len(stamps)
    assert Channels(Store(store.root)).stamp(team.id) == stamps[-1], "the same in another process"
    channels.mark_read(team.id, by=ANN, seq=1)
    assert channels.stamp(team.id) == stamps[-1]


# -- GDPR -------------------------------------------------------------------------------------------------


def test_export_lists_every_live_message_of_a_person(channels, team, clock):
    other = channels.create(name="Other", by=BOB)
    first = channels.post(team.id, by=BOB, text="in team")
    clock.advance(10)
    channels.edit(team.id, by=BOB, message=first["id"], text="in team, edited")
    gone = channels.post(team.id, by=BOB, text="deleted one")
    channels.delete_message(team.id, by=BOB, message=gone["id"])
    channels.post(team.id, by=ANN, text="ann's")
    channels.post(other.id, by=BOB, text="in other")
    channels.remove_member(team.id, by=BOB, sub="sub-bob")  # left: what they wrote is still theirs
    exported = sorted(channels.export_of("sub-bob"), key=lambda row: row["channel"])
    assert exported == [
        {"channel": "Other", "channel_id": other.id, "at": 1_800_000_010, "text": "in other", "edited": None},
        {"channel": "Team", "channel_id": team.id, "at": 1_800_000_000, "text": "in team, edited",
         "edited": 1_800_000_010}]
    assert channels.export_of("sub-nobody") == []


def test_erasure_takes_texts_off_the_disk_and_the_person_out(channels, store, clock):
    team = channels.create(name="Team", by=BOB, members=["sub-ann"])
    clock.advance(5)
    channels.add_member(team.id, by=BOB, sub="sub-carl")
    solo = channels.create(name="Solo", by=BOB)
    left = channels.create(name="Left", by=ANN, members=["sub-bob"])
    one = channels.post(team.id, by=BOB, text="bob secret one", mentions=["sub-ann"])
    channels.edit(team.id, by=BOB, message=one["id"], text="bob secret edited")
    channels.post(team.id, by=ANN, text="ann mentions bob", mentions=["sub-bob"])
    channels.post(solo.id, by=BOB, text="bob secret solo")
    channels.post(left.id, by=BOB, text="bob secret left")
    channels.remove_member(left.id, by=BOB, sub="sub-bob")
    channels.mark_read(team.id, by=BOB, seq=1)

    assert channels.erase_person("sub-bob") == 2  # team and left; solo went with its channel

    for chat in (team, left):
        assert b"bob secret" not in raw_bytes(store, chat)
        assert b"Bob" not in raw_bytes(store, chat), "nor the name shown beside them"
    with pytest.raises(NotFound):
        channels.get(solo.id)  # nobody left in it
    after = channels.get(team.id)
    assert "sub-bob" not in after.members and after.created_by == ""
    assert after.members["sub-ann"]["role"] == "owner", "the oldest member owns it now"
    assert after.members["sub-carl"]["role"] == "member"
    history = channels.history(team.id, by=ANN)
    assert [(m["text"], m["deleted"]) for m in history] == [(None, True), ("ann mentions bob", False)]
    assert history[0]["name"] == "" and history[0]["id"] == one["id"], "seqs kept"
    assert history[1]["mentions"] == []
    assert texts(channels.history(left.id, by=ANN)) == [None]
    assert channels.of_person("sub-bob") == []
    assert store.read(layout.MEMBERSHIPS, layout.person("sub-bob")) is None
    assert not store.exists(layout.CHANNELS, team.id, "read", layout.person("sub-bob"))
    assert channels.export_of("sub-bob") == []
    assert channels.erase_person("sub-bob") == 0, "nothing left to erase"
    assert channels.post(team.id, by=ANN, text="life goes on")["id"] == 4


# -- four processes posting at once ---------------------------------------------------------------------


class StepClock:
    """A worker's clock: a second later on every call (a post reads it a few times), so 50
    posts spread over a few minutes and stay within the posting limit, as a person's do.
    It starts at the real time and stays within minutes of it: the transient records'
    sweep compares it with the files' real modification times."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        self.now += 1
        return self.now


def _post_many(root, cid, barrier, worker, count):
    chats = Channels(Store(root, clock=StepClock()))
    me = Participant(sub=f"sub-w{worker}", name=f"Worker {worker}")
    barrier.wait(BARRIER_TIMEOUT)
    return [chats.post(cid, by=me, text=f"w{worker} n{n}")["id"] for n in range(count)]


def test_four_processes_post_to_one_channel_at_once(store, channels):
    chat = channels.create(name="Busy", by=ANN, members=[f"sub-w{w}" for w in range(PROCESSES)])
    barrier = CTX.Barrier(PROCESSES)
    ids = run_processes(_post_many, [(store.root, chat.id, barrier, w, 50) for w in range(PROCESSES)], timeout=120)
    total = PROCESSES * 50
    assert sorted(i for mine in ids for i in mine) == list(range(1, total + 1)), "gap-free, no duplicate"
    history = channels.history(chat.id, by=ANN, limit=total)
    assert [m["id"] for m in history] == list(range(1, total + 1))
    for w in range(PROCESSES):
        mine = [m for m in history if m["from"] == {"sub": f"sub-w{w}"}]
        assert [m["text"] for m in mine] == [f"w{w} n{n}" for n in range(50)], "each in the order it posted"
        assert [m["id"] for m in mine] == ids[w]
    again = Channels(Store(store.root)).history(chat.id, by=ANN, limit=total)
    assert again == history, "the same order on every read"
    assert channels.unread(chat.id, by=ANN) == {"count": total, "mentions": 0, "last": total}
    assert [e["seq"] for e in channels.changes(chat.id, by=ANN, after=0)] == list(range(1, total + 1))


# -- the folding itself (codeb.rooms.messages) ------------------------------------------------------------


def _post(seq, sub="sub-bob", text="t", at=100):
    return {"seq": seq, "at": at, "op": "post", "from": {"sub": sub}, "name": "Bob", "text": text, "mentions": []}


def _edit(seq, message, sub="sub-bob", text="e", at=200):
    return {"seq": seq, "at": at, "op": "edit", "message": message, "from": {"sub": sub}, "text": text,
            "mentions": []}


def _delete(seq, message, sub="sub-bob"):
    return {"seq": seq, "at": 300, "op": "delete", "message": message, "from": {"sub": sub}}


def test_fold_applies_only_the_authors_changes_and_nothing_after_a_delete():
    records = [_post(1), _edit(2, 1, text="one"), _edit(3, 1, sub="sub-ann", text="forged"), _post(4),
               _delete(5, 4), _edit(6, 4, text="too late"), _edit(7, 99, text="no such post"),
               {"seq": 8, "at": 0, "op": "reaction"}]
    shown = messages.fold(records)
    assert [(m["id"], m["text"], m["edited"], m["deleted"]) for m in shown] == [(1, "one", 200, False),
                                                                                (4, None, None, True)]


def test_search_folds_what_comes_later_before_it_meets_the_post():
    chunks = iter([[_edit(5, 1, text="Found later"), _delete(6, 3)], [_post(1, text="old"), _post(3, text="found")]])
    assert [m["id"] for m in messages.search(chunks, "found", 10)] == [1]


def test_erasure_is_idempotent_and_counts_posts_only():
    erase = messages.Erasure("sub-bob")
    mention = {**_post(3, sub="sub-ann"), "mentions": ["sub-bob", "sub-carl"]}
    out = [erase(r) for r in (_post(1), _edit(2, 1), mention, _delete(4, 1))]
    assert erase.count == 1
    assert out[0] == {**_post(1), "text": None, "name": "", "mentions": [], "erased": True}
    assert out[1]["text"] is None and out[1]["erased"]
    assert out[2]["mentions"] == ["sub-carl"] and out[2]["text"] == "t"
    assert out[3] == _delete(4, 1)
    again = messages.Erasure("sub-bob")
    assert [again(r) for r in out] == out and again.count == 0
    assert messages.event(out[0])["erased"] is True


def test_scrub_takes_the_text_of_one_message_only():
    scrub = messages.Scrub(1)
    assert scrub(_post(1))["text"] is None
    assert scrub(_edit(2, 1))["text"] is None
    assert scrub(_post(3)) == _post(3)
    assert scrub(_edit(4, 3)) == _edit(4, 3)


def test_mentions_are_capped():
    members = [f"sub-{n}" for n in range(100)]
    assert len(messages.mentions_of(members, members)) == messages.MENTIONS_LIMIT
