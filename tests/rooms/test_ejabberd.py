"""A real ejabberd (Debian's `ejabberd`) asks CodeB's extauth program who may sign in, and a
real XMPP client, slixmpp, signs in through it (issue 16, "Tests that must exist").

One private ejabberd (tests.support.ejabberd) serves the demo tenant's host `localhost` on a
free loopback port, STARTTLS required with a self-signed certificate the client trusts, and
`extauth_program: "<python> -m codeb --data DIR xmpp-auth demo"`. Each sign-in is a fresh
slixmpp client doing SASL PLAIN (the only mechanism ejabberd offers with external auth) as
`login@localhost` (tests.support.xmpp_client), bounded; its time is printed (`-s` to see them).
"""

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords
from tests.support.ejabberd import EJABBERD, MISSING, Ejabberd
from tests.support.web import HOST, OTHER_HOST

if not EJABBERD:
    pytest.skip(MISSING, allow_module_level=True)
pytest.importorskip("slixmpp", reason="slixmpp is not installed (requirements-dev.txt)")

from tests.support.xmpp_client import sign_in  # needs slixmpp


@pytest.fixture
def ejabberd(tmp_path, data_root, tenants):
    folder = tmp_path / "ejabberd"
    folder.mkdir()
    server = Ejabberd(folder, data_root, {HOST: "demo"})
    yield server
    server.stop()


@pytest.fixture
def people(tenants):
    """ann with an XMPP app password, walt who signs in on the web only (no app password),
    and erin of the other tenant with an XMPP app password of hers."""
    demo, acme = tenants.get("demo"), tenants.get("acme")
    accounts, theirs = Accounts(demo.store, demo.hosts[0]), Accounts(acme.store, acme.hosts[0])
    for login in ("ann", "walt"):
        accounts.create(email=f"{login}@example.com", login=login)
    theirs.create(email="erin@acme.example", login="erin")
    _, ann = app_passwords.create(accounts, "ann", name="Conversations", purposes=["xmpp"], realm=HOST)
    _, erin = app_passwords.create(theirs, "erin", name="Gajim", purposes=["xmpp"], realm=acme.hosts[0])
    return {"accounts": accounts, "ann": ann, "erin": erin}


def test_slixmpp_signs_in_with_an_app_password_and_is_refused_otherwise(ejabberd, people, tenants):
    ejabberd.start()
    ann = people["ann"]
    good = sign_in(ejabberd, f"ann@{HOST}", ann, "ann's app password")
    assert good.outcome == "session", (good, ejabberd.output())
    again = sign_in(ejabberd, f"Ann@{HOST}", ann.replace("-", "").upper(), "ann's, as a phone types it")
    assert again.outcome == "session", again

    refused = {
        "walt, web only, with ann's app password": (f"walt@{HOST}", ann),
        "walt, web only, with a made-up one": (f"walt@{HOST}", app_passwords.generate()),
        "walt, web only, with an empty-looking one": (f"walt@{HOST}", "-"),
        "erin of the other tenant, with her own app password": (f"erin@{HOST}", people["erin"]),
        "ann with erin's app password": (f"ann@{HOST}", people["erin"]),
    }
    for label, (jid, password) in refused.items():
        result = sign_in(ejabberd, jid, password, label)
        assert result.outcome == "refused" and "not-authorized" in result.detail, (label, result)

    (listed,) = app_passwords.listed(people["accounts"].require("ann"))
    app_passwords.revoke(people["accounts"], "ann", listed.id)
    revoked = sign_in(ejabberd, f"ann@{HOST}", ann, "ann's app password, revoked")
    assert revoked.outcome == "refused" and "not-authorized" in revoked.detail, revoked

    # ejabberd's own account of it: PLAIN through the external backend, twice yes, six times no
    accepted = ejabberd.logged(f"Accepted c2s PLAIN authentication for ann@{HOST} by external backend", 2)
    failed = ejabberd.logged("Failed c2s PLAIN authentication for ", len(refused) + 1)
    assert (accepted, failed) == (2, len(refused) + 1), ejabberd.log_text()[-5000:]
    # and CodeB's (repeated identical refusals are one audit line with a count)
    reasons = {(e.get("login", "-"), e["reason"]) for e in audit.read_all(tenants.get("demo").store)
               if e["event"] == "xmpp.auth_refused"}
    assert reasons == {("walt", "no_app_password"), ("-", "unknown"), ("ann", "wrong"),
                       ("ann", "no_app_password")}, reasons
    entries = repr(audit.read_all(tenants.get("demo").store))
    assert ann not in entries and people["erin"] not in entries  # audited without the secret


def test_each_tenants_host_asks_its_own_tenant(tmp_path, data_root, tenants, people):
    """One ejabberd serving both tenants, each host with its own extauth program: erin signs
    in on acme's host, and neither tenant's credentials work on the other's."""
    folder = tmp_path / "ejabberd-both"
    folder.mkdir()
    server = Ejabberd(folder, data_root, {HOST: "demo", OTHER_HOST: "acme"})
    try:
        server.start()
        erin = sign_in(server, f"erin@{OTHER_HOST}", people["erin"], "erin on acme's host")
        assert erin.outcome == "session", (erin, server.output())
        for label, (jid, password) in {"ann on acme's host": (f"ann@{OTHER_HOST}", people["ann"]),
                                       "erin on demo's host": (f"erin@{HOST}", people["erin"])}.items():
            result = sign_in(server, jid, password, label)
            assert result.outcome == "refused" and "not-authorized" in result.detail, (label, result)
        ann = sign_in(server, f"ann@{HOST}", people["ann"], "ann on demo's host")
        assert ann.outcome == "session", ann
    finally:
        server.stop()
