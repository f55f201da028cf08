"""The cross-device magic link in a real Chromium: two browser contexts are two devices.

The laptop asks for a link and waits on "Check your inbox"; the phone opens the mailed link,
sees who asked and picks the number the laptop shows; the laptop's tab goes on by itself
(its script polls its own pending sign-in) into a session of its own. The code mailed with
the link, typed into the waiting tab, works once and not after the link's five minutes.
"""

import re

from playwright.sync_api import expect

from codeb.signin.magic_link import LINK_LIFETIME
from tests.support.browser import ask_for_link, confirm_profile, office_terminal, session_cookie

PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/131.0.0.0 Mobile Safari/537.36")


def code_in(mailbox, email):
    mail = next(m for m in reversed(mailbox.messages()) if m.message["To"] == email)
    return re.search(r"^\s+([0-9A-Z]{4}-[0-9A-Z]{4})\s*$", mail.text, re.M).group(1)


def test_link_opened_on_the_phone_signs_in_the_waiting_laptop_after_the_number_is_picked(
        served, mailbox, context, new_context, console):
    email = "paula@example.com"
    laptop = context.new_page()
    laptop.goto(served + "/signin")
    ask_for_link(laptop, email)
    expect(laptop.locator("h1")).to_have_text("Check your inbox")
    expect(laptop.locator("#resend")).to_be_disabled()  # until the resend interval is over
    expect(laptop.locator("#resend-countdown")).to_have_text(re.compile(r"Available in [23]:\d\d"))
    number = laptop.locator("#match-number").inner_text().strip()
    assert re.fullmatch(r"\d\d", number), number
    expect(laptop.locator('#waiting-states [data-state="waiting"]')).to_be_visible()

    phone_context = new_context(user_agent=PHONE_AGENT)
    phone = phone_context.new_page()
    phone.goto(mailbox.last_link(to=email))
    expect(phone.locator("#asker-heading")).to_have_text("Was this you? Also sign in that device")
    expect(phone.locator(".asker")).to_contain_text("Chrome on Linux")  # who asked: the laptop (its User-Agent)
    expect(phone.locator("button.match")).to_have_count(3)
    phone.locator(f"#match-{number}").click()
    phone.wait_for_url(served + "/welcome")  # the phone is signed in as well

    # The laptop's tab continues by itself: approved, then its own first-sign-in screen.
    laptop.wait_for_url(served + "/welcome", timeout=20_000)
    confirm_profile(laptop, display_name="Paula")
    expect(office_terminal(laptop, served)).to_contain_text("codeb> welcome, Paula")
    laptop_cookie, phone_cookie = session_cookie(context, served), session_cookie(phone_context, served)
    assert laptop_cookie and phone_cookie and laptop_cookie["value"] != phone_cookie["value"]

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_a_wrong_pick_on_the_phone_leaves_the_laptop_signed_out_and_says_so(
        served, mailbox, context, new_context, console):
    email = "quinn@example.com"
    laptop = context.new_page()
    laptop.goto(served + "/signin")
    ask_for_link(laptop, email)
    number = laptop.locator("#match-number").inner_text().strip()
    phone = new_context(user_agent=PHONE_AGENT).new_page()
    phone.goto(mailbox.last_link(to=email))
    wrong = next(v for v in phone.locator("button.match").evaluate_all("bs => bs.map(b => b.value)") if v != number)
    phone.locator(f"#match-{wrong}").click()
    phone.wait_for_url(served + "/welcome")
    expect(laptop.locator('#waiting-states [data-state="refused-number"]')).to_be_visible(timeout=20_000)
    assert laptop.url == served + "/signin/sent"
    console.assert_clean(allow=())


def test_the_typed_code_works_once_and_not_after_expiry(served, mailbox, context, new_context, clock, console):
    email = "rosa@example.com"
    page = context.new_page()
    page.goto(served + "/signin")
    ask_for_link(page, email)
    code = code_in(mailbox, email)
    page.locator("#code").fill(code.lower())
    page.locator("#code-button").click()
    page.wait_for_url(served + "/welcome")

    # Once: the link mailed with it is spent too (the HTTP tests type the code twice).
    page.goto(mailbox.last_link(to=email))
    expect(page.locator("[role=alert]")).to_contain_text("already used")

    # Not after expiry: a new waiting tab, its code typed after the five minutes.
    later = new_context().new_page()
    later.goto(served + "/signin")
    ask_for_link(later, "sam@example.com")
    clock.advance(LINK_LIFETIME + 1)
    later.locator("#code").fill(code_in(mailbox, "sam@example.com"))
    later.locator("#code-button").click()
    expect(later.locator("[role=alert]")).to_contain_text("This sign-in has ended")
    assert later.url == served + "/signin/magic-link/complete"
    console.assert_clean(allow=("status of 400",))
