"""The SIP digest lookup for the tenant's Kamailio (codeb.web.sip): the tenant's lookup key
required, one JSON shape with HA1 values only, failures reported, counted per account and per
source and audited without any secret, bad input 400, `no-store` everywhere."""

import base64
import hashlib
import json
import os

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords, passwords
from codeb.cli import main as cli
from codeb.native import sip_digest
from codeb.store import layout
from codeb.tenants.secrets import existing_secret
from tests.support.web import HOST, OTHER_HOST

IP, OTHER_IP = "192.0.2.10", "198.51.100.20"
PASSWORD = "Correct-Horse-Battery-Staple-9"


def sip_keys(data_root, capsys, tenant="demo", *extra) -> dict:
    """What the operator runs and copies into kamailio.cfg."""
    assert cli(["--data", str(data_root), "sip-secret", tenant, *extra]) == 0
    return json.loads(capsys.readouterr().out)


class Kamailio:
    """The SIP server as deploy/kamailio/kamailio.cfg asks: the key as a bearer token, the tenant by Host."""

    def __init__(self, client, key: str | None, host: str = HOST, realm: str = HOST):
        self.client, self.key, self.host, self.realm = client, key, host, realm

    def headers(self, extra=None) -> dict:
        auth = {"Authorization": f"Bearer {self.key}"} if self.key is not None else {}
        return {"Host": self.host, **auth, **(extra or {})}

    def lookup(self, user, *, ip=IP, headers=None, **query):
        fields = {"user": user, "realm": self.realm, "ip": ip, **query}
        return self.client.get("/sip/digest/lookup", query_string={k: v for k, v in fields.items() if v is not None},
                               headers=self.headers(headers))

    def failed(self, user, *, ip=IP, headers=None, **form):
        fields = {"user": user, "realm": self.realm, "ip": ip, "method": "REGISTER", **form}
        return self.client.post("/sip/digest/failed", data={k: v for k, v in fields.items() if v is not None},
                                headers=self.headers(headers))


def entry(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.json
    assert set(body) == {"user", "extension", "display_name", "ha1_md5", "ha1_sha256"}
    return body


NOTHING = {"user": None, "extension": None, "display_name": None, "ha1_md5": [], "ha1_sha256": []}


@pytest.fixture
def keys(data_root, capsys, tenants):
    return sip_keys(data_root, capsys)


@pytest.fixture
def users(accounts, tenants):
    """ann (nickname Annie) with a SIP app password and an XMPP one, frank with a SIP one, walt with
    only a password, dave disabled with a SIP one; erin of acme with a SIP one of hers."""
    for login in ("ann", "frank", "walt", "dave"):
        accounts.create(email=f"{login}@example.com", login=login)
    with accounts.update("ann") as doc:
        doc["nickname"], doc["display_name"] = "Annie", "Ann Smith"
    made = {login: app_passwords.create(accounts, login, name="Desk", purposes=["sip"], realm=HOST)[1]
            for login in ("ann", "frank", "dave")}
    made["ann_xmpp"] = app_passwords.create(accounts, "ann", name="Gajim", purposes=["xmpp"], realm=HOST)[1]
    passwords.change(accounts, "walt", current="", new=PASSWORD, repeat=PASSWORD, realm=HOST)
    accounts.set_disabled("dave", True)
    acme = Accounts(tenants.get("acme").store, OTHER_HOST)
    acme.create(email="erin@acme.example", login="erin")
    made["erin"] = app_passwords.create(acme, "erin", name="Desk", purposes=["sip"], realm=OTHER_HOST)[1]
    return made


def ha1(algorithm: str, login: str, secret: str, realm: str = HOST) -> str:
    data = f"{login}:{realm}:{secret}".encode()
    return (hashlib.md5(data) if algorithm == "MD5" else hashlib.sha256(data)).hexdigest()


def refusals(store, event="sip.digest_refused"):
    return [e for e in audit.read_all(store) if e["event"] == event]


# -- the key ---------------------------------------------------------------------------

def test_before_the_operator_makes_the_keys_every_request_is_401(client, demo, users):
    for response in (Kamailio(client, "anything").lookup("ann"), Kamailio(client, "anything").failed("ann")):
        assert response.status_code == 401 and response.data == b""
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "no-store" in response.headers["Cache-Control"]
    assert existing_secret(demo.store, layout.SIP_LOOKUP_SECRET) is None  # a request never makes one
    assert {e["reason"] for e in refusals(demo.store, "sip.lookup_refused")} == {"secret"}


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!!"},
    {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, {"Authorization": "Digest username=x"},
], ids=["none", "empty-bearer", "wrong-bearer", "bad-base64", "no-colon", "digest"])
def test_without_the_key_the_answer_is_401_and_nothing_else(client, keys, users, headers, demo):
    kamailio = Kamailio(client, None)
    for response in (kamailio.lookup("ann", headers=headers), kamailio.failed("ann", headers=headers)):
        assert response.status_code == 401 and response.data == b""
    assert refusals(demo.store) == []  # a caller without the key is no phone's failure
    assert {e["reason"] for e in refusals(demo.store, "sip.lookup_refused")} == {"secret"}


def test_the_key_as_bearer_token_or_basic_password(client, keys, users):
    assert entry(Kamailio(client, keys["lookup_secret"]).lookup("ann"))["user"] == "ann"
    basic = {"Authorization": "Basic " + base64.b64encode(f"kamailio:{keys['lookup_secret']}".encode()).decode()}
    assert entry(Kamailio(client, None).lookup("ann", headers=basic))["user"] == "ann"
    assert Kamailio(client, keys["lookup_secret"] + "x").lookup("ann").status_code == 401


def test_each_tenant_has_its_own_keys_and_answers_for_its_own_accounts(client, data_root, capsys, keys, users):
    acme_keys = sip_keys(data_root, capsys, "acme")
    assert acme_keys["lookup_secret"] != keys["lookup_secret"]
    assert acme_keys["ephemeral_secret"] != keys["ephemeral_secret"]
    assert Kamailio(client, keys["lookup_secret"], host=OTHER_HOST, realm=OTHER_HOST).lookup("erin").status_code == 401
    acme = Kamailio(client, acme_keys["lookup_secret"], host=OTHER_HOST, realm=OTHER_HOST)
    assert entry(acme.lookup("erin"))["ha1_md5"] == [ha1("MD5", "erin", users["erin"], OTHER_HOST)]
    assert entry(acme.lookup("ann")) == NOTHING
    assert entry(Kamailio(client, keys["lookup_secret"]).lookup("erin")) == NOTHING


def test_the_keys_are_shown_again_until_rotated_and_then_the_old_ones_are_refused(client, data_root, capsys,
                                                                                  keys, users, demo):
    assert sip_keys(data_root, capsys) == keys
    rotated = sip_keys(data_root, capsys, "demo", "--rotate")
    assert rotated["lookup_secret"] != keys["lookup_secret"]
    assert rotated["ephemeral_secret"] != keys["ephemeral_secret"]
    assert Kamailio(client, keys["lookup_secret"]).lookup("ann").status_code == 401
    assert entry(Kamailio(client, rotated["lookup_secret"]).lookup("ann"))["user"] == "ann"
    made = [e for e in audit.read_all(demo.store) if e["event"] == "sip.secret_made"]
    assert [e["secrets"] for e in made] == [["lookup", "ephemeral"]] * 2


def test_what_the_operator_copies_into_kamailio(keys, demo):
    stored = existing_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)
    assert keys["ephemeral_secret"] == base64.urlsafe_b64encode(stored).rstrip(b"=").decode()
    assert keys["lookup_url"] == f"https://{HOST}/sip/digest/lookup" and keys["realm"] == HOST
    assert keys["kamailio"] == [
        f'#!substdef "!SIP_REALM!{HOST}!g"', f'#!substdef "!CODEB_URL!https://{HOST}!g"',
        f'#!substdef "!CODEB_HOST!{HOST}!g"', f'#!substdef "!CODEB_LOOKUP_SECRET!{keys["lookup_secret"]}!g"',
        f'#!substdef "!CODEB_EPHEMERAL_SECRET!{keys["ephemeral_secret"]}!g"']


# -- the answers -----------------------------------------------------------------------

def test_the_lookup_gives_the_ha1_values_the_extension_and_the_caller_id_name(client, keys, users, accounts):
    kamailio = Kamailio(client, keys["lookup_secret"])
    ann = entry(kamailio.lookup("ann"))
    assert ann == {"user": "ann", "extension": accounts.require("ann").ext, "display_name": "Annie",
                   "ha1_md5": [ha1("MD5", "ann", users["ann"])], "ha1_sha256": [ha1("SHA-256", "ann", users["ann"])]}
    assert entry(kamailio.lookup("ANN")) == ann  # a phone may send the login as typed
    assert entry(kamailio.lookup(str(ann["extension"]))) == ann  # or dial the extension
    assert entry(kamailio.lookup("ann", ip=None)) == ann  # the source is optional
    walt = entry(kamailio.lookup("walt"))  # the optional password's HA1
    assert walt["ha1_md5"] == [ha1("MD5", "walt", PASSWORD)] and walt["display_name"] == "walt"
    second = app_passwords.create(accounts, "ann", name="Mobile", purposes=["sip", "xmpp"], realm=HOST)[1]
    assert sorted(entry(kamailio.lookup("ann"))["ha1_md5"]) == sorted([ha1("MD5", "ann", users["ann"]),
                                                                        ha1("MD5", "ann", second)])
    assert ha1("MD5", "ann", users["ann_xmpp"]) not in entry(kamailio.lookup("ann"))["ha1_md5"]


def test_nothing_for_no_usable_account(client, keys, users, accounts, demo):
    kamailio = Kamailio(client, keys["lookup_secret"])
    answers = [kamailio.lookup("nobody"), kamailio.lookup("dave"), kamailio.lookup("erin"),
               kamailio.lookup("../ann"), kamailio.lookup("ann smith"), kamailio.lookup("999999"),
               Kamailio(client, keys["lookup_secret"], realm="elsewhere.example").lookup("ann")]
    assert [entry(r) for r in answers] == [NOTHING] * len(answers)
    (sip,) = [a for a in app_passwords.listed(accounts.require("frank")) if "sip" in a.purposes]
    app_passwords.revoke(accounts, "frank", sip.id)
    assert entry(kamailio.lookup("frank"))["ha1_md5"] == []  # revoked: at once
    with demo.store.update(layout.TENANT) as doc:
        doc["app_passwords"] = {"enabled": False}
    assert entry(kamailio.lookup("ann"))["ha1_md5"] == []  # forbidden by the admin
    assert entry(kamailio.lookup("walt"))["ha1_md5"] == [ha1("MD5", "walt", PASSWORD)]  # the password stays


@pytest.mark.parametrize("query", [
    {"user": None}, {"user": ""}, {"user": "a" * 300}, {"realm": None}, {"realm": ""}, {"realm": "bad realm"},
    {"realm": "x" * 300}, {"ip": "not-an-address"}, {"ip": "1" * 300},
], ids=["no-user", "empty-user", "long-user", "no-realm", "empty-realm", "bad-realm", "long-realm", "bad-ip",
        "long-ip"])
def test_bad_input_is_400(client, keys, users, query, demo):
    kamailio = Kamailio(client, keys["lookup_secret"])
    fields = {"user": "ann", "realm": HOST, "ip": IP, **query}
    asked = client.get("/sip/digest/lookup", query_string={k: v for k, v in fields.items() if v is not None},
                       headers=kamailio.headers())
    told = client.post("/sip/digest/failed", data={k: v for k, v in fields.items() if v is not None},
                       headers=kamailio.headers())
    for response in (asked, told):
        assert response.status_code == 400 and response.data == b""
        assert "no-store" in response.headers["Cache-Control"]
    assert refusals(demo.store) == []


def test_the_wrong_methods_are_refused(client, keys):
    kamailio = Kamailio(client, keys["lookup_secret"])  # a POSTed lookup meets the CSRF check first: 400
    assert client.post("/sip/digest/lookup", data={"user": "ann", "realm": HOST}, headers=kamailio.headers()) \
        .status_code in (400, 405)
    assert client.get("/sip/digest/failed", query_string={"user": "ann", "realm": HOST},
                      headers=kamailio.headers()).status_code == 405


# -- failures: reported, counted, audited ----------------------------------------------

def test_a_reported_failure_is_audited_with_its_reason_and_never_a_secret(client, keys, users, demo, data_root):
    kamailio = Kamailio(client, keys["lookup_secret"])
    for user in ("ann", "nobody", "dave", "erin", "ANN"):
        response = kamailio.failed(user)
        assert response.status_code == 204 and response.data == b""
        assert "no-store" in response.headers["Cache-Control"]
    assert kamailio.failed("frank", method="INVITE", ip="2001:db8::1:2:3").status_code == 204
    assert kamailio.failed("frank", method="<script>", ip=None).status_code == 204
    lines = refusals(demo.store)
    assert {(e.get("login"), e["reason"], e.get("ip"), e.get("method")) for e in lines} == {
        ("ann", "wrong", IP, "REGISTER"), (None, "unknown", IP, "REGISTER"), ("dave", "disabled", IP, "REGISTER"),
        ("frank", "wrong", "2001:db8::/64", "INVITE"), ("frank", "wrong", None, None)}
    written = "".join(p.read_text() for p in (data_root / "demo" / "audit").glob("*.jsonl"))
    for secret in (keys["lookup_secret"], keys["ephemeral_secret"], *users.values()):
        assert secret not in written


def test_an_account_beyond_its_failures_gets_no_ha1_from_any_source_until_the_window_is_over(
        client, keys, users, clock, demo):
    kamailio = Kamailio(client, keys["lookup_secret"])
    limit, window = sip_digest.ACCOUNT_FAILURES
    for n in range(limit):
        assert entry(kamailio.lookup("ann", ip=f"192.0.2.{n + 1}"))["ha1_md5"]  # each of them still answered
        assert kamailio.failed("ann", ip=f"192.0.2.{n + 1}").status_code == 204
    limited = entry(kamailio.lookup("ann", ip=OTHER_IP))
    assert limited == {**NOTHING, "user": "ann", "extension": limited["extension"], "display_name": "Annie"}
    assert limited["extension"] is not None  # no HA1, so no digest passes; still named and reachable
    assert entry(kamailio.lookup("frank", ip=IP))["ha1_md5"]  # another account is not limited
    assert kamailio.failed("ann", ip=OTHER_IP).status_code == 204  # reported while full: not counted again
    clock.advance(window + 1)
    assert entry(kamailio.lookup("ann", ip=OTHER_IP))["ha1_md5"] == [ha1("MD5", "ann", users["ann"])]
    reasons = [e["reason"] for e in refusals(demo.store)]
    assert "rate_limited" in reasons and set(reasons) == {"wrong", "rate_limited"}


def test_a_source_beyond_its_failures_gets_no_ha1_and_another_source_does(client, keys, users, monkeypatch,
                                                                           clock, demo):
    monkeypatch.setattr(sip_digest, "SOURCE_FAILURES", (5, 300))
    kamailio = Kamailio(client, keys["lookup_secret"])
    for user in ("ann", "frank", "walt", "nobody", "dave"):
        assert kamailio.failed(user, ip=IP).status_code == 204
    assert entry(kamailio.lookup("frank", ip=IP))["ha1_md5"] == []
    assert entry(kamailio.lookup("frank", ip=None))["ha1_md5"]  # a question with no source is frank's alone
    assert entry(kamailio.lookup("frank", ip=OTHER_IP))["user"] == "frank"
    assert kamailio.failed("frank", ip=IP).status_code == 204
    clock.advance(301)
    assert entry(kamailio.lookup("frank", ip=IP))["user"] == "frank"
    limited = [e for e in refusals(demo.store) if e["reason"] == "rate_limited_source"]
    assert limited and limited[0]["ip"] == IP and limited[0]["login"] == "frank"


def test_the_work_of_one_check_is_counted(client, keys, users, monkeypatch):
    """The lookup does no key stretching and writes nothing; a report writes its two windows. The
    work is counted (PBKDF2 runs, file replacements), not timed, and printed (`-s` to see it)."""
    counts = {"pbkdf2": 0, "replace": 0}
    real_pbkdf2, real_replace = hashlib.pbkdf2_hmac, os.replace

    def pbkdf2(*args, **kwargs):
        counts["pbkdf2"] += 1
        return real_pbkdf2(*args, **kwargs)

    def replace(*args, **kwargs):
        counts["replace"] += 1
        return real_replace(*args, **kwargs)

    kamailio = Kamailio(client, keys["lookup_secret"])
    entry(kamailio.lookup("ann"))  # warm: caches of the tenant and the secret
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", pbkdf2)
    monkeypatch.setattr(os, "replace", replace)
    for _ in range(10):
        entry(kamailio.lookup("ann"))
    looked_up = dict(counts)
    assert kamailio.failed("frank").status_code == 204
    reported = {k: counts[k] - looked_up[k] for k in counts}
    print(f"SIP lookup, 10 checks: {looked_up['pbkdf2']} PBKDF2 runs, {looked_up['replace']} files written; "
          f"one failure report: {reported['pbkdf2']} PBKDF2 runs, {reported['replace']} files written")
    assert looked_up == {"pbkdf2": 0, "replace": 0}
    assert reported["pbkdf2"] == 0 and 2 <= reported["replace"] <= 4  # two windows (and an audit repeat record)
