"""The sign-in area's own pages in Chromium: axe-core clean in both languages, no sideways
scroll at 390 px, and the CSP kept (the app's page, the signed-in card, the consent screen)."""

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from codeb.oidc.clients import Clients
from tests.browser.test_accessibility import AXE, audit
from tests.support.browser import ask_for_link, confirm_profile, follow_link, office_terminal
from tests.support.web import pkce_pair


def authorization_url(served, rp, **extra):
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile email", "state": "st", "code_challenge": pkce_pair()[1],
              "code_challenge_method": "S256", **extra}
    return served + "/authorize?" + urlencode(params)


def no_sideways_scroll(page, name, findings):
    wide = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    if wide:
        findings.append(f"{name}: scrolls sideways at {page.viewport_size['width']} px")


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
def test_the_sign_in_area_is_accessible_and_fits_a_phone(served, mailbox, demo, client_site, new_context,
                                                          console, locale):
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` in tests/node (`make test` does)"
    with demo.store.update("clients", client_site.client_id) as doc:
        doc["consent_required"] = True
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["passkey", "magic_link", "password"]
    context = new_context(locale=locale, viewport={"width": 390, "height": 844})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    findings = []

    page.goto(authorization_url(served, client_site))
    expect(page.locator(".signin-app .app-name")).to_have_text("Test RP")
    audit(page, "sign-in page from an app", findings)
    no_sideways_scroll(page, "sign-in page from an app", findings)

    page.locator("#email").fill("zoe@example.com")
    page.locator("#choose-password").click()
    expect(page.locator("#password")).to_be_visible()
    audit(page, "password step", findings)
    no_sideways_scroll(page, "password step", findings)

    page.goto(served + "/signin")
    ask_for_link(page, "zoe@example.com")
    follow_link(page, mailbox, "zoe@example.com")
    page.wait_for_url(served + "/welcome")
    confirm_profile(page, display_name="Zoe")
    office_terminal(page, served)

    page.goto(served + "/signin")
    expect(page.locator("#continue-as")).to_be_visible()
    audit(page, "signed-in visitor", findings)
    no_sideways_scroll(page, "signed-in visitor", findings)

    page.goto(authorization_url(served, client_site))
    expect(page.locator("#consent-allow")).to_be_visible()
    audit(page, "consent screen", findings)
    no_sideways_scroll(page, "consent screen", findings)
    page.locator("#consent-allow").click()
    expect(page.locator("#client")).to_have_text("callback received")

    page.goto(served + "/account/sign-in")
    expect(page.locator(".consent-app")).to_have_count(1)
    audit(page, "account settings: apps allowed", findings)
    no_sideways_scroll(page, "account settings: apps allowed", findings)

    assert not findings, "\n".join(findings)
    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()
    assert Clients(demo.store).get(client_site.client_id).consent_required
