"""App passwords in account settings (Devices) and the admin's user page: created after a recent
sign-in and shown once, listed, revoked, capped, forbidden by the admin, ended by "sign out
everywhere" when chosen, removed with the account, and never a way into the web sign-in."""

import html
import os
import re

import pytest

from codeb import audit
from codeb.accounts import app_passwords, passwords
from codeb.store import layout
from tests.http.test_german_pages import assert_german
from tests.support.web import HOST, csrf_of, field_error, sign_in

SECRET = re.compile(r'<code class="wrap-anywhere" id="app-password-secret">([a-z0-9-]+)</code>')


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)
    monkeypatch.setattr(passwords, "DUMMY", {**passwords.DUMMY, "iterations": 1000})


@pytest.fixture
def alice(client, mailbox, accounts):
    sign_in(client, mailbox, "alice@example.com")
    return accounts.find_by_email("alice@example.com").login


def devices(client):
    return client.get("/account/devices", headers={"Host": HOST})


def create(client, name="Gajim on the laptop", purposes=("xmpp", "sip"), csrf=None):
    token = csrf if csrf is not None else csrf_of(devices(client).text)
    return client.post("/account/app-passwords", data={"csrf": token, "name": name, "purposes": list(purposes)},
                       headers={"Host": HOST})


def secret_of(page) -> str:
    found = SECRET.search(page.text)
    assert found, page.text
    return found.group(1)


def forbid(demo, forbidden=True):
    with demo.store.update(layout.TENANT) as doc:
        doc["app_passwords"] = {"enabled": not forbidden}


def events(demo, kind):
    return [e for e in audit.read_all(demo.store) if e["event"] == kind]


def test_created_it_is_shown_once_and_never_again(client, alice, accounts, data_root, demo):
    made = create(client)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = secret_of(made)
    assert app_passwords.canonical(secret) == secret
    assert "shown only this once" in made.text and f"<code>{alice}</code>" in made.text
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp")
    # Not on the page again, nor anywhere on disk, nor in the audit log.
    again = devices(client)
    assert secret not in again.text and "Gajim on the laptop" in again.text
    for folder, _, files in os.walk(data_root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                content = f.read()
            assert secret.encode() not in content and secret.replace("-", "").encode() not in content, name
    created = events(demo, "app_password.created")
    assert created[-1]["login"] == alice and created[-1]["purposes"] == ["xmpp", "sip"]


def test_listed_with_name_purpose_created_and_last_use(client, alice, accounts):
    secret = secret_of(create(client, name="Conversations", purposes=("xmpp",)))
    page = devices(client)
    listing = page.text[page.text.index('id="app-password-list"'):]
    assert "Conversations" in listing and "Chat (XMPP)" in listing and "Phone (SIP)" not in listing.split("</ul>")[0]
    assert "Not used yet" in listing
    app_passwords.verify(accounts, alice, secret, purpose="xmpp")
    assert "Not used yet" not in devices(client).text.split('id="app-password-list"')[1].split("</ul>")[0]


def test_revoked_one_by_one(client, alice, accounts, demo):
    first = secret_of(create(client, name="Phone", purposes=("sip",)))
    second = secret_of(create(client, name="Desk phone", purposes=("sip",)))
    phone = next(a for a in app_passwords.listed(accounts.require(alice)) if a.name == "Phone")
    page = devices(client)
    assert f'id="revoke-{phone.id}"' in page.text
    revoked = client.post("/account/app-passwords/revoke", data={"csrf": csrf_of(page.text), "id": phone.id},
                          headers={"Host": HOST})
    assert revoked.status_code == 303 and revoked.headers["Location"] == "/account/devices?m=app_password_revoked"
    assert app_passwords.verify(accounts, alice, first, purpose="sip") is None
    assert app_passwords.verify(accounts, alice, second, purpose="sip")
    assert events(demo, "app_password.revoked")[-1]["name"] == "Phone"
    unknown = client.post("/account/app-passwords/revoke", data={"csrf": csrf_of(page.text), "id": phone.id},
                          headers={"Host": HOST})
    assert unknown.status_code == 400 and "does not exist" in unknown.text


@pytest.mark.parametrize(("name", "purposes", "field", "text"), [
    ("", ("xmpp",), "app-password-name", "Give the app password a name."),
    ("x" * 61, ("xmpp",), "app-password-name", "at most 60 characters"),
    ("Gajim", (), "purpose-xmpp", "Choose what the app password is for"),
    ("Gajim", ("web",), "purpose-xmpp", "Choose what the app password is for"),
])
def test_bad_input_is_a_message_beside_its_field(client, alice, accounts, name, purposes, field, text):
    refused = create(client, name=name, purposes=purposes)
    assert refused.status_code == 400
    assert text in html.unescape(field_error(refused.text, field) or "")
    assert accounts.require(alice).app_passwords == []


def test_capped_per_account_with_a_clear_message(client, alice, accounts):
    for n in range(app_passwords.MAX_PER_ACCOUNT):
        assert create(client, name=f"Device {n}").status_code == 200
    page = devices(client)
    assert 'id="app-password-form"' not in page.text and 'id="app-password-limit"' in page.text
    refused = create(client, name="One more", csrf=csrf_of(page.text))
    assert refused.status_code == 409 and "limit of 10 app passwords" in refused.text
    assert len(accounts.require(alice).app_passwords) == app_passwords.MAX_PER_ACCOUNT


def test_creating_needs_a_recent_sign_in(client, mailbox, alice, accounts, clock):
    clock.advance(11 * 60)
    asked = create(client)
    assert asked.status_code == 303 and asked.headers["Location"] == "/account/confirm"
    assert accounts.require(alice).app_passwords == []
    again = sign_in(client, mailbox, "alice@example.com")
    assert again.headers["Location"] == "/account/devices"  # back where it was asked
    assert create(client).status_code == 200 and len(accounts.require(alice).app_passwords) == 1


def test_without_the_csrf_token_nothing_changes(client, alice, accounts):
    assert create(client, csrf="forged").status_code == 400
    assert accounts.require(alice).app_passwords == []
    secret_of(create(client))
    only = app_passwords.listed(accounts.require(alice))[0]
    refused = client.post("/account/app-passwords/revoke", data={"csrf": "forged", "id": only.id},
                          headers={"Host": HOST})
    assert refused.status_code == 400 and len(accounts.require(alice).app_passwords) == 1


def test_signed_out_nobody_creates_one(app):
    visitor = app.test_client()
    page = visitor.get("/signin", headers={"Host": HOST})
    response = visitor.post("/account/app-passwords", data={"csrf": csrf_of(page.text), "name": "x",
                                                            "purposes": "xmpp"}, headers={"Host": HOST})
    assert response.status_code == 303 and response.headers["Location"] == "/signin"


def test_never_a_way_into_the_web_password_sign_in_or_the_token_endpoint(client, app, alice, accounts, demo, rp):
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = [*doc["methods"], "password"]
    secret = secret_of(create(client))
    visitor = app.test_client()
    page = visitor.get("/signin", headers={"Host": HOST})
    typed = visitor.post("/signin/password/complete", data={"csrf": csrf_of(page.text), "email": "alice@example.com",
                                                           "password": secret}, headers={"Host": HOST})
    assert typed.status_code == 400 and "email address or password is not right" in typed.text
    assert visitor.get("/account", headers={"Host": HOST}).headers["Location"] == "/signin"
    token = visitor.post("/token", data={"grant_type": "password", "username": alice, "password": secret},
                         auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert token.status_code == 400 and token.json["error"] == "unsupported_grant_type"


def test_sign_out_everywhere_asks_whether_to_end_app_passwords(client, mailbox, alice, accounts, clock):
    secret = secret_of(create(client))
    page = devices(client)
    assert 'id="end-app-passwords"' in page.text and "Also revoke my app password" in page.text
    client.post("/account/sessions/end-all", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp")  # not chosen: kept
    clock.advance(1)  # a session of the cut-off's second counts as before it
    sign_in(client, mailbox, "alice@example.com")
    page = devices(client)
    ended = client.post("/account/sessions/end-all", data={"csrf": csrf_of(page.text), "app_passwords": "1"},
                        headers={"Host": HOST})
    assert ended.status_code == 303
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp") is None
    assert accounts.require(alice).app_passwords == []


def test_removed_with_the_account(client, alice, accounts):
    secret = secret_of(create(client))
    page = client.get("/account/delete", headers={"Host": HOST})
    deleted = client.post("/account/delete", data={"csrf": csrf_of(page.text), "confirm": "1"}, headers={"Host": HOST})
    assert deleted.status_code == 303
    assert accounts.get(alice) is None
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp") is None
    assert app_passwords.digest_ha1(accounts, alice, "MD5") == []


def test_forbidden_by_the_admin(people, client, alice, accounts, demo):
    secret = secret_of(create(client))
    admin = people["admin"]
    page = admin.get("/admin/settings", headers={"Host": HOST})
    assert 'id="app-passwords-allowed"' in page.text
    form = {"csrf": csrf_of(page.text), "methods": ["magic_link", "passkey"], "signup": "open",
            "user_verification": "required", "attestation": "none", "max_passkeys": "10",
            "ext_low": "600", "ext_high": "699", "app_passwords": "forbidden"}
    saved = admin.post("/admin/settings", data=form, headers={"Host": HOST})
    assert saved.status_code == 303, saved.text
    assert not app_passwords.allowed(demo.store)
    shown = devices(client)
    assert 'id="app-passwords-forbidden"' in shown.text and 'id="app-password-form"' not in shown.text
    refused = create(client, csrf=csrf_of(shown.text))
    assert refused.status_code == 403 and "turned app passwords off" in refused.text
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp") is None
    assert events(demo, "app_password.refused")
    bad = admin.post("/admin/settings", data={**form, "csrf": csrf_of(page.text), "app_passwords": "sometimes"},
                     headers={"Host": HOST})
    assert bad.status_code == 400 and "Choose whether app passwords are allowed" in bad.text
    allowed = admin.post("/admin/settings", data={**form, "app_passwords": "allowed"}, headers={"Host": HOST})
    assert allowed.status_code == 303
    assert app_passwords.verify(accounts, alice, secret, purpose="xmpp")


def test_the_admin_lists_and_revokes_a_persons_app_passwords(people, accounts, demo):
    bob = app_passwords.create(accounts, "bob", name="Linphone", purposes=["sip"], realm="localhost")
    created, secret = bob
    admin = people["admin"]
    tab = admin.get("/admin/users/bob?tab=app_passwords", headers={"Host": HOST})
    assert tab.status_code == 200 and "Linphone" in tab.text and "Phone (SIP)" in tab.text
    assert secret not in tab.text
    revoked = admin.post(f"/admin/users/bob/app-passwords/{created.id}/revoke", data={"csrf": csrf_of(tab.text)},
                         headers={"Host": HOST})
    assert revoked.status_code == 303 and "m=app_password_revoked" in revoked.headers["Location"]
    assert app_passwords.verify(accounts, "bob", secret, purpose="sip") is None
    event = events(demo, "app_password.revoked")[-1]
    assert event["actor"] == "boss" and event["login"] == "bob"
    again = admin.post(f"/admin/users/bob/app-passwords/{created.id}/revoke", data={"csrf": csrf_of(tab.text)},
                       headers={"Host": HOST})
    assert again.status_code == 404 and "does not exist" in again.text
    user = people["user"]
    own = csrf_of(user.get("/account/devices", headers={"Host": HOST}).text)
    assert user.post(f"/admin/users/bob/app-passwords/{created.id}/revoke", data={"csrf": own},
                     headers={"Host": HOST}).status_code == 403


def test_the_section_in_german(client, mailbox, accounts):
    sign_in(client, mailbox, "anna@example.de")
    login = accounts.find_by_email("anna@example.de").login
    with accounts.update(login) as doc:
        doc["language"] = "de"
    made = create(client, name="Gajim")
    assert "App-Passwort „Gajim“ erstellt" in made.text
    assert_german(made)
    assert_german(devices(client))
    refused = create(client, name="", purposes=())
    assert "Geben Sie dem App-Passwort einen Namen." in refused.text
    assert_german(refused)
