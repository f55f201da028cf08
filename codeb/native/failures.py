"""Failure windows for the native bridges: after `limit` failures for a key within `window`
seconds, every further attempt for that key is refused, the right password too, until the
window is over.

An attempt is counted as a failure before its password is checked, under the record's lock
(`admit`), as the password sign-in does (codeb.signin.password): parallel guesses each see
the ones before them, so no more than `limit` are ever checked in one window. A right
password then takes its attempt back (`forgive`) or clears the key (`clear`).
The records are transient (`transient/<kind>/`); the kinds are in `layout.NOT_DURABLE`: a
window a power cut forgets lets at most `limit` more attempts through once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store, secret_id


@dataclass(frozen=True)
class Failures:
    """The failures of one kind of key (an account, a source) in one tenant's store."""

    store: Store
    kind: str
    limit: int
    window: int

    @property
    def _records(self):
        return self.store.transient(self.kind)

    def admit(self, key: str) -> int:
        """Count this attempt as a failure and return 0; or, while the window is full, count
        nothing and return the seconds until it is over."""
        rid, records, now = secret_id(key), self._records, self.store.clock()
        with records.lock(rid):
            record = records.get(rid)
            start, count = (record["start"], record["count"]) if record else (now, 0)
            if start + self.window <= now:  # this window is over: a new one begins
                start, count = now, 0
            if count >= self.limit:
                return max(1, int(start + self.window - now))
            records.put(rid, {"start": start, "count": count + 1}, ttl=max(1, start + self.window - now))
            return 0

    def blocked(self, key: str) -> int:
        """While the window of `key` is full, the seconds until it is over; else 0. Counts nothing
        (the SIP lookup asks before a check it cannot see, and counts only reported failures)."""
        record, now = self._records.get(secret_id(key)), self.store.clock()
        if record is None or record["start"] + self.window <= now or record["count"] < self.limit:
            return 0
        return max(1, int(record["start"] + self.window - now))

    def forgive(self, key: str) -> None:
        """Take back an attempt `admit` counted that did not fail."""
        rid, records, now = secret_id(key), self._records, self.store.clock()
        with records.lock(rid):
            record = records.get(rid)
            if record is None or record["count"] <= 0:
                return
            if record["count"] == 1:
                records.delete(rid)
                return
            records.put(rid, {"start": record["start"], "count": record["count"] - 1},
                        ttl=max(1, record["start"] + self.window - now))

    def clear(self, key: str) -> None:
        """Forget every failure of `key` (its right password was given)."""
        rid, records = secret_id(key), self._records
        with records.lock(rid):
            records.delete(rid)
