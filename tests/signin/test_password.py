"""The optional password: its hashes checked against independent values, and the lockout."""

import base64
import hashlib

import pytest

from codeb.accounts import Accounts, passwords
from codeb.accounts.passwords import ITERATIONS, check_strength, ha1, hash_password, verify_password
from codeb.errors import BadInput, RateLimited, SignInFailed
from codeb.signin.base import SignInContext
from codeb.signin.password import LOCK_SECONDS, PasswordSignIn
from codeb.tenants import Tenants
from tests.support.clock import Clock

SECRET = "correct horse battery staple"


def test_ha1_md5_is_rfc_2617s_example():
    # RFC 2617 §3.5: HA1 for Mufasa / testrealm@host.com / "Circle Of Life".
    assert ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"


@pytest.mark.parametrize("algorithm, digest, response", [
    # RFC 7616 §3.9.1: the published responses for both algorithms.
    ("MD5", "md5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "sha256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_ha1_yields_rfc_7616s_published_response(algorithm, digest, response):
    def h(text):
        return hashlib.new(digest, text.encode()).hexdigest()
    a1 = ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
    a2 = h("GET:/dir/index.html")
    nonce, cnonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    assert h(f"{a1}:{nonce}:00000001:{cnonce}:auth:{a2}") == response


def test_stored_record_matches_independent_computation():
    record = hash_password(SECRET, login="alice", realm="login.example", now=1)
    pbkdf2 = record["pbkdf2"]
    assert pbkdf2["iterations"] == ITERATIONS >= 600_000 and pbkdf2["algorithm"] == "pbkdf2-sha256"
    salt = base64.b64decode(pbkdf2["salt"])
    assert len(salt) == 16
    expected = hashlib.pbkdf2_hmac("sha256", SECRET.encode(), salt, 600_000)
    assert base64.b64decode(pbkdf2["hash"]) == expected
    assert record["sip"]["ha1_md5"] == hashlib.md5(f"alice:login.example:{SECRET}".encode()).hexdigest()
    assert record["sip"]["ha1_sha256"] == hashlib.sha256(f"alice:login.example:{SECRET}".encode()).hexdigest()
    assert SECRET not in repr(record)
    other = hash_password(SECRET, login="alice", realm="login.example", now=1)
    assert other["pbkdf2"]["salt"] != pbkdf2["salt"]  # a salt per account and per setting
    assert verify_password(record, SECRET) and not verify_password(record, SECRET + "!")
    assert not verify_password(None, SECRET) and not verify_password(record, None)


@pytest.mark.parametrize("candidate, message", [
    ("short", "error.password_short"), ("x" * 257, "error.password_long"),
    ("alice-is-my-password", "error.password_personal"), ("aaaaaaaaaaaaaaaa", "error.password_guessable"),
    (None, "error.password_short"),
])
def test_weak_passwords_are_refused_with_a_reason(candidate, message):
    with pytest.raises(BadInput) as refused:
        check_strength(candidate, login="alice", email="alice@example.com")
    assert refused.value.message_id == message


@pytest.fixture
def world(tenants, data_root, monkeypatch):
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)  # speed; the stored count is what is checked
    monkeypatch.setattr(passwords, "DUMMY", {**passwords.DUMMY, "iterations": 1000})
    clock = Clock()
    tenant = Tenants(str(data_root), clock=clock).get("demo")
    tenant.settings["methods"] = ["magic_link", "passkey", "password"]
    accounts = Accounts(tenant.store, "localhost")
    account = accounts.create(email="alice@example.com")
    with accounts.update(account.login) as doc:
        doc["password"] = hash_password(SECRET, login=account.login, realm="localhost", now=0)
    ctx = SignInContext(tenant=tenant, accounts=accounts, mailer=None, base_url="http://localhost",
                        client_ip="192.0.2.9", language="en")
    return ctx, clock


def test_right_password_signs_in_with_amr_pwd(world):
    ctx, _ = world
    identity = PasswordSignIn().complete(ctx, {"email": "Alice@Example.com", "password": SECRET})
    assert identity.login == "alice" and identity.amr == ("pwd",) and identity.method == "password"


def test_wrong_password_and_unknown_account_get_the_same_answer(world):
    ctx, _ = world
    answers = []
    for email in ("alice@example.com", "nobody@example.com", "not an email"):
        with pytest.raises(SignInFailed) as failed:
            PasswordSignIn().complete(ctx, {"email": email, "password": "wrong password!!"})
        answers.append((failed.value.message_id, failed.value.status))
    assert len(set(answers)) == 1 and answers[0][0] == "error.password_wrong"


def fail(ctx, email="alice@example.com"):
    with pytest.raises(SignInFailed):
        PasswordSignIn().complete(ctx, {"email": email, "password": "wrong password!!"})


def test_failures_slow_down_then_lock(world):
    ctx, clock = world
    for _ in range(3):  # free tries
        fail(ctx)
    with pytest.raises(RateLimited) as slow:  # from now on each try waits: 1 s, 2 s, 4 s …
        PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET})
    assert slow.value.message_id == "error.password_slow_down"
    for failures in range(3, 10):
        clock.advance(PasswordSignIn.wait_after("account", failures))
        fail(ctx)
    clock.advance(120)
    with pytest.raises(RateLimited) as locked:  # ten failures: locked, even with the right password
        PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET})
    assert locked.value.message_id == "error.password_locked" and locked.value.retry_after > 600
    clock.advance(LOCK_SECONDS + 1)
    assert PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET}).login == "alice"


def test_unknown_accounts_lock_the_same_way(world):
    ctx, clock = world
    for failures in range(10):
        clock.advance(PasswordSignIn.wait_after("account", failures))
        fail(ctx, "nobody@example.com")
    with pytest.raises(RateLimited) as locked:
        PasswordSignIn().complete(ctx, {"email": "nobody@example.com", "password": "wrong password!!"})
    assert locked.value.message_id == "error.password_locked"


def test_one_client_ip_cannot_try_many_accounts(world):
    ctx, clock = world
    for n in range(50):  # one wrong password each for fifty accounts
        clock.advance(PasswordSignIn.wait_after("client", n))
        fail(ctx, f"user{n}@example.com")
    with pytest.raises(RateLimited):
        PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET})
    ctx.client_ip = "198.51.100.1"
    assert PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET}).login == "alice"


def test_parallel_wrong_guesses_get_only_the_free_tries_verified(world):
    """Finding 7: 16 parallel wrong guesses got 9 verified, not 3: the failure was counted after
    the check and the slow PBKDF2 work. Now each attempt is counted under the record's lock
    before it is verified, so exactly the free tries reach the check."""
    import threading
    ctx, _ = world
    gate = threading.Barrier(16, timeout=20)
    outcomes: list[str] = []

    def guess():
        gate.wait()
        try:
            PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": "wrong password!!"})
            outcomes.append("signed in")
        except SignInFailed:
            outcomes.append("verified")
        except RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, daemon=True) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads) and len(outcomes) == 16
    assert outcomes.count("verified") == 3 and outcomes.count("refused") == 13


def test_a_right_password_clears_the_counted_attempts(world):
    """Finding 7: the attempt counted before verifying is forgotten when the password is right."""
    ctx, clock = world
    fail(ctx)
    fail(ctx)
    assert PasswordSignIn().complete(ctx, {"email": "alice@example.com", "password": SECRET}).login == "alice"
    for _ in range(3):  # all three free tries again
        fail(ctx)
    with pytest.raises(RateLimited):
        fail(ctx)
