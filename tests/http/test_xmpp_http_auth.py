"""The HTTP auth endpoint for Prosody's mod_auth_http (codeb.web.xmpp): the tenant's shared secret
required, `true` or `false` and nothing more, failures limited per account and per source
network and audited without any secret, registration and password changes not ours."""

import base64
import json

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords
from codeb.cli import main as cli
from codeb.native import xmpp_auth
from codeb.store import layout
from codeb.tenants.secrets import existing_secret
from tests.support.web import HOST, OTHER_HOST

IP, OTHER_IP = "192.0.2.10", "198.51.100.20"


def shared_secret(data_root, capsys, tenant="demo", *extra) -> str:
    """What the operator runs and copies into Prosody's configuration."""
    assert cli(["--data", str(data_root), "xmpp-auth-secret", tenant, *extra]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["mod_auth_http"]["http_auth_credentials"] == f"prosody:{printed['secret']}"
    assert printed["prosody"]["codeb_auth_secret"] == printed["secret"]
    return printed["secret"]


def basic(secret: str, user: str = "prosody") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


class Prosody:
    """mod_auth_http as it asks: GET <http_auth_url>/<method>?user=&server=&pass=, Basic credentials."""

    def __init__(self, client, secret: str | None, host: str = HOST, ip: str = IP):
        self.client, self.secret, self.host, self.ip = client, secret, host, ip

    def get(self, method: str, headers: dict | None = None, **query):
        auth = basic(self.secret) if self.secret is not None else {}
        return self.client.get(f"/xmpp/auth/{method}", query_string=query, environ_base={"REMOTE_ADDR": self.ip},
                               headers={"Host": self.host, **auth, **(headers or {})})

    def check(self, user, password, server=HOST):
        return self.get("check_password", user=user, server=server, **{"pass": password})

    def exists(self, user, server=HOST):
        return self.get("user_exists", user=user, server=server)


def answer(response) -> str:
    assert response.status_code == 200 and response.mimetype == "text/plain", response.status_code
    assert "no-store" in response.headers["Cache-Control"]
    assert response.text in ("true", "false")
    return response.text


@pytest.fixture
def secret(data_root, capsys, tenants):
    return shared_secret(data_root, capsys)


@pytest.fixture
def users(accounts, tenants):
    made = {}
    for login in ("ann", "frank", "walt", "dave"):
        accounts.create(email=f"{login}@example.com", login=login)
    for login in ("ann", "frank", "dave"):
        made[login] = app_passwords.create(accounts, login, name="Gajim", purposes=["xmpp"], realm=HOST)[1]
    accounts.set_disabled("dave", True)
    acme = Accounts(tenants.get("acme").store, OTHER_HOST)
    acme.create(email="erin@acme.example", login="erin")
    made["erin"] = app_passwords.create(acme, "erin", name="Gajim", purposes=["xmpp"], realm=OTHER_HOST)[1]
    return made


def refusals(store):
    return [e for e in audit.read_all(store) if e["event"] == "xmpp.auth_refused"]


def test_before_the_operator_makes_a_secret_every_request_is_401(client, demo, users):
    response = Prosody(client, "anything").check("ann", users["ann"])
    assert response.status_code == 401 and response.text == "" and "Basic" in response.headers["WWW-Authenticate"]
    assert existing_secret(demo.store, layout.XMPP_AUTH_SECRET) is None  # a request never makes one
    assert [e["reason"] for e in refusals(demo.store)] == ["secret"]


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Basic"}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    {"Authorization": "Digest username=prosody"},
], ids=["none", "empty-basic", "bad-base64", "wrong-bearer", "no-colon", "digest"])
def test_without_the_secret_the_answer_is_401_and_nothing_else(client, secret, users, headers, demo):
    for method, query in (("check_password", {"user": "ann", "server": HOST, "pass": users["ann"]}),
                          ("user_exists", {"user": "ann", "server": HOST})):
        response = client.get(f"/xmpp/auth/{method}", query_string=query, headers={"Host": HOST, **headers})
        assert response.status_code == 401 and response.text == ""
    assert {e["reason"] for e in refusals(demo.store)} == {"secret"}


def test_the_secret_as_basic_password_or_bearer_token_lets_prosody_ask(client, secret, users):
    prosody = Prosody(client, secret)
    assert answer(prosody.check("ann", users["ann"])) == "true"
    assert answer(prosody.check("Ann", users["ann"].upper(), server=HOST.upper())) == "true"
    assert answer(prosody.check("ann", users["frank"])) == "false"
    bearer = Prosody(client, None).get("check_password", headers={"Authorization": f"Bearer {secret}"},
                                       user="ann", server=HOST, **{"pass": users["ann"]})
    assert answer(bearer) == "true"
    assert Prosody(client, secret + "x").check("ann", users["ann"]).status_code == 401


def test_every_refusal_is_the_same_false(client, secret, users, accounts, demo):
    prosody = Prosody(client, secret)
    (listed,) = app_passwords.listed(accounts.require("frank"))
    app_passwords.revoke(accounts, "frank", listed.id)
    refused = [prosody.check("nobody", users["ann"]), prosody.check("dave", users["dave"]),
               prosody.check("walt", users["ann"]), prosody.check("frank", users["frank"]),
               prosody.check("ann", users["ann"], server=OTHER_HOST), prosody.check("erin", users["erin"]),
               prosody.check("../ann", users["ann"]), prosody.check("ann", users["ann"] + ":x"),
               prosody.get("check_password"), prosody.get("check_password", user="ann", server=HOST),
               prosody.check("ann", "p" * 5000)]
    assert [answer(r) for r in refused] == ["false"] * len(refused)
    assert len({(r.data, tuple(sorted((k, v) for k, v in r.headers.items() if k != "Date"))) for r in refused}) == 1
    assert answer(prosody.check("ann", users["ann"])) == "true"
    reasons = {(e.get("login"), e["reason"]) for e in refusals(demo.store)}
    assert reasons == {(None, "unknown"), ("dave", "disabled"), ("walt", "no_app_password"),
                       ("frank", "no_app_password"), (None, "host"), (None, "login"), ("ann", "wrong")}


def test_user_exists_is_true_for_an_enabled_account_of_this_tenant(client, secret, users):
    prosody = Prosody(client, secret)
    assert [answer(prosody.exists(u)) for u in ("ann", "ANN", "walt", "dave", "nobody", "erin")] == \
        ["true", "true", "true", "false", "false", "false"]
    assert answer(prosody.exists("ann", server=OTHER_HOST)) == "false"
    assert answer(prosody.get("user_exists")) == "false"


def test_each_tenant_has_its_own_secret(client, data_root, capsys, secret, users):
    acme_secret = shared_secret(data_root, capsys, "acme")
    assert acme_secret != secret
    assert Prosody(client, secret, host=OTHER_HOST).check("erin", users["erin"], server=OTHER_HOST).status_code == 401
    acme = Prosody(client, acme_secret, host=OTHER_HOST)
    assert answer(acme.check("erin", users["erin"], server=OTHER_HOST)) == "true"
    assert answer(acme.check("ann", users["ann"], server=OTHER_HOST)) == "false"
    assert answer(acme.check("ann", users["ann"], server=HOST)) == "false"  # demo's host, asked of acme


def test_the_secret_is_shown_again_until_rotated_and_then_the_old_one_is_refused(client, data_root, capsys,
                                                                                 secret, users, demo):
    assert shared_secret(data_root, capsys) == secret
    rotated = shared_secret(data_root, capsys, "demo", "--rotate")
    assert rotated != secret
    assert Prosody(client, secret).check("ann", users["ann"]).status_code == 401
    assert answer(Prosody(client, rotated).check("ann", users["ann"])) == "true"
    assert [e["event"] for e in audit.read_all(demo.store) if e["event"] == "xmpp.auth_secret_made"] == \
        ["xmpp.auth_secret_made"] * 2


def test_a_source_beyond_its_failures_is_refused_and_another_source_is_not(client, secret, users, monkeypatch,
                                                                           clock, demo):
    monkeypatch.setattr(xmpp_auth, "SOURCE_FAILURES", (5, 300))
    prosody, elsewhere = Prosody(client, secret), Prosody(client, secret, ip=OTHER_IP)
    guesses = [prosody.check(login, app_passwords.generate()) for login in ("ann", "frank", "walt", "nobody", "ann")]
    assert [answer(r) for r in guesses] == ["false"] * 5
    assert answer(prosody.check("frank", users["frank"])) == "false"  # the source's window is full
    assert answer(elsewhere.check("frank", users["frank"])) == "true"
    assert answer(prosody.exists("frank")) == "true"  # only passwords are counted
    clock.advance(301)
    assert answer(prosody.check("frank", users["frank"])) == "true"
    limited = [e for e in refusals(demo.store) if e["reason"] == "rate_limited_source"]
    assert limited and limited[0]["ip"] == IP and limited[0]["login"] == "frank"


def test_an_account_beyond_its_failures_is_refused_from_any_source(client, secret, users, clock):
    limit, window = xmpp_auth.ACCOUNT_FAILURES
    for n in range(limit):
        assert answer(Prosody(client, secret, ip=f"192.0.2.{n + 1}").check("ann", app_passwords.generate())) == "false"
    assert answer(Prosody(client, secret, ip=OTHER_IP).check("ann", users["ann"])) == "false"
    assert answer(Prosody(client, secret).check("frank", users["frank"])) == "true"
    clock.advance(window + 1)
    assert answer(Prosody(client, secret, ip=OTHER_IP).check("ann", users["ann"])) == "true"


def test_audit_lines_name_the_source_and_never_a_secret(client, secret, users, data_root, demo):
    wrong = app_passwords.generate()
    assert answer(Prosody(client, secret).check("ann", wrong)) == "false"
    assert answer(Prosody(client, secret).check(wrong, wrong)) == "false"  # a password typed as the user name
    assert Prosody(client, wrong).check("ann", users["ann"]).status_code == 401
    assert answer(Prosody(client, secret).check("ann", users["ann"])) == "true"
    written = "".join(p.read_text() for p in (data_root / "demo" / "audit").glob("*.jsonl"))
    for value in (secret, wrong, users["ann"]):
        assert value not in written
    lines = refusals(demo.store)
    assert {(e["via"], e["ip"], e["reason"]) for e in lines} == {("http", IP, "wrong"), ("http", IP, "unknown"),
                                                                  ("http", IP, "secret")}


@pytest.mark.parametrize("method", ["register", "set_password", "remove_user"])
def test_registration_password_changes_and_removal_are_not_ours(client, secret, users, accounts, method):
    response = client.post(f"/xmpp/auth/{method}", data={"user": "ann", "server": HOST, "pass": "new"},
                           headers={"Host": HOST, **basic(secret)})
    assert response.status_code == 403 and response.text == ""
    assert accounts.get("ann") is not None
    assert answer(Prosody(client, secret).check("ann", users["ann"])) == "true"


def test_mod_auth_codeb_posts_the_same_question_with_the_password_in_the_body(client, secret, users):
    """CodeB's own Prosody module (deploy/prosody/mod_auth_codeb.lua) POSTs the form, the
    secret as a bearer token: the same answers, and a POST without the secret is 401, not a CSRF
    refusal of a page."""
    def post(method, secret_=secret, **form):
        return client.post(f"/xmpp/auth/{method}", data={"server": HOST, **form},
                           headers={"Host": HOST, "Authorization": f"Bearer {secret_}"})

    assert answer(post("check_password", user="ann", **{"pass": users["ann"]})) == "true"
    assert answer(post("check_password", user="ann", **{"pass": users["frank"]})) == "false"
    assert answer(post("check_password", user="ann")) == "false"
    assert answer(post("user_exists", user="walt")) == "true"
    assert answer(post("user_exists", user="dave")) == "false"
    refused = post("check_password", secret_="wrong", user="ann", **{"pass": users["ann"]})
    assert refused.status_code == 401 and refused.text == ""
    oversized = post("check_password", user="ann", **{"pass": "p" * 5000})
    assert answer(oversized) == "false"


def test_check_token_needs_the_secret_and_refuses_what_is_no_shell_token(client, secret, users, demo):
    """OAUTHBEARER's question: only the tenant's XMPP server may ask, and a token that is not the
    office shell's (here: made-up, oversized, missing) is the same `false`; a real server with
    real tokens is tests/rooms/test_prosody.py."""
    def ask(secret_, **form):
        return client.post("/xmpp/auth/check_token", data={"server": HOST, "user": "ann", **form},
                           headers={"Host": HOST, "Authorization": f"Bearer {secret_}"})

    unauthorised = ask("wrong", token="a.b.c")
    assert unauthorised.status_code == 401 and unauthorised.text == ""
    answers = [ask(secret, token="a.b.c"), ask(secret, token="x" * 9000), ask(secret),
               ask(secret, token=users["ann"]), ask(secret, token="a.b.c", user="nobody")]
    assert [answer(a) for a in answers] == ["false"] * len(answers)
    assert {e["reason"] for e in refusals(demo.store)} == {"secret", "token", "unknown"}
    assert users["ann"] not in repr(audit.read_all(demo.store))
    assert client.get("/xmpp/auth/check_token", headers={"Host": HOST}).status_code == 405
