"""Corporate SSO over SAML 2.0 in a real browser: a person clicks "Sign in with Corp SAML",
picks who they are on the company's identity provider (one of two nobody here wrote: samlify
from npm, tests/node/saml-idp.mjs; pysaml2's own IdP, `saml2.server.Server`, served by
tests/support/saml_idp.py), whose page posts the Response to CodeB's ACS by itself, and lands
on the first-sign-in screen prefilled from the assertion, then in the office shell, signed
in by company sign-in. The IdP is at 127.0.0.1, CodeB at localhost: another site, so that
post carries none of CodeB's SameSite=Lax cookies, and the browser's session must come
back with the ACS's 303 to the callback, a top-level GET. No console error and no CSP
violation on the way (but the IdP's missing icon)."""

from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from codeb.accounts import Accounts
from tests.support.browser import confirm_profile, office_terminal, session_cookie
from tests.support.saml_company_idp import saml_company_idp
from tests.support.saml_idp import Pysaml2IdPServer


@contextmanager
def pysaml2_company_idp(served, tenant):
    """pysaml2's IdP on a loopback port, federated with `tenant` ("Corp SAML", claiming
    corp.example), stopped after; yields what `saml_company_idp` does that the test reads."""
    upstream, idp = Pysaml2IdPServer.federate(served, tenant)
    try:
        yield {"entity_id": idp.entity_id, "base": idp.base, "upstream": upstream}
    finally:
        idp.stop()


COMPANY_IDPS = {"samlify": saml_company_idp, "pysaml2": pysaml2_company_idp}


@pytest.mark.parametrize("idp_kind", list(COMPANY_IDPS))
def test_sign_in_with_the_company_saml_account_to_the_office_shell(served, demo, page, context, console, idp_kind):
    with COMPANY_IDPS[idp_kind](served, demo) as company:
        sent = []  # what the browser sent to CodeB's ACS and callback (their headers read after)
        page.on("request", lambda request: sent.append(request)
                if urlsplit(request.url).path in ("/signin/saml/acs", "/signin/saml/callback") else None)

        page.goto(served + "/signin")
        began_with = session_cookie(context, served)
        assert began_with is not None and began_with["sameSite"] == "Lax", began_with
        page.get_by_role("button", name="Sign in with Corp SAML").click()

        # The company's page (it shows one only for an AuthnRequest signed by CodeB), then back.
        page.wait_for_url(company["base"] + "/sso?**")
        page.locator("#user").select_option("alice")
        page.locator("#idp-signin").click()

        page.wait_for_url(served + "/welcome")
        expect(page.locator("#display_name")).to_have_value("Alice Example")  # prefilled from the assertion
        confirm_profile(page)
        terminal = office_terminal(page, served)
        expect(terminal).to_contain_text("codeb> welcome, Alice Example")
        expect(terminal).to_contain_text("codeb> auth = company sign-in")

        # The cross-site POST to the ACS came without CodeB's cookie; the GET after its 303 with it.
        assert [(r.method, urlsplit(r.url).path) for r in sent] == \
            [("POST", "/signin/saml/acs"), ("GET", "/signin/saml/callback")], [r.url for r in sent]
        acs, callback = sent
        assert callback.redirected_from == acs
        cookie = f"{began_with['name']}={began_with['value']}"
        assert cookie not in (acs.all_headers().get("cookie") or ""), acs.all_headers()
        assert cookie in (callback.all_headers().get("cookie") or ""), callback.all_headers()

    account = Accounts(demo.store, "localhost").find_by_email("alice@corp.example")
    assert account.display_name == "Alice Example"
    assert [(link["issuer"], link["subject"]) for link in account.links] == \
        [(company["entity_id"], "alice@corp.example")]
    # The IdP's pages have no icon: the browser's request for one is its 404, not CodeB's.
    console.assert_clean(allow=(company["base"] + "/favicon.ico",))
