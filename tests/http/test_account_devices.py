"""The Devices section: this browser first, last activity, browser and system, a coarse network
(no GeoIP), local times; end one, end all others."""

import re

import pytest

from codeb.accounts.sessions import SEEN_GRANULARITY, coarse_network
from tests.support.web import HOST, csrf_of, sign_in

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
        "Safari/537.36 Edg/131.0")


def browser(app, agent, ip):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    return client


def devices(client):
    return client.get("/account/devices", headers={"Host": HOST})


def items(text):
    return re.findall(r'<li class="session">(.*?)</li>', text, re.S)


@pytest.mark.parametrize("ip, shown", [
    ("203.0.113.77", "203.0.113.0/24"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
    ("unknown", None),
    ("", None),
])
def test_the_network_is_coarse_and_never_invented(ip, shown):
    assert coarse_network(ip) == shown


def test_this_device_comes_first_with_browser_system_network_and_last_activity(app, mailbox, clock):
    clock.now = 1768519800.0  # 2026-01-15 23:30 UTC: 00:30 on the 16th in Berlin
    laptop = browser(app, FIREFOX, "203.0.113.77")
    sign_in(laptop, mailbox, "alice@example.com")
    clock.advance(3600)
    desk = browser(app, EDGE, "2001:db8:1234:5678::1")
    sign_in(desk, mailbox, "alice@example.com")
    clock.advance(SEEN_GRANULARITY + 60)  # 01:36 Berlin: the laptop is used again
    first, second = items(devices(laptop).text)
    assert 'class="badge">This device<' in first and "Firefox · Linux" in first
    assert "203.0.113.0/24" in first and "203.0.113.77" not in first
    assert "Jan 16, 2026, 1:36" in first.replace("\u202f", " ")  # last active, in the tenant's zone
    assert "Edge · Windows" in second and "2001:db8:1234::/48" in second and "badge" not in second
    assert "Jan 16, 2026, 1:30" in second.replace("\u202f", " ")  # desk: active when it signed in
    # The desk's own page puts the desk first.
    assert "Edge · Windows" in items(devices(desk).text)[0]


def test_devices_in_german(app, mailbox, accounts):
    laptop = browser(app, FIREFOX, "203.0.113.77")
    sign_in(laptop, mailbox, "alice@example.com")
    with accounts.update(accounts.find_by_email("alice@example.com").login) as doc:
        doc["language"] = "de"
    text = devices(laptop).text
    assert "Dieses Gerät" in text and "Zuletzt aktiv" in text and "Netzwerk" in text
    assert "Hier abmelden" in text and "Alle anderen Geräte abmelden" not in text  # only one device


def test_end_all_others_keeps_this_browser(app, mailbox):
    laptop, phone, desk = (browser(app, FIREFOX, f"203.0.113.{n}") for n in (1, 2, 3))
    for client in (laptop, phone, desk):
        sign_in(client, mailbox, "alice@example.com")
    text = devices(laptop).text
    assert "Sign out all other devices" in text
    ended = laptop.post("/account/sessions/end-others", data={"csrf": csrf_of(text)}, headers={"Host": HOST})
    assert ended.status_code == 303 and ended.headers["Location"] == "/account/devices?m=sessions_ended_others"
    assert [c.get("/account", headers={"Host": HOST}).status_code for c in (laptop, phone, desk)] == [200, 303, 303]
    assert len(items(devices(laptop).text)) == 1


def test_ending_needs_the_pages_token_and_cannot_reach_another_account(app, mailbox, accounts):
    alice, bob = browser(app, FIREFOX, "203.0.113.1"), browser(app, EDGE, "203.0.113.2")
    sign_in(alice, mailbox, "alice@example.com")
    sign_in(bob, mailbox, "bob@example.com")
    bobs = accounts.find_by_email("bob@example.com").doc["sessions"][0]["id"]
    for path in ("/account/sessions/end-others", "/account/sessions/end"):
        forged = alice.post(path, data={"id": bobs}, headers={"Host": HOST})
        assert forged.status_code in (400, 403), path
    ended = alice.post("/account/sessions/end", data={"csrf": csrf_of(devices(alice).text), "id": bobs},
                       headers={"Host": HOST})
    assert ended.status_code == 303
    assert bob.get("/account", headers={"Host": HOST}).status_code == 200  # Bob's session lives on
    assert alice.get("/account", headers={"Host": HOST}).status_code == 200
