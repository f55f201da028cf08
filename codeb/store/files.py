"""Atomic file writes: a killed process leaves the old or the new file, never half.

The new content goes to a temporary file in the same folder (so the rename
never crosses a volume), is flushed and fsynced, then `os.replace`d over the
target. The fsync before the rename is what makes the replace safe even across
a power cut: the name never points at data that is not on disk. (The folder is
not fsynced after the rename: losing that rename in a power cut leaves the old
document, which is still whole.)

`durable=False` skips that fsync, for records whose loss in a power cut is
harmless (layout.NOT_DURABLE says which and why). The replace is still atomic
against a killed process: the kernel holds the written data, and a reader or
the next process sees the whole new document or the old one. Only a power cut
(or a kernel crash) may then leave the name pointing at an empty or older
file, which the readers of those kinds treat as absent.

A full volume (ENOSPC, or EDQUOT for a quota on the share) is `StorageFull`, a
domain error the web layer answers with 503 and Retry-After; the temporary file
is removed first, so the old document and nothing else is left. On Windows a
file another process holds open without FILE_SHARE_DELETE (an antivirus scan,
a backup, a reader on another farm server through the SMB share) makes a
rename or replace fail for a moment with a sharing violation, which Python
raises as PermissionError, and so does opening a document in the instant it is
replaced: `replace` and `read_bytes` retry it briefly before giving up.
"""

import errno
import json
import os
import secrets
import shutil
import time
from contextlib import contextmanager

from ..errors import StorageFull

TMP_SUFFIX = ".tmp"
TMP_PREFIX = "~"

_IS_WINDOWS = os.name == "nt"
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})  # Windows' ERROR_DISK_FULL arrives as ENOSPC
SHARING_RETRIES = 50   # × SHARING_PAUSE: half a second at most
SHARING_PAUSE = 0.01


@contextmanager
def room_for_writes():
    """Turn "no space left" of the block's file operations into `StorageFull`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL:
            raise StorageFull() from exc
        raise


def temp_name(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f"{TMP_PREFIX}{name}.{secrets.token_hex(6)}{TMP_SUFFIX}")


def is_temp(name: str) -> bool:
    return name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)


def _sharing(step):
    """Run one file step, retrying a Windows sharing violation (PermissionError) for up to half
    a second. On POSIX a PermissionError is a real permission problem and raised at once."""
    for attempt in range(SHARING_RETRIES):
        try:
            return step()
        except PermissionError:
            if not _IS_WINDOWS or attempt == SHARING_RETRIES - 1:
                raise
            time.sleep(SHARING_PAUSE)
    raise AssertionError("unreachable")


def replace(src: str, dst: str) -> None:
    """`os.replace`: MoveFileEx with MOVEFILE_REPLACE_EXISTING on Windows, retried while the
    target is held open elsewhere."""
    _sharing(lambda: os.replace(src, dst))


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _write_new(tmp: str, data: bytes, durable: bool) -> None:
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        if durable:
            os.fsync(f.fileno())


def write_bytes_atomic(path: str, data: bytes, *, durable: bool = True) -> None:
    tmp = temp_name(path)
    try:
        with room_for_writes():
            _write_new(tmp, data, durable)
            replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def create_bytes_exclusive(path: str, data: bytes, *, durable: bool = True) -> bool:
    """Write `path` only if it does not exist yet; False if it already did.

    The content is complete before the name appears (link of a finished
    temporary file), so a reader never sees a partial document.
    """
    tmp = temp_name(path)
    try:
        with room_for_writes():
            _write_new(tmp, data, durable)
            return _link_new(tmp, path)
    finally:
        _discard(tmp)


def _link_new(tmp: str, path: str) -> bool:
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except (AttributeError, NotImplementedError, PermissionError):
        # File systems without hard links: the caller holds the lock on
        # `path`, so check-then-replace is safe.
        if os.path.exists(path):
            return False
        replace(tmp, path)
        return True


def remove_tree(path: str) -> None:
    """Delete a folder and everything in it. It is renamed aside first, in one step (the
    rename retries a Windows sharing violation), so nobody ever sees it half deleted."""
    if not os.path.isdir(path):
        return
    doomed = os.path.join(os.path.dirname(path), f".removing-{secrets.token_hex(6)}")
    replace(path, doomed)
    shutil.rmtree(doomed)


def encode(doc: dict) -> bytes:
    # One line, keys sorted: json's C encoder (an `indent` would force the slow Python one).
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, None if absent. On Windows, opening a document in the instant another
    process replaces it is a sharing violation too (the old file is pending deletion): retried."""
    try:
        return _sharing(lambda: _read(path))
    except FileNotFoundError:
        return None
