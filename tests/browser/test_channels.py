"""Chat channels in two real browsers: a message posted in one appears in the other within
three seconds, with its unread count and a mention, by the shell's short polling."""

import re

from playwright.sync_api import expect

from tests.support.browser import first_sign_in

WITHIN = 3_000  # ms: what the product promises for a message to reach an open page


def test_a_message_reaches_the_other_browser_with_unread_count_and_mention(served, mailbox, new_context, console):
    alice = new_context().new_page()
    bob = new_context().new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com")
    first_sign_in(bob, served, mailbox, "bob@example.com")
    bob_login = bob.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem('codeb.office.token'));
        const me = await fetch('/api/me', {headers: {Authorization: `Bearer ${token.access_token}`}});
        return (await me.json()).login;
    }""")

    # Alice starts a channel and adds Bob; it opens for her at once.
    alice.fill("#channel-new-name", "Launch")
    alice.click("#channel-new button[type=submit]")
    expect(alice.locator("#channel-view")).to_be_visible()
    expect(alice.locator("#channel-name")).to_have_text("# Launch")
    alice.locator("#channel-members-summary").click()
    alice.fill("#channel-invite-login", bob_login)
    alice.click("#channel-invite button[type=submit]")
    expect(alice.locator("#channel-members")).to_contain_text(f"@{bob_login}")

    # Bob's card lists it (his page polls); nothing unread yet.
    link = bob.locator("#channels-list a", has_text="Launch")
    expect(link).to_be_visible(timeout=WITHIN + 2_000)
    expect(link.locator(".unread")).to_have_count(0)

    # A mention while Bob's list is open: the count and the mention mark arrive within 3 s.
    alice.fill("#channel-text", f"Kick-off at ten, @{bob_login}")
    alice.press("#channel-text", "Enter")
    expect(alice.locator(".channel-message.mine")).to_contain_text("Kick-off at ten")
    badge = link.locator(".unread")
    expect(badge).to_have_text("@ 1", timeout=WITHIN)
    expect(badge).to_have_attribute("aria-label", re.compile("1 unread message, mentioning you"))

    # Bob opens the channel: the message is there with his mention marked, and read.
    link.click()
    expect(bob.locator("#channel-view")).to_be_visible()
    message = bob.locator(".channel-message", has_text="Kick-off at ten")
    expect(message).to_be_visible()
    expect(message.locator("mark.mention")).to_have_text(f"@{bob_login}")
    expect(message).to_have_class(re.compile("mentions-me"))

    # With both channel views open: each new message reaches the other page within 3 s.
    bob.fill("#channel-text", "On my way")
    bob.click("#channel-composer button[type=submit]")
    expect(alice.locator(".channel-message", has_text="On my way")).to_be_visible(timeout=WITHIN)
    alice.fill("#channel-text", "Great <b>news</b>")
    alice.press("#channel-text", "Enter")
    arrived = bob.locator(".channel-message", has_text="Great <b>news</b>")
    expect(arrived).to_be_visible(timeout=WITHIN)
    expect(arrived.locator("b")).to_have_count(0)  # text, never markup

    # Read in the open view: back on the list, nothing is unread for Bob.
    bob.click("#channel-back")
    expect(bob.locator("#channels-list a", has_text="Launch").locator(".unread")).to_have_count(0, timeout=WITHIN)
    console.assert_clean()
