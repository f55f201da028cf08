"""A guest in a meeting, in real browsers: Alice makes a meeting in the office shell and, in its
chat's "Guests" part, a link for one guest valid for a day. A browser that never signed in
opens the link: it names Alice and the meeting, takes a display name, and shows the meeting
with its chat. The guest's message reaches Alice marked as a guest, Alice's reply reaches the
guest, and both reach each other's video over WebRTC. The guest's browser gets nothing else
(the office shell is 403 for it), the used link lets nobody else in, and when Alice withdraws
the invitation the guest's page says the access has ended and asks the server nothing more."""

import re

from playwright.sync_api import expect

from tests.support.browser import first_sign_in
from tests.support.office_pages import remote_video_plays

WITHIN = 15_000  # ms: ICE on loopback takes a second or two; polling adds one per step


def test_a_guest_joins_a_meeting_by_link_until_the_invitation_is_withdrawn(served, mailbox, new_context, console):
    alice = new_context(permissions=["camera", "microphone", "clipboard-read", "clipboard-write"]).new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com", display_name="Alice")

    # Alice creates a meeting and, in its chat, a link for one guest, valid for a day.
    alice.fill("#meeting-new-name", "Stand-up")
    alice.click("#meeting-new button[type=submit]")
    expect(alice.locator("#meeting-chat #channel-view")).to_be_visible()
    alice.locator("#channel-guests-summary").click()
    alice.select_option("#channel-guest-ttl", "86400")
    expect(alice.locator("#channel-guest-multi")).not_to_be_checked()
    alice.click("#channel-guest-form button[type=submit]")
    field = alice.locator("#channel-guest-link")
    expect(field).to_have_value(re.compile(re.escape(served) + r"/guest#.+"))
    expect(alice.locator("#channel-guest-link-once")).to_have_text("Copy the link now: it is shown only this once.")
    link = field.input_value()
    alice.click("#channel-guest-copy")
    expect(alice.locator("#channel-guest-copied")).to_have_text("Copied")
    assert alice.evaluate("navigator.clipboard.readText()") == link
    invite = alice.locator("#channel-guest-invites .guest-invite")
    expect(invite).to_have_count(1)
    expect(invite).to_have_attribute("data-state", "open")
    expect(invite).to_contain_text("Link for one guest")

    # A browser that never signed in: the invitation names Alice and the meeting; the token
    # leaves the address bar at once.
    gina = new_context(permissions=["camera", "microphone"]).new_page()
    gina.goto(link)
    expect(gina.locator("#guest-invitation")).to_have_text("Alice invites you to the meeting “Stand-up”.")
    assert gina.url == served + "/guest"
    name = gina.locator("#guest-name")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("autocomplete", "name")
    expect(name).to_have_attribute("maxlength", "60")
    expect(gina.locator("#office-menu, .account-menu")).to_have_count(0)
    name.fill("Gina")
    gina.click("#guest-join-form button[type=submit]")
    expect(gina.locator("#meeting-view")).to_be_visible()
    expect(gina.locator("#meeting-name")).to_have_text("Stand-up")
    expect(gina.locator("#meeting-chat #channel-view")).to_be_visible()
    expect(gina.locator("#guest-who")).to_have_text("You are here as a guest: Gina.")
    # A guest manages nothing: no way back, no end, no ring, no members to add, no invitations.
    for control in ("#meeting-back", "#meeting-end", "#meeting-ring", "#channel-back", "#channel-invite",
                    "#channel-rename", "#channel-archive", "#channel-leave", "#channel-guests"):
        expect(gina.locator(control)).to_be_hidden()

    # After a reload (no link any more) the cookie still lets her in.
    gina.reload()
    expect(gina.locator("#meeting-chat #channel-view")).to_be_visible()
    expect(gina.locator("#guest-join")).to_be_hidden()

    # Her message reaches Alice marked as a guest's; Alice's reply reaches her. Alice sees her
    # among the invitation's guests.
    gina.fill("#channel-text", "Hello from outside")
    gina.press("#channel-text", "Enter")
    arrived = alice.locator(".channel-message", has_text="Hello from outside")
    expect(arrived).to_be_visible(timeout=WITHIN)
    expect(arrived.locator(".channel-message-head")).to_contain_text("Gina")
    expect(arrived.locator(".badge")).to_have_text("Guest")
    expect(invite).to_contain_text("Gina", timeout=WITHIN)
    expect(invite).to_have_attribute("data-state", "used")
    alice.fill("#channel-text", "Welcome, Gina")
    alice.press("#channel-text", "Enter")
    expect(gina.locator(".channel-message", has_text="Welcome, Gina")).to_be_visible(timeout=WITHIN)

    # Both join the call and see each other's video.
    alice.click("#meeting-join")
    gina.click("#meeting-join")
    for page in (alice, gina):
        remote_video_plays(page, WITHIN)
    expect(alice.locator("#meeting-present")).to_contain_text("Gina")

    # The guest's browser reaches nothing else: the office shell is 403 for it.
    elsewhere = gina.context.new_page()
    assert elsewhere.goto(served + "/office.html").status == 403
    elsewhere.close()

    # The link was for one guest: a third browser is told it has been used.
    third = new_context().new_page()
    third.goto(link)
    expect(third.locator("#guest-error")).to_have_text(re.compile("already been used"))
    expect(third.locator("#guest-join")).to_be_hidden()

    # Alice withdraws the invitation: within seconds Gina's page says her access has ended,
    # her call is over, and her page polls no more.
    alice.on("dialog", lambda dialog: dialog.accept())
    invite.get_by_role("button", name="Withdraw").click()
    expect(invite).to_have_attribute("data-state", "revoked")
    alert = gina.locator("#guest-error")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text("Your guest access has ended", timeout=5_000)
    expect(gina.locator("#guest-in")).to_be_hidden()
    expect(gina.locator(".meeting-tile")).to_have_count(0)
    asked = []
    gina.on("request", lambda request: asked.append(request.url) if "/api/" in request.url else None)
    gina.wait_for_timeout(3_000)  # longer than any poll's interval (1 s signals, 2 s chat, 5 s heartbeat would show)
    assert asked == [], asked
    # Withdrawing took her out of the room too: Alice's page shows her no more.
    expect(alice.locator(".meeting-tile:not(.local)")).to_have_count(0, timeout=WITHIN)
    expect(alice.locator("#meeting-present")).not_to_contain_text("Gina")

    # The failed loads Chromium logs for what this test causes: the ended access (401 to the
    # guest's polls), the office shell refused to the guest (403) and the used link (410).
    console.assert_clean(allow=("status of 401 (UNAUTHORIZED)", "status of 403 (FORBIDDEN)",
                                "status of 410 (GONE)"))


def test_a_guest_invited_by_mail_into_a_channel_leaves_it(served, mailbox, new_context, console):
    """A channel's invitation mailed (no link shown to the inviter); the guest takes part in the
    channel view and leaves by the page's own button, after which a reload says a link is needed."""
    alice = new_context().new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com", display_name="Alice")
    alice.fill("#channel-new-name", "Launch")
    alice.click("#channel-new button[type=submit]")
    expect(alice.locator("#channel-view")).to_be_visible()
    alice.locator("#channel-guests-summary").click()
    alice.fill("#channel-guest-email", "gina@example.org")
    alice.select_option("#channel-guest-ttl", "3600")
    alice.click("#channel-guest-form button[type=submit]")
    expect(alice.locator("#channel-guest-sent")).to_have_text("The invitation was sent to gina@example.org.")
    expect(alice.locator("#channel-guest-link-box")).to_be_hidden()
    expect(alice.locator("#channel-guest-invites .guest-invite")).to_contain_text("Sent to gina@example.org")
    mail = next(m for m in reversed(mailbox.messages()) if m.message["To"] == "gina@example.org")
    link = re.search(r"https?://\S+/guest#\S+", mail.text)
    assert link, mail.text

    gina = new_context().new_page()
    gina.goto(link.group(0))
    expect(gina.locator("#guest-invitation")).to_have_text("Alice invites you to the channel “Launch”.")
    gina.fill("#guest-name", "Gina")
    gina.click("#guest-join-form button[type=submit]")
    expect(gina.locator("#channel-view")).to_be_visible()
    expect(gina.locator("#channel-name")).to_have_text("# Launch")
    expect(gina.locator("#channel-text")).to_be_focused()
    for control in ("#channel-back", "#channel-invite", "#channel-leave", "#channel-guests"):
        expect(gina.locator(control)).to_be_hidden()
    gina.fill("#channel-text", "Hi, I am Gina")
    gina.press("#channel-text", "Enter")
    expect(gina.locator(".channel-message.mine")).to_contain_text("Hi, I am Gina")
    expect(alice.locator(".channel-message", has_text="Hi, I am Gina").locator(".badge")).to_have_text(
        "Guest", timeout=5_000)

    gina.on("dialog", lambda dialog: dialog.accept())
    gina.click("#guest-leave")
    expect(gina.locator("#guest-status")).to_have_text(re.compile("You have left the conversation"))
    expect(gina.locator("#guest-in")).to_be_hidden()
    gina.reload()
    expect(gina.locator("#guest-status")).to_have_text(re.compile("open the invitation link you were sent"))
    # The reload's /api/guest/me answers 401 (no session any more), which Chromium logs.
    console.assert_clean(allow=("status of 401 (UNAUTHORIZED)",))
