"""The Branding page in a real browser: the live preview follows the admin's choices, and the saved
colour and logo are what the sign-in page computes and shows, in the light and the dark theme."""

import re

import pytest
from playwright.sync_api import expect

from codeb.tenants import branding
from tests.browser.test_accessibility import AXE, audit
from tests.support.browser import first_sign_in
from tests.tenants.test_branding import png

GREEN = "#1a7f37"


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def background(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")


@pytest.fixture
def admin(served, mailbox, accounts, new_context):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    context = new_context()
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    first_sign_in(page, served, mailbox, "boss@example.com")
    page.goto(served + "/admin/branding")
    expect(page.locator("#brand-preview")).to_have_attribute("data-ready", "true")
    return page


def test_the_preview_follows_the_form_and_the_saved_brand_reaches_the_sign_in_page(admin, served, new_context,
                                                                                  console, demo):
    findings = []
    audit(admin, "branding page", findings)

    # A colour too pale for white text: the preview says so, with the ratio, before anything is sent.
    admin.locator("#colour").fill("#ffcc00")
    expect(admin.locator("#brand-preview")).to_have_attribute("data-contrast", "low")
    expect(admin.locator("#preview-contrast")).to_contain_text("1.40:1")
    expect(admin.locator("#preview-contrast")).to_contain_text("4.50:1")
    assert background(admin, ".preview-swatch") == rgb("#ffcc00")
    assert background(admin, "#preview-button") == rgb(branding.DEFAULT_ACCENT)  # samples stay readable

    # A good one: the preview's button and link take it, and the dark card takes its lighter shade.
    admin.locator("#colour").fill(GREEN)
    expect(admin.locator("#brand-preview")).to_have_attribute("data-contrast", "ok")
    assert background(admin, "#preview-button") == rgb(GREEN)
    assert admin.locator("#preview-link").evaluate("el => getComputedStyle(el).color") == rgb(GREEN)
    dark = branding.palette(GREEN).dark_accent
    assert background(admin, "#preview-dark .preview-button") == rgb(dark)
    expect(admin.locator("#preview-contrast")).to_contain_text(dark)

    # The logo and the mail texts appear in the preview as they are picked and typed.
    admin.locator("#logo").set_input_files(files=[{"name": "logo.png", "mimeType": "image/png",
                                                   "buffer": png(120, 40)}])
    expect(admin.locator("#preview-logo")).to_be_visible()
    assert admin.locator("#preview-mail-logo").get_attribute("src").startswith("data:image/png;base64,")
    admin.locator("#mail-header").fill("Demo Identity")
    expect(admin.locator("#preview-mail-header")).to_have_text("Demo Identity")
    admin.locator("#mail-footer").fill("Demo Ltd, Main Street 1")
    expect(admin.locator("#preview-mail-footer")).to_have_text("Demo Ltd, Main Street 1")
    audit(admin, "branding page with a preview", findings)

    admin.locator("#brand-form button[type=submit].primary").click()
    admin.wait_for_url(re.compile(r".*/admin/branding\?m=saved"))
    expect(admin.locator(".alert-success")).to_contain_text("Branding saved")
    assert branding.brand_of(demo.store).colour == GREEN
    # This admin page itself now uses the colour, from the served sheet (CSP allows no inline style).
    assert background(admin, "#brand-form button.primary") == rgb(GREEN)

    # A visitor's sign-in page: the button computes to the colour, the header shows the logo.
    for scheme, colour in (("light", GREEN), ("dark", dark)):
        visitor = new_context(color_scheme=scheme)
        visitor.add_init_script(path=str(AXE))
        page = visitor.new_page()
        page.goto(served + "/signin")
        assert background(page, "button.primary") == rgb(colour), scheme
        logo = page.locator("header img.brand-logo")
        expect(logo).to_have_attribute("alt", "Demo")
        assert logo.evaluate("img => img.complete && img.naturalWidth") == 120
        audit(page, f"branded sign-in page ({scheme})", findings)

    assert not findings, "axe-core found serious or critical violations:\n" + "\n".join(findings)
    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_a_refused_colour_is_explained_beside_the_field_and_the_page_stays_usable(admin, demo):
    admin.locator("#colour").fill("#ffcc00")
    admin.locator("#brand-form button[type=submit].primary").click()
    error = admin.locator("#colour-error")
    expect(error).to_contain_text("1.40:1")
    expect(admin.locator("#colour")).to_have_attribute("aria-invalid", "true")
    assert branding.brand_of(demo.store) is branding.NONE
    # On a phone, in the dark theme: no sideways scroll, axe clean, the refusal still beside the field.
    admin.set_viewport_size({"width": 390, "height": 844})
    admin.emulate_media(color_scheme="dark")
    assert admin.evaluate("document.documentElement.scrollWidth") <= 390
    findings = []
    audit(admin, "branding page, phone, dark, refused colour", findings)
    assert not findings, "\n".join(findings)
