"""Guests over HTTP (`/api/guests/...`, `/api/guest/...`, `/guest`): a member invites an
outsider into one conversation by a signed link or a mail; the guest's browser, with its
cookie, sees and acts in that conversation and nowhere else (403), loses it at once when
the invitation is withdrawn, the meeting ends, the channel is archived or an admin removes
them (401), and never becomes an account or gets a token of the OpenID Provider."""

import re

import pytest
from itsdangerous import URLSafeSerializer

from codeb.rooms import guests as guest_rooms
from codeb.store import layout
from tests.support.web import HOST, signed_in_admin

DAY = 86400


class Guest:
    """An outsider's browser: no sign-in, only what the join answer and its cookie give it."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = ""

    def check(self, token):
        return self.client.post("/api/guest/check", json={"token": token}, headers={"Host": HOST})

    def join(self, token, name="Gina"):
        answer = self.client.post("/api/guest/join", json={"token": token, "name": name}, headers={"Host": HOST})
        if answer.status_code == 201:
            self.csrf = answer.json["csrf"]
        return answer

    def get(self, url, **headers):
        return self.client.get(url, headers={"Host": HOST, **headers})

    def send(self, method, url, body=None, csrf=True):
        headers = {"Host": HOST, **({"X-CSRF-Token": self.csrf} if csrf else {})}
        return self.client.open(url, method=method, json=body, headers=headers)


def token_of(link: str) -> str:
    assert link.startswith(f"http://{HOST}/guest#"), link
    return link.split("#", 1)[1]


def invite(person, kind, cid, ttl=DAY, multi=False, **extra):
    made = person.send("POST", "/api/guests/invites",
                       {"scope": {"kind": kind, "id": cid}, "ttl": ttl, "multi": multi, **extra})
    assert made.status_code == 201, made.text
    return made.json


@pytest.fixture
def meeting(alice, bob):
    made = alice.send("POST", "/api/meetings", {"name": "Review", "members": [bob.login]})
    assert made.status_code == 201, made.text
    return made.json["meeting"]["id"]


@pytest.fixture
def other_channel(alice):
    made = alice.send("POST", "/api/channels", {"name": "Board"})
    assert made.status_code == 201, made.text
    return made.json["channel"]["id"]


@pytest.fixture
def gina(app, alice, channel):
    """A guest of `channel` by Alice's single-use link."""
    guest = Guest(app)
    link = invite(alice, "channel", channel)["link"]
    joined = guest.join(token_of(link))
    assert joined.status_code == 201, joined.text
    guest.id = joined.json["guest"]["id"]
    return guest


def test_a_guest_joins_by_link_and_talks_in_that_channel(app, alice, bob, channel):
    made = invite(alice, "channel", channel)
    assert made["invite"]["state"] == "open" and made["invite"]["multi"] is False
    token = token_of(made["link"])
    guest = Guest(app)
    seen = guest.check(token)
    assert seen.status_code == 200
    assert seen.json["conversation"] == {"kind": "channel", "id": channel, "name": "Team"}
    assert seen.json["by_name"] == alice.get("/api/me").json["display_name"]

    joined = guest.join(token, name="  Gina   Gast ")
    assert joined.status_code == 201, joined.text
    assert joined.json["guest"]["name"] == "Gina Gast" and joined.json["conversation"]["id"] == channel
    cookie = joined.headers["Set-Cookie"]
    assert "codeb-guest=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie

    # The guest reads and posts; the members see them as a guest.
    assert bob.send("POST", f"/api/channels/{channel}/messages", {"text": "Welcome!"}).status_code == 201
    shown = guest.get(f"/api/channels/{channel}")
    assert shown.status_code == 200 and shown.json["channel"]["role"] == "guest"
    assert [m["text"] for m in guest.get(f"/api/channels/{channel}/messages").json["messages"]] == ["Welcome!"]
    posted = guest.send("POST", f"/api/channels/{channel}/messages", {"text": "Hello from outside"})
    assert posted.status_code == 201, posted.text
    number = posted.json["message"]["seq"] if "seq" in posted.json["message"] else posted.json["message"]["id"]
    mine = [m for m in alice.get(f"/api/channels/{channel}/messages").json["messages"]
            if m["text"] == "Hello from outside"]
    assert mine and mine[0]["guest"] is True and mine[0]["name"] == "Gina Gast" and mine[0]["login"] == ""
    assert {g["name"] for g in alice.get(f"/api/channels/{channel}").json["channel"]["guests"]} == {"Gina Gast"}
    # They edit their own message, and search.
    assert guest.send("PATCH", f"/api/channels/{channel}/messages/{number}", {"text": "Hello!"}).status_code == 200
    assert guest.get(f"/api/channels/{channel}/search?q=hello").json["messages"][0]["text"] == "Hello!"
    assert guest.get("/api/guest/me").json["guest"]["name"] == "Gina Gast"


def test_the_join_page_keeps_the_link_out_of_requests(app):
    page = Guest(app).get("/guest")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "camera=(self)" in page.headers["Permissions-Policy"]


def test_a_guest_of_one_channel_is_refused_everything_else(app, alice, gina, channel, other_channel, meeting):
    for url in (f"/api/channels/{other_channel}", f"/api/channels/{other_channel}/messages",
                f"/api/channels/{other_channel}/changes", f"/api/meetings/{meeting}", "/api/channels",
                "/api/meetings", "/api/turn", "/api/push", f"/api/guests/invites?kind=channel&id={channel}"):
        answer = gina.get(url)
        assert answer.status_code == 403, (url, answer.status_code)
        assert answer.json["error"] == "error.guests.out_of_scope"
    for method, url, body in [("POST", f"/api/channels/{other_channel}/messages", {"text": "hi"}),
                              ("POST", "/api/channels", {"name": "Mine"}),
                              ("POST", f"/api/channels/{channel}/members", {"logins": ["bob"]}),
                              ("PATCH", f"/api/channels/{channel}", {"name": "Renamed"}),
                              ("DELETE", f"/api/channels/{channel}", None),
                              ("POST", "/api/guests/invites", {"scope": {"kind": "channel", "id": channel},
                                                               "ttl": DAY, "multi": True}),
                              ("POST", f"/api/meetings/{meeting}/presence", None)]:
        assert gina.send(method, url, body).status_code == 403, (method, url)
    # Pages and the provider: the shell, admin, account, userinfo, authorize: 403 for a guest.
    for url in ("/office.html", "/admin.html", "/admin/users", "/account", "/userinfo", "/api/me",
                "/authorize?client_id=x&response_type=code", "/admin/guests"):
        assert gina.get(url).status_code == 403, url
    assert gina.client.post("/userinfo", headers={"Host": HOST}).status_code == 403
    # Nothing of the channel changed.
    assert alice.get(f"/api/channels/{channel}").json["channel"]["name"] == "Team"


def test_a_guest_write_needs_the_guest_pages_csrf_token(gina, channel):
    url = f"/api/channels/{channel}/messages"
    assert gina.send("POST", url, {"text": "forged"}, csrf=False).status_code == 403
    gina.csrf = "0" * 43
    assert gina.send("POST", url, {"text": "forged"}).status_code == 403


def test_a_guest_is_never_an_account(app, alice, channel, demo):
    before = sorted(demo.store.list(layout.USERS))
    guest = Guest(app)
    assert guest.join(token_of(invite(alice, "channel", channel)["link"])).status_code == 201
    assert sorted(demo.store.list(layout.USERS)) == before
    # The guest's cookie is no token of the provider.
    cookie = guest.client.get_cookie("codeb-guest", domain=HOST)
    assert cookie is not None
    refused = app.test_client().get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {cookie.value}"})
    assert refused.status_code == 401


def test_withdrawing_the_invite_ends_the_guests_access_at_once(app, alice, gina, channel):
    listed = alice.get(f"/api/guests/invites?kind=channel&id={channel}").json["invites"]
    assert len(listed) == 1 and listed[0]["state"] == "used" and listed[0]["guests"][0]["id"] == gina.id
    revoked = alice.send("DELETE", f"/api/guests/invites/{listed[0]['id']}")
    assert revoked.status_code == 200 and revoked.json["invite"]["state"] == "revoked"
    for url in (f"/api/channels/{channel}", f"/api/channels/{channel}/changes", "/api/guest/me"):
        answer = gina.get(url)
        assert answer.status_code == 401, url
        assert answer.json["error"] == "error.guests.session_over"
    assert gina.send("POST", f"/api/channels/{channel}/messages", {"text": "still here?"}).status_code == 401
    assert alice.get(f"/api/channels/{channel}").json["channel"]["guests"] == []


def test_only_the_inviter_or_an_admin_withdraws(app, alice, bob, carol, channel):
    made = invite(alice, "channel", channel, multi=True)
    iid = made["invite"]["id"]
    assert bob.send("DELETE", f"/api/guests/invites/{iid}").status_code == 403
    assert carol.send("DELETE", f"/api/guests/invites/{iid}").status_code == 403
    assert bob.send("DELETE", "/api/guests/invites/not-an-id").status_code == 404
    assert Guest(app).check(token_of(made["link"])).status_code == 200


def test_a_meeting_guest_loses_access_when_it_ends(app, alice, meeting):
    guest = Guest(app)
    assert guest.join(token_of(invite(alice, "meeting", meeting)["link"])).status_code == 201
    spare = token_of(invite(alice, "meeting", meeting, multi=True)["link"])
    shown = guest.get(f"/api/meetings/{meeting}")
    assert shown.status_code == 200 and shown.json["meeting"]["owner"] is False
    assert guest.send("POST", f"/api/meetings/{meeting}/presence").status_code == 200
    assert len(guest.get(f"/api/meetings/{meeting}/signals").json["present"]) == 1
    turn = guest.get("/api/turn")
    assert turn.status_code == 200 and "iceServers" in turn.json
    assert guest.send("POST", f"/api/channels/{meeting}/messages", {"text": "Hi all"}).status_code == 201
    assert guest.send("POST", f"/api/meetings/{meeting}/end").status_code == 403  # the owner's only
    assert alice.send("POST", f"/api/meetings/{meeting}/end").status_code == 200
    for url in (f"/api/meetings/{meeting}", f"/api/channels/{meeting}/messages", "/api/turn"):
        assert guest.get(url).status_code == 401, url
    # Its links are over, and no new one is made.
    over = Guest(app).check(spare)
    assert over.status_code == 410 and over.json["error"] == "error.guests.conversation_over"
    again = alice.send("POST", "/api/guests/invites", {"scope": {"kind": "meeting", "id": meeting}, "ttl": DAY,
                                                        "multi": True})
    assert again.status_code == 410 and again.json["error"] == "error.guests.conversation_over"


def test_a_channel_guest_gets_no_turn_credentials(gina):
    assert gina.get("/api/turn").status_code == 403


def test_archiving_a_channel_ends_its_guests(alice, gina, channel):
    assert alice.send("PATCH", f"/api/channels/{channel}", {"archived": True}).status_code == 200
    assert gina.get(f"/api/channels/{channel}").status_code == 401


def test_a_single_use_link_lets_in_one_guest(app, alice, channel):
    token = token_of(invite(alice, "channel", channel)["link"])
    assert Guest(app).join(token).status_code == 201
    again = Guest(app).join(token, name="Mallory")
    assert again.status_code == 410 and again.json["error"] == "error.guests.link_used"


def test_a_multi_use_link_lets_in_each_guest_their_own(app, alice, channel):
    token = token_of(invite(alice, "channel", channel, multi=True)["link"])
    first, second = Guest(app), Guest(app)
    assert first.join(token, name="One").status_code == 201
    assert second.join(token, name="Two").status_code == 201
    first.send("POST", f"/api/channels/{channel}/messages", {"text": "from one"})
    mine = [m["mine"] for m in second.get(f"/api/channels/{channel}/messages").json["messages"]]
    assert mine == [False]


def test_a_tampered_or_foreign_link_names_nothing(app, alice, channel, demo):
    token = token_of(invite(alice, "channel", channel)["link"])
    guest = Guest(app)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token + "x", "", "x" * 2000,
                URLSafeSerializer("another key", salt=guest_rooms.SALT).dumps({"t": "demo"})):
        answer = guest.check(bad)
        assert answer.status_code == 404 and answer.json["error"] == "error.guests.link_invalid", bad[:20]
        assert guest.join(bad).status_code in (400, 404)
    assert guest.client.post("/api/guest/check", json={"token": 5}, headers={"Host": HOST}).status_code == 404
    assert guest.client.post("/api/guest/check", data="no json", headers={"Host": HOST}).status_code == 400
    # The record keeps the link's hash, never the link.
    store = demo.store
    for name in store.list(layout.GUESTS, layout.GUEST_INVITES):
        assert token not in str(store.read(layout.GUESTS, layout.GUEST_INVITES, name))


def test_an_expired_link_is_refused_and_its_guests_leave(app, alice, channel, clock):
    made = invite(alice, "channel", channel, ttl=600, multi=True)
    token = token_of(made["link"])
    guest = Guest(app)
    assert guest.join(token).status_code == 201
    clock.advance(601)
    expired = Guest(app).check(token)
    assert expired.status_code == 410 and expired.json["error"] == "error.guests.link_expired"
    assert guest.get(f"/api/channels/{channel}").status_code == 401


def test_the_join_takes_a_json_body_and_a_clean_name(app, alice, channel):
    token = token_of(invite(alice, "channel", channel)["link"])
    guest = Guest(app)
    form = guest.client.post("/api/guest/join", data={"token": token, "name": "Gina"}, headers={"Host": HOST})
    assert form.status_code == 400  # a cross-site form cannot join anyone
    for name in ("", "   ", "x" * 61, "Gina\nAdmin", "\u202eanimdA", 5):
        answer = guest.join(token, name=name)
        assert answer.status_code == 400 and answer.json["error"] == "error.guests.name", name
    assert guest.join(token, name="Gina").status_code == 201  # the refusals spent nothing


def test_joins_are_limited_per_client_network(app, alice, channel):
    token = token_of(invite(alice, "channel", channel, multi=True)["link"])
    answers = [Guest(app).join(token, name=f"G{n}").status_code for n in range(11)]
    assert answers[:10] == [201] * 10 and answers[10] == 429


def test_invitations_are_checked(alice, bob, carol, channel):
    scope = {"kind": "channel", "id": channel}
    for body in ({"scope": scope, "ttl": 60, "multi": False}, {"scope": scope, "ttl": 31 * DAY, "multi": False},
                 {"scope": scope, "ttl": DAY, "multi": "yes"}, {"scope": scope, "ttl": "1", "multi": False},
                 {"scope": {"kind": "room", "id": channel}, "ttl": DAY, "multi": False},
                 {"scope": scope, "ttl": DAY, "multi": False, "email": "not an address"}, {"ttl": DAY}):
        answer = alice.send("POST", "/api/guests/invites", body)
        assert answer.status_code == 400, (body, answer.text)
    # A meeting's chat is a channel, but a guest is let into it only as into the meeting.
    mid = alice.send("POST", "/api/meetings", {"name": "Sync"}).json["meeting"]["id"]
    as_channel = alice.send("POST", "/api/guests/invites", {"scope": {"kind": "channel", "id": mid}, "ttl": DAY,
                                                             "multi": False})
    assert as_channel.status_code == 404
    assert alice.send("POST", "/api/guests/invites", {"scope": {"kind": "meeting", "id": channel}, "ttl": DAY,
                                                       "multi": False}).status_code == 404
    stranger = carol.send("POST", "/api/guests/invites", {"scope": scope, "ttl": DAY, "multi": False})
    assert stranger.status_code in (403, 404)
    assert carol.get(f"/api/guests/invites?kind=channel&id={channel}").status_code == 404


def test_an_invitation_by_mail_goes_through_the_pickup_folder(app, alice, channel, mailbox):
    made = invite(alice, "channel", channel, email="Gina@Example.org")
    assert "link" not in made and made["invite"]["email"] == "gina@example.org"
    mail = mailbox.messages()[-1]
    assert mail.message["To"] == "gina@example.org"
    link = re.search(rf"http://{HOST}/guest#\S+", mail.text).group(0)
    guest = Guest(app)
    assert guest.join(token_of(link)).status_code == 201
    assert guest.get(f"/api/channels/{channel}").status_code == 200


def test_the_admin_lists_guests_with_their_scope_and_removes_them(app, mailbox, accounts, alice, gina, channel):
    boss = signed_in_admin(app, mailbox, accounts)
    page = boss.get("/admin/guests", headers={"Host": HOST})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Gina" in text and "Team" in text and gina.id in text
    csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
    removed = boss.post(f"/admin/guests/{gina.id}/remove", data={"csrf": csrf}, headers={"Host": HOST})
    assert removed.status_code == 303
    assert gina.get(f"/api/channels/{channel}").status_code == 401
    assert alice.get(f"/api/channels/{channel}").json["channel"]["guests"] == []
    # A signed-in person who is not an admin sees no guests page.
    assert alice.client.get("/admin/guests", headers={"Host": HOST}).status_code in (303, 403)


def test_the_inviter_removes_one_guest(app, alice, bob, channel):
    token = token_of(invite(alice, "channel", channel, multi=True)["link"])
    one, two = Guest(app), Guest(app)
    one_id = one.join(token, name="One").json["guest"]["id"]
    assert two.join(token, name="Two").status_code == 201
    assert bob.send("DELETE", f"/api/guests/{one_id}").status_code == 403
    assert alice.send("DELETE", f"/api/guests/{one_id}").status_code == 200
    assert one.get(f"/api/channels/{channel}").status_code == 401
    assert two.get(f"/api/channels/{channel}").status_code == 200


def test_a_guest_leaves_and_a_signed_in_person_is_themselves(app, alice, gina, channel):
    # A person signed in on a browser that also holds a guest cookie reaches their own pages.
    cookie = gina.client.get_cookie("codeb-guest", domain=HOST)
    alice.client.set_cookie("codeb-guest", cookie.value, domain=HOST)
    assert alice.client.get("/account", headers={"Host": HOST}).status_code == 200
    assert alice.get("/api/channels").status_code == 200
    # The guest leaves: with the page's CSRF token only.
    assert gina.send("DELETE", "/api/guest/session", csrf=False).status_code == 403
    assert gina.send("DELETE", "/api/guest/session").status_code == 200
    assert gina.get(f"/api/channels/{channel}").status_code == 401


def test_deleting_a_channel_deletes_its_guests_and_invitations(app, alice, gina, channel, demo):
    assert demo.store.list(layout.GUESTS, layout.GUEST_INVITES) != []
    assert alice.send("DELETE", f"/api/channels/{channel}").status_code == 200
    assert demo.store.list(layout.GUESTS, layout.GUEST_INVITES) == []
    assert demo.store.list(layout.GUESTS) == []
    assert gina.get(f"/api/channels/{channel}").status_code == 401


def test_deleting_the_inviter_ends_their_guests_access(app, alice, gina, channel, accounts):
    accounts.delete(alice.login)
    assert gina.get(f"/api/channels/{channel}").status_code == 401


def test_withdrawing_a_meeting_guests_invite_takes_them_out_of_the_room(app, alice, meeting):
    guest = Guest(app)
    made = invite(alice, "meeting", meeting)
    assert guest.join(token_of(made["link"])).status_code == 201
    assert guest.send("POST", f"/api/meetings/{meeting}/presence").status_code == 200
    assert alice.send("POST", f"/api/meetings/{meeting}/presence").status_code == 200
    assert len(alice.get(f"/api/meetings/{meeting}/signals").json["present"]) == 2
    assert alice.send("DELETE", f"/api/guests/invites/{made['invite']['id']}").status_code == 200
    present = alice.get(f"/api/meetings/{meeting}/signals").json["present"]
    assert len(present) == 1 and not present[0]["guest"]
