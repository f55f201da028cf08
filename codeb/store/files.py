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
"""

import json
import os
import secrets
import shutil
import time

TMP_SUFFIX = ".tmp"
TMP_PREFIX = "~"

_IS_WINDOWS = os.name == "nt"


def temp_name(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f"{TMP_PREFIX}{name}.{secrets.token_hex(6)}{TMP_SUFFIX}")


def is_temp(name: str) -> bool:
    return name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)


def replace(src: str, dst: str) -> None:
    # On Windows a reader holding the target open makes the replace fail for a
    # moment (sharing violation); retry briefly rather than fail the request.
    for attempt in range(50):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if not _IS_WINDOWS or attempt == 49:
                raise
            time.sleep(0.01)


def write_bytes_atomic(path: str, data: bytes, *, durable: bool = True) -> None:
    tmp = temp_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def create_bytes_exclusive(path: str, data: bytes, *, durable: bool = True) -> bool:
    """Write `path` only if it does not exist yet; False if it already did.

    The content is complete before the name appears (link of a finished
    temporary file), so a reader never sees a partial document.
    """
    tmp = temp_name(path)
    with open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        if durable:
            os.fsync(f.fileno())
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    except (AttributeError, NotImplementedError, PermissionError):
        # File systems without hard links: the caller holds the lock on
        # `path`, so check-then-replace is safe.
        created = not os.path.exists(path)
        if created:
            replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    return created


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


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
