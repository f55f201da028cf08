"""Account settings over HTTP: profile, sessions, sign out everywhere, data export."""

import json
import re

import pytest

from tests.support.web import HOST, csrf_of, field_error, sign_in


@pytest.fixture
def alice(client, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    return client


def page(client):
    return client.get("/account", headers={"Host": HOST})


def devices(client):
    return client.get("/account/devices", headers={"Host": HOST})


def save_profile(client, **fields):
    data = {"csrf": csrf_of(page(client).text), "display_name": "Alice Example", "nickname": "",
            "language": "en", **fields}
    return client.post("/account/profile", data=data, headers={"Host": HOST})


def test_profile_changes_are_stored_and_shown(alice, accounts):
    assert save_profile(alice, display_name="Alice  Example", nickname="Ali", language="de").status_code == 303
    account = accounts.find_by_email("alice@example.com")
    assert (account.display_name, account.doc["nickname"], account.language) == ("Alice Example", "Ali", "de")
    assert '<html lang="de">' in page(alice).text  # the setting beats Accept-Language at once


@pytest.mark.parametrize("fields, message", [
    ({"display_name": ""}, "display name of 1 to 100"),
    ({"display_name": "x" * 101}, "display name of 1 to 100"),
    ({"display_name": "bad\x07bell"}, "display name of 1 to 100"),
    ({"nickname": "Sixteen chars!!!"}, "up to 15"),
    ({"nickname": 'Al"ice'}, "up to 15"),
    ({"nickname": "<script>"}, "up to 15"),
    ({"language": "xx"}, "not available"),
])
def test_bad_profile_input_is_refused_and_nothing_is_written(alice, accounts, fields, message):
    before = accounts.find_by_email("alice@example.com").doc
    response = save_profile(alice, **fields)
    assert response.status_code == 400 and message in response.text
    assert accounts.find_by_email("alice@example.com").doc == before


def listed_sessions(text):
    """(id, is_this_browser) for each line of the sessions list."""
    items = re.findall(r'<li class="session">(.*?)</li>', text, re.S)
    return [(re.search(r'name="id" value="([0-9a-f]{64})"', item).group(1), 'class="badge"' in item)
            for item in items]


def test_sessions_are_listed_and_can_be_ended_one_by_one(alice, app, mailbox):
    phone = app.test_client()
    sign_in(phone, mailbox, "alice@example.com")
    text = devices(alice).text
    sessions = listed_sessions(text)
    assert len(sessions) == 2 and sum(current for _, current in sessions) == 1
    other = next(sid for sid, current in sessions if not current)
    ended = alice.post("/account/sessions/end", data={"csrf": csrf_of(text), "id": other}, headers={"Host": HOST})
    assert ended.status_code == 303
    assert alice.get("/account", headers={"Host": HOST}).status_code == 200
    assert phone.get("/account", headers={"Host": HOST}).status_code == 303
    assert len(listed_sessions(devices(alice).text)) == 1


def test_times_on_the_account_page_are_local_and_in_the_persons_language(client, mailbox, clock, tenants):
    """Finding 26: session and passkey times are CLDR dates in the tenant's zone, not "UTC" strings."""
    clock.now = 1768519800.0  # 2026-01-15 23:30 UTC: 00:30 on the 16th in Berlin, the default zone
    sign_in(client, mailbox, "alice@example.com")
    english = devices(client).text
    assert "Jan 16, 2026" in english and "UTC" not in english and "2026-01-15" not in english
    save_profile(client, language="de")
    german = devices(client).text
    assert "16.01.2026, 00:30" in german
    with tenants.get("demo").store.update("tenant") as doc:
        doc["time_zone"] = "America/New_York"
    assert "15.01.2026, 18:30" in devices(client).text


def test_sign_out_everywhere(alice, app, mailbox):
    phone = app.test_client()
    sign_in(phone, mailbox, "alice@example.com")
    done = alice.post("/account/sessions/end-all", data={"csrf": csrf_of(page(alice).text)}, headers={"Host": HOST})
    assert done.status_code == 303
    for browser in (alice, phone):
        assert browser.get("/account", headers={"Host": HOST}).status_code == 303


def test_export_holds_the_account_and_no_secrets(alice):
    response = alice.get("/account/export", headers={"Host": HOST})
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    body = json.loads(response.data)
    assert body["account"]["email"] == "alice@example.com"
    assert any(e["event"] == "signin" for e in body["security_events"])
    raw = response.data.decode()
    assert "csrf" not in raw and "sessions_not_before" not in raw


def test_account_pages_need_a_signed_in_person(client):
    for path in ("/account", "/account/export"):
        assert client.get(path, headers={"Host": HOST}).status_code == 303


def secret_values(doc: dict) -> list[str]:
    """Every secret or verifier an account document holds (password hashes, SIP HA1,
    passkey public keys, the WebAuthn user handle, session ids). A credential id is not
    secret (the audit log names passkeys by it), so it is not in this list."""
    password = doc.get("password") or {}
    values = [password["pbkdf2"]["salt"], password["pbkdf2"]["hash"],
              password["sip"]["ha1_md5"], password["sip"]["ha1_sha256"]] if password else []
    for passkey in doc.get("passkeys", []):
        values.append(passkey["public_key"])
    values += [entry["id"] for entry in doc.get("sessions", [])]
    if doc.get("webauthn_user_id"):
        values.append(doc["webauthn_user_id"])
    return values


def give_secrets(accounts, login):
    """A password and a passkey, as the real code stores them."""
    from codeb.accounts import passwords
    record = passwords.hash_password("Kettle-Orbit-Lantern-42", login=login, realm="localhost", now=1_700_000_000)
    with accounts.update(login) as doc:
        doc["password"] = record
        doc["webauthn_user_id"] = "dXNlci1oYW5kbGUtb2YtYWxpY2U"
        doc["passkeys"] = [{"id": "Y3JlZGVudGlhbC1pZC1vZi1hbGljZQ", "public_key": "cHVibGljLWtleS1ieXRlcy1vZi1hbGljZQ",
                            "sign_count": 7, "aaguid": "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "fmt": "none",
                            "transports": ["internal"], "backup_eligible": True, "backed_up": True,
                            "user_verified": True, "name": "Laptop", "created": 1_700_000_100, "last_used": None}]


def test_export_contains_no_secret_or_verifier(alice, accounts):
    """Finding 3: the export held the PBKDF2 salt and hash and the SIP HA1 values; now it is built
    from an allow-list: no secret of the account document appears in its bytes, and it says only
    that a password is set, since when."""
    login = accounts.find_by_email("alice@example.com").login
    give_secrets(accounts, login)
    doc = accounts.get(login).doc
    secrets_ = secret_values(doc)
    assert len(secrets_) >= 7
    response = alice.get("/account/export", headers={"Host": HOST})
    assert response.status_code == 200
    for value in secrets_:
        assert value.encode() not in response.data, value
    body = json.loads(response.data)
    assert body["account"]["password"] == {"set": True, "since": 1_700_000_000}
    [passkey] = body["account"]["passkeys"]
    assert passkey["name"] == "Laptop" and passkey["created"] == 1_700_000_100 and passkey["last_used"] is None
    assert set(passkey) == {"name", "authenticator", "created", "last_used"}
    # A field nobody listed (a future secret) is not exported by accident.
    with accounts.update(login) as live:
        live["future_secret"] = "do-not-export-this-value"
    assert b"do-not-export-this-value" not in alice.get("/account/export", headers={"Host": HOST}).data


def test_a_refused_profile_marks_its_field_and_keeps_the_input(alice):
    """Finding 22: on the account page the error stood at the top, the field was not marked and
    did not get focus. Now the message sits beside the field, which is marked (aria-invalid,
    aria-describedby) and focused, and what was typed stays."""
    response = save_profile(alice, display_name="Alice Typed", nickname="Sixteen chars!!!")
    assert response.status_code == 400
    assert "up to 15" in field_error(response.text, "nickname")
    assert field_error(response.text, "display_name") is None
    assert 'value="Alice Typed"' in response.text and 'id="account-error"' not in response.text
