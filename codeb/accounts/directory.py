"""The tenant's user directory: what the admin's user list shows and searches.

Derived from the account documents (the truth) and kept beside them in 256
shards, `index/directory/<xx>.json`, by the first byte of the login's SHA-256:
an account change rewrites one small shard under its lock. Beside the shards a
small manifest, `index/directory/manifest.json`, holds how many entries each
shard has and the first HEAD entries in login order, so the first pages and the
total of a fresh process read one document instead of every shard.

A process keeps the parsed shards and, per shard, a token index (sorted tokens
of login, display name and email, each with its logins; case and accents
folded), rebuilt only for the shards whose file changed: a search looks up the
query's tokens by prefix in each shard's sorted tokens and reads only those
posting lists. Each request compares the shards' stamps (256 `stat` calls), so
another process's change is seen at the next request.

Every write takes the shard's lock, then (nested, always in this order) the
manifest's lock, and writes each document atomically. The manifest is changed
only by idempotent steps (set a shard's count, put or drop one login of the
head), so a writer that rebuilds it from the shards cannot lose a concurrent
writer's change: that writer applies its own step after, under the same lock.
`rebuild` recreates shards and manifest from the account documents (after a
restore from an old backup, say).
"""

import bisect
import hashlib
import re
import threading
import unicodedata

from ..store import layout

SHARDS = 256
HEAD = 200  # entries the manifest keeps in login order: four pages of the admin's list
FIELDS = ("name", "email", "roles", "disabled", "ext", "status", "created", "seen", "passkeys", "password")
STATUSES = ("invited", "active", "disabled")
# What the user list sorts by: a key of an entry (ties go by login, so paging is stable).
SORTS = {
    "login": None,
    "name": lambda entry: fold(entry.get("name") or ""),
    "email": lambda entry: entry.get("email") or "",
    "seen": lambda entry: entry.get("seen") or 0,
    "created": lambda entry: entry.get("created") or 0,
}
LISTINGS_KEPT = 32  # filtered or sorted orders a process keeps per view until a shard changes
SHARD = (layout.INDEX, layout.DIRECTORY)  # + the shard's name
MANIFEST = "manifest"  # not a shard name (those are two hex digits)
_WORD = re.compile(r"[^\W_]+")
_TOP = "\U0010ffff"


def fold(text: str) -> str:
    """Text as search compares it: compatibility-decomposed, accents dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    """The words of a text (letters and digits), folded."""
    return _WORD.findall(fold(text))


def tokens_of(login: str, entry: dict) -> frozenset[str]:
    """What an entry can be found by: the words of its login, display name and email."""
    return frozenset(tokens(login) + tokens(entry.get("name") or "") + tokens(entry.get("email") or ""))


class _Shard:
    """One shard as a process holds it: its entries and their token index."""

    __slots__ = ("entries", "of", "postings", "words")

    def __init__(self, entries: dict):
        self.entries = entries
        self.of = {login: tokens_of(login, entry) for login, entry in entries.items()}
        postings: dict[str, list[str]] = {}
        for login, words in self.of.items():
            for word in words:
                postings.setdefault(word, []).append(login)
        self.postings = postings
        self.words = sorted(postings)

    def matching(self, prefix: str) -> list[str]:
        """Logins with a token that starts with `prefix`."""
        start = bisect.bisect_left(self.words, prefix)
        stop = bisect.bisect_left(self.words, prefix + _TOP, start)
        if stop - start == 1:
            return self.postings[self.words[start]]
        found: set[str] = set()
        for word in self.words[start:stop]:
            found.update(self.postings[word])
        return list(found)

    def count(self, prefix: str) -> int:
        """An upper bound of len(matching(prefix)), cheaply."""
        start = bisect.bisect_left(self.words, prefix)
        stop = bisect.bisect_left(self.words, prefix + _TOP, start)
        return sum(len(self.postings[word]) for word in self.words[start:stop])


_EMPTY = _Shard({})


class _View:
    """One process's copy of a tenant's directory: shards with their token index, logins in order."""

    def __init__(self):
        self.stamps = [False] * SHARDS  # False: never read (None means the shard file is absent)
        self.shards: list[_Shard] = [_EMPTY] * SHARDS
        self.entries: dict[str, dict] = {}
        self.ordered: list[str] = []
        self.listings: dict[tuple, list[str]] = {}  # (words, status, role, sort, descending) -> logins

    def replace(self, n: int, fresh: dict, stamp, bulk: bool = False) -> None:
        """Swap one shard; `bulk` appends unsorted (the caller sorts once)."""
        old = self.shards[n].entries
        for login in old.keys() - fresh.keys():
            del self.entries[login]
            self.ordered.pop(bisect.bisect_left(self.ordered, login))
        for login, entry in fresh.items():
            if login not in old:
                if bulk:
                    self.ordered.append(login)
                else:
                    bisect.insort(self.ordered, login)
            self.entries[login] = entry
        self.shards[n], self.stamps[n] = _Shard(fresh), stamp
        self.listings.clear()

    def listing(self, words: list[str], *, status: str | None, role: str | None, sort: str,
                descending: bool) -> list[str]:
        """The logins matching the query words and filters, in the asked order. A sort or a
        filter of 100,000 entries takes tens of milliseconds, so the result is kept until a
        shard changes: the next page of the same list is a slice."""
        key = (tuple(sorted(set(words))), status, role, sort, descending)
        found = self.listings.get(key)
        if found is not None:
            return found
        logins = self.search(words) if words else self.ordered
        if status or role:
            entries = self.entries
            logins = [login for login in logins if _matches(entries[login], status, role)]
        order = SORTS.get(sort)
        if order is not None:
            entries = self.entries
            logins = sorted(logins, key=lambda login: (order(entries[login]), login))
        if descending:
            logins = logins[::-1]
        if len(self.listings) >= LISTINGS_KEPT:
            self.listings.clear()
        self.listings[key] = logins
        return logins

    def search(self, words: list[str]) -> list[str]:
        """Logins (in order) with, for every query word, a token starting with it."""
        if not words:
            return []
        words = sorted(set(words), key=lambda w: sum(s.count(w) for s in self.shards))
        first, rest = words[0], words[1:]
        found = []
        for shard in self.shards:
            for login in shard.matching(first):
                have = shard.of[login]
                if all(any(t.startswith(w) for t in have) for w in rest):
                    found.append(login)
        found.sort()
        return found


def _matches(entry: dict, status: str | None, role: str | None) -> bool:
    return (not status or status_of(entry) == status) and (not role or role in entry.get("roles", []))


def status_of(entry: dict) -> str:
    """invited (never signed in), active or disabled; an entry written before statuses
    were indexed counts as active."""
    if entry.get("disabled"):
        return "disabled"
    return entry.get("status") or "active"


_views: dict[str, _View] = {}  # tenant root -> its view in this process
_manifests: dict[str, tuple] = {}  # tenant root -> (stamp, manifest) last read in this process
_updating = threading.Lock()  # the views are shared by the process's threads (waitress runs several)


def last_sign_in(doc: dict) -> int | None:
    """When the account last signed in: noted by each sign-in (`Sessions.remember`); for an
    account from before that note, the newest of its listed sessions and passkey uses."""
    if doc.get("last_signin"):
        return int(doc["last_signin"])
    times = [s.get("created") for s in doc.get("sessions", [])] + [p.get("last_used") for p in doc.get("passkeys", [])]
    times = [int(t) for t in times if t]
    return max(times) if times else None


def entry_of(doc: dict) -> dict:
    """The directory's view of an account document: what the user list shows, filters and
    sorts by without reading any account document."""
    seen = last_sign_in(doc)
    if doc.get("disabled"):
        status = "disabled"
    elif seen is None and not doc.get("profile_confirmed"):
        status = "invited"
    else:
        status = "active"
    return {"name": doc.get("display_name") or doc["login"], "email": doc.get("email"),
            "roles": list(doc.get("roles", [])), "disabled": bool(doc.get("disabled")),
            "ext": doc.get("ext"), "status": status, "created": doc.get("created"), "seen": seen,
            "passkeys": len(doc.get("passkeys", [])), "password": bool(doc.get("password"))}


def _shard_name(n: int) -> str:
    return f"{n:02x}"


class Directory:
    def __init__(self, store):
        self.store = store

    @staticmethod
    def shard_of(login: str) -> str:
        return hashlib.sha256(login.encode()).hexdigest()[:2]

    # -- writing ------------------------------------------------------------------

    def put(self, login: str, entry: dict) -> None:
        self._change(login, entry)

    def remove(self, login: str) -> None:
        self._change(login, None)

    def _change(self, login: str, entry: dict | None) -> None:
        shard = self.shard_of(login)
        with self.store.lock(*SHARD, shard):
            entries = (self.store.read(*SHARD, shard) or {}).get("entries", {})
            if entries.get(login) != entry:
                if entry is None:
                    del entries[login]
                else:
                    entries[login] = entry
                self.store.write(*SHARD, shard, doc={"entries": entries})
            with self.store.lock(*SHARD, MANIFEST):  # the shard is written: the manifest follows it
                self._follow(shard, len(entries), login, entry)

    def _follow(self, shard: str, count: int, login: str, entry: dict | None) -> None:
        """Bring the manifest in line with one shard's change; the manifest's lock is held."""
        manifest = self.store.read(*SHARD, MANIFEST)
        if manifest is None:  # a directory from before the manifest: make it from the shards
            self.store.write(*SHARD, MANIFEST, doc=self._manifest_from_shards())
            return
        counts, head = manifest["counts"], manifest["head"]
        before = (dict(counts), [list(row) for row in head])
        counts[shard] = count
        total = sum(counts.values())
        logins = [row[0] for row in head]
        at = bisect.bisect_left(logins, login)
        present = at < len(logins) and logins[at] == login
        if entry is None:
            if present:
                del head[at]
                if len(head) < HEAD // 2 < total:  # many of the first logins went: take the next ones
                    manifest = self._manifest_from_shards()
                    counts, head = manifest["counts"], manifest["head"]
        elif present:
            head[at] = [login, entry]
        elif at < len(head) or len(head) + 1 >= total:
            # Before the head's last login, or the head holds every login there is: it belongs in.
            head.insert(at, [login, entry])
            del head[HEAD:]
        if (counts, head) != before:
            self.store.write(*SHARD, MANIFEST, doc={"counts": counts, "head": head})

    def _manifest_from_shards(self) -> dict:
        counts: dict[str, int] = {}
        head: list[list] = []
        for n in range(SHARDS):
            entries = (self.store.read(*SHARD, _shard_name(n)) or {}).get("entries", {})
            counts[_shard_name(n)] = len(entries)
            head.extend([login, entry] for login, entry in entries.items())
            head.sort()
            del head[HEAD:]
        return {"counts": counts, "head": head}

    def load(self, entries: dict) -> None:
        """Replace the whole directory by `entries` (login -> entry): every shard, then the manifest."""
        shards: dict[str, dict] = {_shard_name(n): {} for n in range(SHARDS)}
        for login, entry in entries.items():
            shards[self.shard_of(login)][login] = entry
        for shard, part in shards.items():
            with self.store.lock(*SHARD, shard):
                self.store.write(*SHARD, shard, doc={"entries": part})
        with self.store.lock(*SHARD, MANIFEST):
            self.store.write(*SHARD, MANIFEST, doc=self._manifest_from_shards())

    def rebuild(self) -> int:
        """Recreate every shard and the manifest from the account documents; return how many accounts."""
        entries = {}
        for login in self.store.list(layout.USERS):
            doc = self.store.read(layout.USERS, login)
            if doc:
                entries[login] = entry_of(doc)
        self.load(entries)
        return len(entries)

    # -- reading ------------------------------------------------------------------

    def _refresh(self) -> "_View":
        """The merged directory, brought up to date shard by shard (only changed shards are read);
        the caller holds `_updating`."""
        view = _views.setdefault(self.store.root, _View())
        stamps = [self.store.stamp(*SHARD, _shard_name(n)) for n in range(SHARDS)]
        changed = [n for n in range(SHARDS) if view.stamps[n] != stamps[n]]
        bulk = len(changed) > 8  # first use in this process, or much has changed: build anew
        if bulk:
            view = _views[self.store.root] = _View()
        for n in changed:
            fresh = {} if stamps[n] is None else \
                (self.store.read(*SHARD, _shard_name(n)) or {}).get("entries", {})
            view.replace(n, fresh, stamps[n], bulk=bulk)
        if bulk:
            view.ordered.sort()
        return view

    def _manifest(self) -> dict | None:
        """The manifest, re-read only when its file changed; None if there is none."""
        stamp = self.store.stamp(*SHARD, MANIFEST)
        if stamp is None:
            return None
        with _updating:
            known = _manifests.get(self.store.root)
            if known is not None and known[0] == stamp:
                return known[1]
        manifest = self.store.read(*SHARD, MANIFEST)
        with _updating:
            _manifests[self.store.root] = (stamp, manifest)
        return manifest

    def all(self) -> dict:
        """Every entry by login: a copy, taken while no other thread of the process updates the view."""
        with _updating:
            return dict(self._refresh().entries)

    def listing(self, query: str = "", *, status: str | None = None, role: str | None = None,
                sort: str = "login", descending: bool = False, offset: int = 0,
                limit: int = 50) -> tuple[int, list[dict]]:
        """(how many match, one page): the query as `search` reads it, only entries of that
        status and role, sorted by one of SORTS. The plain list (no query, no filter, by
        login) is `search`'s, served from the manifest."""
        sort = sort if sort in SORTS else "login"
        status = status if status in STATUSES else None
        if not (query or "").strip() and not status and not role and sort == "login" and not descending:
            return self.search("", offset=offset, limit=limit)
        offset, limit = max(offset, 0), max(1, min(limit, 200))
        with _updating:
            view = self._refresh()
            logins = view.listing(tokens(query), status=status, role=role, sort=sort, descending=descending)
            return len(logins), [{"login": login, **view.entries[login]}
                                 for login in logins[offset:offset + limit]]

    def search(self, query: str = "", *, offset: int = 0, limit: int = 50) -> tuple[int, list[dict]]:
        """(how many match, one page of them sorted by login). Each word of the query must
        begin a word of the login, the display name or the email (case and accents aside)."""
        offset, limit = max(offset, 0), max(1, min(limit, 200))
        if not (query or "").strip():
            manifest = self._manifest()
            if manifest is not None:
                head, total = manifest["head"], sum(manifest["counts"].values())
                if offset + limit <= len(head) or len(head) >= total:
                    return total, [{"login": login, **entry} for login, entry in head[offset:offset + limit]]
        with _updating:
            view = self._refresh()
            logins = view.search(tokens(query)) if (query or "").strip() else view.ordered
            return len(logins), [{"login": login, **view.entries[login]}
                                 for login in logins[offset:offset + limit]]
