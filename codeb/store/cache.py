"""Per-process memos of what is derived from documents, each revalidated by a stamp.

IIS runs several processes on one folder (DESIGN invariant 1), so nothing here is
the truth: a memo only saves parsing a document again while the file is unchanged.
Every use compares the file's stamp (modification time in ns, size and inode: an
atomic replace always brings a new inode) with the stamp the value was made from,
so a change by any process is seen on the very next use. The stamp is taken before
the file is read: a replace between the two leaves an older stamp beside newer
content, which the next use reloads, never the other way round. The store's own
writes drop the memo of the path they replace as well.

A memo holds at most `size` paths (least recently used go first), so one process
serving many accounts does not grow without bound.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

Stamp = tuple[int, int, int]
MISSING: Any = object()


def stamp_of(path: str) -> Stamp | None:
    """(mtime in ns, size, inode) of a file, None if it is absent."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Memo:
    """Values by path, each kept with the stamp of the file it came from."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._entries: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()  # waitress serves requests on several threads
        _memos.append(self)

    def get(self, path, stamp) -> Any:
        """The value made from the file as it was at `stamp`, or MISSING."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry[0] != stamp:
                return MISSING
            self._entries.move_to_end(path)
            return entry[1]

    def put(self, path, stamp, value) -> None:
        with self._lock:
            self._entries[path] = (stamp, value)
            self._entries.move_to_end(path)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, path) -> None:
        with self._lock:
            self._entries.pop(path, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_memos: list[Memo] = []


def forget(path: str) -> None:
    """Drop `path` from every memo: the store is about to replace or remove the file."""
    for memo in _memos:
        memo.forget(path)
