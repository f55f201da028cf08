"""The chat channels' API (`/api/channels...`): the office shell's token only, members only,
conditional polls, and every bad input a clear 4xx."""


import pytest

from codeb.accounts import privacy
from tests.support.oidc import tokens_for
from tests.support.web import HOST
from tests.support.workspace import sub_of


def unread_of(person, cid):
    listed = person.get("/api/channels").json["channels"]
    return next(entry["unread"] for entry in listed if entry["id"] == cid)


def test_a_message_reaches_the_other_member_with_its_unread_count_and_mention(alice, bob, channel):
    assert unread_of(bob, channel)["count"] == 0
    posted = alice.send("POST", f"/api/channels/{channel}/messages", {"text": f"Hello @{bob.login}, and @nobody"})
    assert posted.status_code == 201, posted.text
    assert posted.json["message"]["mine"] is True
    unread = unread_of(bob, channel)
    assert unread["count"] == 1 and unread["mentions"] == 1
    assert unread_of(alice, channel)["count"] == 0  # one's own message is never unread

    changes = bob.get(f"/api/channels/{channel}/changes?after=0")
    assert changes.status_code == 200
    [event] = changes.json["events"]
    assert event["op"] == "post" and event["text"].startswith("Hello") and event["mine"] is False
    assert event["name"] == alice.get("/api/me").json["display_name"]
    assert event["mentions"] == [sub_of(bob)]

    marked = bob.send("POST", f"/api/channels/{channel}/read", {"seq": event["seq"]})
    assert marked.status_code == 200 and marked.json["unread"]["count"] == 0
    assert unread_of(bob, channel) == {**unread, "count": 0, "mentions": 0}


def test_the_poll_answers_304_while_nothing_changed_and_200_once_something_did(alice, bob, channel):
    first = bob.get(f"/api/channels/{channel}/changes?after=0")
    tag = first.headers["ETag"]
    again = bob.get(f"/api/channels/{channel}/changes?after=0", **{"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    alice.send("POST", f"/api/channels/{channel}/messages", {"text": "news"})
    later = bob.get(f"/api/channels/{channel}/changes?after=0", **{"If-None-Match": tag})
    assert later.status_code == 200 and [e["text"] for e in later.json["events"]] == ["news"]
    listed = bob.get("/api/channels")
    assert bob.get("/api/channels", **{"If-None-Match": listed.headers["ETag"]}).status_code == 304


def test_edit_and_delete_are_ones_own_and_reach_the_others_as_events(alice, bob, channel):
    message = alice.send("POST", f"/api/channels/{channel}/messages", {"text": "draft"}).json["message"]
    url = f"/api/channels/{channel}/messages/{message['id']}"
    assert bob.send("PATCH", url, {"text": "mine now"}).status_code == 403
    assert bob.send("DELETE", url).status_code == 403
    assert alice.send("PATCH", url, {"text": "final"}).json["message"]["text"] == "final"
    assert alice.send("DELETE", url).json["message"]["deleted"] is True
    ops = [e["op"] for e in bob.get(f"/api/channels/{channel}/changes?after=0").json["events"]]
    assert ops == ["post", "edit", "delete"]
    [shown] = bob.get(f"/api/channels/{channel}/messages").json["messages"]
    assert shown["deleted"] is True and shown["text"] is None


def test_a_stranger_learns_nothing_of_a_channel(alice, carol, channel):
    alice.send("POST", f"/api/channels/{channel}/messages", {"text": "secret plans"})
    for url in (f"/api/channels/{channel}", f"/api/channels/{channel}/messages",
                f"/api/channels/{channel}/changes?after=0", f"/api/channels/{channel}/search?q=secret"):
        response = carol.get(url)
        assert response.status_code == 404, url
        assert "secret" not in response.text
    for method, url, body in (("POST", f"/api/channels/{channel}/messages", {"text": "hi"}),
                              ("PATCH", f"/api/channels/{channel}", {"name": "Mine"}),
                              ("POST", f"/api/channels/{channel}/members", {"logins": [carol.login]}),
                              ("DELETE", f"/api/channels/{channel}", None)):
        assert carol.send(method, url, body).status_code == 404, (method, url)
    assert channel not in [c["id"] for c in carol.get("/api/channels").json["channels"]]


def test_only_the_owner_renames_and_archives_and_an_archived_channel_takes_no_post(alice, bob, channel):
    assert bob.send("PATCH", f"/api/channels/{channel}", {"name": "Bob's"}).status_code == 403
    assert alice.send("PATCH", f"/api/channels/{channel}", {"name": "Core team"}).json["channel"]["name"] == "Core team"
    assert bob.send("PATCH", f"/api/channels/{channel}", {"archived": True}).status_code == 403
    assert alice.send("PATCH", f"/api/channels/{channel}", {"archived": True}).json["channel"]["archived"] is True
    refused = bob.send("POST", f"/api/channels/{channel}/messages", {"text": "too late"})
    assert refused.status_code == 409 and refused.json["error"] == "error.rooms.archived"


def test_members_add_people_of_the_tenant_and_a_member_may_leave(alice, bob, carol, channel):
    added = bob.send("POST", f"/api/channels/{channel}/members", {"logins": [carol.login]})
    assert added.status_code == 200
    assert carol.login in [m["login"] for m in added.json["channel"]["members"]]
    assert carol.get(f"/api/channels/{channel}").status_code == 200
    unknown = alice.send("POST", f"/api/channels/{channel}/members", {"logins": ["nobody-here"]})
    assert unknown.status_code == 400 and "nobody-here" in unknown.json["message"]
    assert carol.send("DELETE", f"/api/channels/{channel}/members/{carol.login}").status_code == 200
    assert carol.get(f"/api/channels/{channel}").status_code == 404


def test_search_finds_live_messages_of_the_channel(alice, bob, channel):
    for text in ("Budget for May", "lunch?", "the BUDGET again"):
        alice.send("POST", f"/api/channels/{channel}/messages", {"text": text})
    found = bob.get(f"/api/channels/{channel}/search?q=budget").json["messages"]
    assert sorted(m["text"] for m in found) == ["Budget for May", "the BUDGET again"]


@pytest.mark.parametrize(("method", "url", "body", "status"), [
    ("POST", "/api/channels", {"name": ""}, 400),
    ("POST", "/api/channels", {"name": "x" * 81}, 400),
    ("POST", "/api/channels", {"name": "Ok", "members": "bob"}, 400),
    ("POST", "/api/channels", [1], 400),
    ("POST", "/api/channels/{cid}/messages", {"text": ""}, 400),
    ("POST", "/api/channels/{cid}/messages", {"text": "a" * 4001}, 400),
    ("POST", "/api/channels/{cid}/messages", {"text": "bidi \u202e override"}, 400),
    ("POST", "/api/channels/{cid}/messages", {"text": 5}, 400),
    ("POST", "/api/channels/{cid}/read", {"seq": "1"}, 400),
    ("GET", "/api/channels/{cid}/changes?after=-1", None, 400),
    ("GET", "/api/channels/{cid}/changes?after=x", None, 400),
    ("GET", "/api/channels/{cid}/messages?limit=0", None, 400),
    ("GET", "/api/channels/{cid}/search?q=", None, 400),
    ("GET", "/api/channels/..", None, 404),
    ("GET", "/api/channels/AAAAAAAAAAAAAAAA/messages", None, 404),
    ("GET", "/api/channels/aaaaaaaaaaaaaaaa", None, 404),
    ("PATCH", "/api/channels/{cid}/messages/999", {"text": "x"}, 404),
    ("PATCH", "/api/channels/{cid}", {}, 400),
])
def test_bad_input_is_a_clear_4xx(alice, channel, method, url, body, status):
    response = alice.send(method, url.format(cid=channel), body)
    assert response.status_code == status, response.text
    assert response.json["message"]


def test_without_the_shells_token_there_is_no_channel(client, alice, channel, mailbox, rp):
    assert client.get("/api/channels", headers={"Host": HOST}).status_code == 401
    other = tokens_for(alice.client, mailbox, rp, scope="openid")["access_token"]  # a relying party's
    response = client.get("/api/channels", headers={"Host": HOST, "Authorization": f"Bearer {other}"})
    assert response.status_code == 401


def test_the_privacy_export_has_ones_messages_and_deletion_erases_them(alice, bob, channel, accounts, demo):
    alice.send("POST", f"/api/channels/{channel}/messages", {"text": "Alice's plan"})
    bob.send("POST", f"/api/channels/{channel}/messages", {"text": "Bob's answer"})
    account = accounts.get(alice.login)
    exported = privacy.export(demo.store, "demo", account)["messages"]
    assert [m["text"] for m in exported] == ["Alice's plan"]
    accounts.delete(alice.login)
    shown = bob.get(f"/api/channels/{channel}/messages").json["messages"]
    assert [(m["text"], m["deleted"]) for m in shown] == [(None, True), ("Bob's answer", False)]
    assert bob.get(f"/api/channels/{channel}").json["channel"]["role"] == "owner"
