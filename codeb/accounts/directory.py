"""The tenant's user directory: what the admin's user list shows and searches.

Derived from the account documents (the truth) and kept beside them in 256
shards, `index/directory/<xx>.json`, by the first byte of the login's SHA-256:
an account change rewrites one small shard under its lock. A process keeps the
parsed shards and re-reads only those whose file changed, so a search over
100,000 accounts costs 256 `stat` calls and a scan in memory; another process's
change is seen at its next request. `rebuild` recreates the shards from the
account documents (after a restore from an old backup, say).
"""

import bisect
import hashlib
import threading

from ..store import layout

SHARDS = 256
FIELDS = ("name", "email", "roles", "disabled", "ext")
SHARD = (layout.INDEX, layout.DIRECTORY)  # + the shard's name


class _View:
    """One process's copy of a tenant's directory: entries, logins in order, search keys."""

    def __init__(self):
        self.stamps = [False] * SHARDS  # False: never read (None means the shard file is absent)
        self.shards: list[dict] = [{} for _ in range(SHARDS)]
        self.entries, self.keys, self.ordered = {}, {}, []

    def replace(self, n: int, fresh: dict, stamp, bulk: bool = False) -> None:
        """Swap one shard's entries; `bulk` appends unsorted (the caller sorts once)."""
        old = self.shards[n]
        for login in old.keys() - fresh.keys():
            del self.entries[login], self.keys[login]
            self.ordered.pop(bisect.bisect_left(self.ordered, login))
        for login, entry in fresh.items():
            if login not in old:
                if bulk:
                    self.ordered.append(login)
                else:
                    bisect.insort(self.ordered, login)
            self.entries[login] = entry
            self.keys[login] = f"{login}\t{entry.get('name') or ''}\t{entry.get('email') or ''}".lower()
        self.shards[n], self.stamps[n] = fresh, stamp


_views: dict[str, _View] = {}  # tenant root -> its view in this process
_updating = threading.Lock()  # the views are shared by the process's threads (waitress runs several)


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
        with self.store.update(*SHARD, shard, default={"entries": {}}) as doc:
            doc["entries"][login] = entry

    def remove(self, login: str) -> None:
        shard = self.shard_of(login)
        with self.store.update(*SHARD, shard, default={"entries": {}}) as doc:
            doc["entries"].pop(login, None)

    def _stamp(self, shard: str):
        return self.store.stamp(*SHARD, shard)

    def _view(self) -> "_View":
        """The merged directory, brought up to date shard by shard (only changed shards are read)."""
        with _updating:
            return self._refresh()

    def _refresh(self) -> "_View":
        view = _views.setdefault(self.store.root, _View())
        stamps = [self._stamp(f"{n:02x}") for n in range(SHARDS)]
        changed = [n for n in range(SHARDS) if view.stamps[n] != stamps[n]]
        if len(changed) > 8:  # first use in this process, or much has changed: build anew
            view = _views[self.store.root] = _View()
        for n in changed:
            fresh = {} if stamps[n] is None else \
                (self.store.read(*SHARD, f"{n:02x}") or {}).get("entries", {})
            view.replace(n, fresh, stamps[n], bulk=len(changed) > 8)
        if len(changed) > 8:
            view.ordered.sort()
        return view

    def all(self) -> dict:
        """Every entry by login: a copy, taken while no other thread of the process updates the view."""
        with _updating:
            return dict(self._refresh().entries)

    def search(self, query: str = "", *, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
        """(how many match, one page of them sorted by login); the query matches login, name or email."""
        needle = (query or "").strip().lower()
        view = self._view()
        entries, ordered = view.entries, view.ordered
        if needle and "\t" not in needle:
            logins = [login for login in ordered if needle in view.keys[login]]
        else:
            logins = ordered
        page = logins[max(offset, 0):max(offset, 0) + max(1, min(limit, 200))]
        return len(logins), [{"login": login, **entries[login]} for login in page]

    def rebuild(self) -> int:
        """Recreate every shard from the account documents; return how many accounts."""
        shards: dict[str, dict] = {f"{n:02x}": {} for n in range(SHARDS)}
        for login in self.store.list(layout.USERS):
            doc = self.store.read(layout.USERS, login)
            if doc:
                shards[self.shard_of(login)][login] = entry_of(doc)
        for shard, entries in shards.items():
            with self.store.lock(*SHARD, shard):
                self.store.write(*SHARD, shard, doc={"entries": entries})
        return sum(len(e) for e in shards.values())
