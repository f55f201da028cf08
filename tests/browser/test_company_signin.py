"""Corporate SSO in a real browser: a person clicks "Sign in with Corp", signs in on the
company's identity provider (node-oidc-provider 9 from npm, its own development pages),
confirms the profile it prefilled, and lands in the office shell, signed in by company
sign-in. No console error and no CSP violation on the way (but the company pages' web font)."""

from playwright.sync_api import expect

from codeb.accounts import Accounts
from tests.support.browser import confirm_profile, office_terminal
from tests.support.company_idp import company_idp


def test_sign_in_with_the_company_account_to_the_office_shell(served, demo, page, console):
    with company_idp(served, demo) as company:
        page.goto(served + "/signin")
        page.get_by_role("button", name="Sign in with Corp").click()

        # The company's own pages (they accept any login), then back.
        page.wait_for_url(company["issuer"] + "/interaction/**")
        page.locator('input[name="login"]').fill("grace")
        page.locator('input[name="password"]').fill("anything")
        page.locator('button[type="submit"]').click()
        page.locator('button[type="submit"]').click()  # its consent: "Continue"

        page.wait_for_url(served + "/welcome")
        expect(page.locator("#display_name")).to_have_value("grace of Corp")  # prefilled from the upstream
        confirm_profile(page)
        terminal = office_terminal(page, served)
        expect(terminal).to_contain_text("codeb> welcome, grace of Corp")
        expect(terminal).to_contain_text("codeb> auth = company sign-in")

    account = Accounts(demo.store, "localhost").find_by_email("grace@corp.example")
    assert account.email_verified and [link["subject"] for link in account.links] == ["grace"]
    # The company's development pages load a web font from Google, which this offline machine
    # cannot reach, and the browser asks that origin for an icon it has not: their errors, not
    # CodeB's. Everything else stays clean.
    console.assert_clean(allow=("fonts.googleapis.com", company["issuer"] + "/favicon.ico"))
