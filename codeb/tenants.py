"""Tenants: which one a request belongs to, and its settings (DESIGN: tenants).

Under IIS each site is one tenant: its `CODEB_TENANT` appSetting reaches the
process environment through wfastcgi. The local server serves every tenant of
the data folder and picks one by the Host header, port ignored. An unknown host
is answered with 404, never with some other tenant.
"""

import json
import os
import re
import time
from dataclasses import dataclass, field

from . import i18n
from .errors import BadInput, Conflict, UnknownTenant
from .store import Store, names

HOST_PATTERN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
SIGNUP_POLICIES = ("open", "domains", "invite")
METHODS = ("magic_link", "passkey")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")

DEFAULT_SETTINGS = {
    "signup": {"policy": "open", "domains": []},
    "methods": list(METHODS),
    "languages": list(i18n.SHIPPED),
    "default_language": "en",
    "mail": {"pickup": None, "from": None},
    "extension_range": [600, 699],
    "passkeys": {"user_verification": "required", "attestation": "none", "allowed_aaguids": [],
                 "max_per_account": 10},
}


def normalize_host(value: str) -> str:
    """`Login.Example.com:443` -> `login.example.com`; raise BadInput if not a host name."""
    host = (value or "").strip().lower()
    if host.startswith("["):  # IPv6 literal
        host = host.split("]")[0] + "]"
    else:
        host = host.split(":")[0]
    if host.endswith("."):
        host = host[:-1]
    if host not in LOOPBACK_HOSTS and not HOST_PATTERN.fullmatch(host):
        raise BadInput("error.invalid_host", host=value[:80])
    return host


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.endswith(".localhost")


@dataclass
class Tenant:
    name: str
    settings: dict
    store: Store
    languages: dict = field(default_factory=dict)  # tenant-added catalogues

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

    def issuer_for(self, host_header: str, scheme: str) -> str:
        """The issuer URL for a request that reached this tenant via `host_header`.

        `https://<host>` in production; on a loopback name the scheme and port
        the developer actually used, e.g. `http://localhost:8000`.
        """
        host = normalize_host(host_header)
        if is_loopback(host):
            return f"{scheme}://{host_header.lower()}"
        return f"https://{host}"


class Tenants:
    """All tenants under one data root."""

    def __init__(self, data_root: str, fixed: str | None = None, clock=time.time):
        self.root = os.path.abspath(data_root)
        self.fixed = names.tenant_name(fixed) if fixed else None
        self.clock = clock
        self._cache: dict[str, tuple[tuple, Tenant]] = {}

    def store_for(self, name: str) -> Store:
        return Store(os.path.join(self.root, names.tenant_name(name)), clock=self.clock)

    def names(self) -> list[str]:
        try:
            entries = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [e for e in entries if names.TENANT_PATTERN.fullmatch(e)
                and os.path.isfile(os.path.join(self.root, e, "tenant.json"))]

    def get(self, name: str) -> Tenant:
        """Load a tenant by name; the parsed settings are reused while tenant.json is unchanged."""
        store = self.store_for(name)
        path = store.doc_path("tenant")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UnknownTenant() from None
        stamp = (st.st_mtime_ns, st.st_size, self._languages_stamp(store))
        cached = self._cache.get(name)
        if cached and cached[0] == stamp:
            return cached[1]
        settings = store.read("tenant")
        if settings is None:
            raise UnknownTenant()
        tenant = Tenant(name=name, settings=settings, store=store,
                        languages=self._load_languages(store))
        self._cache[name] = (stamp, tenant)
        return tenant

    @staticmethod
    def _languages_stamp(store: Store):
        try:
            return os.stat(store.folder("i18n")).st_mtime_ns
        except FileNotFoundError:
            return None

    @staticmethod
    def _load_languages(store: Store) -> dict:
        loaded = {}
        for lang in store.list("i18n"):
            if i18n.LANG_PATTERN.fullmatch(lang) and lang not in i18n.SHIPPED:
                doc = store.read("i18n", lang) or {}
                loaded[lang] = {k: v for k, v in doc.get("messages", {}).items()
                                if isinstance(v, str)}
        return loaded

    def for_host(self, host_header: str) -> Tenant:
        """The tenant serving `host_header`; UnknownTenant if none does."""
        try:
            host = normalize_host(host_header)
        except BadInput:
            raise UnknownTenant() from None
        candidates = [self.fixed] if self.fixed else self.names()
        for name in candidates:
            try:
                tenant = self.get(name)
            except UnknownTenant:
                continue
            if host in tenant.hosts:
                return tenant
        raise UnknownTenant()

    def create(self, name: str, hosts: list[str], *, signup: str = "open",
               domains: list[str] | None = None, display_name: str | None = None) -> Tenant:
        """Create a tenant folder with its settings, keys and session secret."""
        from .oidc import keys

        names.tenant_name(name)
        hosts = [normalize_host(h) for h in hosts]
        if not hosts:
            raise BadInput("error.tenant_needs_host")
        if signup not in SIGNUP_POLICIES:
            raise BadInput("error.invalid_signup_policy", policy=signup)
        if signup == "domains" and not domains:
            raise BadInput("error.settings_domains")
        for other in self.names():
            taken = set(self.get(other).hosts) & set(hosts)
            if taken:
                raise Conflict("error.host_taken", host=sorted(taken)[0], tenant=other)
        store = self.store_for(name)
        settings = json.loads(json.dumps(DEFAULT_SETTINGS))
        settings.update({"name": name, "hosts": hosts, "created": int(self.clock()),
                         "display_name": display_name or hosts[0]})
        settings["signup"] = {"policy": signup, "domains": [d.lower() for d in domains or []]}
        os.makedirs(store.root, exist_ok=True)
        with store.lock("tenant"):
            if store.exists("tenant"):
                raise Conflict("error.tenant_exists", tenant=name)
            keys.ensure(store)
            store.create("tenant", doc=settings)
        return self.get(name)


def update_signin_settings(tenant, *, methods, signup, domains, user_verification, attestation,
                           allowed_aaguids, max_passkeys, extension_range) -> None:
    """Validate and store the admin's sign-in settings; all of them or none."""
    from .signin import REGISTRY

    methods = [m for m in REGISTRY if m in set(methods or ())]
    if not methods:
        raise BadInput("error.settings_no_method")
    if signup not in SIGNUP_POLICIES:
        raise BadInput("error.invalid_signup_policy", policy=str(signup)[:40])
    domains = sorted({d.strip().lower() for d in domains or () if d.strip()})
    for domain in domains:
        normalize_host(domain)
    if signup == "domains" and not domains:
        raise BadInput("error.settings_domains")
    if user_verification not in ("required", "preferred", "discouraged") or attestation not in ("none", "direct"):
        raise BadInput("error.bad_request")
    aaguids = sorted({a.strip().lower() for a in allowed_aaguids or () if a.strip()})
    if any(not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", a) for a in aaguids):
        raise BadInput("error.settings_aaguid")
    try:
        max_passkeys, low, high = int(max_passkeys), int(extension_range[0]), int(extension_range[1])
    except (TypeError, ValueError, IndexError):
        raise BadInput("error.settings_numbers") from None
    if not 1 <= max_passkeys <= 100:
        raise BadInput("error.settings_numbers")
    if not 1 <= low <= high <= 99_999_999 or high - low > 1_000_000:
        raise BadInput("error.extension_range", low=low, high=high)
    with tenant.store.update("tenant") as doc:
        doc["methods"] = methods
        doc["signup"] = {"policy": signup, "domains": domains}
        doc["passkeys"] = {"user_verification": user_verification, "attestation": attestation,
                           "allowed_aaguids": aaguids, "max_per_account": max_passkeys}
        doc["extension_range"] = [low, high]


def save_language(tenant, lang: str, messages: dict) -> None:
    """Store a tenant catalogue (validated by i18n.validate_catalogue) and offer the language."""
    cleaned = i18n.validate_catalogue(lang, messages)
    tenant.store.write("i18n", lang, doc={"messages": cleaned})
    with tenant.store.update("tenant") as doc:
        languages = doc.get("languages", list(i18n.SHIPPED))
        if lang not in languages:
            doc["languages"] = languages + [lang]


def remove_language(tenant, lang: str) -> None:
    if lang in i18n.SHIPPED or not i18n.LANG_PATTERN.fullmatch(lang or ""):
        raise BadInput("error.language_code")
    with tenant.store.update("tenant") as doc:
        doc["languages"] = [code for code in doc.get("languages", []) if code != lang]
    tenant.store.delete("i18n", lang)

