"""Hand a finished file to a service that watches a folder (the IIS SMTP Pickup folder).

The service may read a file the moment its name appears, so the content is
written completely (and fsynced) into a staging folder on the same volume
first and then renamed into the watched folder: the service never sees half a
file, and a crash leaves at most a stray file in staging, never in the spool.
"""

import os

from . import files


def deliver(*, staging: str, spool: str, name: str, data: bytes) -> str:
    """Write `data` as `spool/name`, atomically; return its path."""
    os.makedirs(staging, exist_ok=True)
    os.makedirs(spool, exist_ok=True)
    staged = os.path.join(staging, name)
    final = os.path.join(spool, name)
    try:
        with open(staged, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        files.replace(staged, final)
    except BaseException:
        # A full disk or any other failure: no piece of the message stays in staging.
        try:
            os.unlink(staged)
        except FileNotFoundError:
            pass
        raise
    return final
