"""A volume that is full, in-process: the store's low-level writes fail with ENOSPC.

Where a test cannot mount a small tmpfs (not root), this stands in for it:
`FullDisk(monkeypatch)` wraps `codeb.store.files._write_new` (every document's
temporary file), `codeb.store.log._append` (audit lines) and `os.fsync` (the
mail spool's staged file). While `full` is set, a document write puts half of
its bytes into the temporary file and then fails as a real full disk does, so
a test also sees that the half-written temporary file is removed.

    disk = FullDisk(monkeypatch); disk.full = True; ...; disk.full = False
"""

import errno
import os

from codeb.store import files
from codeb.store import log as log_module


def no_space(path: str = "") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


class FullDisk:
    def __init__(self, monkeypatch):
        self.full = False
        self.refused = 0  # writes that failed for want of space
        write_new, append, fsync = files._write_new, log_module._append, os.fsync

        def write_new_or_fail(tmp, data, durable):
            if not self.full:
                return write_new(tmp, data, durable)
            with open(tmp, "xb") as f:  # the part that fitted
                f.write(data[: len(data) // 2])
            self.refused += 1
            raise no_space(tmp)

        def append_or_fail(path, line):
            if self.full:
                self.refused += 1
                raise no_space(path)
            return append(path, line)

        def fsync_or_fail(fd):
            if self.full:
                self.refused += 1
                raise no_space()
            return fsync(fd)

        monkeypatch.setattr(files, "_write_new", write_new_or_fail)
        monkeypatch.setattr(log_module, "_append", append_or_fail)
        monkeypatch.setattr(os, "fsync", fsync_or_fail)
