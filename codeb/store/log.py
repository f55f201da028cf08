"""Append-only logs: one JSON object per line, one file per period (`audit/2026-12.jsonl`).

An append holds the file's lock, writes one whole line, flushes and fsyncs, so
lines from many processes never interleave and a line that was acknowledged
survives a power cut. Lines are never rewritten; a reader sees every line
that was complete when it read.
"""

import json
import os

from . import names

SUFFIX = ".jsonl"


class Log:
    def __init__(self, store, folder: str):
        self.store = store
        self.folder = names.segment(folder)

    def _path(self, name: str) -> str:
        return os.path.join(self.store.folder(self.folder), names.segment(name) + SUFFIX)

    def append(self, name: str, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        path = self._path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with self.store.lock(self.folder, name), open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read(self, name: str) -> list[dict]:
        try:
            with open(self._path(name), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def names(self) -> list[str]:
        """The periods that have a file, oldest first."""
        try:
            entries = os.listdir(self.store.folder(self.folder))
        except FileNotFoundError:
            return []
        return sorted(e[:-len(SUFFIX)] for e in entries if e.endswith(SUFFIX))
