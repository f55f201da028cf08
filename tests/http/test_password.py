"""The optional password over HTTP: only when allowed, never in plaintext anywhere."""

import logging
import os

import pytest

from codeb.accounts import passwords
from tests.support.web import HOST, csrf_of, field_error, sign_in

PLAINTEXT = "Kettle-Orbit-Lantern-42"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)
    monkeypatch.setattr(passwords, "DUMMY", {**passwords.DUMMY, "iterations": 1000})


def allow_password(demo, allowed=True):
    with demo.store.update("tenant") as doc:
        methods = [m for m in doc["methods"] if m != "password"]
        doc["methods"] = methods + (["password"] if allowed else [])


def set_password(client, new=PLAINTEXT, repeat=None, current=None):
    page = client.get("/account/sign-in", headers={"Host": HOST})
    data = {"csrf": csrf_of(page.text), "new": new, "repeat": new if repeat is None else repeat}
    if current is not None:
        data["current"] = current
    return client.post("/account/password", data=data, headers={"Host": HOST})


def password_sign_in(client, email="alice@example.com", password=PLAINTEXT):
    page = client.get("/signin", headers={"Host": HOST})
    return client.post("/signin/password/complete", data={"csrf": csrf_of(page.text), "email": email,
                                                  "password": password}, headers={"Host": HOST})


def test_no_password_anywhere_until_an_admin_allows_it(client, app, mailbox, demo):
    assert 'type="password"' not in client.get("/signin", headers={"Host": HOST}).text
    assert 'value="password"' not in client.get("/signin", headers={"Host": HOST}).text
    sign_in(client, mailbox, "alice@example.com")
    assert "Password (optional)" not in client.get("/account/sign-in", headers={"Host": HOST}).text
    assert set_password(client).status_code == 400
    allow_password(demo)
    # Identifier first: the email form offers the password as its other choice, which asks for it.
    visitor = app.test_client()
    page = visitor.get("/signin", headers={"Host": HOST})
    assert 'id="choose-password"' in page.text
    step = visitor.post("/signin/continue", data={"csrf": csrf_of(page.text), "email": "alice@example.com",
                                                  "method": "password"}, headers={"Host": HOST})
    assert step.status_code == 200 and 'type="password"' in step.text


def test_set_then_sign_in_and_plaintext_is_nowhere(client, app, mailbox, demo, data_root, caplog):
    caplog.set_level(logging.DEBUG)
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    assert set_password(client).status_code == 303
    fresh = app.test_client()
    assert password_sign_in(fresh).status_code == 303
    for folder, _, files in os.walk(data_root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                assert PLAINTEXT.encode() not in f.read(), os.path.join(folder, name)
    assert PLAINTEXT not in caplog.text


def test_changing_needs_the_current_password_and_matching_repeats(client, mailbox, demo):
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    set_password(client)
    assert "current password is not right" in set_password(client, new="Another-Fine-Phrase-7", current="nope").text
    assert "not the same" in set_password(client, new="Another-Fine-Phrase-7", repeat="x",
                                          current=PLAINTEXT).text
    assert "at least 12" in set_password(client, new="short", current=PLAINTEXT).text
    assert set_password(client, new="Another-Fine-Phrase-7", current=PLAINTEXT).status_code == 303


def test_disabling_the_option_stops_password_sign_in_but_keeps_the_account(client, app, mailbox, demo,
                                                                          accounts):
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    set_password(client)
    allow_password(demo, False)
    assert password_sign_in(app.test_client()).status_code == 400
    assert accounts.find_by_email("alice@example.com").doc["password"]  # nothing deleted
    allow_password(demo)
    assert password_sign_in(app.test_client()).status_code == 303


def test_wrong_password_message_never_says_whether_the_account_exists(app, mailbox, demo, client):
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    set_password(client)
    known = password_sign_in(app.test_client(), password="Wrong-Password-123")
    unknown = password_sign_in(app.test_client(), email="ghost@example.com", password="Wrong-Password-123")
    assert known.status_code == unknown.status_code == 400
    assert "email address or password is not right" in known.text
    assert "email address or password is not right" in unknown.text


def test_setting_or_removing_the_password_needs_a_recent_sign_in(client, mailbox, demo, accounts, clock):
    """Finding 15: any session, however old, could set or remove the password. Now an old session
    is sent to confirm it is the person and nothing changes; a fresh sign-in returns to the
    account page, and then the change goes through."""
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    clock.advance(11 * 60)
    refused = set_password(client)
    assert refused.status_code == 303 and refused.headers["Location"] == "/account/confirm"
    assert not accounts.find_by_email("alice@example.com").has_password
    confirm = client.get("/account/confirm", headers={"Host": HOST})
    assert confirm.status_code == 200 and "Confirm it" in confirm.text and "/signin" in confirm.text
    again = sign_in(client, mailbox, "alice@example.com")
    assert again.status_code == 303 and again.headers["Location"] == "/account/sign-in"
    assert set_password(client).headers["Location"] == "/account/sign-in?m=password_saved"
    assert accounts.find_by_email("alice@example.com").has_password
    clock.advance(11 * 60)
    page = client.get("/account/sign-in", headers={"Host": HOST})
    refused = client.post("/account/password/remove", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert refused.status_code == 303 and refused.headers["Location"] == "/account/confirm"
    assert accounts.find_by_email("alice@example.com").has_password
    sign_in(client, mailbox, "alice@example.com")
    page = client.get("/account/sign-in", headers={"Host": HOST})
    removed = client.post("/account/password/remove", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert removed.headers["Location"] == "/account/sign-in?m=password_removed"
    assert not accounts.find_by_email("alice@example.com").has_password


def test_a_refused_password_marks_the_field_it_is_about(client, mailbox, demo):
    """Finding 22: the password form's error stands beside the field it is about."""
    allow_password(demo)
    sign_in(client, mailbox, "alice@example.com")
    mismatch = set_password(client, repeat="Kettle-Orbit-Lantern-43")
    assert mismatch.status_code == 400 and field_error(mismatch.text, "repeat-password")
    assert field_error(mismatch.text, "new-password") is None
    short = set_password(client, new="short")
    assert "at least 12" in field_error(short.text, "new-password")
    assert PLAINTEXT not in mismatch.text  # a password is never sent back into the page
