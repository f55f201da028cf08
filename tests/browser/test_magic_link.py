"""The magic-link sign-in in a real browser: Chromium, the served app, the pickup folder.

What only a browser checks: the strict CSP leaves the pages working (no console
error, no violation), the session cookie is out of reach of scripts, the
redirect chains to a relying party on another origin are allowed by
`form-action` (the link's POST → 303 → 302, and on a first sign-in the profile
screen's POST → 303 → 302), and Accept-Language picks the page and mail language.

A first sign-in goes from the link to the profile screen (/welcome) and, once
confirmed, on to where the person was going: the relying party, or without
one the office shell (/office.html).
"""

import re
from urllib.parse import urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import expect

from tests.support.browser import (
    LINK_BUTTON,
    ask_for_link,
    confirm_profile,
    follow_link,
    office_terminal,
    office_token,
    session_cookie,
    sign_out,
)
from tests.support.web import pkce_pair, query_of

ELSEWHERE = "http://127.0.0.1:9"  # an origin no form of the app may post to


def mail_to(mailbox, email):
    for mail in reversed(mailbox.messages()):
        if mail.message["To"] == email:
            return mail
    raise AssertionError(f"no mail to {email}")


def test_magic_link_signs_in_with_httponly_session(served, mailbox, page, context, console):
    email = "alice@example.com"
    page.goto(served + "/signin")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#email")).to_have_attribute("autocomplete", "username webauthn")
    expect(page.locator(LINK_BUTTON)).to_have_text("Continue")  # identifier first: the server mails the link
    anonymous = session_cookie(context, served)  # the CSRF token's anonymous session

    ask_for_link(page, email)
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text(email)

    link = mailbox.last_link(to=email)
    assert link.startswith(served + "/link/"), link
    page.goto(link)
    button = page.locator("#complete-signin")
    expect(button).to_have_count(1)
    button.click()

    # The first sign-in: the profile screen, then the office shell.
    page.wait_for_url(served + "/welcome")
    expect(page.locator("h1")).to_have_text("Welcome! Confirm your profile")
    expect(page.locator("#display_name")).to_have_value("")  # chosen by the person, not the email's local part
    confirm_profile(page, display_name="Alice Liddell")
    terminal = office_terminal(page, served)
    expect(terminal).to_contain_text("codeb> welcome, Alice Liddell")
    expect(terminal).to_contain_text("codeb> tenant = localhost")
    expect(terminal).to_contain_text("codeb> auth = magic link")
    expect(terminal).to_contain_text("codeb> sip-jid = alice@localhost")

    # Account settings: who is signed in, and how.
    page.goto(served + "/account")
    expect(page.locator("dl.facts").first).to_contain_text(email)
    page.goto(served + "/account/devices")
    this_browser = page.locator("li.session").filter(has=page.locator(".badge"))
    expect(this_browser).to_have_count(1)
    expect(this_browser).to_contain_text("Magic link")

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
    ask_for_link(page, email)
    link = mailbox.last_link(to=email)
    page.goto(link)
    page.locator("#complete-signin").click()
    page.wait_for_url(served + "/welcome")

    again = page.goto(link)
    assert again.status == 400
    expect(page.locator("h1")).to_have_text("This link cannot be used")
    expect(page.locator("[role=alert]")).to_contain_text("already used")
    expect(page.locator("#complete-signin")).to_have_count(0)

    # Another device gets the same answer.
    other_page = new_context().new_page()
    assert other_page.goto(link).status == 400
    expect(other_page.locator("#complete-signin")).to_have_count(0)

    # Still signed in: the profile screen waits; confirmed, "/" is the office shell.
    page.goto(served + "/welcome")
    confirm_profile(page)
    office_terminal(page, served)
    page.goto(served + "/")
    expect(office_terminal(page, served)).to_contain_text("codeb> sip-jid = bob@localhost")
    assert office_token(page) is not None
    signed_in = session_cookie(context, served)

    sign_out(page, served)  # the shell's header button
    assert office_token(page) is None, "the shell kept its token after signing out"
    after = session_cookie(context, served)  # at most a new anonymous one, for the form's CSRF token
    assert after is None or after["value"] != signed_in["value"], "session cookie survived sign-out"
    page.reload()
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#email")).to_be_editable()
    page.goto(served + "/")
    assert page.url == served + "/signin", "still signed in after signing out"
    page.goto(served + "/account")
    assert page.url == served + "/signin", "account settings open after signing out"

    # The 400 of the used link is the only error the console may show.
    console.assert_clean(allow=("status of 400",))
    assert not console.csp_violations(), console.dump()


# -- a relying party on another origin ------------------------------------------------

def authorization_request(client_site, state, nonce):
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client_site.client_id,
              "redirect_uri": client_site.redirect_uri, "scope": "openid profile email",
              "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
    return "/authorize?" + urlencode(params), verifier


def form_action(response):
    csp = response.headers.get("content-security-policy", "")
    found = re.search(r"form-action ([^;]*)", csp)
    assert found, csp
    return found.group(1).split()


def reach_client(page, client_site, console):
    try:
        expect(page.locator("#client")).to_have_text("callback received")
    except AssertionError as error:  # show what Chromium said about the blocked chain
        raise AssertionError(f"browser did not reach the client ({page.url}): {error}\n"
                             f"console:\n{console.dump()}") from None
    assert page.url.startswith(client_site.redirect_uri + "?"), page.url
    assert len(client_site.arrived) == 1, client_site.arrived
    return client_site.arrived[0]


def redeem(served, client_site, callback, verifier, *, state, nonce, email):
    """The client's side: check the response, exchange the code, verify the ID token, call userinfo."""
    answer = query_of(callback)
    assert answer["state"] == state
    assert answer["iss"] == served
    assert answer["code"]

    tokens = requests.post(served + "/token", data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": client_site.redirect_uri, "code_verifier": verifier,
    }, auth=(client_site.client_id, client_site.secret), timeout=10)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body.get("access_token") and body.get("id_token"), body

    keys = KeySet.import_key_set(requests.get(served + "/jwks.json", timeout=10).json())
    id_token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": served},
                          aud={"essential": True, "value": client_site.client_id}).validate(id_token.claims)
    assert id_token.claims["nonce"] == nonce
    info = requests.get(served + "/userinfo", timeout=10,
                        headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200 and info.json()["email"] == email, info.text
    return id_token.claims


def test_authorization_request_returns_to_client_across_origins(served, mailbox, accounts, demo, client_site,
                                                                page, console):
    """Someone whose profile is confirmed: the link's POST → 303 → 302 chain goes straight to the client."""
    email = "carol@example.com"
    carol = accounts.create(email=email)
    accounts.update_profile(carol.login, display_name="Carol", nickname=None, language="en",
                            languages=demo.available_languages, confirm=True)

    path, verifier = authorization_request(client_site, "state-b1", "nonce-b1")
    page.goto(served + path)
    assert urlsplit(page.url).path == "/signin", page.url
    expect(page.locator("main")).to_contain_text("Test RP")

    ask_for_link(page, email)
    expect(page.locator("h1")).to_have_text("Check your inbox")
    link_page = page.goto(mailbox.last_link(to=email))
    assert client_site.origin in form_action(link_page)

    page.locator("#complete-signin").click()
    callback = reach_client(page, client_site, console)
    redeem(served, client_site, callback, verifier, state="state-b1", nonce="nonce-b1", email=email)

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_first_sign_in_for_client_confirms_profile_then_returns_to_client(served, mailbox, client_site, page,
                                                                         console):
    email = "cora@example.com"
    path, verifier = authorization_request(client_site, "state-b2", "nonce-b2")
    page.goto(served + path)
    expect(page.locator("main")).to_contain_text("Test RP")
    ask_for_link(page, email)
    with page.expect_response(lambda r: r.url == served + "/welcome" and r.request.method == "GET") as shown:
        follow_link(page, mailbox, email)
    expect(page.locator("h1")).to_have_text("Welcome! Confirm your profile")
    assert client_site.origin in form_action(shown.value), \
        f"the profile screen's form cannot lead to the client: form-action {form_action(shown.value)}"

    confirm_profile(page, display_name="Cora", nickname="cora")
    callback = reach_client(page, client_site, console)
    claims = redeem(served, client_site, callback, verifier, state="state-b2", nonce="nonce-b2", email=email)
    assert claims.get("name") == "Cora", claims  # what the profile screen confirmed

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
    ask_for_link(page, email)
    expect(page.locator("h1")).to_have_text("Sehen Sie in Ihr Postfach")

    mail = mail_to(mailbox, email)
    assert mail.message["Subject"].startswith("Ihr Anmeldelink für"), mail.message["Subject"]
    assert "Guten Tag" in mail.text and "nur einmal" in mail.text, mail.text
    html = mail.message.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Anmelden" in html, html

    page.goto(mail.link)
    expect(page.locator("h1")).to_have_text("Anmeldung abschließen")
    page.locator("#complete-signin").click()
    page.wait_for_url(served + "/welcome")
    expect(page.locator("h1")).to_have_text("Willkommen! Bestätigen Sie Ihr Profil")
    expect(page.locator("#confirm-profile")).to_have_text("Bestätigen und weiter")
    confirm_profile(page)
    terminal = office_terminal(page, served)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(terminal).to_contain_text("codeb> willkommen, ")
    expect(terminal).to_contain_text("codeb> anmeldung = Anmeldelink")

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
    form = page.locator('form[action$="/signin/continue"]').element_handle()
    form.evaluate("(f, target) => { f.action = target; }", ELSEWHERE + "/elsewhere")
    page.locator("#email").fill("eve@example.com")
    form.evaluate("f => f.requestSubmit()")  # a click would wait for a navigation that never comes
    for _ in range(50):
        if any("form-action" in v for v in console.csp_violations()):
            break
        page.wait_for_timeout(100)
    assert urlsplit(page.url).path == "/signin", page.url
    found = "\n".join(console.csp_violations())
    assert "script-src" in found and "form-action" in found, console.dump()
