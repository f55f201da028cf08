"""The tenant's append-only log of security events: `audit/<YYYY-MM>.jsonl`.

One JSON object per line: time, event name, and the facts that matter (login,
method, client, outcome). Never a secret: no tokens, no links, no passwords.
Appends hold the month file's lock, so lines from many processes never mix.
"""

import json
import os
import time


def append(store, event: str, **facts) -> None:
    now = store.clock()
    month = time.strftime("%Y-%m", time.gmtime(now))
    line = json.dumps({"time": round(now, 3), "event": event, **facts}, ensure_ascii=False,
                      sort_keys=True)
    folder = store.folder("audit")
    os.makedirs(folder, exist_ok=True)
    with store.lock("audit", month):
        with open(os.path.join(folder, f"{month}.jsonl"), "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def read(store, month: str) -> list[dict]:
    path = os.path.join(store.folder("audit"), f"{month}.jsonl")
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def read_all(store) -> list[dict]:
    """Every month's events, oldest first."""
    months = sorted(name[:-6] for name in _files(store))
    return [event for month in months for event in read(store, month)]


def _files(store) -> list[str]:
    try:
        return [n for n in os.listdir(store.folder("audit")) if n.endswith(".jsonl")]
    except FileNotFoundError:
        return []

