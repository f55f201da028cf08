"""Chat channels without Flask (codeb.rooms.channels): who may do what, unread counts, guests,
the rate limit, and the GDPR export and erasure."""

import os

import pytest

from codeb.errors import BadInput, Conflict, Forbidden, NotFound, RateLimited
from codeb.rooms import Participant
from codeb.rooms.channels import POSTS_PER_MINUTE, Channels
from codeb.store import Store, layout
from tests.support.clock import Clock

ANN = Participant(sub="sub-ann", name="Ann")
BO = Participant(sub="sub-bo", name="Bo")
CY = Participant(sub="sub-cy", name="Cy")
GUEST = Participant(guest="guestguestguest1", name="Visitor")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def channels(tmp_path, clock):
    return Channels(Store(str(tmp_path), clock=clock))


@pytest.fixture
def team(channels):
    return channels.create(name="  Team   room ", by=ANN, members=["sub-bo"])


def test_a_new_channel_has_its_owner_and_members_and_is_listed_for_each(channels, team):
    assert team.name == "Team room" and team.kind == "channel" and not team.archived
    assert team.role_of(ANN) == "owner" and team.role_of(BO) == "member" and team.role_of(CY) is None
    assert [c.id for c in channels.of_person("sub-bo")] == [team.id]
    assert channels.of_person("sub-cy") == []


def test_unread_counts_others_posts_and_mentions_until_read(channels, team):
    channels.post(team.id, by=ANN, text="hello", mentions=["sub-bo", "sub-cy", "sub-ann"])
    channels.post(team.id, by=ANN, text="anyone?")
    own = channels.post(team.id, by=BO, text="me")
    assert channels.unread(team.id, by=BO) == {"count": 2, "mentions": 1, "last": 3}
    assert channels.unread(team.id, by=ANN) == {"count": 1, "mentions": 0, "last": 3}
    channels.mark_read(team.id, by=BO, seq=2)
    channels.mark_read(team.id, by=BO, seq=1)  # never back
    assert channels.unread(team.id, by=BO)["count"] == 0
    channels.mark_read(team.id, by=ANN, seq=99)  # never past the end
    assert channels.unread(team.id, by=ANN)["count"] == 0
    channels.post(team.id, by=ANN, text="again")
    assert channels.unread(team.id, by=ANN)["count"] == 0
    assert channels.unread(team.id, by=BO)["count"] == 1
    assert own["mentions"] == []


def test_only_members_mentions_are_kept(channels, team):
    message = channels.post(team.id, by=ANN, text="hi", mentions=["sub-bo", "sub-cy", "sub-ann", "sub-bo"])
    assert message["mentions"] == ["sub-bo"]


def test_edits_and_deletes_are_ones_own_and_fold_into_the_history(channels, team):
    first = channels.post(team.id, by=ANN, text="draft")
    with pytest.raises(Forbidden):
        channels.edit(team.id, by=BO, message=first["id"], text="hijack")
    with pytest.raises(Forbidden):
        channels.delete_message(team.id, by=BO, message=first["id"])
    channels.edit(team.id, by=ANN, message=first["id"], text="final")
    second = channels.post(team.id, by=BO, text="reply")
    channels.delete_message(team.id, by=BO, message=second["id"])
    with pytest.raises(NotFound):
        channels.edit(team.id, by=BO, message=second["id"], text="undelete")
    history = channels.history(team.id, by=ANN)
    assert [(m["text"], m["deleted"], bool(m["edited"])) for m in history] == [("final", False, True),
                                                                             (None, True, False)]
    assert [e["op"] for e in channels.changes(team.id, by=BO, after=0)] == ["post", "edit", "post", "delete"]
    assert channels.search(team.id, by=BO, query="FIN")[0]["text"] == "final"
    assert channels.search(team.id, by=BO, query="reply") == []


def test_a_stranger_meets_not_found_everywhere(channels, team):
    for call in (lambda: channels.post(team.id, by=CY, text="x"), lambda: channels.history(team.id, by=CY),
                 lambda: channels.changes(team.id, by=CY, after=0), lambda: channels.rename(team.id, by=CY, name="x"),
                 lambda: channels.add_member(team.id, by=CY, sub="sub-cy"),
                 lambda: channels.delete(team.id, by=CY), lambda: channels.mark_read(team.id, by=CY, seq=1)):
        with pytest.raises(NotFound):
            call()


def test_owner_only_changes_and_the_last_owner_stays(channels, team):
    with pytest.raises(Forbidden):
        channels.rename(team.id, by=BO, name="Bo's")
    with pytest.raises(Forbidden):
        channels.archive(team.id, by=BO)
    with pytest.raises(Forbidden):
        channels.remove_member(team.id, by=BO, sub="sub-ann")
    with pytest.raises(Conflict):
        channels.remove_member(team.id, by=ANN, sub="sub-ann")
    channels.remove_member(team.id, by=BO, sub="sub-bo")  # leaving is one's own choice
    assert channels.of_person("sub-bo") == []
    with pytest.raises(BadInput):
        channels.rename(team.id, by=ANN, name="x" * 81)


def test_an_archived_channel_is_read_only(channels, team):
    channels.post(team.id, by=ANN, text="last words")
    assert channels.archive(team.id, by=ANN).archived
    assert channels.archive(team.id, by=ANN).archived  # again: nothing changes
    for call in (lambda: channels.post(team.id, by=BO, text="x"), lambda: channels.rename(team.id, by=ANN, name="y"),
                 lambda: channels.add_member(team.id, by=ANN, sub="sub-cy")):
        with pytest.raises(Conflict):
            call()
    assert channels.history(team.id, by=BO)[0]["text"] == "last words"


def test_a_guest_acts_only_in_their_channel_and_never_administers_it(channels, team):
    other = channels.create(name="Other", by=ANN)
    channels.add_guest(team.id, guest=GUEST.guest, name="Visitor")
    assert channels.get(team.id).role_of(GUEST) == "guest"
    posted = channels.post(team.id, by=GUEST, text="hello from outside", mentions=["sub-ann"])
    assert posted["from"] == {"guest": GUEST.guest, "name": "Visitor"}
    channels.edit(team.id, by=GUEST, message=posted["id"], text="hello again")
    with pytest.raises(NotFound):
        channels.post(other.id, by=GUEST, text="sneak")
    for call in (lambda: channels.add_member(team.id, by=GUEST, sub="sub-cy"),
                 lambda: channels.rename(team.id, by=GUEST, name="Mine"),
                 lambda: channels.create(name="Guest's", by=GUEST)):
        with pytest.raises(Forbidden):
            call()
    channels.remove_guest(team.id, guest=GUEST.guest)
    with pytest.raises(NotFound):
        channels.history(team.id, by=GUEST)


def test_posting_is_rate_limited_per_participant(channels, team, clock):
    for n in range(POSTS_PER_MINUTE):
        channels.post(team.id, by=BO, text=f"spam {n}")
    with pytest.raises(RateLimited) as refused:
        channels.post(team.id, by=BO, text="one more")
    assert refused.value.status == 429 and refused.value.retry_after > 0
    channels.post(team.id, by=ANN, text="others still can")
    clock.advance(61)
    channels.post(team.id, by=BO, text="a minute later")


def test_a_stale_membership_entry_is_not_trusted(channels, team):
    channels.store.write(layout.MEMBERSHIPS, layout.person("sub-cy"), doc={"channels": {team.id: 1}})
    assert channels.of_person("sub-cy") == []


def test_deleting_a_channel_removes_its_files_and_memberships(channels, team):
    channels.post(team.id, by=ANN, text="x")
    with pytest.raises(Forbidden):
        channels.delete(team.id, by=BO)
    channels.delete(team.id, by=ANN)
    assert not os.path.exists(channels.store.folder(layout.CHANNELS, team.id))
    assert channels.of_person("sub-ann") == channels.of_person("sub-bo") == []


def test_export_and_erasure_of_a_person(channels, team):
    solo = channels.create(name="Ann alone", by=ANN)
    channels.post(team.id, by=ANN, text="secret of ann")
    channels.post(team.id, by=BO, text="bo replies")
    channels.post(solo.id, by=ANN, text="note to self")
    edited = channels.post(team.id, by=ANN, text="typo")
    channels.edit(team.id, by=ANN, message=edited["id"], text="fixed text")
    exported = channels.export_of("sub-ann")
    assert sorted(m["text"] for m in exported) == ["fixed text", "note to self", "secret of ann"]
    assert channels.erase_person("sub-ann") == 3
    history = channels.history(team.id, by=BO)
    assert [(m["text"], m["deleted"]) for m in history] == [(None, True), ("bo replies", False), (None, True)]
    assert channels.get(team.id).role_of(BO) == "owner"  # the channel keeps an owner
    assert not os.path.exists(channels.store.folder(layout.CHANNELS, solo.id))  # nobody is left in it
    raw = b""
    for where, _, names in os.walk(channels.store.root):
        for name in names:
            with open(os.path.join(where, name), "rb") as f:
                raw += f.read()
    assert b"secret of ann" not in raw and b"typo" not in raw and b"fixed text" not in raw
    assert channels.export_of("sub-ann") == []
