"""Notifications in a real browser: Alice posts in Chromium, the server pushes to Bob's subscription
(a push service on 127.0.0.1 takes it; the test holds the subscription's keys and decrypts), and
what it pushed, delivered to Bob's service worker through the DevTools protocol as Chrome's push
service would, shows as a notification that opens the channel. Chromium here reaches no real push
service, so subscribing from the page fails, and says so in the person's language."""

import json
import time

import pytest
from playwright.sync_api import expect

from codeb.notify import push
from tests.support.browser import first_sign_in
from tests.support.office_pages import push_until_shown, shown_notifications, worker_registration
from tests.support.push import Browser, running_push_service

WITHIN = 5.0  # seconds


@pytest.fixture
def service(monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    with running_push_service() as server:
        yield server


def fetch_json(page, url, method="GET", body=None):
    return page.evaluate("""async ([url, method, body]) => {
        const token = JSON.parse(sessionStorage.getItem('codeb.office.token'));
        const response = await fetch(url, {method, headers: {Authorization: `Bearer ${token.access_token}`,
            'Content-Type': 'application/json'}, body: body === null ? undefined : JSON.stringify(body)});
        return {status: response.status, body: await response.json()};
    }""", [url, method, body])


def test_a_message_becomes_a_notification_that_opens_the_channel(served, mailbox, new_context, console, service):
    alice = new_context().new_page()
    bob = new_context(permissions=["notifications"]).new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com")
    first_sign_in(bob, served, mailbox, "bob@example.com")
    bob_login = fetch_json(bob, "/api/me")["body"]["login"]
    made = fetch_json(alice, "/api/channels", "POST", {"name": "Launch", "members": [bob_login]})
    assert made["status"] == 201
    cid = made["body"]["channel"]["id"]

    # Bob's card offers notifications; his subscription is one the test holds the keys of.
    expect(bob.locator("#channel-notify-toggle")).to_have_text("Turn on notifications")
    keys = Browser()
    subscribed = fetch_json(bob, "/api/push/subscriptions", "POST",
                            {"subscription": keys.subscription(service.endpoint("ok", "bob"))})
    assert subscribed["status"] == 201

    # Alice posts in the open channel; Bob is not looking at it: the server pushes.
    alice.goto(f"{served}/office.html#channel={cid}")
    expect(alice.locator("#channel-name")).to_have_text("# Launch")
    alice.fill("#channel-text", "Kick-off at ten")
    alice.press("#channel-text", "Enter")
    deadline = time.monotonic() + WITHIN
    while not service.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [delivery] = service.received
    payload = keys.decrypt(delivery["body"]).decode("utf-8")
    assert json.loads(payload)["url"] == f"/office.html#channel={cid}"

    # Chrome's push service would hand this payload to Bob's service worker: DevTools does.
    cdp, registration = worker_registration(bob, served, WITHIN)
    [note] = push_until_shown(bob, cdp, served, registration, payload, WITHIN)
    assert note["title"].endswith("in #Launch") and note["body"] == "Kick-off at ten"
    assert note["tag"] == f"channel-{cid}" and note["url"] == f"/office.html#channel={cid}"

    # A payload naming another site opens the shell instead, never that site.
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": served, "registrationId": registration,
                                                   "data": json.dumps({"title": "x", "url": "//evil.example/"})})
    deadline = time.monotonic() + WITHIN
    while len(notes := shown_notifications(bob)) < 2 and time.monotonic() < deadline:
        bob.wait_for_timeout(50)
    assert {n["url"] for n in notes} == {f"/office.html#channel={cid}", "/office.html"}

    console.assert_clean()

    # Subscribing from the page needs a push service this browser cannot reach (Playwright's
    # contexts are incognito ones, where Chrome has none, and says so in the console): a clear message.
    bob.click("#channel-notify-toggle")
    expect(bob.locator("#channel-notify-state")).to_have_text("Notifications could not be turned on. "
                                                              "Please try again.", timeout=15_000)
    expect(bob.locator("#channel-notify-toggle")).to_have_text("Turn on notifications")
    console.assert_clean(allow=("does not support the Push API in incognito mode",))
