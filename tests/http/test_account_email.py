"""Verified "Change email": a link to the NEW address proves it, a notice goes to the OLD one,
the change happens when the same account posts the link's page; no enumeration of taken
addresses; the domain policy, a recent sign-in and rate limits apply."""

import re
from urllib.parse import urlsplit

import pytest

from codeb import audit
from tests.support.web import HOST, csrf_of, field_error, sign_in


def mails_to(mailbox, address):
    return [m for m in mailbox.messages() if m.message["To"] == address]


def change_link(mailbox, address):
    [mail] = [m for m in mails_to(mailbox, address) if "/account/email/" in m.text]
    return urlsplit(re.search(r"https?://\S+/account/email/\S+", mail.text).group(0)).path


def ask(client, email):
    token = csrf_of(client.get("/account", headers={"Host": HOST}).text)
    return client.post("/account/email", data={"csrf": token, "email": email}, headers={"Host": HOST})


def open_and_confirm(client, path):
    page = client.get(path, headers={"Host": HOST})
    assert page.status_code == 200, page.text
    link = re.search(r'name="link" value="([^"]+)"', page.text).group(1)
    return client.post("/account/email/confirm", data={"csrf": csrf_of(page.text), "link": link},
                       headers={"Host": HOST})


@pytest.fixture
def alice(client, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    return client


def test_the_change_happens_only_when_the_link_to_the_new_address_is_used(alice, mailbox, accounts, demo):
    login = accounts.find_by_email("alice@example.com").login
    asked = ask(alice, "alice.new@example.com")
    assert asked.status_code == 303 and asked.headers["Location"] == "/account?m=email_change_sent"
    assert accounts.get(login).email == "alice@example.com"  # nothing changed yet
    [notice] = mails_to(mailbox, "alice@example.com")[-1:]
    assert "alice.new@example.com" in notice.text and "/account/email/" not in notice.text
    path = change_link(mailbox, "alice.new@example.com")
    assert "alice.new@example.com" in alice.get(path, headers={"Host": HOST}).text
    assert accounts.get(login).email == "alice@example.com"  # opening (GET) changes nothing
    done = open_and_confirm(alice, path)
    assert done.status_code == 303 and done.headers["Location"] == "/account?m=email_changed"
    assert accounts.get(login).email == "alice.new@example.com" and accounts.get(login).doc["email_verified"]
    assert accounts.find_by_email("alice.new@example.com").login == login
    assert accounts.find_by_email("alice@example.com") is None
    assert "now uses alice.new@example.com" in mails_to(mailbox, "alice@example.com")[-1].text
    events = [e["event"] for e in audit.read_all(demo.store) if e.get("login") == login]
    assert "email.change_requested" in events and "email.changed" in events
    # A replayed link changes nothing more.
    again = alice.get(path, headers={"Host": HOST})
    assert again.status_code == 400 and "already used" in again.text


def test_a_taken_address_gets_the_same_answer_and_the_mail_says_it(alice, mailbox, accounts):
    accounts.create(email="bob@example.com", login="bob")
    asked = ask(alice, "bob@example.com")
    assert asked.status_code == 303 and asked.headers["Location"] == "/account?m=email_change_sent"
    [mail] = mails_to(mailbox, "bob@example.com")
    assert "already belongs to another account" in mail.text and "/account/email/" not in mail.text
    assert accounts.find_by_email("alice@example.com") is not None
    assert accounts.find_by_email("bob@example.com").login == "bob"


def test_another_account_cannot_use_the_link(alice, app, mailbox, accounts):
    asked = ask(alice, "alice.new@example.com")
    assert asked.status_code == 303
    path = change_link(mailbox, "alice.new@example.com")
    mallory = app.test_client()
    sign_in(mallory, mailbox, "mallory@example.com")
    refused = mallory.get(path, headers={"Host": HOST})
    assert refused.status_code == 403 and "another account" in refused.text
    link = path.rsplit("/", 1)[-1]
    token = csrf_of(mallory.get("/account", headers={"Host": HOST}).text)
    posted = mallory.post("/account/email/confirm", data={"csrf": token, "link": link}, headers={"Host": HOST})
    assert posted.status_code == 403
    assert accounts.find_by_email("mallory@example.com").email == "mallory@example.com"
    assert open_and_confirm(alice, path).status_code == 303  # still unspent for its own account


def test_an_expired_or_forged_link_is_refused(alice, mailbox, accounts, clock):
    ask(alice, "alice.new@example.com")
    path = change_link(mailbox, "alice.new@example.com")
    forged = alice.get(path[:-3] + "xyz", headers={"Host": HOST})
    assert forged.status_code == 400
    clock.advance(31 * 60)
    sign_in(alice, mailbox, "alice@example.com")
    expired = alice.get(path, headers={"Host": HOST})
    assert expired.status_code == 400 and "expired" in expired.text
    assert accounts.find_by_email("alice@example.com") is not None


def test_csrf_stale_sign_in_domain_policy_same_address_and_rate_limit(alice, mailbox, accounts, demo, clock):
    forged = alice.post("/account/email", data={"email": "x@example.com"}, headers={"Host": HOST})
    assert forged.status_code in (400, 403) and not mails_to(mailbox, "x@example.com")
    same = ask(alice, "Alice@Example.com")
    assert same.status_code == 400 and field_error(same.text, "email")
    with demo.store.update("tenant") as doc:
        doc["signup"] = {"policy": "domains", "domains": ["example.com"]}
    outside = ask(alice, "alice@elsewhere.test")
    assert outside.status_code == 400 and "example.com" in outside.text
    assert not mails_to(mailbox, "alice@elsewhere.test")
    for n in range(3):
        assert ask(alice, f"alice{n}@example.com").status_code == 303
    limited = ask(alice, "alice9@example.com")
    assert limited.status_code == 429 and not mails_to(mailbox, "alice9@example.com")
    clock.advance(11 * 60)
    stale = ask(alice, "alice8@example.com")
    assert stale.status_code == 303 and stale.headers["Location"] == "/account/confirm"
    assert accounts.find_by_email("alice@example.com") is not None


def test_change_email_in_german(alice, mailbox, accounts):
    with accounts.update(accounts.find_by_email("alice@example.com").login) as doc:
        doc["language"] = "de"
    assert "E-Mail-Adresse ändern" in alice.get("/account", headers={"Host": HOST}).text
    ask(alice, "alice.neu@example.com")
    assert "Bestätigen Sie Ihre neue E-Mail-Adresse" in mails_to(mailbox, "alice.neu@example.com")[0].message["Subject"]
    page = alice.get(change_link(mailbox, "alice.neu@example.com"), headers={"Host": HOST})
    assert "Neue E-Mail-Adresse bestätigen" in page.text


def test_a_link_opened_signed_out_comes_back_after_sign_in(alice, mailbox, accounts):
    ask(alice, "alice.new@example.com")
    path = change_link(mailbox, "alice.new@example.com")
    alice.post("/signout", data={"csrf": csrf_of(alice.get("/account", headers={"Host": HOST}).text)},
               headers={"Host": HOST})
    opened = alice.get(path, headers={"Host": HOST})
    assert opened.status_code == 303 and opened.headers["Location"] == "/signin"
    again = sign_in(alice, mailbox, "alice@example.com")
    assert again.headers["Location"] == path
    assert open_and_confirm(alice, path).status_code == 303
    assert accounts.find_by_email("alice.new@example.com") is not None
