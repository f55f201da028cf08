"""A real Prosody (Debian's `prosody`) asks CodeB's HTTP auth endpoint who may sign in, through
CodeB's own Prosody module (deploy/prosody/mod_auth_codeb.lua), and a real XMPP client,
slixmpp, signs in through it (issue 16, "Tests that must exist": "the same against a real
Prosody with its HTTP auth module").

Debian's prosody-modules has no mod_auth_http, and that community module sends the password
in a GET's query string, where IIS's access log would keep it: CodeB ships its own module,
which POSTs the same question (codeb.web.xmpp answers both). CodeB is served by waitress on
a free loopback port (`served`), Prosody serves the demo tenant's host `localhost` with the
settings `python -m codeb xmpp-auth-secret demo` prints.
"""

import json
import re
from pathlib import Path

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords
from codeb.cli import main as cli
from tests.support.oidc import tokens_for
from tests.support.prosody import MISSING, PROSODY, Prosody
from tests.support.web import HOST, RP
from tests.support.workspace import SHELL, sub_of

if not PROSODY:
    pytest.skip(MISSING, allow_module_level=True)
pytest.importorskip("slixmpp", reason="slixmpp is not installed (requirements-dev.txt)")

from tests.support.xmpp_client import sign_in  # needs slixmpp


def operator_settings(data_root, capsys) -> dict:
    """What the operator copies into the VirtualHost: `prosody` of xmpp-auth-secret's output."""
    assert cli(["--data", str(data_root), "xmpp-auth-secret", "demo"]) == 0
    settings = json.loads(capsys.readouterr().out)["prosody"]
    assert settings["authentication"] == "codeb" and settings["plugin"] == "deploy/prosody/mod_auth_codeb.lua"
    return settings


@pytest.fixture
def people(tenants):
    demo, acme = tenants.get("demo"), tenants.get("acme")
    accounts, theirs = Accounts(demo.store, demo.hosts[0]), Accounts(acme.store, acme.hosts[0])
    for login in ("ann", "walt"):
        accounts.create(email=f"{login}@example.com", login=login)
    theirs.create(email="erin@acme.example", login="erin")
    _, ann = app_passwords.create(accounts, "ann", name="Monal", purposes=["xmpp"], realm=HOST)
    _, phone = app_passwords.create(accounts, "walt", name="Desk phone", purposes=["sip"], realm=HOST)
    _, erin = app_passwords.create(theirs, "erin", name="Gajim", purposes=["xmpp"], realm=acme.hosts[0])
    return {"accounts": accounts, "ann": ann, "walt_sip": phone, "erin": erin}


def prosody_for(tmp_path, name: str, url: str, secret: str) -> Prosody:
    folder = tmp_path / name
    folder.mkdir()
    return Prosody(folder, {HOST: (url, secret)})


def test_slixmpp_signs_in_through_prosody_with_an_app_password_and_is_refused_otherwise(
        tmp_path, data_root, capsys, served, people, tenants):
    settings = operator_settings(data_root, capsys)
    # CodeB on the loopback over plain HTTP (the module allows http:// only there)
    prosody = prosody_for(tmp_path, "prosody", f"{served}/xmpp/auth", settings["codeb_auth_secret"])
    prosody.start()
    try:
        ann = people["ann"]
        good = sign_in(prosody, f"ann@{HOST}", ann, "ann's app password")
        assert good.outcome == "session", (good, prosody.output())
        typed = sign_in(prosody, f"ann@{HOST}", ann.replace("-", "").upper(), "ann's, as a phone types it")
        assert typed.outcome == "session", typed

        refused = {
            "walt, web only, with ann's app password": (f"walt@{HOST}", ann),
            "walt with his SIP-only app password": (f"walt@{HOST}", people["walt_sip"]),
            "nobody, with ann's app password": (f"nobody@{HOST}", ann),
            "erin of the other tenant, with her own app password": (f"erin@{HOST}", people["erin"]),
            "ann with a made-up one": (f"ann@{HOST}", app_passwords.generate()),
        }
        for label, (jid, password) in refused.items():
            result = sign_in(prosody, jid, password, label)
            assert result.outcome == "refused" and "not-authorized" in result.detail, (label, result)

        (listed,) = app_passwords.listed(people["accounts"].require("ann"))
        app_passwords.revoke(people["accounts"], "ann", listed.id)
        revoked = sign_in(prosody, f"ann@{HOST}", ann, "ann's app password, revoked")
        assert revoked.outcome == "refused" and "not-authorized" in revoked.detail, revoked
        log = prosody.log_text()
    finally:
        prosody.stop()

    # Prosody POSTed its questions: the request lines it logged hold no password
    asked = re.findall(r"Making HTTP (\w+) request '\w+' to (\S+)", log)
    assert asked and all(method == "POST" and url == f"{served}/xmpp/auth/check_password" for method, url in asked), \
        asked
    for secret in (ann, people["erin"], people["walt_sip"], settings["codeb_auth_secret"]):
        assert secret not in log
    reasons = {(e.get("login", "-"), e["reason"]) for e in audit.read_all(tenants.get("demo").store)
               if e["event"] == "xmpp.auth_refused"}
    assert reasons == {("walt", "no_app_password"), ("-", "unknown"), ("ann", "wrong"),
                       ("ann", "no_app_password")}, reasons
    entries = repr(audit.read_all(tenants.get("demo").store))
    assert ann not in entries and people["erin"] not in entries  # audited without the secret


def test_prosody_fails_closed_with_a_wrong_secret_or_without_codeb(tmp_path, data_root, capsys, served, people,
                                                                    tenants):
    settings = operator_settings(data_root, capsys)
    wrong = prosody_for(tmp_path, "wrong-secret", f"{served}/xmpp/auth", settings["codeb_auth_secret"][:-2] + "xx")
    wrong.start()
    try:
        result = sign_in(wrong, f"ann@{HOST}", people["ann"], "ann, Prosody holding a wrong secret")
        assert result.outcome == "refused", result
    finally:
        wrong.stop()
    assert [e["reason"] for e in audit.read_all(tenants.get("demo").store)
            if e["event"] == "xmpp.auth_refused"] == ["secret"]

    # CodeB not answering (a port where nothing listens): a refusal, not a hang or a sign-in
    gone = prosody_for(tmp_path, "no-codeb", "http://127.0.0.1:9/xmpp/auth", settings["codeb_auth_secret"])
    gone.start()
    try:
        result = sign_in(gone, f"ann@{HOST}", people["ann"], "ann, CodeB unreachable")
        assert result.outcome == "refused", result
    finally:
        gone.stop()


class Shell:
    """Someone signed in to the office shell of the served site: its access token and login."""

    def __init__(self, app, mailbox, served: str, email: str, accounts: Accounts):
        shell = RP(SHELL.client_id, None, f"{served}/office.html")  # the served site's origin has its port
        self.token = tokens_for(app.test_client(), mailbox, shell, email=email)["access_token"]
        self.login = accounts.find_by_sub(sub_of(self)).login


OAUTHBEARER_MODULE = Path("/usr/lib/prosody/modules/mod_sasl_oauthbearer/mod_sasl_oauthbearer.lua")


@pytest.mark.skipif(not OAUTHBEARER_MODULE.exists(), reason="prosody-modules is not installed (`make system-deps`)")
def test_slixmpp_signs_in_with_sasl_oauthbearer_and_an_access_token_of_the_office_shell(
        tmp_path, data_root, capsys, served, app, mailbox, rp, tenants):
    """With `codeb_oauthbearer = true` Prosody offers OAUTHBEARER (prosody-modules'
    mod_sasl_oauthbearer) and asks CodeB's check_token: only the shell's own token of the
    account signing in, valid now, signs in; a relying party's token, another person's, a
    forged one, and the token of a disabled account are refused."""
    settings = operator_settings(data_root, capsys)
    accounts = Accounts(tenants.get("demo").store, HOST)
    ann, bob = (Shell(app, mailbox, served, email, accounts) for email in ("ann@example.com", "bob@example.com"))
    relying_party = tokens_for(app.test_client(), mailbox, rp, email="ann@example.com")["access_token"]
    folder = tmp_path / "oauthbearer"
    folder.mkdir()
    prosody = Prosody(folder, {HOST: (f"{served}/xmpp/auth", settings["codeb_auth_secret"])}, oauthbearer=True)
    prosody.start()
    try:
        good = sign_in(prosody, f"{ann.login}@{HOST}", "", "ann, OAUTHBEARER with the shell's token", token=ann.token)
        assert good.outcome == "session", (good, prosody.output())
        head, body, _ = ann.token.split(".")
        refused = {
            "ann with bob's token": (ann.login, bob.token),
            "ann with a relying party's token of hers": (ann.login, relying_party),
            "ann with her token's signature cut": (ann.login, f"{head}.{body}."),
            "nobody with ann's token": ("nobody", ann.token),
        }
        for label, (login, token) in refused.items():
            result = sign_in(prosody, f"{login}@{HOST}", "", label, token=token)
            assert result.outcome == "refused", (label, result)
        accounts.set_disabled(ann.login, True)
        disabled = sign_in(prosody, f"{ann.login}@{HOST}", "", "ann, disabled, with her token", token=ann.token)
        assert disabled.outcome == "refused", disabled
        log = prosody.log_text()
    finally:
        prosody.stop()
    assert "OAUTHBEARER" in log
    reasons = [(e.get("login", "-"), e["reason"]) for e in audit.read_all(tenants.get("demo").store)
               if e["event"] == "xmpp.auth_refused"]
    assert sorted(set(reasons)) == sorted({(ann.login, "token_other"), (ann.login, "token"), ("-", "unknown")}), \
        reasons
    entries = repr(audit.read_all(tenants.get("demo").store))
    assert ann.token not in entries and bob.token not in entries and body not in entries
