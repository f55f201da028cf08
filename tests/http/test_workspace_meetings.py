"""The meeting rooms' API (`/api/meetings...`): members of the meeting's chat only, presence by
heartbeat, WebRTC signals between the peers present, the owner's end and ring, the chat through
the channels' API, TURN credentials, and every bad input a clear 4xx."""

import json
from datetime import UTC, datetime

import pytest

from codeb import i18n
from codeb.notify import push
from codeb.rooms import meetings as meeting_rooms
from tests.support.push import Browser, running_push_service
from tests.support.workspace import Person


@pytest.fixture
def meeting(alice, bob):
    made = alice.send("POST", "/api/meetings", {"name": "Weekly", "members": [bob.login]})
    assert made.status_code == 201, made.text
    assert made.json["meeting"]["owner"] is True and made.json["meeting"]["over"] is False
    return made.json["meeting"]["id"]


def test_a_meeting_is_listed_for_its_members_with_its_chat(alice, bob, carol, meeting):
    assert [m["name"] for m in bob.get("/api/meetings").json["meetings"]] == ["Weekly"]
    assert bob.get("/api/meetings").json["meetings"][0]["owner"] is False
    assert carol.get("/api/meetings").json["meetings"] == []
    shown = bob.get(f"/api/meetings/{meeting}").json
    assert shown["channel"]["kind"] == "meeting" and shown["present"] == []
    assert {m["login"] for m in shown["channel"]["members"]} == {alice.login, bob.login}
    # Its chat is a channel with the meeting's id, read and written through the channels' API.
    assert bob.send("POST", f"/api/channels/{meeting}/messages", {"text": "Agenda?"}).status_code == 201
    assert [m["text"] for m in alice.get(f"/api/channels/{meeting}/messages").json["messages"]] == ["Agenda?"]
    # The channels card lists channels only, not meeting chats.
    assert bob.get("/api/channels").json["channels"] == []


def test_times_come_as_iso_moments_with_their_offset(alice, clock):
    starts = int(clock()) + 3600
    made = alice.send("POST", "/api/meetings", {"name": "Later", "starts": "2099-01-01T10:00:00+01:00"})
    assert made.status_code == 400  # more than a year ahead
    iso = datetime.fromtimestamp(starts, UTC).isoformat()
    made = alice.send("POST", "/api/meetings", {"name": "Later", "starts": iso, "ends": starts + 1800})
    assert made.status_code == 201, made.text
    assert (made.json["meeting"]["starts"], made.json["meeting"]["ends"]) == (starts, starts + 1800)


def test_a_stranger_learns_nothing_of_a_meeting(carol, meeting):
    for method, url, body in [("GET", f"/api/meetings/{meeting}", None),
                              ("POST", f"/api/meetings/{meeting}/presence", None),
                              ("GET", f"/api/meetings/{meeting}/signals", None),
                              ("POST", f"/api/meetings/{meeting}/end", None),
                              ("GET", f"/api/channels/{meeting}/messages", None)]:
        answer = carol.send(method, url, body)
        assert answer.status_code == 404, (url, answer.text)


def test_peers_present_signal_each_other_once_and_in_order(alice, bob, meeting):
    mine = alice.send("POST", f"/api/meetings/{meeting}/presence").json
    theirs = bob.send("POST", f"/api/meetings/{meeting}/presence").json
    assert mine["heartbeat"] == 5 and theirs["poll"] == 1
    assert {p["peer"] for p in theirs["present"]} == {mine["peer"], theirs["peer"]}
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert alice.send("POST", f"/api/meetings/{meeting}/signals",
                      {"to": theirs["peer"], "kind": "offer", "data": offer}).status_code == 202
    for n in range(3):
        alice.send("POST", f"/api/meetings/{meeting}/signals",
                   {"to": theirs["peer"], "kind": "candidate", "data": {"candidate": f"c{n}"}})
    polled = bob.get(f"/api/meetings/{meeting}/signals").json
    assert [(s["kind"], s["from"]) for s in polled["signals"]] == [("offer", mine["peer"])] + \
        [("candidate", mine["peer"])] * 3
    assert [s["data"].get("candidate") for s in polled["signals"][1:]] == ["c0", "c1", "c2"]
    assert bob.get(f"/api/meetings/{meeting}/signals").json["signals"] == []  # each taken once
    assert alice.get(f"/api/meetings/{meeting}/signals").json["signals"] == []  # nothing for the sender
    # Leaving: the peer is gone for the others at once, and signals to it are refused.
    assert bob.send("DELETE", f"/api/meetings/{meeting}/presence").json == {"left": True}
    assert [p["peer"] for p in alice.get(f"/api/meetings/{meeting}/signals").json["present"]] == [mine["peer"]]
    gone = alice.send("POST", f"/api/meetings/{meeting}/signals",
                      {"to": theirs["peer"], "kind": "candidate", "data": {}})
    assert gone.status_code == 404 and gone.json["message"] == i18n.translate("en", "error.meetings.peer_gone")


def test_the_room_takes_four(app, mailbox, alice, meeting):
    people = [Person(app, mailbox, f"p{n}@example.com") for n in range(4)]
    alice.send("POST", f"/api/channels/{meeting}/members", {"logins": [p.login for p in people]})
    for person in people[:3]:
        assert person.send("POST", f"/api/meetings/{meeting}/presence").status_code == 200
    assert alice.send("POST", f"/api/meetings/{meeting}/presence").status_code == 200
    full = people[3].send("POST", f"/api/meetings/{meeting}/presence")
    assert full.status_code == 409
    assert full.json["message"] == i18n.translate("en", "error.meetings.full", limit=4)


def test_only_the_owner_ends_and_an_ended_meeting_takes_nobody(alice, bob, meeting):
    bob.send("POST", f"/api/meetings/{meeting}/presence")
    assert bob.send("POST", f"/api/meetings/{meeting}/end").status_code == 403
    ended = alice.send("POST", f"/api/meetings/{meeting}/end")
    assert ended.status_code == 200 and ended.json["meeting"]["over"] is True
    assert bob.get(f"/api/meetings/{meeting}/signals").status_code == 409
    assert bob.send("POST", f"/api/meetings/{meeting}/presence").status_code == 409
    assert bob.get(f"/api/meetings/{meeting}").json["present"] == []
    # Its chat is archived: readable, but no more posts.
    assert bob.send("POST", f"/api/channels/{meeting}/messages", {"text": "late"}).status_code == 409
    assert bob.get(f"/api/meetings/{meeting}").json["channel"]["archived"] is True


def test_the_owner_rings_a_member_on_their_devices(alice, bob, carol, meeting, monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    with running_push_service() as service:
        keys = Browser()
        bob.send("POST", "/api/push/subscriptions", {"subscription": keys.subscription(service.endpoint("ok", "b"))})
        assert bob.send("POST", f"/api/meetings/{meeting}/ring", {"login": alice.login}).status_code == 403
        assert alice.send("POST", f"/api/meetings/{meeting}/ring", {"login": carol.login}).status_code == 400
        rung = alice.send("POST", f"/api/meetings/{meeting}/ring", {"login": bob.login})
        assert rung.status_code == 202
        rung.close()  # the server sends the push once the response is out
        [delivery] = service.received
    notice = json.loads(keys.decrypt(delivery["body"]))
    assert notice["title"] == "Meeting: Weekly" and notice["url"] == f"/office.html#meeting={meeting}"
    assert delivery["headers"]["urgency"] == "high"


def test_turn_credentials_need_the_shells_token(alice, client):
    answer = alice.get("/api/turn")
    assert answer.status_code == 200 and isinstance(answer.json["iceServers"], list)
    assert client.get("/api/turn", headers={"Host": "localhost"}).status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("POST", "", {"name": ""}, 400, None),
    ("POST", "", {"name": "x", "starts": "tomorrow"}, 400, "error.meetings.times"),
    ("POST", "", {"name": "x", "starts": "2026-12-03T10:00:00"}, 400, "error.meetings.times"),  # no offset
    ("POST", "", {"name": "x", "ends": True}, 400, "error.meetings.times"),
    ("POST", "", ["not", "an", "object"], 400, "error.rooms.body"),
    ("POST", "/signals", {"to": "aaaaaaaaaaaaaaaa", "kind": "offer", "data": {}}, 409, "error.meetings.not_joined"),
    ("POST", "/ring", {"login": 7}, 400, "error.meetings.ring_member"),
    ("GET", "/../x", None, 404, None),
])
def test_bad_input_is_a_clear_4xx(alice, meeting, method, path, body, status, message):
    url = "/api/meetings" + (f"/{meeting}{path}" if path else "")
    answer = alice.send(method, url, body)
    assert answer.status_code == status, answer.text
    if message:
        assert answer.json["message"] == i18n.translate("en", message)


def test_a_bad_signal_is_refused(alice, bob, meeting):
    alice.send("POST", f"/api/meetings/{meeting}/presence")
    peer = bob.send("POST", f"/api/meetings/{meeting}/presence").json["peer"]
    for body in ({"to": peer, "kind": "rumour", "data": {}}, {"to": peer, "kind": "offer", "data": "sdp"},
                 {"to": peer, "kind": "offer", "data": {"sdp": "x" * (meeting_rooms.SIGNAL_LIMIT + 1)}}):
        assert alice.send("POST", f"/api/meetings/{meeting}/signals", body).status_code == 400
