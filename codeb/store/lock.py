"""Cross-process locks (DESIGN invariant 1).

IIS runs several Python processes per site, and waitress several threads per
process, so a lock must hold across both. Each lock is an OS file lock on a
small file in the tenant's `.locks/` folder: `fcntl.flock` on POSIX,
`msvcrt.locking` on Windows. Both are released by the OS when a process dies,
so a killed worker never leaves a lock behind.
"""

import os
import sys
import time
from contextlib import contextmanager

from ..errors import StoreBusy

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


DEFAULT_TIMEOUT = 10.0


def open_lock_file(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def file_lock(path: str, timeout: float = DEFAULT_TIMEOUT, *, fd: int | None = None):
    """Hold an exclusive lock on `path` (created if missing) for the block; `fd`, if given,
    is the lock file already opened with `open_lock_file`, and closed here."""
    if fd is None:
        fd = open_lock_file(path)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise StoreBusy()
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
