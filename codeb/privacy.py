"""GDPR erasure and export of one account's data (Art. 17 and Art. 20).

Call recordings, transcripts and chat archives live per account under the
tenant, `<kind>/<login>/`. Erasing one kind moves the account's folder aside in
one rename (so nobody sees a half-erased folder), then deletes it, and answers
with what went: how many files, how many bytes, never their content.
"""

import os
import secrets
import shutil

from .errors import BadInput
from .store import names

KINDS = ("recordings", "transcripts", "chat-archives")


def _folder(store, kind: str, login: str) -> str:
    if kind not in KINDS:
        raise BadInput("error.erasure_kind")
    return store.folder(kind, names.login_name(login))


def inventory(store, login: str) -> dict[str, dict]:
    """Per kind: how many files the account has and their total size."""
    result = {}
    for kind in KINDS:
        count = size = 0
        for folder, _, files in os.walk(_folder(store, kind, login)):
            for name in files:
                count += 1
                size += os.path.getsize(os.path.join(folder, name))
        result[kind] = {"files": count, "bytes": size}
    return result


def erase(store, login: str, kind: str) -> dict:
    """Delete the account's files of one kind; return what was erased (counts, not content)."""
    folder = _folder(store, kind, login)
    counted = inventory(store, login)[kind]
    if not os.path.isdir(folder):
        return counted
    doomed = os.path.join(os.path.dirname(folder), f".erasing-{secrets.token_hex(6)}")
    os.replace(folder, doomed)
    shutil.rmtree(doomed)
    return counted
