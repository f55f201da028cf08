"""Indexes: O(1) lookups from a key (an email, a credential id, a subject) to a login.

One small document per key under `index/<name>/`, named by the key's SHA-256,
so a lookup is one file read however many accounts the tenant has, and a key
of any shape (an email with `/`, a base64 credential id) never becomes a path.
An index is derived data: the owning document is the truth, and callers check
an entry against it before trusting it.
"""

from . import layout
from .cache import Memo
from .ids import key_id

# Entries by path, revalidated by the file's stamp on every lookup (codeb.store.cache).
_entries = Memo(size=8192)


def _entry(doc: dict) -> tuple:
    return (doc.get("key"), doc.get("value"), doc.get("at"))


class Index:
    def __init__(self, store, name: str):
        self.store = store
        self.name = name

    def _parts(self, key: str) -> tuple[str, str, str]:
        return (layout.INDEX, self.name, key_id(key))

    def get(self, key: str) -> str | None:
        entry = self.store.derived(_entries, *self._parts(key), make=_entry)
        if entry is None or entry[0] != key:
            return None
        return entry[1]

    def claimed(self, key: str) -> tuple[str, float | None] | None:
        """The value `key` points at and when it was claimed (None for an entry `put`, or one
        written before claims were dated); None when there is no entry."""
        entry = self.store.derived(_entries, *self._parts(key), make=_entry)
        if entry is None or entry[0] != key:
            return None
        return entry[1], entry[2] if isinstance(entry[2], (int, float)) else None

    def lock(self, key: str):
        return self.store.lock(*self._parts(key))

    def claim(self, key: str, value: str) -> bool:
        """Point `key` at `value` unless it already points elsewhere.

        True if the entry now maps to `value`. Concurrent claims for one key
        agree on a single winner (exclusive create).
        """
        if self.store.create(*self._parts(key), doc={"key": key, "value": value, "at": self.store.clock()}):
            return True
        return self.get(key) == value

    def put(self, key: str, value: str) -> None:
        self.store.write(*self._parts(key), doc={"key": key, "value": value})

    def drop(self, key: str) -> bool:
        """Delete the entry whatever it maps to; for a caller holding `lock(key)` (which
        `remove` would wait for)."""
        return self.store.delete(*self._parts(key))

    def remove(self, key: str, value: str | None = None) -> bool:
        """Delete the entry; with `value`, only if it still maps to it."""
        parts = self._parts(key)
        with self.store.lock(*parts):
            if value is not None and self.get(key) != value:
                return False
            return self.store.delete(*parts)
