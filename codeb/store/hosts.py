"""The data root's host-name index: which tenant each host name belongs to (`_host/hosts/`).

One small document per host, named by the host's `key_id` (a host such as
`con.example` is no file name Windows allows), made by an exclusive create
under the entry's lock: of two creations racing for one host, one makes the
entry and the other finds it taken. A tenant's own tenant.json stays the truth
of what it serves; the index is what keeps a host to one tenant while tenants
are being made, and the one thing about a tenant that lives outside its folder
(`python -m codeb tenant reindex` makes it again after a restore).

An entry names the tenant and the run that claimed it (`by`: a provisioning
request's id, a CLI run's). A claim is the claimant's when it made the entry or
made it before (a rerun). An entry for a tenant that has no tenant.json yet, by
a run that is no longer composing it (nobody holds that tenant's composition
lock), is a crashed run's: it is taken over, so a killed creation never keeps a
host from everyone for good.
"""

from ..errors import InvalidName
from . import layout
from .ids import key_id
from .trylock import is_free


class HostIndex:
    def __init__(self, site, tenant_store):
        self.site = site                  # the Store of `_host/`
        self.tenant_store = tenant_store  # tenant name -> its Store

    @staticmethod
    def _parts(host: str) -> tuple[str, str]:
        return (layout.HOST_NAMES, key_id(host))

    def entry(self, host: str) -> dict | None:
        doc = self.site.read(*self._parts(host))
        return doc if doc is not None and doc.get("host") == host else None

    def owner(self, host: str) -> str | None:
        entry = self.entry(host)
        return entry["tenant"] if entry else None

    def claim(self, host: str, tenant: str, *, by: str) -> bool:
        """Make `host` the tenant's; False if another tenant (or another run's live claim) has it.
        The caller holds `tenant`'s composition lock (`layout.TENANT`)."""
        parts = self._parts(host)
        doc = {"host": host, "tenant": tenant, "by": by, "claimed": int(self.site.clock())}
        with self.site.lock(*parts):
            entry = self.entry(host)
            if entry is None:
                return self.site.create(*parts, doc=doc)
            if entry.get("tenant") == tenant and entry.get("by") == by:
                return True
            if not self._stale(entry, tenant):
                return False
            self.site.write(*parts, doc=doc)
            return True

    def _stale(self, entry: dict, claimant: str) -> bool:
        """An entry left by a run that crashed before its tenant existed."""
        owner = entry.get("tenant")
        try:
            store = self.tenant_store(owner)
        except InvalidName:  # no tenant can hold it
            return True
        if store.exists(layout.TENANT):
            return False
        # The claimant holds its own tenant's lock, so no other run composes that one now.
        return owner == claimant or is_free(store._lock_path(layout.TENANT))

    def release(self, host: str, tenant: str, *, by: str | None = None) -> bool:
        """Delete the host's entry if it is the tenant's (and, with `by`, that run's claim)."""
        parts = self._parts(host)
        with self.site.lock(*parts):
            entry = self.entry(host)
            if entry is None or entry.get("tenant") != tenant or (by is not None and entry.get("by") != by):
                return False
            return self.site.delete(*parts)

    def all(self) -> dict[str, str]:
        """Every host in the index and its tenant."""
        found = {}
        for name in self.site.list(layout.HOST_NAMES):
            doc = self.site.read(layout.HOST_NAMES, name)
            if doc and isinstance(doc.get("host"), str) and key_id(doc["host"]) == name:
                found[doc["host"]] = doc.get("tenant")
        return found
