"""The audit log's events about one account: found by its sub, never by a reusable login."""

from codeb import audit
from codeb.accounts import Account
from codeb.store import Store
from tests.support.clock import Clock


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
