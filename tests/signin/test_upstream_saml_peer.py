"""Corporate SSO over SAML 2.0 against an identity provider nobody here wrote: samlify
(npm, tests/node/saml-idp.mjs) is the company's IdP of the demo tenant, knowing CodeB by
the signed SP metadata CodeB serves. The person's browser (a `requests.Session`) presses
"Sign in with Corp SAML"; the IdP verifies CodeB's signed AuthnRequest (HTTP-Redirect),
and its page posts the Response to CodeB's ACS. That post comes from the IdP's site, so
it is sent here without the browser's cookies (they are SameSite=Lax, as a browser would
leave them off a cross-site POST); the browser then follows the ACS's 303 with them."""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from codeb import audit
from codeb.accounts import Accounts
from codeb.accounts.links import Links
from codeb.upstreams import acs_url
from tests.support.saml_company_idp import saml_company_idp
from tests.support.user_agent import Browser, hidden_value
from tests.support.web import csrf_of

BUTTON = re.compile(r'<button[^>]*name="upstream" value="([a-z0-9]{12})"[^>]*>\s*Sign in with Corp SAML\s*</button>')


def to_the_idp(browser: Browser, served: str) -> str:
    """Press "Sign in with Corp SAML" on the sign-in page; the URL its page moves on to."""
    page = browser.get(f"{served}/signin")
    assert page.status_code == 200, page.text[:500]
    button = BUTTON.search(page.text)
    assert button, "no “Sign in with Corp SAML” button on the sign-in page"
    moved = browser.post(f"{served}/signin/saml/begin", data={"csrf": csrf_of(page.text), "upstream": button.group(1)})
    assert moved.status_code == 200, moved.text[:500]
    return unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))


def sign_in_at_the_idp(browser: Browser, company: dict, sso_url: str, user: str = "alice") -> dict:
    """The IdP's sign-in page (shown only for a verified AuthnRequest), pick the user: the
    fields and action of the form its next page auto-submits to the service provider."""
    assert sso_url.startswith(company["base"] + "/sso?"), sso_url
    shown = browser.get(sso_url)
    assert shown.status_code == 200, shown.text[:500]  # samlify verified the request's signature
    assert '<select name="user" id="user">' in shown.text
    posted = browser.post(f"{company['base']}/login", data={
        "handle": hidden_value(shown.text, "handle"), "request_id": hidden_value(shown.text, "request_id"),
        "RelayState": hidden_value(shown.text, "RelayState"), "user": user})
    assert posted.status_code == 200, posted.text[:500]
    action = re.search(r'<form method="post" action="([^"]+)" id="to-sp">', posted.text)
    assert action, posted.text[:500]
    return {"action": unescape(action.group(1)), "SAMLResponse": hidden_value(posted.text, "SAMLResponse"),
            "RelayState": hidden_value(posted.text, "RelayState")}


def post_to_the_acs(answer: dict) -> requests.Response:
    """The IdP's page posting to the ACS from its own site: a request without our cookies."""
    return requests.post(answer["action"], data={"SAMLResponse": answer["SAMLResponse"],
                                                 "RelayState": answer["RelayState"]},
                         allow_redirects=False, timeout=10)


def through_the_acs(served: str, company: dict, browser: Browser) -> tuple[dict, str]:
    """From "Sign in with Corp SAML" to the ACS's answer: the IdP's form and the callback URL."""
    answer = sign_in_at_the_idp(browser, company, to_the_idp(browser, served))
    assert answer["action"] == acs_url(served)
    arrived = post_to_the_acs(answer)
    assert arrived.status_code == 303, arrived.text[:500]
    assert "Set-Cookie" not in arrived.headers  # no session started beside the browser's own
    callback = urljoin(served, arrived.headers["Location"])
    assert urlsplit(callback).path == "/signin/saml/callback" and "arrival=" in callback, callback
    return answer, callback


def signed_in(browser: Browser, served: str) -> bool:
    """Whether the browser's session is signed in: the account page answers it, not a sign-in."""
    answer = browser.get(f"{served}/account")
    assert answer.status_code in (200, 302, 303), answer.status_code
    return answer.status_code == 200


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_a_person_signs_in_through_samlify(served, demo, mailbox, sign):
    with saml_company_idp(served, demo, sign=sign) as company:
        browser = Browser(mailbox)
        # The IdP refuses a request whose signature is not CodeB's: its 200 below means verified.
        sso_url = to_the_idp(browser, served)
        tampered = re.sub(r"(Signature=)([A-Za-z0-9%])", lambda m: m.group(1) + ("B" if m.group(2) != "B" else "C"),
                          sso_url, count=1)
        refused = browser.get(tampered)
        assert tampered != sso_url and refused.status_code == 400 and "SIGNATURE_VERIFICATION" in refused.text

        _, callback = through_the_acs(served, company, browser)
        landed = browser.get(callback)  # a top-level GET: the browser's cookies come along again
        assert landed.status_code == 303, landed.text[:500]
        welcome = urljoin(served, landed.headers["Location"])
        assert urlsplit(welcome).path == "/welcome"
        assert 'value="Alice Example"' in browser.get(welcome).text  # the name came from the assertion
        shell = browser.past_first_sign_in(welcome)
        assert urlsplit(shell).path == "/office.html", shell
        assert browser.get(shell).status_code == 200 and signed_in(browser, served)

        accounts = Accounts(demo.store, "localhost")
        account = accounts.find_by_email("alice@corp.example")
        assert account is not None and len(accounts.list()) == 1
        assert Links(accounts).find(company["entity_id"], "alice@corp.example").login == account.login
        assert [(link["issuer"], link["subject"]) for link in account.links] == \
            [(company["entity_id"], "alice@corp.example")]


def test_a_stolen_callback_and_a_replayed_response_are_refused(served, demo, mailbox):
    with saml_company_idp(served, demo) as company:
        accounts = Accounts(demo.store, "localhost")

        # The callback opened by another browser: refused, and nobody is signed in by it.
        browser = Browser(mailbox)
        _, callback = through_the_acs(served, company, browser)
        thief = Browser(mailbox)
        thief.get(f"{served}/signin")  # a session of its own
        stolen = thief.get(callback)
        assert 400 <= stolen.status_code < 500 and "expired or was already used" in stolen.text
        assert not signed_in(thief, served)
        # The arrival was spent by the thief's try: the rightful browser must start again too.
        late = browser.get(callback)
        assert 400 <= late.status_code < 500 and "expired or was already used" in late.text
        assert not signed_in(browser, served) and accounts.list() == []

        # A Response posted a second time: the first signs in, the second is refused.
        browser = Browser(mailbox)
        answer, callback = through_the_acs(served, company, browser)
        assert browser.get(callback).status_code == 303
        assert accounts.find_by_email("alice@corp.example") is not None
        again = post_to_the_acs(answer)
        assert again.status_code == 303 and "Set-Cookie" not in again.headers
        replayed = urljoin(served, again.headers["Location"])
        assert "arrival=" not in replayed
        other = Browser(mailbox)
        other.get(f"{served}/signin")
        refused = other.get(replayed)
        assert 400 <= refused.status_code < 500 and "expired or was already used" in refused.text
        assert not signed_in(other, served) and len(accounts.list()) == 1

        reasons = [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
        assert reasons == ["arrival of another browser", "unknown or spent arrival", "unknown or spent RelayState"]
