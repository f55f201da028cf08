"""Passkeys on the "Sign-in & passkeys" section: cards with the authenticator's name and a
<details> menu to rename or remove (with its consequence), and after a removal the data the
page hands to the WebAuthn Signal API (once, only the account's own credentials)."""

import html
import re
import uuid

from codeb import i18n
from tests.http.test_passkeys import ORIGIN, enroll
from tests.support.authenticator import SoftAuthenticator
from tests.support.web import HOST, csrf_of

ICLOUD = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"


def section(client):
    return client.get("/account/sign-in", headers={"Host": HOST})


def cards(text):
    return re.findall(r'<article class="passkey".*?</article>', text, re.S)


def signal_of(text):
    found = re.search(r'<div id="passkey-signal" hidden data-rp-id="([^"]*)" data-user-id="([^"]*)"\s+'
                      r'data-accepted="([^"]*)" data-removed="([^"]*)"></div>', text)
    return found and {"rp_id": found[1], "user_id": found[2], "accepted": found[3].split(),
                      "removed": found[4]}


def remove(client, credential_id, token=None):
    return client.post("/account/passkeys/remove", headers={"Host": HOST},
                       data={"csrf": token or csrf_of(section(client).text), "id": credential_id})


def test_a_card_names_the_authenticator_from_its_aaguid_and_hides_changes_in_a_menu(client, mailbox):
    enroll(client, mailbox, authenticator=SoftAuthenticator(ORIGIN, aaguid=uuid.UUID(ICLOUD).bytes), name="")
    [card] = cards(section(client).text)
    assert '<h3 id="pk-1">iCloud Keychain</h3>' in card  # no name typed: the provider's name
    assert "Stored in: iCloud Keychain" in card and '<svg class="passkey-icon"' in card
    menu = card[card.index('<details class="menu">'):]
    assert 'action="/account/passkeys/rename"' in menu and 'action="/account/passkeys/remove"' in menu
    consequence = i18n.translate("en", "passkey.remove_consequence", name="iCloud Keychain")
    assert consequence in html.unescape(card)
    assert '<details class="confirm">' in menu  # removing takes a second, explained step


def test_an_unknown_authenticator_is_said_so_in_german(client, mailbox, accounts):
    enroll(client, mailbox, name="Laptop")
    with accounts.update(accounts.find_by_email("alice@example.com").login) as doc:
        doc["language"] = "de"
    [card] = cards(section(client).text)
    assert "Gespeichert in: unbekannter Authentifikator" in card and "Verwalten" in card
    assert i18n.translate("de", "passkey.remove_consequence", name="Laptop") in html.unescape(card)


def test_after_a_removal_the_page_signals_the_accepted_credentials_once(client, mailbox, accounts):
    enroll(client, mailbox, name="Laptop")
    login = accounts.find_by_email("alice@example.com").login
    second = SoftAuthenticator(ORIGIN)
    token = csrf_of(section(client).text)
    options = client.post("/account/passkeys/options", json={}, headers={"Host": HOST, "X-CSRF-Token": token})
    added = client.post("/account/passkeys/verify", headers={"Host": HOST, "X-CSRF-Token": token},
                        json={"challenge_id": options.json["challenge_id"], "name": "Phone",
                              "credential": second.create(options.json["publicKey"])})
    assert added.status_code == 200, added.text
    first, kept = [p["id"] for p in accounts.get(login).doc["passkeys"]]
    assert signal_of(section(client).text) is None  # nothing removed: nothing to tell

    removed = remove(client, first)
    assert removed.status_code == 303 and removed.headers["Location"] == "/account/sign-in?m=passkey_removed"
    page = client.get(removed.headers["Location"], headers={"Host": HOST})
    signal = signal_of(page.text)
    assert signal == {"rp_id": "localhost", "user_id": accounts.get(login).doc["webauthn_user_id"],
                      "accepted": [kept], "removed": first}
    assert "js/passkey-signal.js" in page.text
    assert signal_of(section(client).text) is None  # said once, not on every visit


def test_removal_without_the_pages_token_or_of_someone_elses_passkey_changes_nothing(client, mailbox, accounts,
                                                                                     app):
    enroll(client, mailbox, name="Laptop")
    mallory = app.test_client()
    enroll(mallory, mailbox, email="mallory@example.com", name="Mine")
    alice = accounts.find_by_email("alice@example.com").login
    theirs = accounts.find_by_email("mallory@example.com").doc["passkeys"][0]["id"]
    forged = client.post("/account/passkeys/remove", data={"id": accounts.get(alice).doc["passkeys"][0]["id"]},
                         headers={"Host": HOST})
    assert forged.status_code in (400, 403) and len(accounts.get(alice).doc["passkeys"]) == 1
    refused = remove(client, theirs)
    assert refused.status_code == 404
    assert len(accounts.find_by_email("mallory@example.com").doc["passkeys"]) == 1
    assert signal_of(section(client).text) is None
