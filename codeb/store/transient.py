"""Records that expire: codes, link hashes, interactions, sessions, counters.

Each record is a document under `transient/<kind>/` with an `expires` time. A
read of an expired record deletes it and answers None (lazy purge), and at most
once a minute per kind a write sweeps the folder: the file's modification time
is set to the expiry, so the sweep needs only a `stat` per file. `take` hands a
record to exactly one caller, across processes, by renaming it away first:
single-use secrets (magic links) rely on it; `move_to` renames a record into another
kind in one step, which spends an authorization code into its replay marker. Kinds in
`layout.NOT_DURABLE` are written without fsync (the reasons are there).
"""

import hashlib
import json
import os
import secrets
from contextlib import contextmanager

from ..errors import NotFound, StoreCorrupt
from . import files, layout, names
from .ids import secret_id

PURGE_INTERVAL = 60
STRIPES = 256
STRAY_AGE = 600  # temp files and half-taken records older than this are swept


class Transient:
    def __init__(self, store, kind: str):
        self.store = store
        self.kind = names.segment(kind)
        self.durable = layout.durable(self.kind)

    def _parts(self, rid: str) -> tuple[str, str, str]:
        return (layout.TRANSIENT, self.kind, rid)

    def put(self, rid: str, record: dict, ttl: float) -> dict:
        now = self.store.clock()
        doc = {**record, "expires": int(now + ttl)}
        self.store.write(*self._parts(rid), doc=doc, durable=self.durable)
        self._stamp(rid, doc["expires"])
        self._maybe_purge(now)
        return doc

    def create(self, rid: str, record: dict, ttl: float) -> bool:
        """Like put, but False (and nothing written) if the id is taken."""
        now = self.store.clock()
        doc = {**record, "expires": int(now + ttl)}
        created = self.store.create(*self._parts(rid), doc=doc, durable=self.durable)
        if created:
            self._stamp(rid, doc["expires"])
            self._maybe_purge(now)
        return created

    def _stamp(self, rid: str, expires: int) -> None:
        try:
            os.utime(self.store.doc_path(*self._parts(rid)), (expires, expires))
        except FileNotFoundError:  # taken or purged meanwhile
            pass

    def get(self, rid: str) -> dict | None:
        try:
            doc = self.store.read(*self._parts(rid))
        except StoreCorrupt:
            if self.durable:
                raise
            doc = None  # what a power cut may leave of a record written without fsync: gone
            self.store.delete(*self._parts(rid))
        if doc is None:
            return None
        if doc.get("expires", 0) <= self.store.clock():
            self.store.delete(*self._parts(rid))
            return None
        return doc

    def take(self, rid: str) -> dict | None:
        """Remove the record and return it, to exactly one caller."""
        path = self.store.doc_path(*self._parts(rid))
        claimed = f"{path}.taken-{secrets.token_hex(6)}"
        try:
            files.replace(path, claimed)  # retries a Windows sharing violation
        except FileNotFoundError:
            return None
        try:
            doc = self.store.decode(path, files.read_bytes(claimed))
        except StoreCorrupt:
            if self.durable:
                raise
            return None  # a power cut's leftover of a record written without fsync
        finally:
            os.unlink(claimed)
        if doc.get("expires", 0) <= self.store.clock():
            return None
        return doc

    def move_to(self, rid: str, other: "Transient") -> bool:
        """Move the record, as it is, under `other` kind with the same id: the single use of
        a record whose spending leaves a marker (`take` and then a write, in one rename).
        Its expiry and the purge's mtime hint move with it. False to every caller but one."""
        return self.store.move(self._parts(rid), other._parts(rid))

    def delete(self, rid: str) -> bool:
        return self.store.delete(*self._parts(rid))

    def lock(self, rid: str):
        """One of STRIPES locks per kind: records come and go by the million
        (rate-limit keys, sessions), their locks must not pile up on disk. No
        caller holds two records of one kind at once, so stripes cannot deadlock."""
        names.segment(rid)
        stripe = int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16) % STRIPES
        return self.store.lock(layout.TRANSIENT, self.kind, f"stripe{stripe}")

    @contextmanager
    def update(self, rid: str):
        """Read-modify-write a live record under its lock (NotFound if absent)."""
        with self.lock(rid):
            doc = self.get(rid)
            if doc is None:
                raise NotFound()
            yield doc
            self.store.write(*self._parts(rid), doc=doc, durable=self.durable)
            self._stamp(rid, doc["expires"])  # keep the purge's mtime hint

    # -- purge -----------------------------------------------------------------

    def _maybe_purge(self, now: float) -> None:
        marker = os.path.join(self.store.folder(layout.TRANSIENT, self.kind), ".purged")
        try:
            if now - os.stat(marker).st_mtime < PURGE_INTERVAL:
                return
        except FileNotFoundError:
            pass
        with open(marker, "a"):
            pass
        os.utime(marker, (now, now))
        self.purge(now)

    def purge(self, now: float | None = None) -> int:
        """Delete expired records and stray temporary files; return how many."""
        now = self.store.clock() if now is None else now
        folder = self.store.folder(layout.TRANSIENT, self.kind)
        removed = 0
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name == ".purged":
                continue
            try:
                mtime = entry.stat().st_mtime
                if entry.name.endswith(".json") and not files.is_temp(entry.name):
                    if mtime <= now and self._expired_on_disk(entry.path, now):
                        os.unlink(entry.path)
                        removed += 1
                elif mtime < now - STRAY_AGE:
                    os.unlink(entry.path)
                    removed += 1
            except (FileNotFoundError, PermissionError):
                continue
        return removed

    @staticmethod
    def _expired_on_disk(path: str, now: float) -> bool:
        try:
            with open(path, "rb") as f:
                return json.loads(f.read()).get("expires", 0) <= now
        except (ValueError, AttributeError):
            return True  # unreadable transient state is worthless: sweep it


class Counter:
    """Fixed-window counters for rate limits, shared by every process."""

    def __init__(self, store, kind: str):
        self.records = Transient(store, kind)
        self.clock = store.clock

    def hit(self, key: str, limit: int, window: int) -> int:
        """Count one event for `key`; return 0 if allowed, else seconds to wait."""
        return self.hit_rules(key, [(limit, window)])

    def hit_rules(self, key: str, rules) -> int:
        """Count one event for `key` against each (limit, window) rule, each its own window,
        all kept in one record: one lock and one write however many rules. Return 0 if all
        allow it (then it is counted in each), else the seconds to wait for the first that
        is full (and it is counted in none)."""
        rid = secret_id(key)
        now = self.clock()
        with self.records.lock(rid):
            doc = self.records.get(rid)
            kept = {w: (start, count) for w, start, count in (doc or {}).get("windows", [])}
            windows = []
            for limit, window in rules:
                start, count = kept.get(window, (int(now), 0))
                if start + window <= now:  # this window is over: a new one begins
                    start, count = int(now), 0
                if count >= limit:
                    return max(1, int(start + window - now))
                windows.append([window, start, count + 1])
            self.records.put(rid, {"windows": windows},
                             ttl=max(start + window - now for window, start, _ in windows))
            return 0
