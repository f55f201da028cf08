"""Append-only logs: one JSON object per line, one file per period (`audit/2026-12.jsonl`).

An append is one `write` of one whole line to a file opened with `O_APPEND`:
the kernel moves to the end and writes in one step, so lines from many
processes never interleave and no lock is needed (on POSIX; Windows' C runtime
emulates O_APPEND by a seek, so there the file's lock is still taken).

No fsync per line: the kernel writes the line back within seconds (Linux's
dirty writeback, NTFS's lazy writer), a killed process loses nothing it wrote,
and the event a line records was itself stored durably where it matters
(sessions, grants, revocations, accounts). A power cut can lose the last
seconds of lines, and at worst leave the last line cut short (so can a full
disk): `read` skips a line that does not end in a newline, and reads the event
that a later append put right behind such a piece. Lines are never rewritten; a reader sees
every line that was complete when it read.
"""

import json
import os

from . import files, names

SUFFIX = ".jsonl"
_IS_WINDOWS = os.name == "nt"


def _append(path: str, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):  # a full disk: the short piece is cut off by the next reader
            raise OSError(28, "short write to the log", path)
    finally:
        os.close(fd)


def _line(line: str) -> dict | None:
    """One line's event; None for a line a power cut or a full disk cut short (no newline
    yet). The next append lands right behind such a piece, on the same line: that event is
    the last `{"` of the line from which the rest parses (inside a JSON string a quote is
    always escaped, so `{"` only ever opens an object), and the cut piece is dropped."""
    if not line.endswith("\n") or not line.strip():
        return None
    try:
        event = json.loads(line)
    except ValueError:
        event = _behind_cut_piece(line)
    return event if isinstance(event, dict) else None


def _behind_cut_piece(line: str):
    start = line.find('{"', 1)
    while start != -1:
        try:
            return json.loads(line[start:])
        except ValueError:
            start = line.find('{"', start + 1)
    return None


class Log:
    def __init__(self, store, folder: str):
        self.store = store
        self.folder = names.segment(folder)

    def _path(self, name: str) -> str:
        return os.path.join(self.store.folder(self.folder), names.segment(name) + SUFFIX)

    def append(self, name: str, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        path = self._path(name)
        with files.room_for_writes():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if _IS_WINDOWS:
                with self.store.lock(self.folder, name):
                    _append(path, line)
            else:
                _append(path, line)

    def read(self, name: str) -> list[dict]:
        try:
            with open(self._path(name), encoding="utf-8", errors="replace") as f:
                return [event for line in f if (event := _line(line)) is not None]
        except FileNotFoundError:
            return []

    def names(self) -> list[str]:
        """The periods that have a file, oldest first."""
        try:
            entries = os.listdir(self.store.folder(self.folder))
        except FileNotFoundError:
            return []
        return sorted(e[:-len(SUFFIX)] for e in entries if e.endswith(SUFFIX))
