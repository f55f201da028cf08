"""Notifications of the workspace (`/api/push...`, codeb.rooms.alerts): a member's browser subscribes
through the shell's API, another member posts, and a push service on 127.0.0.1 receives a payload
that only that browser can decrypt, in the member's language, opening the channel. Nobody looking
at the channel is notified; a gone subscription, "sign out everywhere" and deleting the account
end the notifications."""

import json

import pytest

from codeb import i18n
from codeb.notify import push
from tests.support.push import Browser, running_push_service
from tests.support.web import HOST, csrf_of
from tests.support.workspace import Person, sub_of


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    with running_push_service() as server:
        yield server


def subscribe(person, service, kind="ok", name=None) -> Browser:
    browser = Browser()
    done = person.send("POST", "/api/push/subscriptions",
                       {"subscription": browser.subscription(service.endpoint(kind, name or person.login))})
    assert done.status_code == 201, done.text
    return browser


def post(person, cid, text):
    """Post, and close the response as a server does after sending it: then the push goes."""
    response = person.send("POST", f"/api/channels/{cid}/messages", {"text": text})
    assert response.status_code == 201, response.text
    response.close()
    return response


def received(service, browser, login):
    return [json.loads(browser.decrypt(r["body"])) for r in service.received if r["path"].endswith("/" + login)]


def test_the_shell_gets_the_tenants_vapid_key(alice):
    key = alice.get("/api/push").json["key"]
    assert len(push._unb64url(key)) == 65 and push._unb64url(key)[0] == 4  # an uncompressed P-256 point
    assert alice.get("/api/push").json["key"] == key


def test_a_message_notifies_the_other_member_in_their_language(alice, bob, channel, service, accounts):
    accounts.set_language(bob.login, "de", ["en", "de"])
    bobs = subscribe(bob, service)
    alices = subscribe(alice, service)
    post(alice, channel, f"Lunch at 12, @{bob.login}?")
    [notice] = received(service, bobs, bob.login)
    assert notice["title"] == f"{alice.get('/api/me').json['display_name']} hat Sie in #Team erwähnt"
    assert notice["body"] == f"Lunch at 12, @{bob.login}?"
    assert notice["url"] == f"/office.html#channel={channel}" and notice["tag"] == f"channel-{channel}"
    mention = next(r for r in service.received if r["path"].endswith("/" + bob.login))
    assert mention["headers"]["urgency"] == "high"
    assert received(service, alices, alice.login) == []  # the author is not told of their own message


def test_a_member_looking_at_the_channel_is_not_notified(alice, bob, channel, service):
    bobs = subscribe(bob, service)
    assert bob.get(f"/api/channels/{channel}/changes?after=0&looking=1").status_code == 200
    post(alice, channel, "You see this one on the page")
    assert received(service, bobs, bob.login) == []
    bob.get(f"/api/channels/{channel}/changes?after=0")  # polling without `looking` changes nothing
    post(alice, channel, "still looking")
    assert received(service, bobs, bob.login) == []


def test_a_page_that_stopped_looking_gets_notified_again(alice, bob, channel, service, clock):
    bobs = subscribe(bob, service)
    bob.get(f"/api/channels/{channel}/changes?after=0&looking=1")
    clock.advance(25)  # longer than a page's "looking" lasts without a poll
    post(alice, channel, "Are you there?")
    assert [n["body"] for n in received(service, bobs, bob.login)] == ["Are you there?"]


def test_a_subscription_the_push_service_says_is_gone_is_removed(alice, bob, channel, service, demo):
    subscribe(bob, service, kind="gone", name=bob.login)
    assert len(push.subscriptions(demo.store, sub_of(bob))) == 1
    post(alice, channel, "hello")
    assert push.subscriptions(demo.store, sub_of(bob)) == []


def test_turning_notifications_off_forgets_this_browser(alice, bob, channel, service, demo):
    browser = subscribe(bob, service)
    endpoint = browser.subscription(service.endpoint("ok", bob.login))["endpoint"]
    assert bob.send("DELETE", "/api/push/subscriptions", {"endpoint": endpoint}).json == {"removed": True}
    post(alice, channel, "nobody hears this")
    assert service.received == []


def test_sign_out_everywhere_and_deleting_the_account_end_the_notifications(alice, bob, channel, service,
                                                                              demo, accounts, app, mailbox):
    subscribe(bob, service)
    account_page = bob.client.get("/account", headers={"Host": HOST})
    done = bob.client.post("/account/sessions/end-all", data={"csrf": csrf_of(account_page.text)},
                           headers={"Host": HOST})
    assert done.status_code == 303
    assert push.subscriptions(demo.store, sub_of(bob)) == []
    carol = Person(app, mailbox, "carol@example.com")
    subscribe(carol, service)
    sub = sub_of(carol)
    accounts.delete(carol.login)
    assert push.subscriptions(demo.store, sub) == []


@pytest.mark.parametrize(("subscription", "message"), [
    (None, "error.push.subscription"),
    ({"endpoint": "https://push.example.net/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}, "error.push.endpoint"),
    ({"endpoint": "http://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}},
     "error.push.endpoint"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}},
     "error.push.key"),
])
def test_a_bad_subscription_is_a_clear_400(alice, subscription, message, demo):
    answer = alice.send("POST", "/api/push/subscriptions", {"subscription": subscription})
    assert answer.status_code == 400
    assert answer.json["message"] == i18n.translate("en", message)


def test_without_the_shells_token_nobody_subscribes(client, service):
    answer = client.post("/api/push/subscriptions", json={"subscription": Browser().subscription(
        service.endpoint("ok"))}, headers={"Host": HOST})
    assert answer.status_code == 401
    assert service.received == []


@pytest.mark.parametrize(("lang", "said"), [("en", "iOS 16.4 or later"), ("de", "ab iOS 16.4")])
def test_the_help_page_says_an_iphone_needs_the_installed_app(client, lang, said):
    page = client.get("/help", headers={"Host": HOST, "Accept-Language": lang})
    assert page.status_code == 200
    assert said in page.text
