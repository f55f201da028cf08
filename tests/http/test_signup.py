"""The sign-in page built from the enabled methods and the sign-up policy; sign-up as its own step.

Sign-up proves the email with a one-time sign-up link (its own link kind), which
works whether or not magic-link sign-in is on; "Create an account with a
passkey" runs the passkey ceremony right after the link, then the profile. A
sent mail is answered with a redirect to a GET page, so a reload sends nothing.
"""

import re
from urllib.parse import urlsplit

import pytest

from codeb.invites import invite_account
from codeb.notify.mail import mailer_for
from tests.support.authenticator import SoftAuthenticator
from tests.support.web import HOST, LINK_STEP, configure_signin, confirm_first_profile, csrf_of, main_of, use_link

ORIGIN = "http://localhost"
METHOD_SETS = {
    "passkey": ["passkey"],
    "link": ["magic_link"],
    "passkey+link": ["passkey", "magic_link"],
    "all": ["passkey", "magic_link", "password"],
}


def sign_up(client, email, host=HOST, **extra):
    page = client.get("/signin", headers={"Host": host})
    return client.post("/signup", data={"csrf": csrf_of(page.text), "email": email, **extra},
                       headers={"Host": host})


def link_path(mailbox, email):
    return urlsplit(mailbox.last_link(to=email)).path


def post_json(client, path, body, token):
    return client.post(path, json=body, headers={"Host": HOST, "X-CSRF-Token": token})


def register_passkey(client, page_path, authenticator=None, **body):
    """Run the registration ceremony from `page_path`'s control with a software authenticator."""
    token = csrf_of(client.get(page_path, headers={"Host": HOST}).text)
    authenticator = authenticator or SoftAuthenticator(ORIGIN)
    options = post_json(client, "/account/passkeys/options", {}, token)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json["publicKey"])
    added = post_json(client, "/account/passkeys/verify",
                      {"challenge_id": options.json["challenge_id"], "credential": credential, **body}, token)
    assert added.status_code == 200, added.text
    return authenticator, added


# -- the page, per (methods × policy) ------------------------------------------------

@pytest.mark.parametrize("policy", ["open", "domains", "invite"])
@pytest.mark.parametrize("methods", list(METHOD_SETS))
def test_sign_in_page_shows_the_enabled_methods_and_the_sign_up_policy(client, demo, methods, policy):
    """Finding 23: the page has only the enabled methods' parts, a divider only between two
    parts, and a sign-up call-to-action only where the policy allows sign-up, with texts that
    match what will happen."""
    chosen = METHOD_SETS[methods]
    configure_signin(demo, methods=chosen, policy=policy, domains=["example.com"])
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert ("passkey-button" in html) == ("passkey" in chosen)
    # Identifier first: one email form whose "Continue" leads to a mailed link or the password.
    assert ('action="/signin/continue"' in html) == ("magic_link" in chosen or "password" in chosen)
    assert ('id="link-hint"' in html or 'id="choose-magic-link"' in html) == ("magic_link" in chosen)
    assert ("signin.password_next" not in html)
    assert ('id="choose-password"' in html or "enter your password" in html) == ("password" in chosen)
    # "or use your email address" only where an email part follows the passkey button.
    assert ('class="divider"' in html) == ("passkey" in chosen and len(chosen) > 1)
    assert "The same link creates your account" not in html
    signup_form = 'action="/signup"' in html
    assert signup_form == (policy != "invite")
    assert ("Accounts here are by invitation" in html) == (policy == "invite")
    if signup_form:
        button = re.search(r'<button[^>]*id="signup-button"[^>]*>([^<]*)</button>', html).group(1)
        assert button == ("Create an account with a passkey" if "passkey" in chosen else "Create an account")
    assert ("example.com" in html) == (policy == "domains")
    # A refused passkey points to the email address only where an email method is there.
    if "passkey" in chosen:
        message = re.search(r'data-msg-cancelled="([^"]*)"', html).group(1)
        assert ("email address" in message) == (len(chosen) > 1)


def test_sign_in_page_in_german_for_a_passkey_only_invite_tenant(client, demo):
    """Finding 23: the invitation note and no dangling divider, in German too."""
    configure_signin(demo, methods=["passkey"], policy="invite")
    html = main_of(client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"}).text)
    assert "Konten gibt es hier nur auf Einladung" in html
    assert 'class="divider"' not in html and 'action="/signup"' not in html


# -- sign-up with a passkey on a passkey-only tenant ----------------------------------------

def test_passkey_only_tenant_signs_up_by_email_link_then_passkey_then_profile(client, app, demo, mailbox,
                                                                           accounts):
    """Finding 23: on a passkey-only open tenant a new person signs up with their email; the
    sign-up link creates the account and leads to the passkey ceremony, which cannot be
    skipped, then to the profile, then into the office shell; later the passkey signs in."""
    configure_signin(demo, methods=["passkey"], policy="open")
    sent = sign_up(client, "nina@example.com")
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"
    assert accounts.find_by_email("nina@example.com") is None  # nothing until the link is used
    path = link_path(mailbox, "nina@example.com")
    assert "create your account" in mailbox.last().text
    done = use_link(client, path)
    assert done.status_code == 303 and done.headers["Location"] == "/welcome/passkey"
    account = accounts.find_by_email("nina@example.com")
    assert account is not None and account.email_verified and not account.has_passkeys

    # Mandatory here: no way to skip it, and the profile screen waits for it.
    page = client.get("/welcome/passkey", headers={"Host": HOST})
    assert page.status_code == 200 and 'id="skip-passkey"' not in page.text
    assert "the only way to sign in here" in page.text
    assert "email address" not in re.search(r'data-msg-failed="([^"]*)"', page.text).group(1)
    assert client.get("/welcome/continue", headers={"Host": HOST}).headers["Location"] == "/welcome/passkey"
    assert client.get("/welcome", headers={"Host": HOST}).headers["Location"] == "/welcome/passkey"

    authenticator, added = register_passkey(client, "/welcome/passkey", name="Phone")
    assert added.json["redirect"] == "/welcome"  # then the profile
    confirmed = confirm_first_profile(client, display_name="Nina")
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/office.html"

    # Another browser: the passkey alone signs in.
    other = app.test_client()
    token = csrf_of(other.get("/signin", headers={"Host": HOST}).text)
    options = post_json(other, "/signin/passkey/begin", {}, token)
    assertion = authenticator.get(options.json["publicKey"])
    result = post_json(other, "/signin/passkey/complete",
                       {"challenge_id": options.json["challenge_id"], "credential": assertion}, token)
    assert result.status_code == 200 and result.json["redirect"] == "/office.html"


def test_sign_up_with_passkey_where_links_are_on_offers_the_passkey_first_and_can_skip(client, demo,
                                                                                   mailbox, accounts):
    """Finding 23: "Create an account with a passkey" really leads to the passkey ceremony
    (offered first, skippable where a link can sign the person in again), then the profile."""
    configure_signin(demo, methods=["passkey", "magic_link"], policy="open")
    assert sign_up(client, "otto@example.com").status_code == 303
    done = use_link(client, link_path(mailbox, "otto@example.com"))
    assert done.headers["Location"] == "/welcome/passkey"
    page = client.get("/welcome/passkey", headers={"Host": HOST})
    assert 'id="skip-passkey"' in page.text
    assert client.get("/welcome/continue", headers={"Host": HOST}).headers["Location"] == "/welcome"
    assert confirm_first_profile(client).headers["Location"] == "/office.html"
    assert not accounts.find_by_email("otto@example.com").has_passkeys


def test_sign_up_without_passkeys_goes_straight_to_the_profile(client, demo, mailbox):
    """Finding 23: a link-only tenant's sign-up creates the account and shows the profile."""
    configure_signin(demo, methods=["magic_link"], policy="open")
    sign_up(client, "lena@example.com")
    assert use_link(client, link_path(mailbox, "lena@example.com")).headers["Location"] == "/welcome"


# -- enumeration-free, by policy --------------------------------------------------------

def test_sign_up_reply_is_the_same_for_known_unknown_and_refused_addresses(client, app, demo, accounts,
                                                                        mailbox):
    """Finding 23: the same reply whatever the address; the mail differs: a sign-up link, a
    sign-in link for an existing account (a link method is on), a note for a refused one."""
    configure_signin(demo, methods=["passkey", "magic_link"], policy="domains", domains=["example.com"])
    accounts.create(email="known@example.com")
    pages = []
    for email in ("known@example.com", "new@example.com", "stranger@elsewhere.example"):
        browser = app.test_client()
        sent = sign_up(browser, email)
        assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"
        assert email not in sent.headers["Location"]
        pages.append(main_of(browser.get("/signin/sent", headers={"Host": HOST}).text).replace(email, "X"))
    assert pages[0] == pages[1] == pages[2]
    known, new, stranger = mailbox.messages()[-3:]
    assert "/link/" in known.text and "sign in" in known.text.lower()
    assert "/link/s." in new.text and "create your account" in new.text
    assert "/link/" not in stranger.text and "invitation" in stranger.text


def test_sign_up_of_an_existing_account_without_a_link_method_mails_a_note(client, demo, accounts, mailbox):
    """Finding 23: on a passkey-only tenant an existing account gets no link, but a mail
    saying it already has an account."""
    configure_signin(demo, methods=["passkey"], policy="open")
    accounts.create(email="known@example.com")
    assert sign_up(client, "known@example.com").status_code == 303
    mail = mailbox.last()
    assert mail.link is None and "already have an account" in mail.text


def test_invite_only_tenant_refuses_the_sign_up_step(client, demo, mailbox, accounts):
    """Finding 23: with sign-up by invitation only, the sign-up step mails the note, creates
    nothing, and answers as for anyone."""
    configure_signin(demo, methods=["passkey", "magic_link"], policy="invite")
    sent = sign_up(client, "new@example.com")
    assert sent.status_code == 303
    assert "/link/" not in mailbox.last().text and accounts.find_by_email("new@example.com") is None


def test_sign_up_with_a_bad_address_shows_the_page_again_with_a_message(client, demo):
    """Finding 23: a bad address is a 400 with the message beside the sign-up field, in German too."""
    configure_signin(demo, methods=["passkey"], policy="open")
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"})
    response = client.post("/signup", data={"csrf": csrf_of(page.text), "email": "nope"},
                           headers={"Host": HOST, "Accept-Language": "de"})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert '<html lang="de">' in response.text


def test_sign_up_link_is_used_once(client, app, demo, mailbox):
    """Finding 23: the sign-up link is single-use."""
    configure_signin(demo, methods=["passkey"], policy="open")
    sign_up(client, "once@example.com")
    path = link_path(mailbox, "once@example.com")
    page = client.get(path, headers={"Host": HOST})
    token = csrf_of(page.text)
    assert client.post(LINK_STEP, data={"csrf": token, "link": path[6:]}, headers={"Host": HOST}).status_code == 303
    other = app.test_client()
    again = other.get(path, headers={"Host": HOST})
    assert again.status_code == 400 and "already used" in again.text
    # Without magic links, the page neither calls it a sign-in link nor promises a form below.
    assert "sign-in link" not in main_of(again.text) and "below" not in again.text
    assert 'href="/signin"' in again.text


# -- finding 21: a mail sent answers with a redirect to a GET page -----------------------

@pytest.mark.parametrize("path", ["/signin/magic-link/begin", "/signup"])
def test_sending_a_link_answers_303_and_a_reload_of_the_page_sends_nothing(client, mailbox, path):
    """Finding 21: the POST that mails a link answers 303 to a GET "check your mail" page that
    names the address from the session (not the URL); reloading it sends no second mail."""
    page = client.get("/signin", headers={"Host": HOST})
    sent = client.post(path, data={"csrf": csrf_of(page.text), "email": "reload@example.com"},
                       headers={"Host": HOST})
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"
    assert len(mailbox.messages()) == 1
    for _ in range(3):
        shown = client.get("/signin/sent", headers={"Host": HOST})
        assert shown.status_code == 200 and "reload@example.com" in shown.text
    assert len(mailbox.messages()) == 1


def test_check_your_mail_page_without_a_mail_sent_goes_to_the_sign_in_page(client):
    """Finding 21: the GET page shows only what this browser's session sent."""
    assert client.get("/signin/sent", headers={"Host": HOST}).headers["Location"] == "/signin"


# -- loose end: a magic sign-in link no longer completes once magic links are off -------------

def test_magic_sign_in_link_does_not_complete_after_magic_links_are_disabled(client, demo, accounts,
                                                                          mailbox):
    """Finding 23 (loose end): a mailed sign-in link is refused with a clear message once the
    admin switched magic links off; nothing is signed in or created."""
    page = client.get("/signin", headers={"Host": HOST})
    client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "late@example.com"},
                headers={"Host": HOST})
    path = link_path(mailbox, "late@example.com")
    configure_signin(demo, methods=["passkey"])
    opened = client.get(path, headers={"Host": HOST})
    assert opened.status_code == 400 and "Sign-in links are switched off" in opened.text
    assert 'action="/signin/magic-link/begin"' not in opened.text  # no form that cannot work
    posted = client.post(LINK_STEP, data={"csrf": csrf_of(opened.text), "link": path[6:]}, headers={"Host": HOST})
    assert posted.status_code == 400 and "Sign-in links are switched off" in posted.text
    assert accounts.find_by_email("late@example.com") is None
    german = client.post(LINK_STEP, data={"csrf": csrf_of(opened.text), "link": path[6:]},
                         headers={"Host": HOST, "Accept-Language": "de"})
    assert german.status_code == 400 and "Anmeldelinks sind hier abgeschaltet" in german.text


def test_invitation_and_sign_up_links_complete_while_magic_links_are_disabled(client, app, demo, accounts,
                                                                           mailbox, clock, monkeypatch):
    """Finding 23 (loose end): an admin's invitation and a sign-up link are their own kinds and
    still complete on a tenant without magic-link sign-in."""
    configure_signin(demo, methods=["passkey"], policy="open")
    invited = accounts.create(email="invited@example.com")
    monkeypatch.setattr(demo.store, "clock", clock)  # the link's age by the app's clock
    mailer = mailer_for(demo, data_root=app.config["CODEB_DATA"])
    invite_account(demo.store, mailer, base_url="http://localhost", account=invited, inviter="Admin",
                   language="en")
    done = use_link(client, link_path(mailbox, "invited@example.com"))
    assert done.status_code == 303 and done.headers["Location"] == "/welcome/passkey"
    other = app.test_client()
    sign_up(other, "fresh@example.com")
    assert use_link(other, link_path(mailbox, "fresh@example.com")).headers["Location"] == "/welcome/passkey"

