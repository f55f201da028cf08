"""The shell's phone card in two real browsers against a real Kamailio (tests/support/kamailio.py,
configured by deploy/kamailio/kamailio.cfg): Alice and Bob sign in, each card registers its browser
with SIP.js over WebSocket using the ephemeral credentials CodeB mints (Kamailio's auth_ephemeral),
Alice calls Bob's extension, Bob's card rings and he answers, both reach SIP.js's Established
state with Chromium's fake microphone, and Alice hangs up. Then Bob calls Alice by her user name
and she declines. Credentials Kamailio does not know are refused, and the card offers a retry.
Without a SIP server the card shows the native-app guide instead."""

import base64
import json

import pytest
from playwright.sync_api import expect

from codeb.cli import main as cli
from codeb.store import layout
from codeb.tenants import settings, sip
from codeb.tenants.secrets import existing_secret, make_secret
from tests.support.browser import first_sign_in
from tests.support.kamailio import KAMAILIO, MISSING, Kamailio
from tests.support.web import HOST

WITHIN = 15_000  # ms: registering and ICE on loopback take well under a second each


@pytest.fixture
def kamailio(served, data_root, demo, tmp_path, capsys):
    """A Kamailio for the demo tenant with the keys `python -m codeb sip-secret demo` made, named
    as the tenant's SIP server for browsers (the realm is the tenant's host, `localhost`)."""
    if KAMAILIO is None:
        pytest.skip(MISSING)
    assert cli(["--data", str(data_root), "sip-secret", "demo"]) == 0
    keys = json.loads(capsys.readouterr().out)
    port = served.rsplit(":", 1)[1]
    server = Kamailio(tmp_path / "kamailio", codeb_base_url=f"http://127.0.0.1:{port}", tenant_host=HOST,
                      lookup_secret=keys["lookup_secret"], ephemeral_secret=keys["ephemeral_secret"],
                      realm=keys["realm"])
    server.start()
    settings.save(demo, sip.settings_part(server.ws_url, ""))
    yield server
    server.stop()


def me(page) -> dict:
    return page.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem('codeb.office.token'));
        const answer = await fetch('/api/me', {headers: {Authorization: `Bearer ${token.access_token}`}});
        return answer.json();
    }""")


def call_state(page):
    return page.locator("#phone-call-state")


def hears_audio(page) -> None:
    """The remote stream is on the card's audio element, with a live audio track."""
    page.wait_for_function("""() => {
        const stream = document.getElementById('phone-audio').srcObject;
        return stream && stream.getAudioTracks().some((track) => track.readyState === 'live');
    }""", timeout=WITHIN)


def test_two_browsers_register_and_call_each_other(served, mailbox, new_context, console, kamailio):
    alice = new_context(permissions=["microphone"]).new_page()
    bob = new_context(permissions=["microphone"]).new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com", display_name="Alice")
    first_sign_in(bob, served, mailbox, "bob@example.com", display_name="Bob")
    alice_me, bob_me = me(alice), me(bob)

    for page, person in ((alice, alice_me), (bob, bob_me)):
        expect(page.locator("#phone-ext")).to_have_text(str(person["ext"]))
        expect(page.locator("#phone-sip")).to_have_text(person["sip"])
        expect(page.locator("#phone-native")).to_be_hidden()
        expect(page.locator("#phone-state")).to_have_attribute("data-state", "registered", timeout=WITHIN)
        expect(page.locator("#phone-state")).to_have_text("Ready for calls")
        expect(page.locator("#phone-call")).to_be_enabled()

    # Alice dials Bob's extension (Kamailio asks CodeB which login it is); Bob's card rings.
    alice.fill("#phone-target", str(bob_me["ext"]))
    alice.click("#phone-call")
    expect(call_state(alice)).to_have_attribute("data-state", "Establishing", timeout=WITHIN)
    expect(alice.locator("#phone-call-line")).to_be_visible()
    expect(bob.locator("#phone-incoming")).to_be_visible(timeout=WITHIN)
    expect(bob.locator("#phone-incoming-text")).to_contain_text("is calling you")
    bob.click("#phone-answer")
    for page in (alice, bob):
        expect(call_state(page)).to_have_attribute("data-state", "Established", timeout=WITHIN)
        expect(call_state(page)).to_contain_text("In a call with")
        hears_audio(page)
    expect(bob.locator("#phone-incoming")).to_be_hidden()
    expect(alice.locator("#phone-call")).to_be_disabled()  # one call at a time

    alice.click("#phone-hangup")
    for page in (alice, bob):
        expect(call_state(page)).to_have_attribute("data-state", "Terminated", timeout=WITHIN)
        expect(call_state(page)).to_have_text("Call ended")
        expect(page.locator("#phone-call")).to_be_enabled()

    # Bob calls Alice by her user name; she declines, and Bob's card says the call did not go through.
    bob.fill("#phone-target", alice_me["login"])
    bob.click("#phone-call")
    expect(alice.locator("#phone-incoming")).to_be_visible(timeout=WITHIN)
    alice.click("#phone-decline")
    for page in (alice, bob):
        expect(call_state(page)).to_have_attribute("data-state", "Terminated", timeout=WITHIN)
    expect(bob.locator("#phone-error")).to_contain_text("did not go through", timeout=WITHIN)

    # A dialled name that is no extension or user name is refused by the card itself.
    bob.fill("#phone-target", "not a name")
    bob.click("#phone-call")
    expect(bob.locator("#phone-error")).to_have_text("Enter an extension (digits) or a user name.")
    console.assert_clean()


def test_credentials_kamailio_does_not_know_are_refused_and_the_card_offers_a_retry(served, mailbox, page, console,
                                                                                   demo, kamailio):
    kamailios = existing_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)
    make_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)  # CodeB's secret is no longer Kamailio's
    first_sign_in(page, served, mailbox, "alice@example.com")
    state = page.locator("#phone-state")
    expect(state).to_have_attribute("data-state", "failed", timeout=WITHIN)
    expect(state).to_have_text("Could not connect to the phone server")
    expect(page.locator("#phone-retry")).to_be_visible()
    expect(page.locator("#phone-call")).to_be_disabled()
    with page.expect_response(lambda r: r.url.endswith("/api/phone"), timeout=WITHIN):
        page.click("#phone-retry")  # new credentials, with the same wrong secret (fetched before it changes)
    expect(state).to_have_attribute("data-state", "failed", timeout=WITHIN)
    expect(page.locator("#phone-retry")).to_be_visible(timeout=WITHIN)
    # The operator gives CodeB Kamailio's secret again: the next retry registers.
    demo.store.write(layout.KEYS, layout.SIP_EPHEMERAL_SECRET, doc={"secret": base64.b64encode(kamailios).decode()})
    page.click("#phone-retry")
    expect(state).to_have_attribute("data-state", "registered", timeout=WITHIN)
    expect(page.locator("#phone-retry")).to_be_hidden()
    console.assert_clean()


def test_without_a_sip_server_the_card_guides_to_a_native_app(served, mailbox, page, console):
    first_sign_in(page, served, mailbox, "alice@example.com")
    expect(page.locator("#phone-native")).to_be_visible()
    expect(page.locator("#phone-browser")).to_be_hidden()
    expect(page.locator("#phone-sip")).to_have_text("alice@localhost")
    link = page.locator("#phone-native-password a")
    expect(link).to_have_attribute("href", "/account/devices#app-passwords")
    link.click()
    page.wait_for_url(served + "/account/devices#app-passwords")
    expect(page.locator("#app-passwords")).to_be_visible()
    console.assert_clean()
