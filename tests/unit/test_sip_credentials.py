"""The shell phone's ephemeral SIP credentials (codeb.native.sip_credentials), checked against
the scheme of Kamailio's auth_ephemeral README computed here with hmac and hashlib: username
`<expiry>:<user>` (username_format 1), password base64(HMAC-SHA1(key, username)) (sha_algorithm 0),
the key being the bytes of the secret's text in `modparam("auth_ephemeral", "secret", ...)`.

A real Kamailio accepts them in tests/browser/test_phone_call.py."""

import base64
import hashlib
import hmac
import json

import pytest

from codeb.cli import main as cli
from codeb.native import sip_credentials
from codeb.store import layout
from codeb.tenants.secrets import existing_secret, make_secret

NOW = 1_800_000_000.4
SECRET = bytes(range(32))
# What `python -m codeb sip-secret` prints for SECRET and the operator pastes into kamailio.cfg.
SECRET_TEXT = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


def kamailio_password(secret_text: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret_text.encode(), username.encode(), hashlib.sha1).digest()).decode()


def test_the_key_is_the_secret_as_base64url_without_padding():
    assert sip_credentials.kamailio_secret(SECRET) == SECRET_TEXT
    assert base64.urlsafe_b64decode(SECRET_TEXT + "=") == SECRET


def test_a_credential_is_expiry_colon_login_and_the_hmac_sha1_of_that_with_the_key():
    issued = sip_credentials.mint(secret=SECRET, login="alice", now=NOW, ttl=600)
    assert issued.username == f"{int(NOW) + 600}:alice" and issued.expires == int(NOW) + 600 and issued.ttl == 600
    assert issued.password == kamailio_password(SECRET_TEXT, issued.username)
    assert len(base64.b64decode(issued.password, validate=True)) == 20  # SHA-1, standard base64 with padding


def test_the_default_lifetime_is_an_hour_at_most():
    issued = sip_credentials.mint(secret=SECRET, login="alice", now=NOW)
    assert 0 < issued.ttl <= 3600 and issued.expires == int(NOW) + issued.ttl


def test_the_user_part_is_what_autheph_check_from_compares_with_the_from_user():
    # auth_ephemeral splits the username at its first ':' (format 1): the rest is the From user.
    issued = sip_credentials.mint(secret=SECRET, login="anna.lena-2", now=NOW)
    expiry, user = issued.username.split(":", 1)
    assert int(expiry) == issued.expires and user == "anna.lena-2"


@pytest.mark.parametrize("login", ["", "Alice", "a:b", "a@b", "601 ", "x" * 70, None])
def test_only_a_login_becomes_a_user(login):
    with pytest.raises(ValueError):
        sip_credentials.mint(secret=SECRET, login=login, now=NOW)


def test_another_secret_gives_another_password():
    one = sip_credentials.mint(secret=SECRET, login="alice", now=NOW)
    other = sip_credentials.mint(secret=bytes(32), login="alice", now=NOW)
    assert one.username == other.username and one.password != other.password


def test_no_credentials_until_the_operator_made_the_secret_and_then_with_it(demo, data_root, capsys):
    assert sip_credentials.for_account(demo.store, "alice") is None
    assert existing_secret(demo.store, layout.SIP_EPHEMERAL_SECRET) is None  # asking made none
    assert cli(["--data", str(data_root), "sip-secret", "demo"]) == 0
    printed = json.loads(capsys.readouterr().out)
    issued = sip_credentials.for_account(demo.store, "alice")
    assert issued is not None
    assert issued.password == kamailio_password(printed["ephemeral_secret"], issued.username)
    assert abs(issued.expires - demo.store.clock() - issued.ttl) <= 1


def test_a_new_secret_makes_the_old_credentials_fail(demo):
    make_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)
    before = sip_credentials.for_account(demo.store, "alice")
    secret = make_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)
    assert before is not None
    assert before.password != kamailio_password(sip_credentials.kamailio_secret(secret), before.username)
