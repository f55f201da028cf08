"""The first sign-in's steps: Profile, then Passkey (or Passkey, then Profile, when the person
chose "Create an account with a passkey" or a passkey is the only way in), with a step
indicator, one primary action per step, and no account navigation until they are done.

The display name starts empty and is required, unless an admin gave one with the invitation;
a typed passkey name is checked before the ceremony and saved with the passkey."""

import re

import pytest

from codeb.accounts.authenticators import name_of
from tests.http.test_signup import link_path, register_passkey, sign_up
from tests.support.web import (
    HOST,
    LINK_STEP,
    configure_signin,
    confirm_first_profile,
    csrf_of,
    field_error,
    main_of,
    sign_in,
    use_link,
)


def header_of(html):
    return html[html.index("<header"):html.index("</header>")]


def steps_of(html):
    """The step indicator as [(name, state, current)], in page order."""
    return [(name, state, "aria-current" in tag) for tag, name, state in re.findall(
        r'(<li id="step-(\w+)" data-state="(\w+)"[^>]*>)', html)]


def start(client, mailbox, email="newbie@example.com"):
    done = sign_in(client, mailbox, email, confirm_profile=False)
    assert done.headers["Location"] == "/welcome"
    return client.get("/welcome", headers={"Host": HOST})


def display_name_field(html):
    return re.search(r'<input[^>]*id="display_name"[^>]*>', html).group(0)


def test_the_profile_step_starts_empty_and_required_with_its_step_and_no_account_navigation(client, mailbox):
    page = start(client, mailbox)
    field = display_name_field(page.text)
    assert 'value=""' in field and " required" in field  # not "newbie", the email's local part
    assert steps_of(page.text) == [("profile", "current", True), ("passkey", "next", False)]
    assert 'aria-current="step"' in page.text and '<ol class="steps"' in page.text
    header = header_of(page.text)
    assert 'href="/account"' not in header  # no account navigation until the steps are done
    assert 'action="/signout"' in header  # a person at the wrong account can still leave
    assert 'href="/account' not in main_of(page.text)
    assert main_of(page.text).count('class="primary"') == 1  # one primary action: continue
    assert "passkey-create" not in page.text  # the passkey is the next step, not a second form here


@pytest.mark.parametrize("lang, words", [("en", "display name of 1 to 100"), ("de", "Anzeigenamen")])
def test_an_empty_display_name_is_the_fields_clear_error_and_confirms_nothing(client, mailbox, accounts, lang, words):
    start(client, mailbox)
    accounts.set_language(accounts.find_by_email("newbie@example.com").login, lang, ["en", "de"])
    refused = confirm_first_profile(client, passkey_step=None, display_name=" ", language=lang)
    assert refused.status_code == 400
    assert words in field_error(refused.text, "display_name")
    account = accounts.find_by_email("newbie@example.com")
    assert not account.profile_confirmed and account.doc.get("display_name") is None
    assert client.get("/account", headers={"Host": HOST}).status_code == 200  # signed in all the same


def test_the_profile_step_needs_its_csrf_token(client, mailbox, accounts):
    start(client, mailbox)
    forged = client.post("/welcome", data={"display_name": "Mallory", "language": "en"}, headers={"Host": HOST})
    assert forged.status_code == 400
    assert not accounts.find_by_email("newbie@example.com").profile_confirmed


def test_the_name_an_admin_gave_with_the_invitation_is_the_start(app, mailbox, accounts):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    admin = app.test_client()
    sign_in(admin, mailbox, "boss@example.com")
    page = admin.get("/admin/users", headers={"Host": HOST})
    admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "carol@example.com",
                                     "display_name": "Carol Cruz"}, headers={"Host": HOST})
    carol = app.test_client()
    path = "/link/" + mailbox.last_link(to="carol@example.com").split("/link/", 1)[1]
    button = carol.get(path, headers={"Host": HOST})
    done = carol.post(LINK_STEP, data={"csrf": csrf_of(button.text), "link": path[6:]}, headers={"Host": HOST})
    assert done.headers["Location"] == "/welcome"
    welcome = carol.get("/welcome", headers={"Host": HOST}).text
    assert 'value="Carol Cruz"' in display_name_field(welcome)


def test_after_the_profile_the_passkey_step_then_on_to_where_the_sign_in_was_going(client, mailbox, accounts):
    start(client, mailbox)
    confirmed = confirm_first_profile(client, passkey_step=None, display_name="Nora New")
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/welcome/passkey"
    assert accounts.find_by_email("newbie@example.com").display_name == "Nora New"
    page = client.get("/welcome/passkey", headers={"Host": HOST}).text
    assert steps_of(page) == [("profile", "done", False), ("passkey", "current", True)]
    assert 'href="/account"' not in header_of(page)
    assert main_of(page).count('class="primary"') == 1 and 'id="skip-passkey"' in page
    skipped = client.get("/welcome/continue", headers={"Host": HOST})
    assert skipped.headers["Location"] == "/office.html"
    # Done: the passkey page is an ordinary offer now, with the account navigation back.
    later = client.get("/welcome/passkey", headers={"Host": HOST}).text
    assert steps_of(later) == [] and 'href="/account"' in header_of(later)


def test_without_passkeys_the_profile_is_the_only_step(client, mailbox, demo):
    configure_signin(demo, methods=["magic_link"])
    page = start(client, mailbox)
    assert steps_of(page.text) == []
    confirmed = confirm_first_profile(client, passkey_step=None, display_name="Nora")
    assert confirmed.headers["Location"] == "/office.html"


def test_a_passkey_first_sign_up_shows_passkey_then_profile(client, demo, mailbox):
    configure_signin(demo, methods=["passkey"], policy="open")
    sign_up(client, "nina@example.com")
    use_link(client, link_path(mailbox, "nina@example.com"))
    page = client.get("/welcome/passkey", headers={"Host": HOST}).text
    assert steps_of(page) == [("passkey", "current", True), ("profile", "next", False)]
    assert 'href="/account"' not in header_of(page)
    register_passkey(client, "/welcome/passkey", name="Phone")
    welcome = client.get("/welcome", headers={"Host": HOST}).text
    assert steps_of(welcome) == [("passkey", "done", False), ("profile", "current", True)]


# -- the typed passkey name ----------------------------------------------------------------

def in_passkey_step(client, mailbox):
    start(client, mailbox)
    assert confirm_first_profile(client, passkey_step=None, display_name="Nora").headers["Location"] == \
        "/welcome/passkey"


def test_a_typed_name_is_saved_with_the_passkey(client, mailbox, accounts):
    in_passkey_step(client, mailbox)
    _, added = register_passkey(client, "/welcome/passkey", name="  Work   laptop ")
    assert added.json["passkey"]["name"] == "Work laptop" and added.json["redirect"] == "/office.html"
    [stored] = accounts.find_by_email("newbie@example.com").doc["passkeys"]
    assert stored["name"] == "Work laptop"


def test_no_typed_name_takes_the_authenticators_name(client, mailbox, accounts):
    in_passkey_step(client, mailbox)
    _, added = register_passkey(client, "/welcome/passkey", name="")
    [stored] = accounts.find_by_email("newbie@example.com").doc["passkeys"]
    assert stored["name"] == (name_of(stored["aaguid"]) or "") == added.json["passkey"]["name"]


@pytest.mark.parametrize("name", ["x" * 61, "\x07\x08", ["Laptop"], 7])
@pytest.mark.parametrize("lang, words", [("en", "at most 60 characters"), ("de", "höchstens 60 Zeichen")])
def test_a_name_that_cannot_be_saved_is_said_before_the_ceremony(client, mailbox, accounts, name, lang, words):
    in_passkey_step(client, mailbox)
    accounts.set_language(accounts.find_by_email("newbie@example.com").login, lang, ["en", "de"])
    token = csrf_of(client.get("/welcome/passkey", headers={"Host": HOST}).text)
    refused = client.post("/account/passkeys/options", json={"name": name},
                          headers={"Host": HOST, "X-CSRF-Token": token})
    assert refused.status_code == 400
    assert refused.json["error"] == "error.passkey_name" and words in refused.json["message"]
    assert not accounts.find_by_email("newbie@example.com").has_passkeys
