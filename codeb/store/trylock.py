"""A lock taken only if it is free: for work that another process may already be doing.

`Store.lock` waits for its lock (and gives up with StoreBusy). A worker draining a
queue must not wait for a job another worker holds, and a claim must be able to ask
"is anyone composing this tenant now?" without waiting for the answer: both take the
same OS file lock as `Store.lock` (codeb.store.lock), without waiting.
"""

import os
from contextlib import contextmanager

from .lock import _try_lock, _unlock, open_lock_file


def _open(path: str, *, make: bool) -> int | None:
    try:
        return open_lock_file(path)
    except FileNotFoundError:
        if not make:
            return None
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open_lock_file(path)


@contextmanager
def held_if_free(path: str):
    """Hold the lock at `path` for the block if nobody holds it; yields whether it was taken."""
    fd = _open(path, make=True)
    assert fd is not None
    try:
        if not _try_lock(fd):
            yield False
            return
        try:
            yield True
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def is_free(path: str) -> bool:
    """Whether nobody holds the lock at `path` this moment (a lock file never made is free)."""
    fd = _open(path, make=False)
    if fd is None:
        return True
    try:
        if not _try_lock(fd):
            return False
        _unlock(fd)
        return True
    finally:
        os.close(fd)
