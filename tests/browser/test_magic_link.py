"""The magic-link sign-in in a real browser: Chromium, the served app, the pickup folder.

What only a browser checks: the strict CSP leaves the pages working (no console
error, no violation), the session cookie is out of reach of scripts, the
POST → 303 → 302 chain to a relying party on another origin is allowed by
`form-action`, and Accept-Language picks the page and mail language.
"""

import re
from urllib.parse import urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import expect

from tests.conftest import pkce_pair, query_of

# Chromium asks every site for /favicon.ico by itself; the app has none (yet),
# and the 404 it logs is no fault of the pages under test.

RP_ORIGIN = "http://127.0.0.1:9999"


def session_cookie(context, base):
    cookies = [c for c in context.cookies(base) if c["name"] in ("codeb", "__Host-codeb")]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def request_link(page, base, email):
    """From the sign-in page, ask for a link (the page must already be open)."""
    field = page.locator('input[type="email"][name="email"]')
    expect(field).to_have_attribute("autocomplete", "username webauthn")
    field.fill(email)
    page.locator('form[action$="/signin/magic-link"] button[type="submit"]').click()
    page.wait_for_load_state()


def mail_to(mailbox, email):
    for mail in reversed(mailbox.messages()):
        if mail.message["To"] == email:
            return mail
    raise AssertionError(f"no mail to {email}")


def test_magic_link_signs_in_with_httponly_session(served, mailbox, page, context, console):
    email = "alice@example.com"
    page.goto(served + "/signin")
    expect(page.locator("h1")).to_have_text("Sign in")
    anonymous = session_cookie(context, served)  # the CSRF token's anonymous session

    request_link(page, served, email)
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text(email)

    link = mailbox.last_link(to=email)
    assert link.startswith(served + "/link/"), link
    page.goto(link)
    button = page.locator("#complete-signin")
    expect(button).to_have_count(1)
    button.click()

    page.wait_for_url(served + "/")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Welcome, \S"))
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(email)
    expect(facts).to_contain_text("localhost")
    expect(facts).to_contain_text("Magic link")

    cookie = session_cookie(context, served)
    assert cookie is not None, context.cookies()
    assert cookie["httpOnly"] is True, cookie
    assert cookie["sameSite"] == "Lax", cookie
    assert anonymous is None or anonymous["value"] != cookie["value"], "session id not renewed at sign-in"
    visible = page.evaluate("document.cookie")
    assert cookie["value"] not in visible and cookie["name"] not in visible, visible

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_used_link_is_refused_and_sign_out_returns_to_sign_in(served, mailbox, page, context, new_context,
                                                              console):
    email = "bob@example.com"
    page.goto(served + "/signin")
    request_link(page, served, email)
    link = mailbox.last_link(to=email)
    page.goto(link)
    page.locator("#complete-signin").click()
    page.wait_for_url(served + "/")

    again = page.goto(link)
    assert again.status == 400
    expect(page.locator("h1")).to_have_text("This link cannot be used")
    expect(page.locator("[role=alert]")).to_contain_text("already used")
    expect(page.locator("#complete-signin")).to_have_count(0)

    # Another device gets the same answer.
    other_page = new_context().new_page()
    assert other_page.goto(link).status == 400
    expect(other_page.locator("#complete-signin")).to_have_count(0)

    page.goto(served + "/")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Welcome, "))
    signed_in = session_cookie(context, served)
    page.locator("header").get_by_role("button", name="Sign out").click()
    page.wait_for_url(served + "/signin")
    after = session_cookie(context, served)  # at most a new anonymous one, for the form's CSRF token
    assert after is None or after["value"] != signed_in["value"], "session cookie survived sign-out"
    page.reload()
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator('input[type="email"][name="email"]')).to_be_editable()
    page.goto(served + "/")
    assert page.url == served + "/signin", "still signed in after signing out"

    # The 400 of the used link is the only error the console may show.
    console.assert_clean(allow=("status of 400",))
    assert not console.csp_violations(), console.dump()


def test_authorization_request_returns_to_client_across_origins(served, mailbox, rp, page, console):
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile email", "state": "state-b1", "nonce": "nonce-b1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    arrived = []

    def relying_party(route):
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/html",
                      body="<!doctype html><title>RP</title><p>callback received</p>")

    page.route(RP_ORIGIN + "/**", relying_party)

    page.goto(served + "/authorize?" + urlencode(params))
    assert urlsplit(page.url).path == "/signin", page.url
    expect(page.locator("main")).to_contain_text("Test RP")

    email = "carol@example.com"
    request_link(page, served, email)
    expect(page.locator("h1")).to_have_text("Check your inbox")
    link_page = page.goto(mailbox.last_link(to=email))
    csp = link_page.headers.get("content-security-policy", "")
    form_action = re.search(r"form-action ([^;]*)", csp)
    assert form_action and RP_ORIGIN in form_action.group(1).split(), csp

    page.locator("#complete-signin").click()
    try:
        page.wait_for_url(RP_ORIGIN + "/cb?**")
    except Exception as error:  # show what Chromium said about the blocked chain
        raise AssertionError(f"browser did not reach the client ({page.url}): {error}\n"
                             f"console:\n{console.dump()}") from None
    assert arrived and arrived[-1].startswith(rp.redirect_uri + "?"), arrived
    answer = query_of(arrived[-1])
    assert answer["state"] == "state-b1"
    assert answer["iss"] == served
    assert answer["code"]

    tokens = requests.post(served + "/token", data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": rp.redirect_uri, "code_verifier": verifier,
    }, auth=(rp.client_id, rp.secret), timeout=10)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body.get("access_token") and body.get("id_token"), body

    keys = KeySet.import_key_set(requests.get(served + "/jwks.json", timeout=10).json())
    id_token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": served},
                          aud={"essential": True, "value": rp.client_id}).validate(id_token.claims)
    claims = id_token.claims
    assert claims["nonce"] == "nonce-b1"
    info = requests.get(served + "/userinfo", timeout=10,
                        headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200 and info.json()["email"] == email, info.text

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_german_browser_gets_german_page_and_mail(served, mailbox, new_context, console):
    context = new_context(locale="de-DE")
    page = context.new_page()
    response = page.goto(served + "/signin")
    assert response.request.all_headers().get("accept-language", "").startswith("de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text("Anmelden")

    email = "dora@example.com"
    request_link(page, served, email)
    expect(page.locator("h1")).to_have_text("Sehen Sie in Ihr Postfach")

    mail = mail_to(mailbox, email)
    assert mail.message["Subject"].startswith("Ihr Anmeldelink für"), mail.message["Subject"]
    assert "Guten Tag" in mail.text and "nur einmal" in mail.text, mail.text
    html = mail.message.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Anmelden" in html, html

    page.goto(mail.link)
    expect(page.locator("h1")).to_have_text("Anmeldung abschließen")
    page.locator("#complete-signin").click()
    page.wait_for_url(served + "/")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Willkommen, "))

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_console_watch_sees_csp_violations(served, page, console):
    """The watch the tests above rely on does catch violations (script-src, form-action)."""
    page.goto(served + "/signin")
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.injected = true";
        document.body.append(s);
    }""")
    assert page.evaluate("window.injected === undefined")
    form = page.locator('form[action$="/signin/magic-link"]').element_handle()
    form.evaluate("(f, target) => { f.action = target; }", RP_ORIGIN + "/elsewhere")
    page.route(RP_ORIGIN + "/**", lambda route: route.fulfill(body="reached", content_type="text/plain"))
    page.locator('input[name="email"]').fill("eve@example.com")
    form.evaluate("f => f.requestSubmit()")  # a click would wait for a navigation that never comes
    for _ in range(50):
        if any("form-action" in v for v in console.csp_violations()):
            break
        page.wait_for_timeout(100)
    assert urlsplit(page.url).path == "/signin", page.url
    found = "\n".join(console.csp_violations())
    assert "script-src" in found and "form-action" in found, console.dump()
