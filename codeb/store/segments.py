"""Numbered append-only logs in segment files: the messages of a channel (codeb.rooms.channels).

A `Segments` is one folder of `<first seq, 10 digits>.jsonl` files holding one JSON record
per line. Every record gets a `seq` (1, 2, 3 ..., gap-free, in file order) and its time `at`
(the store's clock, whole seconds) when it is appended. A new segment begins every
`SEGMENT_EVENTS` records, so a busy channel is many files of bounded size and never one
growing document, a reader of the newest records reads one or two files, and an erasure
rewrites each file on its own.

An append holds the folder's cross-process lock (DESIGN invariant 1: several IIS processes
post to one channel at once) while it finds the last seq and writes its line: one `write`
of one whole line to the file opened with `O_APPEND` (as `codeb.store.log` does), so the
seq it took is the next one in the file and no other writer can slip in between (on Windows
too, whose C runtime emulates O_APPEND by a seek: the lock covers the two steps). Readers
take no lock: a line is complete once its newline is there, and a reader uses only lines
that are.

No fsync per line, as for the audit log: the kernel writes a line back within seconds
(Linux's dirty writeback, NTFS's lazy writer), a killed process loses nothing it wrote, and
a chat line is not worth a disk flush per post (a few milliseconds each, under the lock,
so it would cap a channel at a few hundred posts a second for every process together).
A power cut can lose the last seconds of lines, and at worst leave the last one cut short
(so can a full disk): readers skip a piece without its newline, and the next append writes
a newline first, so its record starts a line of its own and the piece never glues onto it.
Seqs stay gap-free across such a cut: the next append counts from the last whole record
(so the seq of a record the cut took is given again, to the next one).

`last()` is what a poll asks first, so it is cheap: this process remembers, per segment,
the inode, size and modification time it saw, the offset of the end of the last whole line
and the last seq up to there, and reads only the bytes appended since. Nothing is trusted
from memory alone: the file is stat'ed on every call, and a new inode, a shorter file (a
rewrite replaced it) or one where no newline stands at the remembered end of the last line
(changed in place) mean the segment is read again from the start. What was parsed of whole
segments is kept in a small memo revalidated by the file's stamp (`codeb.store.cache`);
both stay bounded.

`rewrite` replaces each changed segment atomically (temp file, fsync, replace: the records
in it are the only copy), under the same lock, keeping every seq: GDPR erasure of texts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

from ..errors import NotFound
from . import cache, files, names

SEGMENT_EVENTS = 1000     # records per segment file
SUFFIX = ".jsonl"
NAME_DIGITS = 10          # `0000000001.jsonl`: names sort as their first seqs do
REWRITTEN = "rewritten"   # a token that the last rewrite left, for `stamp`
TAILS_KEPT = 4096         # segments whose tail this process remembers (a few dozen bytes each)

_parsed = cache.Memo(size=8)  # whole segments' records by path: at most 8 × SEGMENT_EVENTS records


class _Tail:
    """What this process last saw of one segment file."""

    __slots__ = ("inode", "last", "mtime", "offset", "size")

    def __init__(self, inode: int, size: int, mtime: int, offset: int, last: int):
        self.inode, self.size, self.mtime = inode, size, mtime
        self.offset = offset  # bytes up to the end of the last whole line
        self.last = last      # the last seq in those bytes (0: none yet)

    @property
    def torn(self) -> bool:
        """Whether the file ends in a piece without its newline (a cut line, or one being written)."""
        return self.size > self.offset


_tails: OrderedDict[str, _Tail] = OrderedDict()
_tails_lock = threading.Lock()  # waitress serves requests on several threads


def _remember(path: str, tail: _Tail) -> None:
    with _tails_lock:
        _tails[path] = tail
        _tails.move_to_end(path)
        while len(_tails) > TAILS_KEPT:
            _tails.popitem(last=False)


def _recall(path: str) -> _Tail | None:
    with _tails_lock:
        return _tails.get(path)


def _encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def _whole_lines(data: bytes) -> tuple[list[dict], int]:
    """The records of the whole lines in `data` and the length of those lines; a last piece
    without its newline is not whole yet (or never will be: a power cut) and is left out.
    A whole line that is not a record (a cut piece a newline was put behind) is skipped."""
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].split(b"\n")[:-1]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and type(record.get("seq")) is int:
            records.append(record)
    return records, end


def _read_from(path: str, offset: int) -> bytes:
    def read() -> bytes:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()

    try:
        return files._sharing(read)
    except FileNotFoundError:
        return b""


def _append(path: str, line: bytes) -> os.stat_result:
    """One `write` of the whole line at the end of the file; the file as it is after it."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):  # a full disk: the piece is skipped by readers, and cut off by the next append
            raise OSError(28, "short write to a segment", path)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _first(name: str) -> int:
    return int(name[:NAME_DIGITS])


class Segments:
    def __init__(self, store, *folder: str):
        if not folder:
            raise ValueError("segments need a folder of their own")
        self.store = store
        self.parts = tuple(names.segment(p) for p in folder)

    @property
    def path(self) -> str:
        return self.store.folder(*self.parts)

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _names(self) -> list[str]:
        """The segment files, oldest first (temporary files of a rewrite are not segments)."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(e for e in entries if len(e) == NAME_DIGITS + len(SUFFIX) and e.endswith(SUFFIX)
                      and e[:NAME_DIGITS].isdigit())

    # -- the tail: the last seq, read incrementally ------------------------------------------

    def _tail(self, name: str) -> _Tail:
        """The last whole record's seq in a segment, reading only what was appended since this
        process looked, after checking the file is the one it looked at."""
        path = self._file(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return _Tail(0, 0, 0, 0, 0)
        known = _recall(path)
        if known is not None and known.inode == st.st_ino:
            if known.size == st.st_size and known.mtime == st.st_mtime_ns:
                return known
            if st.st_size >= known.offset:
                tail = self._extend(path, known, st)
                if tail is not None:
                    return tail
        records, end = _whole_lines(_read_from(path, 0))
        tail = _Tail(st.st_ino, st.st_size, st.st_mtime_ns, end, records[-1]["seq"] if records else 0)
        _remember(path, tail)
        return tail

    @staticmethod
    def _extend(path: str, known: _Tail, st: os.stat_result) -> _Tail | None:
        """`known` with the lines appended behind it; None when what it saw does not end where
        it did in the file (it was changed in place, or replaced by one that got the same
        inode): then it is read again."""
        start = max(known.offset - 1, 0)
        data = _read_from(path, start)
        if known.offset and not data.startswith(b"\n"):
            return None
        if known.offset:
            data = data[1:]
        records, end = _whole_lines(data)
        last = records[-1]["seq"] if records else known.last
        size = max(st.st_size, known.offset + len(data))
        tail = _Tail(st.st_ino, size, st.st_mtime_ns, known.offset + end, last)
        _remember(path, tail)
        return tail

    def _last_of(self, segments: list[str]) -> tuple[int, bool]:
        """The last seq and whether the newest segment ends in a cut piece."""
        if not segments:
            return 0, False
        tail = self._tail(segments[-1])
        if tail.last:
            return tail.last, tail.torn
        # A newest segment without a whole record: its first line was cut short. The seqs
        # are gap-free, so the last whole record is the one before its first.
        return _first(segments[-1]) - 1, tail.torn

    def last(self) -> int:
        """The last seq (0 when there is none)."""
        return self._last_of(self._names())[0]

    def stamp(self) -> str:
        """A short string that changes whenever a record is appended or a segment rewritten:
        the last seq (gap-free: every append raises it), the token the last rewrite left,
        and the folder's inode (a log removed and begun again counts from 1 again)."""
        segments = self._names()
        if not segments:
            return "0"
        try:
            folder = os.stat(self.path).st_ino
        except FileNotFoundError:
            return "0"
        rewritten = files.read_bytes(self._file(REWRITTEN)) or b""
        seen = f"{self._last_of(segments)[0]}:{rewritten.decode('ascii', 'replace')}:{folder}"
        return hashlib.sha256(seen.encode("utf-8")).hexdigest()[:16]

    # -- writing ---------------------------------------------------------------------------

    def append(self, record: dict) -> dict:
        """Append `record` with the next `seq` and `at`; the record as written."""
        if "seq" in record or "at" in record:
            raise ValueError("seq and at are the log's to give")
        with files.room_for_writes(), self.store.lock(*self.parts):
            segments = self._names()
            last, torn = self._last_of(segments)
            seq = last + 1
            if segments and seq - _first(segments[-1]) < SEGMENT_EVENTS:
                name = segments[-1]
            else:
                name, torn = f"{seq:0{NAME_DIGITS}d}{SUFFIX}", False
                self._make_folder()
            written = {**record, "seq": seq, "at": int(self.store.clock())}
            line = _encode(written)
            if torn:
                line = b"\n" + line  # behind a cut piece: a line of its own
            path = self._file(name)
            try:
                st = _append(path, line)
            except FileNotFoundError as exc:  # the folder went (`remove`) while we waited for the lock
                raise NotFound() from exc
            _remember(path, _Tail(st.st_ino, st.st_size, st.st_mtime_ns, st.st_size, seq))
            return written

    def _make_folder(self) -> None:
        """The folder, made the first time; its parent (what the log belongs to, a channel's
        folder) must exist, so an append that waited for the lock while the channel was
        removed fails instead of bringing a removed conversation's folder back."""
        if len(self.parts) > 1 and not os.path.isdir(self.store.folder(*self.parts[:-1])):
            raise NotFound()
        os.makedirs(self.path, exist_ok=True)

    def rewrite(self, change: Callable[[dict], dict], *, after: int = 0) -> int:
        """Replace every record by `change(record)` (a copy is passed), keeping its seq and
        order; each segment where something changed is replaced atomically. Returns how many
        records changed. For GDPR erasure, and a deleted message's text: the seqs that others
        refer to stay. Segments that hold only records at or below `after` are not read."""
        changed = 0
        with files.room_for_writes(), self.store.lock(*self.parts):
            segments = self._names()
            for index, name in enumerate(segments):
                if index + 1 < len(segments) and _first(segments[index + 1]) <= after + 1:
                    continue
                path = self._file(name)
                records, _ = _whole_lines(_read_from(path, 0))
                new = [change(dict(r)) for r in records]
                if any(n.get("seq") != r["seq"] for r, n in zip(records, new, strict=True)):
                    raise ValueError("a rewrite keeps every seq")
                count = sum(1 for r, n in zip(records, new, strict=True) if r != n)
                if count:
                    cache.forget(path)
                    files.write_bytes_atomic(path, b"".join(_encode(r) for r in new))
                    changed += count
            if changed:
                # A new token for `stamp`: file times are too coarse to tell a rewrite from
                # an append a few milliseconds before it.
                files.write_bytes_atomic(self._file(REWRITTEN), secrets.token_hex(8).encode("ascii"))
        return changed

    def remove(self) -> None:
        """The whole folder goes, under the lock (no append lands in it half removed)."""
        with self.store.lock(*self.parts):
            self.store.remove_tree(*self.parts)

    # -- reading ---------------------------------------------------------------------------

    def _records(self, name: str) -> list[dict]:
        """A segment's whole records, shared through the memo: not to be changed in place."""
        path = self._file(name)
        stamp = cache.stamp_of(path)  # before the read: see codeb.store.cache
        if stamp is None:
            return []
        records = _parsed.get(path, stamp)
        if records is cache.MISSING:
            records, _ = _whole_lines(_read_from(path, 0))
            _parsed.put(path, stamp, records)
        return records

    def after(self, seq: int, limit: int | None = None) -> list[dict]:
        """The records with a seq above `seq`, oldest first, at most `limit`. The dicts are
        shared with later callers in this process: copy one before changing it."""
        found: list[dict] = []
        segments = self._names()
        for index, name in enumerate(segments):
            if index + 1 < len(segments) and _first(segments[index + 1]) <= seq + 1:
                continue  # every record in this segment is at or below `seq`
            found.extend(r for r in self._records(name) if r["seq"] > seq)
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found

    def newest_first(self) -> Iterator[list[dict]]:
        """The records segment by segment, the newest segment first (each one's records
        oldest first): for readers that want the last few (history, search) and stop."""
        for name in reversed(self._names()):
            yield self._records(name)
