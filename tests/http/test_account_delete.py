"""Self-service "Delete my account": a recent sign-in, a page that says what is erased, the
admin's erasure (account, passkeys, sessions, grants, files, the login remembered as deleted),
refused under legal hold and for the tenant's last administrator, audited, then signed out."""

import os

import pytest

from codeb import audit
from codeb.accounts import privacy
from tests.http.test_passkeys import enroll
from tests.support.web import HOST, add_recording, csrf_of, field_error, sign_in


def ask(client):
    return client.get("/account/delete", headers={"Host": HOST})


def delete(client, token, confirm="1"):
    return client.post("/account/delete", data={"csrf": token, "confirm": confirm}, headers={"Host": HOST})


def test_delete_my_account_erases_everything_and_signs_out_everywhere(client, app, mailbox, accounts, demo):
    enroll(client, mailbox, name="Laptop")
    phone = app.test_client()
    sign_in(phone, mailbox, "alice@example.com")
    account = accounts.find_by_email("alice@example.com")
    recordings = add_recording(demo, accounts, account.login)
    page = ask(client)
    assert page.status_code == 200 and 'id="section-privacy" aria-current="page"' in page.text
    for said in ("alice@example.com", "1 passkey:", "2 signed-in browsers and apps", "1 call recording",
                 "the apps&#39; access"):
        assert said in page.text, said
    done = delete(client, csrf_of(page.text))
    assert done.status_code == 303 and done.headers["Location"] == "/account/deleted"
    assert accounts.get(account.login) is None and accounts.find_by_email("alice@example.com") is None
    assert accounts.find_by_sub(account.sub) is None and accounts.was_deleted(account.login)
    assert not os.path.exists(recordings)
    said = client.get("/account/deleted", headers={"Host": HOST})
    assert said.status_code == 200 and "Your account was deleted" in said.text
    for browser in (client, phone):
        assert browser.get("/account", headers={"Host": HOST}).status_code == 303
    events = [e for e in audit.read_all(demo.store) if e.get("event") == "account.deleted_self"]
    assert [(e["login"], e["sub"]) for e in events] == [(account.login, account.sub)]


def test_the_page_and_the_deletion_need_a_recent_sign_in(client, mailbox, accounts, clock):
    sign_in(client, mailbox, "alice@example.com")
    token = csrf_of(client.get("/account/privacy", headers={"Host": HOST}).text)
    clock.advance(11 * 60)
    for response in (ask(client), delete(client, token)):
        assert response.status_code == 303 and response.headers["Location"] == "/account/confirm"
    assert accounts.find_by_email("alice@example.com") is not None
    again = sign_in(client, mailbox, "alice@example.com")
    assert again.headers["Location"] == "/account/delete"  # back where the person was going
    assert ask(client).status_code == 200


def test_without_the_token_or_the_tick_nothing_is_deleted(client, mailbox, accounts):
    sign_in(client, mailbox, "alice@example.com")
    page = ask(client)
    forged = client.post("/account/delete", data={"confirm": "1"}, headers={"Host": HOST})
    assert forged.status_code in (400, 403)
    unticked = delete(client, csrf_of(page.text), confirm="")
    assert unticked.status_code == 400 and field_error(unticked.text, "delete-confirm")
    assert accounts.find_by_email("alice@example.com") is not None


def test_a_legal_hold_refuses_the_deletion_with_a_clear_message(client, mailbox, accounts, demo):
    sign_in(client, mailbox, "alice@example.com")
    account = accounts.find_by_email("alice@example.com")
    recordings = add_recording(demo, accounts, account.login)
    privacy.hold(demo.store, account, by="boss")
    page = ask(client)
    assert "legal hold" in page.text and 'id="delete-form"' not in page.text
    refused = delete(client, csrf_of(page.text))
    assert refused.status_code == 409 and "legal hold" in refused.text
    assert accounts.get(account.login) is not None and os.path.exists(recordings)


@pytest.mark.parametrize("lang, text", [("en", "last administrator"), ("de", "letzte Administration")])
def test_the_last_admin_cannot_delete_themselves(client, mailbox, accounts, lang, text):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    sign_in(client, mailbox, "boss@example.com")
    with accounts.update("boss") as doc:
        doc["language"] = lang
    page = ask(client)
    assert text in page.text and 'id="delete-form"' not in page.text
    refused = delete(client, csrf_of(page.text))
    assert refused.status_code == 409 and text in refused.text and accounts.get("boss") is not None


def test_an_admin_with_another_admin_can_delete_themselves(client, mailbox, accounts):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    accounts.create(email="deputy@example.com", login="deputy", roles=["user", "admin"])
    sign_in(client, mailbox, "boss@example.com")
    assert delete(client, csrf_of(ask(client).text)).status_code == 303
    assert accounts.get("boss") is None and accounts.get("deputy").roles == ["admin", "user"]


def test_the_deletion_page_in_german(client, mailbox, accounts):
    sign_in(client, mailbox, "alice@example.com")
    with accounts.update(accounts.find_by_email("alice@example.com").login) as doc:
        doc["language"] = "de"
    page = ask(client)
    assert "Mein Konto löschen" in page.text and "lässt sich nicht rückgängig machen" in page.text
    assert "1 angemeldeter Browser oder App" in page.text
    assert "Mein Konto löschen…" in client.get("/account/privacy", headers={"Host": HOST}).text
