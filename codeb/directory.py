"""The tenant's user directory: what the admin's user list shows and searches.

Derived from the account documents (the truth) and kept beside them in 256
shards, `index/directory/<xx>.json`, by the first byte of the login's SHA-256:
an account change rewrites one small shard under its lock. A process keeps the
parsed shards and re-reads only those whose file changed, so a search over
100,000 accounts costs 256 `stat` calls and a scan in memory; another process's
change is seen at its next request. `rebuild` recreates the shards from the
account documents (after a restore from an old backup, say).
"""

import hashlib
import os

SHARDS = 256
FIELDS = ("name", "email", "roles", "disabled", "ext")

_cache: dict[str, tuple[tuple, dict]] = {}


def entry_of(doc: dict) -> dict:
    """The directory's view of an account document."""
    return {"name": doc.get("display_name") or doc["login"], "email": doc.get("email"),
            "roles": list(doc.get("roles", [])), "disabled": bool(doc.get("disabled")),
            "ext": doc.get("ext")}


class Directory:
    def __init__(self, store):
        self.store = store

    @staticmethod
    def shard_of(login: str) -> str:
        return hashlib.sha256(login.encode()).hexdigest()[:2]

    def put(self, login: str, entry: dict) -> None:
        shard = self.shard_of(login)
        with self.store.update("index", "directory", shard, default={"entries": {}}) as doc:
            doc["entries"][login] = entry

    def remove(self, login: str) -> None:
        shard = self.shard_of(login)
        with self.store.update("index", "directory", shard, default={"entries": {}}) as doc:
            doc["entries"].pop(login, None)

    def _shard(self, shard: str) -> dict:
        path = self.store.doc_path("index", "directory", shard)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        entries = (self.store.read("index", "directory", shard) or {}).get("entries", {})
        _cache[path] = (stamp, entries)
        return entries

    def all(self) -> dict:
        merged = {}
        for n in range(SHARDS):
            merged.update(self._shard(f"{n:02x}"))
        return merged

    def search(self, query: str = "", *, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
        """(how many match, one page of them sorted by login); the query matches login, name or email."""
        needle = (query or "").strip().lower()
        entries = self.all()
        if needle:
            logins = [login for login, e in entries.items()
                      if needle in login or needle in (e.get("name") or "").lower()
                      or needle in (e.get("email") or "")]
        else:
            logins = list(entries)
        logins.sort()
        page = logins[max(offset, 0):max(offset, 0) + max(1, min(limit, 200))]
        return len(logins), [{"login": login, **entries[login]} for login in page]

    def rebuild(self) -> int:
        """Recreate every shard from the account documents; return how many accounts."""
        shards: dict[str, dict] = {f"{n:02x}": {} for n in range(SHARDS)}
        for login in self.store.list("users"):
            doc = self.store.read("users", login)
            if doc:
                shards[self.shard_of(login)][login] = entry_of(doc)
        for shard, entries in shards.items():
            with self.store.lock("index", "directory", shard):
                self.store.write("index", "directory", shard, doc={"entries": entries})
        return sum(len(e) for e in shards.values())
