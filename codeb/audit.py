"""The tenant's append-only log of security events: `audit/<YYYY-MM>.jsonl`.

One JSON object per line: time, event name, and the facts that matter (login,
method, client, outcome). An event about an account names it by its `sub`,
which is never reused, and by its login, which the admin reads but which a
later account may get: an account's events are found by sub. Never a secret: no tokens, no links, no passwords.
The store's `Log` holds the month file's lock for each append, so lines from
many processes never mix.

Failures anyone can cause without an account (`AGGREGATED`) do not each get a
line: the first of a window is written at once; repeats with the same facts
(same event, IP, account, reason) within `AGGREGATE_WINDOW` are only counted,
in a transient record, and when the window is over one line with their `count`
is written: by the next such event, or by the next reader. A flood of failed
sign-ins is two lines per source and window, not one per request.
"""

import json
import time

from .store import layout, secret_id

AGGREGATED = frozenset({"signin.failed"})
AGGREGATE_WINDOW = 300  # five minutes
REPEATS_KEPT = 40 * 86400  # a window's count waits this long for a reader (then only its first line stays)


def _log(store):
    return store.log(layout.AUDIT)


def append(store, event: str, **facts) -> None:
    if event in AGGREGATED:
        _count(store, event, facts)
    else:
        _write(store, store.clock(), {"event": event, **facts})


def _write(store, now: float, line: dict) -> None:
    month = time.strftime("%Y-%m", time.gmtime(now))
    _log(store).append(month, {"time": round(now, 3), **line})


def _count(store, event: str, facts: dict) -> None:
    now = store.clock()
    repeats = store.transient(layout.AUDIT_REPEATS)
    rid = secret_id(json.dumps([event, facts], sort_keys=True, default=str))
    with repeats.lock(rid):
        record = repeats.get(rid)
        if record is not None and now < record["since"] + AGGREGATE_WINDOW:
            record["count"] += 1
            record["last"] = now
            repeats.put(rid, record, ttl=REPEATS_KEPT)
            return
        if record is not None:
            _close(store, record)
        _write(store, now, {"event": event, **facts})  # the window's first: at once
        repeats.put(rid, {"line": {"event": event, **facts}, "since": now, "last": now, "count": 0},
                     ttl=REPEATS_KEPT)


def _close(store, record: dict) -> None:
    """The line for a window's repeats (after its first line): how many, since when."""
    if record["count"]:
        _write(store, record["last"], {**record["line"], "count": record["count"],
                                       "repeated_since": round(record["since"], 3)})


def _close_finished_windows(store) -> None:
    """Write the count of every window that is over, so a reader sees all of them."""
    now = store.clock()
    repeats = store.transient(layout.AUDIT_REPEATS)
    for rid in store.list(layout.TRANSIENT, layout.AUDIT_REPEATS):
        with repeats.lock(rid):
            record = repeats.get(rid)
            if record is not None and now >= record["since"] + AGGREGATE_WINDOW:
                _close(store, record)
                repeats.delete(rid)


def read(store, month: str) -> list[dict]:
    _close_finished_windows(store)
    return _log(store).read(month)


def read_all(store) -> list[dict]:
    """Every month's events, oldest first."""
    _close_finished_windows(store)
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
