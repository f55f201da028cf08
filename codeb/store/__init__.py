"""The only code that touches `App_Data` (DESIGN: store).

A `Store` is one tenant's folder. Documents are JSON files addressed by a few
path segments (`store.read("users", login)` is `users/<login>.json`); every
segment is validated before it is joined to a path. Writes are atomic, every
read-modify-write holds the document's cross-process lock, and every document
carries a `schema` version. `Index` gives O(1) lookups by key, `Transient`
records that expire, `Counter` fixed-window rate limits, `Log` append-only
files, `Segments` numbered append-only logs (a channel's messages); `layout`
names every folder and record kind, `DataRoot` the folder of all tenants.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager

from ..errors import Conflict, InvalidName, NotFound, StoreCorrupt
from . import archive, cache, files, layout, names
from .hosts import HostIndex
from .ids import secret_id
from .index import Index
from .jobs import Jobs
from .lock import file_lock, open_lock_file
from .log import Log
from .segments import Segments
from .transient import Counter, Transient

SCHEMA = 1


class Store:
    def __init__(self, root: str, clock=time.time):
        self.root = os.path.abspath(root)
        self.clock = clock

    # -- paths -----------------------------------------------------------------

    def folder(self, *parts: str) -> str:
        return os.path.join(self.root, *(names.segment(p) for p in parts))

    def doc_path(self, *parts: str) -> str:
        *folder, name = parts
        return os.path.join(self.folder(*folder), names.segment(name) + ".json")

    def _lock_path(self, *parts: str) -> str:
        # Validated like a document path: an invalid name is refused before any file exists.
        rel = "/".join(names.segment(p) for p in parts)
        digest = hashlib.sha256(rel.encode("utf-8")).hexdigest()[:40]
        return os.path.join(self.root, ".locks", digest + ".lock")

    # -- documents -------------------------------------------------------------

    def read(self, *parts: str) -> dict | None:
        path = self.doc_path(*parts)
        return self.decode(path, files.read_bytes(path))

    @staticmethod
    def decode(path: str, data: bytes | None) -> dict | None:
        if data is None:
            return None
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise StoreCorrupt(path=path) from exc
        if not isinstance(doc, dict) or type(doc.get("schema")) is not int:
            raise StoreCorrupt(path=path)
        return doc

    def write(self, *parts: str, doc: dict, durable: bool = True) -> None:
        """Replace a document atomically; `durable=False` skips the fsync (files.py)."""
        path = self.doc_path(*parts)
        cache.forget(path)
        data = files.encode({"schema": SCHEMA, **doc})
        _in_folder(path, lambda: files.write_bytes_atomic(path, data, durable=durable))

    def create(self, *parts: str, doc: dict, durable: bool = True) -> bool:
        """Write a new document; False (and nothing written) if it exists."""
        path = self.doc_path(*parts)
        data = files.encode({"schema": SCHEMA, **doc})
        return _in_folder(path, lambda: files.create_bytes_exclusive(path, data, durable=durable))

    def delete(self, *parts: str) -> bool:
        path = self.doc_path(*parts)
        cache.forget(path)
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    def move(self, source: tuple[str, ...], target: tuple[str, ...]) -> bool:
        """Rename one document onto another's name in one step; False if the source is gone.
        Exactly one of several racing movers succeeds, in any process: `os.replace` is
        rename(2) on POSIX and MoveFileEx on Windows, and both fail with "file not found"
        for every caller after the first, whose rename took the source name away."""
        src, dst = self.doc_path(*source), self.doc_path(*target)
        cache.forget(src)
        cache.forget(dst)
        try:
            _in_folder(dst, lambda: files.replace(src, dst))
            return True
        except FileNotFoundError:
            return False

    def exists(self, *parts: str) -> bool:
        return os.path.exists(self.doc_path(*parts))

    def stamp(self, *parts: str) -> cache.Stamp | None:
        """(modification time in ns, size, inode) of a document, None if absent: what caches
        compare (an atomic replace always brings a new inode, whatever the clock says)."""
        return cache.stamp_of(self.doc_path(*parts))

    def derived(self, memo: cache.Memo, *parts: str, make):
        """`make(document)`, reused from `memo` while the file is unchanged (its stamp);
        None if the document is absent. What `make` returns is shared by every later
        caller in this process: it must not be changed in place."""
        path = self.doc_path(*parts)
        stamp = cache.stamp_of(path)  # before the read: see codeb.store.cache
        if stamp is None:
            memo.forget(path)
            return None
        value = memo.get(path, stamp)
        if value is cache.MISSING:
            doc = self.decode(path, files.read_bytes(path))
            value = None if doc is None else make(doc)
            memo.put(path, stamp, value)
        return value

    def folder_stamp(self, *folder: str) -> int | None:
        """A folder's modification time in ns (it changes when an entry comes or goes), None if absent."""
        try:
            return os.stat(self.folder(*folder)).st_mtime_ns
        except FileNotFoundError:
            return None

    def folders(self, *folder: str) -> list[str]:
        """Names of the folders in a folder, sorted; not a folder being removed (`.removing-...`,
        see files.remove_tree) nor any other whose name is no valid segment."""
        try:
            entries = os.scandir(self.folder(*folder))
        except FileNotFoundError:
            return []
        with entries:
            found = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        return sorted(n for n in found if _is_segment(n))

    def list(self, *folder: str) -> list[str]:
        """Names of the documents in a folder (without `.json`), sorted."""
        try:
            entries = os.listdir(self.folder(*folder))
        except FileNotFoundError:
            return []
        return sorted(e[:-5] for e in entries if e.endswith(".json") and not files.is_temp(e))

    @contextmanager
    def lock(self, *parts: str):
        path = self._lock_path(*parts)
        with files.room_for_writes():  # a new lock file needs room too
            try:
                fd = open_lock_file(path)
            except FileNotFoundError:  # the tenant's first lock: `.locks/` is made now, not looked for each time
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = open_lock_file(path)
        with file_lock(path, fd=fd):
            yield

    @contextmanager
    def update(self, *parts: str, default: dict | None = None):
        """Read-modify-write under the document's lock.

        Yields the document as a dict to change in place; it is written back
        atomically when the block ends normally and something changed. A
        missing document raises NotFound unless `default` is given.
        """
        with self.lock(*parts):
            doc = self.read(*parts)
            if doc is None:
                if default is None:
                    raise NotFound()
                doc = {"schema": SCHEMA, **default}
                before = None
            else:
                before = files.encode(doc)
            yield doc
            if files.encode(doc) != before:
                self.write(*parts, doc=doc)

    # -- files for outside programs ------------------------------------------------

    def file_for_tool(self, folder: str, name: str, data: bytes) -> str:
        """The path of `<folder>/<name>` holding exactly `data`, for a program that reads only
        files by name (xmlsec1 takes keys and certificates so): written atomically when absent
        or different, read by nothing of ours. The document it comes from stays the truth."""
        path = os.path.join(self.folder(folder), names.segment(name))
        if _tool_files.get(path) != data and files.read_bytes(path) != data:
            _in_folder(path, lambda: files.write_bytes_atomic(path, data))
        _tool_files[path] = data
        return path

    # -- folders of files that are not documents (recordings, transcripts ...) ---

    def usage(self, *folder: str) -> dict:
        """How many files a folder holds, below it too, and their total size in bytes."""
        count = size = 0
        for where, _, names_ in os.walk(self.folder(*folder)):
            for name in names_:
                count += 1
                size += os.path.getsize(os.path.join(where, name))
        return {"files": count, "bytes": size}

    def remove_tree(self, *folder: str) -> None:
        """Delete a folder and everything in it, never seen half deleted (files.remove_tree)."""
        files.remove_tree(self.folder(*folder))

    # -- the record kinds --------------------------------------------------------

    def index(self, name: str) -> Index:
        return Index(self, name)

    def transient(self, kind: str) -> Transient:
        return Transient(self, kind)

    def counter(self, kind: str) -> Counter:
        return Counter(self, kind)

    def log(self, folder: str) -> Log:
        return Log(self, folder)

    def segments(self, *folder: str) -> Segments:
        return Segments(self, *folder)


_folders: set[str] = set()  # folders this process made or found: checked once, not per write
_tool_files: dict[str, bytes] = {}  # files_for_tool this process wrote or found as they should be


def _is_segment(name: str) -> bool:
    try:
        names.segment(name)
    except InvalidName:
        return False
    return True


def _in_folder(path: str, write):
    """Run `write` in the document's folder, made the first time this process writes there;
    a folder removed since (a tenant's folder deleted and made again) is made again."""
    folder = os.path.dirname(path)
    if folder not in _folders:
        with files.room_for_writes():
            os.makedirs(folder, exist_ok=True)
        if len(_folders) > 10_000:
            _folders.clear()
        _folders.add(folder)
        return write()
    try:
        return write()
    except FileNotFoundError:
        if os.path.isdir(folder):
            raise
    with files.room_for_writes():
        os.makedirs(folder, exist_ok=True)
    return write()


class DataRoot:
    """The folder that holds every tenant's folder (`CODEB_DATA`)."""

    def __init__(self, path: str, clock=time.time):
        self.path = os.path.abspath(path)
        self.clock = clock

    def store(self, tenant: str) -> Store:
        return Store(os.path.join(self.path, names.tenant_name(tenant)), clock=self.clock)

    def tenants(self) -> list[str]:
        """Names of the folders that hold a tenant (a settings document), sorted."""
        try:
            entries = sorted(os.listdir(self.path))
        except FileNotFoundError:
            return []
        return [e for e in entries if names.TENANT_PATTERN.fullmatch(e)
                and os.path.isfile(os.path.join(self.path, e, layout.TENANT + ".json"))]

    def exists(self, tenant: str) -> bool:
        return os.path.isdir(self.store(tenant).root)

    def remove(self, tenant: str) -> None:
        """Delete a tenant's whole folder (provisioning's undo of a tenant it just created)."""
        files.remove_tree(self.store(tenant).root)

    def export(self, tenant: str, target: str) -> dict:
        """The tenant's whole folder as the zip `target` (codeb.store.archive): files, bytes, path."""
        root = self.store(tenant).root
        if not os.path.isdir(root):
            raise NotFound()
        if os.path.exists(target):  # an export is never written over another file
            raise Conflict("error.export_exists", path=os.path.abspath(target)[-120:])
        return archive.export_tree(root, target, top=names.tenant_name(tenant))

    # -- the host's own site: `_host/` (layout.HOST_SITE) ----------------------------

    def site(self) -> Store:
        """The host-level site's folder: tenant sign-up, the provisioning spool, the host index."""
        return Store(os.path.join(self.path, layout.HOST_SITE), clock=self.clock)

    def _hosts(self) -> HostIndex:
        return HostIndex(self.site(), self.store)

    def claim_host(self, host: str, tenant: str, *, by: str) -> bool:
        """Make the (normalized) `host` the tenant's in the host index, by an exclusive create;
        False if another tenant has it (codeb.store.hosts). The caller holds the tenant's
        `layout.TENANT` lock."""
        return self._hosts().claim(host, names.tenant_name(tenant), by=by)

    def release_host(self, host: str, tenant: str, *, by: str | None = None) -> bool:
        """Drop the host's index entry if it is the tenant's (with `by`: only that run's claim)."""
        return self._hosts().release(host, tenant, by=by)

    def host_owner(self, host: str) -> str | None:
        """The tenant the host index gives `host` to, None if it has no entry."""
        return self._hosts().owner(host)

    def host_claims(self) -> dict[str, str]:
        """Every host in the index and its tenant."""
        return self._hosts().all()

    def requests(self) -> Jobs:
        """The provisioning spool: `_host/provisioning/requests/<id>.json`."""
        return Jobs(self.site(), layout.PROVISIONING, layout.PROVISIONING_REQUESTS)

    def site_settings(self) -> dict | None:
        """The host site's settings, `_host/site.json` (codeb.provisioning.site), None if the
        operator set none. Read on every request to know the host site's name: parsed once per
        change of the file (its stamp), a `stat` otherwise. Shared: never change it in place."""
        return self.site().derived(_site_settings, layout.SITE_SETTINGS, make=lambda doc: doc)

    def write_site_settings(self, doc: dict) -> None:
        """Replace the host site's settings (the operator's `host set`), atomically."""
        self.site().write(layout.SITE_SETTINGS, doc=doc)


_site_settings = cache.Memo(size=16)  # one data root per process, a few in tests


__all__ = [
    "SCHEMA",
    "Counter",
    "DataRoot",
    "HostIndex",
    "Index",
    "Jobs",
    "Log",
    "Segments",
    "Store",
    "Transient",
    "layout",
    "names",
    "secret_id",
]
