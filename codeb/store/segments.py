"""Numbered append-only logs in segment files: a channel's messages (codeb.rooms.channels).

A `Segments` is a folder of `<first seq, 10 digits>.jsonl` files, one JSON record per
line, each with a `seq` (1, 2, 3 ..., gap-free, in file order) and its time `at`. A new
segment begins every `SEGMENT_EVENTS` records, so a busy channel is many small files and
never one growing document, and a reader of the newest messages reads one file.

An append takes the folder's cross-process lock (DESIGN invariant 1: several processes
post to one channel), reads the last seq, and writes one whole line with one `write` to
the file opened with `O_APPEND`. What this process read of a segment is remembered by the
file's size, so the next append reads only what other processes added since. No fsync per
line, as for the audit log (codeb.store.log): the kernel writes it back within seconds, a
killed process loses nothing it wrote, and a power cut can lose the last seconds of lines
or leave the last one cut short. Readers skip a line without its newline, and the next
append starts a new line first, so a cut piece never glues onto a whole record.
"""

import json
import os

from . import files, names

SEGMENT_EVENTS = 1000
SUFFIX = ".jsonl"
_tails: dict[str, tuple[int, int, int]] = {}  # segment path -> (inode, size read, last seq in it)


def _records(data: bytes) -> list[dict]:
    out = []
    for line in data.split(b"\n")[:-1]:  # the piece after the last newline is not whole yet
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and type(record.get("seq")) is int:
            out.append(record)
    return out


class Segments:
    def __init__(self, store, *folder: str):
        self.store = store
        self.parts = tuple(names.segment(p) for p in folder)

    @property
    def path(self) -> str:
        return self.store.folder(*self.parts)

    def _names(self) -> list[str]:
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(e for e in entries if e.endswith(SUFFIX) and e[:-len(SUFFIX)].isdigit())

    def _read(self, name: str) -> bytes:
        return files.read_bytes(os.path.join(self.path, name)) or b""

    def _last_in(self, name: str) -> tuple[int, bytes]:
        """The last seq in a segment, reading only what was appended since this process looked;
        and the file's last byte (to tell whether it ends in a newline)."""
        path = os.path.join(self.path, name)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return 0, b"\n"
        known = _tails.get(path)
        start, last = (known[1], known[2]) if known and known[0] == info.st_ino and known[1] <= info.st_size \
            else (0, 0)
        if start < info.st_size:
            data = self._read(name)[start:]
            records = _records(data)
            if records:
                last = records[-1]["seq"]
            whole = data.rfind(b"\n") + 1  # only whole lines count as read
            if len(_tails) > 4096:
                _tails.clear()
            _tails[path] = (info.st_ino, start + whole, last)
        tail = self._read(name)[-1:] if info.st_size else b"\n"
        return last, tail

    def last(self) -> int:
        """The seq of the last whole record (0 when there is none)."""
        segments = self._names()
        for name in reversed(segments):
            last, _ = self._last_in(name)
            if last:
                return last
        return 0

    def stamp(self) -> str:
        """Changes whenever a record is appended or a segment rewritten."""
        segments = self._names()
        if not segments:
            return "0"
        info = os.stat(os.path.join(self.path, segments[-1]))
        return f"{segments[-1][:-len(SUFFIX)]}.{info.st_size}.{info.st_ino}.{info.st_mtime_ns}"

    def append(self, record: dict) -> dict:
        with self.store.lock(*self.parts, "_segments"):
            segments = self._names()
            last, tail = self._last_in(segments[-1]) if segments else (0, b"\n")
            seq = last + 1
            name = segments[-1] if segments and (seq - int(segments[-1][:-len(SUFFIX)])) < SEGMENT_EVENTS \
                else f"{seq:010d}{SUFFIX}"
            if not segments or name != segments[-1]:
                tail = b"\n"
            written = {**record, "seq": seq, "at": int(self.store.clock())}
            line = json.dumps(written, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
            if tail != b"\n":
                line = b"\n" + line  # behind a piece a power cut left: a line of its own
            files.append_bytes(os.path.join(self.path, name), line)
            return written

    def after(self, seq: int, limit: int | None = None) -> list[dict]:
        """Records with a seq above `seq`, oldest first (at most `limit`)."""
        out: list[dict] = []
        segments = self._names()
        for index, name in enumerate(segments):
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is not None and int(following[:-len(SUFFIX)]) <= seq + 1:
                continue  # every record of this segment is at or below `seq`
            out.extend(r for r in _records(self._read(name)) if r["seq"] > seq)
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    def before(self, seq: int | None, limit: int) -> list[dict]:
        """The last `limit` records below `seq` (all when None), oldest first."""
        out: list[dict] = []
        for name in reversed(self._names()):
            if seq is not None and int(name[:-len(SUFFIX)]) >= seq:
                continue
            records = [r for r in _records(self._read(name)) if seq is None or r["seq"] < seq]
            out = records + out
            if len(out) >= limit:
                return out[-limit:]
        return out

    def all(self) -> list[dict]:
        return self.after(0)

    def rewrite(self, change) -> int:
        """Apply `change(record) -> record` to every record, each segment whose records changed
        replaced atomically (GDPR erasure); seqs stay. Returns how many records changed."""
        changed = 0
        with self.store.lock(*self.parts, "_segments"):
            for name in self._names():
                records = _records(self._read(name))
                new = [change(dict(r)) for r in records]
                count = sum(1 for a, b in zip(records, new, strict=True) if a != b)
                if count:
                    data = b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
                                    for r in new)
                    files.write_bytes_atomic(os.path.join(self.path, name), data)
                    changed += count
        return changed

    def remove(self) -> None:
        files.remove_tree(self.path)
