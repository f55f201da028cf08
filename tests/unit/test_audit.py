"""The audit log (codeb.audit): what is written, how repeated failures are aggregated, and
which events belong to an account (by its sub, never by a reusable login)."""

import os

import pytest

from codeb import audit
from codeb.accounts import Account
from codeb.store import Store
from tests.support.clock import Clock


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "t"), clock=Clock(1_800_000_000.0))


def lines(store):
    folder = os.path.join(store.root, "audit")
    return sum(1 for name in os.listdir(folder) for _ in open(os.path.join(folder, name)))


def test_repeated_failures_from_one_source_are_one_line_with_a_count(store):
    """Finding 6: every failed sign-in wrote a line of its own, so anonymous requests grew the
    log without bound; the same event from the same IP (and account) within a window is
    aggregated into a line with a count, a different source or a later window is not."""
    clock = store.clock
    for _ in range(200):
        audit.append(store, "signin.failed", method="passkey", reason="error.passkey_unknown", ip="192.0.2.9")
        clock.advance(0.5)
    audit.append(store, "signin.failed", method="passkey", reason="error.passkey_unknown", ip="198.51.100.1")
    assert lines(store) <= 3
    clock.advance(audit.AGGREGATE_WINDOW)
    events = [e for e in audit.read_all(store) if e["event"] == "signin.failed"]
    from_9 = [e for e in events if e["ip"] == "192.0.2.9"]
    assert sum(e.get("count", 1) for e in from_9) == 200 and len(from_9) <= 2
    assert [e.get("count", 1) for e in events if e["ip"] == "198.51.100.1"] == [1]
    assert lines(store) == len(events) <= 3
    audit.append(store, "signin.failed", method="passkey", reason="error.passkey_unknown", ip="192.0.2.9")
    assert sum(e.get("count", 1) for e in audit.read_all(store) if e["ip"] == "192.0.2.9") == 201


def test_other_events_are_written_one_line_each_at_once(store):
    for n in range(3):
        audit.append(store, "signin", login="alice", method="magic_link", n=n)
    assert [e["n"] for e in audit.read_all(store)] == [0, 1, 2]


def test_an_accounts_events_are_found_by_sub_and_an_earlier_holders_are_not(tmp_path):
    """Finding 4: of_account finds events by sub; events from before subs were recorded count only
    if they are not older than the account (an earlier holder of the login wrote those)."""
    clock = Clock(1000.0)
    store = Store(str(tmp_path), clock=clock)
    audit.append(store, "signin", login="erin")                  # an earlier erin, before events named subs
    audit.append(store, "signin", login="erin", sub="first")     # the earlier erin
    clock.advance(10)
    audit.append(store, "user.created", login="erin", sub="second")
    audit.append(store, "signin", login="erin")                  # the new erin, written without a sub
    second = Account({"login": "erin", "sub": "second", "created": 1010})
    assert [(e["event"], e.get("sub")) for e in audit.of_account(store, second)] == [
        ("user.created", "second"), ("signin", None)]
    first = Account({"login": "erin", "sub": "first", "created": 900})
    assert ("signin", "first") in [(e["event"], e.get("sub")) for e in audit.of_account(store, first)]
    assert all(e.get("sub") != "second" for e in audit.of_account(store, first))
