"""A meeting room in two real browsers: Alice makes a meeting in the office shell and invites Bob
in its chat; both join with Chromium's fake camera and microphone, and their browsers connect
through WebRTC (signalled through the server's polling API): each sees the other's video playing.
The chat beside the room carries messages both ways; when Alice ends the meeting, Bob's room
closes and its chat takes no more posts."""

import re

from playwright.sync_api import expect

from tests.support.browser import first_sign_in
from tests.support.office_pages import remote_video_plays

WITHIN = 15_000  # ms: ICE on loopback takes a second or two; polling adds one per step


def login_of(page):
    return page.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem('codeb.office.token'));
        const me = await fetch('/api/me', {headers: {Authorization: `Bearer ${token.access_token}`}});
        return (await me.json()).login;
    }""")


def remote_tiles(page):
    return page.evaluate("""() => [...document.querySelectorAll('.meeting-tile:not(.local)')].map((tile) => ({
        state: tile.dataset.state, width: tile.querySelector('video').videoWidth,
        name: tile.querySelector('.meeting-tile-name').textContent}))""")


def test_two_browsers_meet_with_video_and_chat(served, mailbox, new_context, console):
    alice = new_context(permissions=["camera", "microphone"]).new_page()
    bob = new_context(permissions=["camera", "microphone"]).new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com")
    first_sign_in(bob, served, mailbox, "bob@example.com")
    bob_login = login_of(bob)

    # Alice creates the meeting from its card: it opens, with its chat beside the room.
    alice.fill("#meeting-new-name", "Stand-up")
    alice.click("#meeting-new button[type=submit]")
    expect(alice.locator("#meeting-view")).to_be_visible()
    expect(alice.locator("#meeting-name")).to_have_text("Stand-up")
    expect(alice.locator("#meeting-chat #channel-view")).to_be_visible()
    expect(alice.locator("#channel-back")).to_be_hidden()
    alice.locator("#channel-members-summary").click()
    alice.fill("#channel-invite-login", bob_login)
    alice.click("#channel-invite button[type=submit]")
    expect(alice.locator("#channel-members")).to_contain_text(f"@{bob_login}")

    # Bob's card lists it (the card polls); he opens it.
    link = bob.locator("#meetings-list a", has_text="Stand-up")
    expect(link).to_be_visible(timeout=WITHIN)
    link.click()
    expect(bob.locator("#meeting-view")).to_be_visible()
    expect(bob.locator("#meeting-end")).to_be_hidden()  # only the owner ends it

    # Both join: each browser shows the other's video, playing, over a connected peer connection.
    alice.click("#meeting-join")
    expect(alice.locator("#meeting-status")).to_have_text(re.compile("You are in the room"))
    bob.click("#meeting-join")
    for page in (alice, bob):
        remote_video_plays(page, WITHIN)
        expect(page.locator("#meeting-status")).to_have_text(re.compile("with 1 other person"))
    assert all(v["state"] == "connected" and v["width"] > 0 for v in remote_tiles(alice))

    # Muting is the person's own: the button says what it will do next.
    alice.click("#meeting-mic")
    expect(alice.locator("#meeting-mic")).to_have_text("Unmute")
    expect(alice.locator("#meeting-mic")).to_have_attribute("aria-pressed", "true")

    # The chat beside the room carries messages both ways.
    bob.fill("#channel-text", "Can you hear me?")
    bob.press("#channel-text", "Enter")
    expect(alice.locator(".channel-message", has_text="Can you hear me?")).to_be_visible(timeout=WITHIN)

    # Bob leaves: Alice's room has only her again.
    bob.click("#meeting-leave")
    expect(alice.locator(".meeting-tile:not(.local)")).to_have_count(0, timeout=WITHIN)
    bob.click("#meeting-join")
    expect(alice.locator(".meeting-tile:not(.local)")).to_have_attribute("data-state", "connected", timeout=WITHIN)

    # Alice ends the meeting: Bob's room closes, and the chat is read-only.
    alice.on("dialog", lambda dialog: dialog.accept())
    alice.click("#meeting-end")
    expect(alice.locator("#meeting-status")).to_have_text("This meeting has ended.")
    expect(bob.locator("#meeting-status")).to_have_text("This meeting has ended.", timeout=WITHIN)
    expect(bob.locator(".meeting-tile")).to_have_count(0)
    expect(bob.locator("#channel-composer")).to_be_hidden(timeout=WITHIN)
    # Bob's poll learnt of the end from its 409 answer, which Chromium logs as a failed load.
    console.assert_clean(allow=("status of 409 (CONFLICT)",))
