"""App passwords without Flask: what the XMPP bridge and the SIP server will ask (codeb.accounts.app_passwords)."""

import hashlib
import json
import math

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords, passwords
from codeb.accounts.sessions import Sessions
from codeb.errors import BadInput, Conflict, Forbidden
from codeb.store import layout
from codeb.tenants.secrets import session_secret
from tests.support.clock import Clock
from tests.support.web import OTHER_HOST

REALM = "sip.example.com"


@pytest.fixture
def clock(demo):
    demo.store.clock = Clock()
    return demo.store.clock


@pytest.fixture
def ann(accounts, clock):
    return accounts.create(email="ann@example.com", login="ann")


def make(accounts, login="ann", name="Gajim", purposes=("xmpp",)):
    return app_passwords.create(accounts, login, name=name, purposes=list(purposes), realm=REALM)


def forbid(store, forbidden=True):
    with store.update(layout.TENANT) as doc:
        doc["app_passwords"] = {"enabled": not forbidden}


def refusals(store):
    return [e for e in audit.read_all(store) if e["event"] == "app_password.refused"]


def test_the_secret_is_four_groups_of_five_from_an_unambiguous_alphabet_and_at_least_100_bits():
    secret = app_passwords.generate()
    groups = secret.split("-")
    assert [len(g) for g in groups] == [5, 5, 5, 5]
    assert set("".join(groups)) <= set(app_passwords.ALPHABET)
    assert not set("l1o0") & set(app_passwords.ALPHABET) and len(set(app_passwords.ALPHABET)) == 32
    assert 20 * math.log2(len(app_passwords.ALPHABET)) >= 100
    assert len({app_passwords.generate() for _ in range(200)}) == 200


def test_created_it_is_stored_only_hashed_and_listed_without_hashes(accounts, ann):
    created, secret = make(accounts, purposes=("xmpp", "sip"))
    doc = accounts.require("ann").doc
    assert secret not in repr(doc) and secret.replace("-", "") not in repr(doc)
    assert app_passwords.listed(accounts.require("ann")) == [created]
    assert created.name == "Gajim" and created.purposes == ("xmpp", "sip") and created.last_used is None
    assert not hasattr(created, "secret")


def test_pbkdf2_is_cheap_for_a_random_secret(accounts, ann):
    """A few thousand iterations (the bridge checks on every client login; the docstring says
    why that is enough for a random secret); `make bench` times it, no test does."""
    assert 1_000 <= app_passwords.ITERATIONS <= 10_000
    _, secret = make(accounts)
    stored = accounts.get("ann").app_passwords[0]
    assert stored["pbkdf2"]["iterations"] == app_passwords.ITERATIONS


def test_verify_accepts_the_right_secret_for_its_purpose_only(accounts, ann):
    _, secret = make(accounts, purposes=("xmpp",))
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp").name == "Gajim"
    assert app_passwords.verify(accounts, "ann", secret.upper().replace("-", " "), purpose="xmpp")  # as typed
    assert app_passwords.verify(accounts, "ann", secret, purpose="sip") is None
    assert app_passwords.verify(accounts, "ann", app_passwords.generate(), purpose="xmpp") is None
    with pytest.raises(ValueError):
        app_passwords.verify(accounts, "ann", secret, purpose="web")


@pytest.mark.parametrize("typed", ["", None, 42, "x" * 1000, "../../etc", "abcde-fghij"])
def test_verify_refuses_what_cannot_be_a_secret(accounts, ann, typed):
    make(accounts)
    assert app_passwords.verify(accounts, "ann", typed, purpose="xmpp") is None


@pytest.mark.parametrize("login", ["nobody", "../ann", "", None, "ANN/..", "a" * 500])
def test_verify_refuses_unknown_and_malformed_logins(accounts, ann, login):
    _, secret = make(accounts)
    assert app_passwords.verify(accounts, login, secret, purpose="xmpp") is None


def test_a_revoked_one_is_refused_and_the_others_still_work(accounts, ann):
    first, first_secret = make(accounts, name="Phone", purposes=("sip",))
    _, second_secret = make(accounts, name="Laptop", purposes=("sip",))
    assert app_passwords.revoke(accounts, "ann", first.id) == first
    assert app_passwords.verify(accounts, "ann", first_secret, purpose="sip") is None
    assert app_passwords.verify(accounts, "ann", second_secret, purpose="sip").name == "Laptop"
    assert app_passwords.revoke(accounts, "ann", first.id) is None  # once
    assert app_passwords.revoke(accounts, "ann", None) is None


def test_a_disabled_account_is_refused_and_audited_without_the_secret(accounts, ann, demo):
    _, secret = make(accounts)
    accounts.set_disabled("ann", True)
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp") is None
    refused = refusals(demo.store)
    assert refused and refused[-1]["reason"] == "disabled" and refused[-1]["login"] == "ann"
    assert secret not in repr(audit.read_all(demo.store))
    accounts.set_disabled("ann", False)
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp")


def test_another_tenants_account_is_not_found(accounts, ann, tenants):
    """`accounts` is one tenant's: the same login and secret in another tenant are nobody."""
    _, secret = make(accounts)
    acme = tenants.get("acme")
    other = Accounts(acme.store, OTHER_HOST)
    assert app_passwords.verify(other, "ann", secret, purpose="xmpp") is None
    other.create(email="ann@acme.example", login="ann")
    assert app_passwords.verify(other, "ann", secret, purpose="xmpp") is None


def test_forbidden_by_the_tenant_none_is_made_and_none_accepted(accounts, ann, demo):
    _, secret = make(accounts, purposes=("xmpp", "sip"))
    forbid(demo.store)
    with pytest.raises(Forbidden):
        make(accounts, name="Another")
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp") is None
    assert app_passwords.digest_ha1(accounts, "ann", "MD5") == []
    assert refusals(demo.store)[-1]["reason"] == "forbidden"
    forbid(demo.store, forbidden=False)
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp")


def test_the_settings_part_is_validated():
    assert app_passwords.settings_part("allowed") == {"app_passwords": {"enabled": True}}
    assert app_passwords.settings_part("forbidden") == {"app_passwords": {"enabled": False}}
    assert app_passwords.settings_part(None) == {}
    with pytest.raises(BadInput):
        app_passwords.settings_part("maybe")
    assert app_passwords.allowed_in({}) and not app_passwords.allowed_in({"app_passwords": {"enabled": False}})


@pytest.mark.parametrize(("name", "purposes", "message"), [
    ("", ["xmpp"], "error.app_password_name"),
    ("   ", ["xmpp"], "error.app_password_name"),
    (None, ["xmpp"], "error.app_password_name"),
    ("x" * 61, ["xmpp"], "error.app_password_name_long"),
    ("bad\x00name", ["xmpp"], "error.app_password_name_long"),
    ("Gajim", [], "error.app_password_purpose"),
    ("Gajim", ["web"], "error.app_password_purpose"),
    ("Gajim", ["xmpp", "oidc"], "error.app_password_purpose"),
])
def test_bad_names_and_purposes_are_refused_with_their_message(accounts, ann, name, purposes, message):
    with pytest.raises(BadInput) as refused:
        app_passwords.create(accounts, "ann", name=name, purposes=purposes, realm=REALM)
    assert refused.value.message_id == message
    assert accounts.require("ann").app_passwords == []


def test_capped_per_account_and_names_are_unique(accounts, ann):
    for n in range(app_passwords.MAX_PER_ACCOUNT):
        make(accounts, name=f"Device {n}")
    with pytest.raises(Conflict) as refused:
        make(accounts, name="One more")
    assert refused.value.message_id == "error.app_password_limit"
    assert len(accounts.require("ann").app_passwords) == app_passwords.MAX_PER_ACCOUNT
    app_passwords.revoke(accounts, "ann", app_passwords.listed(accounts.require("ann"))[0].id)
    with pytest.raises(Conflict) as taken:
        make(accounts, name="device 1")
    assert taken.value.message_id == "error.app_password_name_taken"


def test_last_used_is_written_at_most_once_an_hour(accounts, ann, clock, demo):
    _, secret = make(accounts)
    clock.advance(10)
    first = app_passwords.verify(accounts, "ann", secret, purpose="xmpp")
    assert first.last_used == int(clock.now)
    stamp = demo.store.stamp(layout.USERS, "ann")
    clock.advance(600)
    again = app_passwords.verify(accounts, "ann", secret, purpose="xmpp")
    assert again.last_used == first.last_used
    assert demo.store.stamp(layout.USERS, "ann") == stamp  # no write at all
    clock.advance(3600)
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp").last_used == int(clock.now)


def test_verify_runs_pbkdf2_once_whether_right_wrong_or_nobody(accounts, ann, monkeypatch):
    """One PBKDF2 run in every case, whatever the account holds: an unknown account, a wrong
    secret and the right one do the same work (comparing with each of six stored app passwords
    would be six). Counted, not timed."""
    for n in range(5):
        make(accounts, name=f"Device {n}", purposes=("xmpp", "sip"))
    _, secret = make(accounts)
    runs = []
    real = app_passwords.hashlib.pbkdf2_hmac
    monkeypatch.setattr(app_passwords.hashlib, "pbkdf2_hmac", lambda *args: runs.append(args[3]) or real(*args))
    wrong = app_passwords.generate()
    for login, typed, expected in (("ann", secret, True), ("ann", wrong, False), ("nobody", wrong, False)):
        runs.clear()
        assert bool(app_passwords.verify(accounts, login, typed, purpose="xmpp")) is expected
        assert runs == [app_passwords.ITERATIONS], (login, runs)


def test_ha1_values_equal_the_rfc_formula_computed_here(accounts, ann, monkeypatch):
    """RFC 2617 §3.2.2.2 and RFC 7616 §3.4.2: HA1 = H(username ":" realm ":" password)."""
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)
    _, phone = make(accounts, name="Phone", purposes=("sip",))
    _, chat = make(accounts, name="Chat", purposes=("xmpp",))
    passwords.change(accounts, "ann", current="", new="Kettle-Orbit-Lantern-42", repeat="Kettle-Orbit-Lantern-42",
                     realm=REALM)

    def rfc(h, password):
        return h(f"ann:{REALM}:{password}".encode()).hexdigest()

    md5 = app_passwords.digest_ha1(accounts, "ann", "MD5")
    sha256 = app_passwords.digest_ha1(accounts, "ann", "SHA-256")
    assert md5 == [rfc(hashlib.md5, phone), rfc(hashlib.md5, "Kettle-Orbit-Lantern-42")]
    assert sha256 == [rfc(hashlib.sha256, phone), rfc(hashlib.sha256, "Kettle-Orbit-Lantern-42")]
    assert rfc(hashlib.md5, chat) not in md5  # an xmpp-only app password is no SIP credential
    assert app_passwords.digest_ha1(accounts, "ann", "MD5", realm="other.example") == []
    accounts.set_disabled("ann", True)
    assert app_passwords.digest_ha1(accounts, "ann", "MD5") == []
    assert app_passwords.digest_ha1(accounts, "nobody", "MD5") == []
    with pytest.raises(ValueError):
        app_passwords.digest_ha1(accounts, "ann", "SHA-512-256")


def test_the_rfc_2617_example_through_our_ha1():
    """RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life", response 6629fae4…"""
    ha1 = passwords.ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
    response = hashlib.md5(f"{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}".encode())
    assert response.hexdigest() == "6629fae49393a05397450978507c4ef1"


def test_removed_with_the_account(accounts, ann):
    _, secret = make(accounts, purposes=("xmpp", "sip"))
    accounts.delete("ann", keep_an_admin=False)
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp") is None
    assert app_passwords.digest_ha1(accounts, "ann", "MD5") == []
    again = accounts.create(email="ann2@example.com", login="ann", reuse_login=True)
    assert again.app_passwords == [] and app_passwords.verify(accounts, "ann", secret, purpose="xmpp") is None


def test_sign_out_everywhere_ends_them_only_when_asked(accounts, ann, demo):
    sessions = Sessions(demo.store, lambda: session_secret(demo.store))
    _, secret = make(accounts)
    assert sessions.end_all(accounts, "ann") == 0
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp")
    make(accounts, name="Second")
    assert sessions.end_all(accounts, "ann", app_passwords=True) == 2
    assert app_passwords.verify(accounts, "ann", secret, purpose="xmpp") is None
    assert accounts.require("ann").app_passwords == []


def test_the_personal_data_export_names_them_without_a_hash(accounts, ann):
    from codeb.accounts import privacy

    _, secret = make(accounts, name="Gajim at home")
    exported = privacy.exported_account(accounts.get("ann").doc)
    [listed_one] = exported["app_passwords"]
    assert listed_one["name"] == "Gajim at home" and listed_one["purposes"]
    text = json.dumps(exported)
    stored = accounts.get("ann").app_passwords[0]
    assert secret not in text and stored["pbkdf2"]["hash"] not in text and "ha1" not in text.lower()
