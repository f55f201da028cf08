"""Tenants: which one a request belongs to, and its settings (DESIGN: tenants).

Under IIS each site is one tenant: its `CODEB_TENANT` appSetting reaches the
process environment through wfastcgi. The local server serves every tenant of
the data folder and picks one by the Host header, port ignored. An unknown host
is answered with 404, never with some other tenant. A new tenant is composed
by `codeb.provisioning`; `Tenants.register` is its last step.

A host belongs to one tenant: `check_new` refuses a host another tenant serves
(a listing of the data root, which also finds tenants from before the host
index or restored without their entries), and `claim_hosts` takes each host by
an exclusive create in the data root's host index (`_host/hosts/`), so two
creations racing for one host cannot both win. `reindex` makes the index again
from the tenants' settings after a restore.
"""

import time
from dataclasses import dataclass, field

from .. import i18n
from ..errors import BadInput, Conflict, InvalidName, UnknownTenant
from ..store import DataRoot, Store, layout, names
from . import languages
from .hosts import normalize_host, origin


@dataclass
class Tenant:
    name: str
    settings: dict
    store: Store
    languages: dict = field(default_factory=dict)  # tenant-added catalogues
    # The stamps of tenant.json and of the i18n folder this Tenant was read from: what a
    # memo of something derived from the settings (the discovery document) compares.
    stamp: tuple | None = None

    @property
    def hosts(self) -> list[str]:
        return self.settings["hosts"]

    @property
    def display_name(self) -> str:
        return self.settings.get("display_name") or self.hosts[0]

    @property
    def available_languages(self) -> list[str]:
        return [lang for lang in self.settings.get("languages", i18n.SHIPPED)
                if lang in i18n.SHIPPED or lang in self.languages]

    def setting(self, *path, default=None):
        node = self.settings
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def issuer_for(self, host_header: str, local_port: int | None) -> str:
        """The issuer URL for a request that reached this tenant via `host_header`.

        `https://<host>` in production; on a loopback name the local server's configured
        origin, e.g. `http://localhost:8000`. The Host header only picks which of the
        tenant's hosts: its port (which the client chose) never reaches the issuer, the
        links mailed or the WebAuthn origin.
        """
        return origin(normalize_host(host_header), local_port=local_port)


class Tenants:
    """All tenants under one data root."""

    def __init__(self, data_root: str, fixed: str | None = None, clock=time.time):
        self.data = DataRoot(data_root, clock=clock)
        self.root = self.data.path
        self.fixed = names.tenant_name(fixed) if fixed else None
        self.clock = clock
        # Parsed settings by tenant name, revalidated by the stamps of tenant.json and of the
        # i18n folder on every `get`: another process's change is seen on the next request.
        self._cache: dict[str, tuple[tuple, Tenant]] = {}
        # Host -> tenant name, made from one listing of the data root. Revalidated on every
        # use by the tenant it names: `get` checks that tenant's settings stamp and the host
        # must still be among its hosts; a host it does not hold (a new tenant, a host moved)
        # lists the data root again (check_new keeps a host to one tenant).
        self._hosts: dict[str, str] = {}

    def store_for(self, name: str) -> Store:
        return self.data.store(name)

    def names(self) -> list[str]:
        return self.data.tenants()

    def get(self, name: str) -> Tenant:
        """Load a tenant by name; the parsed settings are reused while tenant.json is unchanged."""
        cached = self._cache.get(name)
        store = cached[1].store if cached else self.store_for(name)  # a cached name was validated
        settings_stamp = store.stamp(layout.TENANT)
        if settings_stamp is None:
            raise UnknownTenant()
        stamp = (settings_stamp, languages.stamp(store))
        if cached and cached[0] == stamp:
            return cached[1]
        settings = store.read(layout.TENANT)
        if settings is None:
            raise UnknownTenant()
        tenant = Tenant(name=name, settings=settings, store=store, languages=languages.load(store), stamp=stamp)
        self._cache[name] = (stamp, tenant)
        return tenant

    def for_host(self, host_header: str) -> Tenant:
        """The tenant serving `host_header`; UnknownTenant if none does."""
        try:
            host = normalize_host(host_header)
        except BadInput:
            raise UnknownTenant() from None
        if self.fixed:
            tenant = self.get(self.fixed)
            if host in tenant.hosts:
                return tenant
            raise UnknownTenant()
        known = self._hosts.get(host)
        if known is not None:
            try:
                tenant = self.get(known)
                if host in tenant.hosts:
                    return tenant
            except UnknownTenant:
                pass
        owner = self.data.host_owner(host)  # the host index: one read instead of a listing
        if owner is not None and owner != known:
            try:
                tenant = self.get(owner)
                if host in tenant.hosts:
                    self._hosts[host] = owner
                    return tenant
            except UnknownTenant:  # an index entry of a tenant being made, or removed: the listing decides
                pass
        self._hosts = self._host_map()
        name = self._hosts.get(host)
        if name is None:
            raise UnknownTenant()
        return self.get(name)

    def _host_map(self) -> dict[str, str]:
        """Every served host and its tenant, from a listing of the data root (the first
        tenant in name order keeps a host, as a listing answered it before)."""
        hosts: dict[str, str] = {}
        for name in self.names():
            try:
                tenant = self.get(name)
            except UnknownTenant:
                continue
            for served in tenant.hosts:
                hosts.setdefault(served, name)
        return hosts

    def check_new(self, name: str, hosts: list[str]) -> list[str]:
        """Refuse a tenant name that is taken or invalid and hosts another tenant serves;
        return the hosts normalized."""
        names.tenant_name(name)
        hosts = [normalize_host(h) for h in hosts]
        if not hosts:
            raise BadInput("error.tenant_needs_host")
        if self.store_for(name).exists(layout.TENANT):
            raise Conflict("error.tenant_exists", tenant=name)
        for other in self.names():
            taken = set(self.get(other).hosts) & set(hosts)
            if taken:
                raise Conflict("error.host_taken", host=sorted(taken)[0], tenant=other)
        return hosts

    def claim_hosts(self, name: str, hosts: list[str], *, by: str) -> None:
        """Claim every host for the tenant in the data root's host index, each by an exclusive
        create (codeb.store.hosts); of two runs racing for one host, one gets Conflict. A
        refusal takes back what this call claimed. The caller holds the tenant's
        `layout.TENANT` lock and has run `check_new` under it: a tenant from before the index
        (or restored without its entries) is found by that listing, not here."""
        made: list[str] = []
        try:
            for host in hosts:
                if not self.data.claim_host(host, name, by=by):
                    raise Conflict("error.host_taken", host=host, tenant=self.data.host_owner(host) or "?")
                made.append(host)
        except BaseException:
            for host in made:
                self.data.release_host(host, name, by=by)
            raise

    def release_hosts(self, name: str, hosts: list[str], *, by: str | None = None) -> None:
        """Drop the tenant's host-index entries for `hosts` (with `by`: only that run's claims)."""
        for host in hosts:
            self.data.release_host(host, name, by=by)

    def reindex(self) -> dict:
        """Give every host each tenant serves its host-index entry, where it has none (a tenant
        restored into this data root, or made before the index); an entry naming a tenant that
        no longer exists or no longer serves the host goes. Returns what was done."""
        served: dict[str, str] = {}
        conflicts = []
        for name, tenant in self._registered():
            for host in tenant.hosts:
                if served.setdefault(host, name) != name:
                    conflicts.append({"host": host, "tenants": [served[host], name]})
        claimed, dropped = [], []
        for host, name in served.items():
            owner = self.data.host_owner(host)
            if owner == name or (owner is not None and host in self._hosts_of(owner)):
                continue  # its entry is right, or names another tenant that serves it too (a conflict)
            with self.store_for(name).lock(layout.TENANT):
                if owner is not None:
                    self.data.release_host(host, owner)
                if self.data.claim_host(host, name, by="reindex"):
                    claimed.append(host)
        for host, owner in self.data.host_claims().items():
            # Served by nobody: a removed tenant's entry, or a host its tenant dropped; not the
            # entry of a tenant being made now (a folder without settings), whose run decides.
            if host not in served and (self._is_tenant(owner) or not self._has_folder(owner)):
                self.data.release_host(host, owner)
                dropped.append(host)
        return {"claimed": sorted(claimed), "dropped": sorted(dropped), "conflicts": conflicts}

    def _registered(self):
        for name in self.names():
            try:
                yield name, self.get(name)
            except UnknownTenant:
                continue

    def _is_tenant(self, name: str) -> bool:
        return bool(self._hosts_of(name))

    def _has_folder(self, name: str) -> bool:
        try:
            return self.data.exists(name)
        except InvalidName:
            return False

    def _hosts_of(self, name: str) -> list[str]:
        try:
            return self.get(name).hosts
        except (UnknownTenant, InvalidName):
            return []

    def remove(self, name: str) -> list[str]:
        """Delete a tenant: its host-index entries, then its whole folder. Returns the hosts
        whose entries went. (Its export is the caller's first step: codeb.provisioning.removal.)"""
        names.tenant_name(name)
        hosts = sorted({*self._hosts_of(name), *(h for h, t in self.data.host_claims().items() if t == name)})
        for host in hosts:
            self.data.release_host(host, name)
        self.data.remove(name)
        self._cache.pop(name, None)
        self._hosts = {h: t for h, t in self._hosts.items() if t != name}
        return hosts

    def register(self, name: str, settings: dict) -> Tenant:
        """Write a new tenant's settings: the step that makes it exist (and be served).
        Exclusive: of two registrations of one name, one fails with Conflict."""
        if not self.store_for(name).create(layout.TENANT, doc=settings):
            raise Conflict("error.tenant_exists", tenant=name)
        return self.get(name)
