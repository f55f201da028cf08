"""Fixtures of the HTTP tests that more than one module uses."""

import pytest

from codeb.accounts import Accounts
from tests.support.web import HOST, OTHER_HOST, sign_in, signed_in_admin
from tests.support.workspace import Person


@pytest.fixture
def people(app, mailbox, accounts, tenants):
    """An admin (boss) and a user (bob) of `demo`, an admin (root) of `acme`, each signed in
    in their own browser, and a browser signed in nowhere."""
    browsers = {"admin": signed_in_admin(app, mailbox, accounts)}
    accounts.create(email="bob@example.com", login="bob")
    browsers["user"] = app.test_client()
    sign_in(browsers["user"], mailbox, "bob@example.com", host=HOST)
    browsers["other"] = signed_in_admin(app, mailbox, Accounts(tenants.get("acme").store, OTHER_HOST),
                                        email="root@acme.example", login="root")
    browsers["anonymous"] = app.test_client()
    return browsers


# The workspace's people (tests/http/test_workspace_*.py), each with the shell's token.
@pytest.fixture
def alice(app, mailbox):
    return Person(app, mailbox, "alice@example.com")


@pytest.fixture
def bob(app, mailbox):
    return Person(app, mailbox, "bob@example.com")


@pytest.fixture
def carol(app, mailbox):
    return Person(app, mailbox, "carol@example.com")


@pytest.fixture
def channel(alice, bob):
    made = alice.send("POST", "/api/channels", {"name": "Team", "members": [bob.login]})
    assert made.status_code == 201, made.text
    return made.json["channel"]["id"]
