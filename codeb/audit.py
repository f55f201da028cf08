"""The tenant's append-only log of security events: `audit/<YYYY-MM>.jsonl`.

One JSON object per line: time, event name, and the facts that matter (login,
method, client, outcome). An event about an account names it by its `sub`,
which is never reused, and by its login, which the admin reads but which a
later account may get: an account's events are found by sub. Never a secret: no tokens, no links, no passwords.
The store's `Log` holds the month file's lock for each append, so lines from
many processes never mix.
"""

import time

from .store import layout


def _log(store):
    return store.log(layout.AUDIT)


def append(store, event: str, **facts) -> None:
    now = store.clock()
    month = time.strftime("%Y-%m", time.gmtime(now))
    _log(store).append(month, {"time": round(now, 3), "event": event, **facts})


def read(store, month: str) -> list[dict]:
    return _log(store).read(month)


def read_all(store) -> list[dict]:
    """Every month's events, oldest first."""
    log = _log(store)
    return [event for month in log.names() for event in log.read(month)]


def of_account(store, account) -> list[dict]:
    """The events about one account, oldest first (what a GDPR export includes): those naming
    its sub, and those written before events named subs if they name its login and are not
    older than the account (an earlier holder's are)."""
    return [event for event in read_all(store)
            if event.get("sub") == account.sub
            or ("sub" not in event and event.get("login") == account.login
                and event.get("time", 0) >= (account.created or 0))]
