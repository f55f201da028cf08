"""How many writes a request makes, and how many of them are fsynced (issue 10: fewer
writes per request). The figures are pinned so that they do not creep back."""

import os

import pytest

from codeb.store import Store, cache, files, log
from tests.support.authenticator import SoftAuthenticator
from tests.support.oidc import authorize_params, exchange, get_authorize, signed_in_code
from tests.support.web import HOST, confirm_first_profile, csrf_of, sign_in

ORIGIN = "http://localhost"


class Writes:
    """Every document write (fsynced or not), log append and fsync the store makes."""

    def __init__(self, monkeypatch):
        self.documents: list[tuple[str, bool]] = []
        self.appends = 0
        self.fsyncs = 0
        real_write, real_create, real_append, real_fsync = (
            files.write_bytes_atomic, files.create_bytes_exclusive, log._append, os.fsync)

        def write(path, data, *, durable=True):
            self.documents.append((path, durable))
            real_write(path, data, durable=durable)

        def create(path, data, *, durable=True):
            self.documents.append((path, durable))
            return real_create(path, data, durable=durable)

        def append(path, line):
            self.appends += 1
            real_append(path, line)

        def fsync(fd):
            self.fsyncs += 1
            real_fsync(fd)

        monkeypatch.setattr(files, "write_bytes_atomic", write)
        monkeypatch.setattr(files, "create_bytes_exclusive", create)
        monkeypatch.setattr(log, "_append", append)
        monkeypatch.setattr(os, "fsync", fsync)

    def reset(self):
        self.documents.clear()
        self.appends = self.fsyncs = 0

    def kinds(self, durable: bool) -> list[str]:
        return sorted(os.path.basename(os.path.dirname(p)) for p, d in self.documents if d is durable)


@pytest.fixture
def writes(monkeypatch):
    return Writes(monkeypatch)


def refresh(client, rp, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       auth=(rp.client_id, rp.secret), headers={"Host": HOST})


def test_a_code_exchange_writes_the_refresh_chain_durably_and_spends_its_code_by_one_rename(
        client, mailbox, rp, writes, monkeypatch):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    renames: list[tuple[str, str]] = []
    real_replace = files.replace
    monkeypatch.setattr(files, "replace", lambda src, dst: (renames.append((src, dst)), real_replace(src, dst)))
    writes.reset()
    assert exchange(client, rp, code, verifier).status_code == 200
    assert writes.kinds(durable=True) == ["refresh-chains"]
    assert writes.kinds(durable=False) == []  # the replay marker is the code's record, renamed
    assert writes.fsyncs == 1
    kinds = [tuple(os.path.basename(os.path.dirname(p)) for p in pair) for pair in renames]
    assert [pair for pair in kinds if pair != ("refresh-chains", "refresh-chains")] == [("codes", "spent-codes")]


def test_a_code_for_a_signed_in_browser_is_issued_without_fsync(client, mailbox, rp, writes):
    """The code and its grant's note are lost harmlessly in a power cut (layout.NOT_DURABLE):
    a code lives a minute, and without its note the office shell's token is refused."""
    signed_in_code(client, mailbox, rp)
    writes.reset()
    answer = get_authorize(client, authorize_params(rp, "x" * 43))
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]
    assert writes.fsyncs == 0 and writes.kinds(durable=True) == []
    assert "grants" in writes.kinds(durable=False) and "codes" in writes.kinds(durable=False)


def test_a_refresh_rotation_is_one_fsynced_write_of_its_grants_chain(client, mailbox, rp, writes):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    token = exchange(client, rp, code, verifier).json["refresh_token"]
    for _ in range(3):
        writes.reset()
        answer = refresh(client, rp, token)
        assert answer.status_code == 200, answer.text
        token = answer.json["refresh_token"]
        assert writes.kinds(durable=True) == ["refresh-chains"]
        assert writes.kinds(durable=False) == [] and writes.appends == 0
        assert writes.fsyncs == 1


def test_a_refresh_rotation_reads_its_grants_chain_and_its_account_once(client, mailbox, rp, monkeypatch):
    """The chain's lock is held from the read across the signing to the write: no second read;
    and whom the token stands for is found once, not again when Authlib asks for the user."""
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    token = exchange(client, rp, code, verifier).json["refresh_token"]
    reads: list[str] = []
    real_read, real_stamp = Store.read, cache.stamp_of

    def read(store, *parts):
        reads.append("/".join(parts))
        return real_read(store, *parts)

    def stamp(path):
        reads.append(path)
        return real_stamp(path)

    monkeypatch.setattr(Store, "read", read)
    monkeypatch.setattr(cache, "stamp_of", stamp)
    answer = refresh(client, rp, token)
    assert answer.status_code == 200, answer.text
    assert len([r for r in reads if "refresh-chains" in r]) == 1
    assert len([r for r in reads if os.sep + "users" + os.sep in r]) == 1


def enroll(client, mailbox, authenticator):
    """The first sign-in: the profile step, then a passkey made in the passkey step."""
    sign_in(client, mailbox, "alice@example.com", confirm_profile=False)
    confirm_first_profile(client, passkey_step=None)
    token = csrf_of(client.get("/welcome/passkey", headers={"Host": HOST}).text)
    options = client.post("/account/passkeys/options", json={"name": "Phone"},
                          headers={"Host": HOST, "X-CSRF-Token": token}).json
    credential = authenticator.create(options["publicKey"])
    added = client.post("/account/passkeys/verify",
                        json={"challenge_id": options["challenge_id"], "credential": credential, "name": "Phone"},
                        headers={"Host": HOST, "X-CSRF-Token": token})
    assert added.status_code == 200, added.text


def passkey_sign_in(app, authenticator, writes, **kw):
    browser = app.test_client()
    token = csrf_of(browser.get("/signin", headers={"Host": HOST}).text)
    options = browser.post("/signin/passkey/begin", json={},
                           headers={"Host": HOST, "X-CSRF-Token": token}).json
    assertion = authenticator.get(options["publicKey"], **kw)
    writes.reset()
    done = browser.post("/signin/passkey/complete",
                        json={"challenge_id": options["challenge_id"], "credential": assertion},
                        headers={"Host": HOST, "X-CSRF-Token": token})
    assert done.status_code == 200, done.text


def test_a_synced_passkeys_sign_in_does_not_write_its_counter(client, app, mailbox, writes, accounts):
    """The session and the account's list of its sessions (one write of `users/`); the passkey's
    counter of 0 on 0 and a last use within the hour add no write."""
    authenticator = SoftAuthenticator(ORIGIN, backup_eligible=True)
    enroll(client, mailbox, authenticator)
    passkey_sign_in(app, authenticator, writes, count=0)  # the first use is noted, in that same write
    assert writes.kinds(durable=True) == ["sessions", "users"]
    assert writes.fsyncs == 2
    for _ in range(2):
        passkey_sign_in(app, authenticator, writes, count=0)
        assert writes.kinds(durable=True) == ["sessions", "users"]
        assert writes.fsyncs == 2
    (passkey,) = accounts.get("alice").doc["passkeys"]
    assert passkey["sign_count"] == 0 and passkey["last_used"]


def test_a_counting_passkeys_sign_in_writes_its_counter(client, app, mailbox, writes, accounts):
    authenticator = SoftAuthenticator(ORIGIN)
    enroll(client, mailbox, authenticator)
    passkey_sign_in(app, authenticator, writes)
    passkey_sign_in(app, authenticator, writes)
    # The session list and the counter: one update of the account document.
    assert writes.kinds(durable=True) == ["sessions", "users"]
    assert writes.fsyncs == 2
    (passkey,) = accounts.get("alice").doc["passkeys"]
    assert passkey["sign_count"] == 2 and passkey["last_used"]
    assert [entry["method"] for entry in accounts.get("alice").listed_sessions][-1] == "passkey"
