"""The tenant's append-only log of security events: `audit/<YYYY-MM>.jsonl`.

One JSON object per line: time, event name, and the facts that matter (login,
method, client, outcome). Never a secret: no tokens, no links, no passwords.
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


def of_account(store, login: str) -> list[dict]:
    """The events about one account, oldest first (what a GDPR export includes)."""
    return [event for event in read_all(store) if event.get("login") == login]
