"""The sign-in pages over HTTP: same reply for everyone, CSRF, links, sessions, headers."""

import re
from urllib.parse import urlsplit

import pytest

from tests.support.web import HOST, LINK_STEP, csrf_of, main_of, sign_in


def request_link(client, email, host=HOST):
    page = client.get("/signin", headers={"Host": host})
    return client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": email},
                       headers={"Host": host})


def shape_of(html):
    """The page with what is random per request (the pending sign-in's id and number) blanked."""
    html = re.sub(r"\b[0-9a-f]{32}\b", "ID", main_of(html))
    return re.sub(r'(id="match-number" aria-label="[^"]*?)\d\d(">)\d\d<', r"\1NN\2NN<", html)


def test_sign_in_page_has_the_email_field_for_autofill(client):
    page = client.get("/signin", headers={"Host": HOST})
    assert page.status_code == 200
    assert re.search(r'<input type="email" id="email" name="email"[^>]*autocomplete="username webauthn"', page.text)


def test_reply_is_the_same_whether_or_not_an_account_exists(client, accounts, demo, mailbox):
    accounts.create(email="known@example.com")
    with demo.store.update("tenant") as doc:
        doc["signup"]["policy"] = "invite"
    known = request_link(client, "known@example.com")
    known_page = client.get("/signin/sent", headers={"Host": HOST})
    unknown = request_link(client, "unknown@example.com")
    unknown_page = client.get("/signin/sent", headers={"Host": HOST})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/signin/sent"
    assert 'id="code"' in known_page.text and 'id="match-number"' in known_page.text
    assert shape_of(known_page.text).replace("known@", "X@") == shape_of(unknown_page.text).replace("unknown@", "X@")
    assert len(mailbox.messages()) == 2  # both get a mail: a link, or a note


def test_forms_without_csrf_token_are_refused(client):
    client.get("/signin", headers={"Host": HOST})
    response = client.post("/signin/magic-link/begin", data={"email": "a@example.com"}, headers={"Host": HOST})
    assert response.status_code == 400 and "reload the page" in response.text
    wrong = client.post("/signin/magic-link/begin", data={"email": "a@example.com", "csrf": "x" * 43},
                        headers={"Host": HOST})
    assert wrong.status_code == 400


def test_invalid_email_shows_the_form_again_with_a_message(client):
    response = request_link(client, "not-an-email")
    assert response.status_code == 400
    assert "valid email address" in response.text and 'aria-invalid="true"' in response.text


def test_opening_a_link_does_not_spend_it(client, mailbox):
    request_link(client, "alice@example.com")
    path = urlsplit(mailbox.last_link()).path
    for _ in range(3):  # a mail scanner fetching the link, several times
        page = client.get(path, headers={"Host": HOST})
        assert page.status_code == 200 and 'id="complete-signin"' in page.text
    done = client.post(LINK_STEP, data={"csrf": csrf_of(page.text), "link": path[6:]}, headers={"Host": HOST})
    # A first sign-in goes on to the profile screen.
    assert done.status_code == 303 and done.headers["Location"].endswith("/welcome")


def test_used_link_gets_a_clear_page_with_a_way_to_send_a_new_one(client, mailbox):
    assert sign_in(client, mailbox, "alice@example.com").status_code == 303
    path = urlsplit(mailbox.last_link()).path
    again = client.get(path, headers={"Host": HOST})
    assert again.status_code == 400
    assert "already used" in again.text and 'action="/signin/magic-link/begin"' in again.text
    posted = client.post(LINK_STEP, data={"csrf": csrf_of(again.text), "link": path[6:]}, headers={"Host": HOST})
    assert posted.status_code == 400 and "already used" in posted.text


def test_expired_link_gets_a_clear_page(client, mailbox, clock):
    request_link(client, "alice@example.com")
    path = urlsplit(mailbox.last_link()).path
    clock.advance(301)
    page = client.get(path, headers={"Host": HOST})
    assert page.status_code == 400 and "expired" in page.text
    assert 'name="email"' in page.text


def test_sign_in_starts_a_new_session_id(client, mailbox, app):
    client.get("/signin", headers={"Host": HOST})
    before = client.get_cookie("codeb", domain="localhost").value
    sign_in(client, mailbox, "alice@example.com")
    after = client.get_cookie("codeb", domain="localhost").value
    assert before != after
    # The old id is worthless now: a planted cookie does not ride along (no fixation).
    stale = app.test_client()
    stale.set_cookie("codeb", before, domain="localhost")
    assert stale.get("/account", headers={"Host": HOST}).status_code == 303


def test_signed_in_people_land_in_the_office_shell(client, mailbox):
    assert client.get("/", headers={"Host": HOST}).headers["Location"] == "/signin"
    landed = sign_in(client, mailbox, "alice@example.com")
    assert landed.headers["Location"] == "/office.html"
    assert client.get("/", headers={"Host": HOST}).headers["Location"] == "/office.html"
    account = client.get("/account", headers={"Host": HOST})
    assert "alice@example.com" in account.text and "alice@localhost" in account.text
    devices = client.get("/account/devices", headers={"Host": HOST})
    assert "Magic link" in devices.text  # how this browser signed in


def test_ending_sessions_signs_out_everywhere(client, mailbox, accounts, app):
    sign_in(client, mailbox, "alice@example.com")
    other_device = app.test_client()
    sign_in(other_device, mailbox, "alice@example.com")
    accounts.revoke_issued(accounts.find_by_email("alice@example.com").login)
    for browser in (client, other_device):
        assert browser.get("/account", headers={"Host": HOST}).status_code == 303


def test_cookie_flags_on_localhost_and_https(client, app):
    page = client.get("/signin", headers={"Host": HOST})
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain-HTTP localhost: a browser would drop a Secure cookie
    secure = app.test_client().get("/signin", headers={"Host": HOST}, base_url="https://localhost")
    cookie = secure.headers["Set-Cookie"]
    assert cookie.startswith("__Host-codeb=") and "Secure" in cookie and "HttpOnly" in cookie


def test_security_headers(client):
    page = client.get("/signin", headers={"Host": HOST})
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.text
    assert not re.search(r"<[^>]+\son[a-z]+=", page.text), "inline event handler"
    https = client.get("/signin", headers={"Host": HOST}, base_url="https://localhost")
    assert "max-age" in https.headers["Strict-Transport-Security"]


def test_language_negotiation(client):
    german = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german.text and "Anmelden" in german.text
    english = client.get("/signin", headers={"Host": HOST, "Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.text


def test_language_switch_is_remembered_and_redirects_only_locally(client):
    page = client.get("/signin", headers={"Host": HOST})
    switched = client.post("/language", data={"csrf": csrf_of(page.text), "lang": "de", "next": "/signin"},
                           headers={"Host": HOST})
    assert switched.status_code == 303 and switched.headers["Location"] == "/signin"
    assert '<html lang="de">' in client.get("/signin", headers={"Host": HOST}).text
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/language", data={"csrf": csrf_of(page.text), "lang": "en", "next": target},
                               headers={"Host": HOST})
        assert response.headers["Location"] == "/signin"


def test_link_mail_in_the_persons_language(client, mailbox):
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"})
    client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "anna@example.de"},
                headers={"Host": HOST, "Accept-Language": "de"})
    mail = mailbox.last()
    assert mail.message["Subject"].startswith("Ihr Anmeldelink")
    assert "verfallen nach 5 Minuten" in mail.text
    assert mail.message["Content-Language"] == "de"


@pytest.mark.parametrize("path", ["/nope", "/static/../codeb/__init__.py", "/link/"])
def test_unknown_paths_are_plain_not_found_pages(client, path):
    response = client.get(path, headers={"Host": HOST})
    assert response.status_code in (404, 400) and "Traceback" not in response.text


@pytest.mark.parametrize("email", ["=?utf-8?q?victim=40evil.example=3E=2C?=@example.com",
                                   "=?utf-8?q?a=0D=0Abcc=3Ax?=@example.com"])
def test_encoded_words_are_refused_at_the_form_and_nothing_is_mailed(client, mailbox, email):
    """Finding 12: an RFC 2047 encoded word (or an encoded CR/LF) in the local part is refused
    with the form's clear message; no mail is written."""
    response = request_link(client, email)
    assert response.status_code == 400
    assert "valid email address" in response.text and 'aria-invalid="true"' in response.text
    assert mailbox.files() == []


@pytest.mark.parametrize("lang, text", [("en", "before the @"), ("de", "vor dem @")])
def test_a_non_ascii_address_is_a_clear_400_in_the_persons_language(client, mailbox, lang, text):
    """Finding 13: a non-ASCII local part gave 500; internationalised addresses are not
    supported, and the message says so in the person's language."""
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": lang})
    response = client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "jörg@example.com"},
                           headers={"Host": HOST, "Accept-Language": lang})
    assert response.status_code == 400 and text in response.text
    assert mailbox.files() == []
