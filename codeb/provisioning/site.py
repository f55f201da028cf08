"""The host's own site: the operator's settings for it, `_host/site.json` (`python -m codeb host set`).

The host site (say `www.codeb.example`) serves no tenant: it is where a stranger
gets one (codeb.web.get_tenant). Its settings name it, the parent domain every
new tenant's host is made under (`<subdomain>.<parent>`), the operator's terms
(a URL the sign-up page links to and asks to accept; none: no checkbox), the
abuse limits of the sign-up form and whether a Windows worker (the scheduled task
running deploy/Invoke-CodebProvisioning.ps1) finishes the IIS part on this host.

The limits are numbers per day: sign-ups per client address (an IPv4 address, an
IPv6 /64), per mailbox, per mail domain, and the host-wide cap of sign-ups a day.
A quarter of each (at least one) may be used within an hour (`rules`), so a burst
cannot spend a day's allowance at once. The document is read through the data
root (`DataRoot.site_settings`: the store is the only code that touches files).

The host site's name and the tenants' hosts never meet: `configure` refuses a name
a tenant serves or claims in the host index (`_not_a_tenant`), and a tenant is never
given the host site's name (codeb.provisioning.compose.not_the_host_site). On Windows,
deploy/Initialize-CodebHost.ps1 -SignupHostName makes the site (IIS site and pool
codeb-host) and runs `host set`.
"""

from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from ..errors import BadInput, Conflict, UnknownTenant
from ..tenants import Tenants
from ..tenants.hosts import is_loopback, normalize_host, origin

DEFAULTS = {"daily_cap": 100, "per_ip": 20, "per_email": 5, "per_domain": 50}
MAX_LIMIT = 1_000_000
MAX_TERMS_URL = 500
HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class HostSite:
    name: str                 # the host site's host name
    parent: str               # new tenants are `<subdomain>.<parent>`
    terms_url: str | None
    daily_cap: int
    per_ip: int
    per_email: int
    per_domain: int
    windows_worker: bool      # the IIS, TLS and DNS steps are done by the Windows worker on this host

    def host_for(self, subdomain: str) -> str:
        return f"{subdomain}.{self.parent}"

    def origin(self, local_port: int | None) -> str:
        """Where the host site is reached (https; on a loopback name the local server)."""
        return origin(self.name, local_port=local_port)


def rules(per_day: int) -> tuple[tuple[int, int], ...]:
    """The (limit, window) rules of a daily limit: a quarter of it (at least one) an hour, all of it a day."""
    return ((max(1, -(-per_day // 4)), HOUR), (per_day, DAY))


def from_doc(doc: dict | None) -> HostSite | None:
    if not doc or not isinstance(doc.get("name"), str) or not isinstance(doc.get("parent"), str):
        return None
    return HostSite(name=doc["name"], parent=doc["parent"], terms_url=doc.get("terms_url") or None,
                    windows_worker=bool(doc.get("windows_worker")),
                    **{key: int(doc.get(key) or default) for key, default in DEFAULTS.items()})


def load(tenants: Tenants) -> HostSite | None:
    """The host site's settings, None if the operator has not set it up."""
    return from_doc(tenants.data.site_settings())


def check_terms_url(value) -> str | None:
    """An https URL (http only on a loopback name, for local use), or None for "no terms"."""
    url = str(value or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
    if (len(url) > MAX_TERMS_URL or not secure or not host or not url.isascii() or any(c.isspace() for c in url)
            or parts.username is not None or parts.password is not None):
        raise BadInput("error.site.terms_url", url=url[:80])
    return url


def check_limit(name: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 0 < number <= MAX_LIMIT:
        raise BadInput("error.site.limit", option=name, value=str(value)[:20], max=MAX_LIMIT)
    return number


def _not_a_tenant(tenants: Tenants, host: str) -> None:
    """The host site never shadows a tenant: a name a tenant serves (or claims) is refused."""
    owner = tenants.data.host_owner(host)
    try:
        owner = tenants.for_host(host).name
    except UnknownTenant:
        pass
    if owner is not None:
        raise Conflict("error.site.host_is_tenant", host=host, tenant=owner)


def configure(tenants: Tenants, *, site: str, parent: str, terms_url=None, windows_worker: bool | None = None,
              **limits) -> HostSite:
    """Set the host site up (or change it): everything checked, then one write. A limit or
    setting not given keeps its current value (its default the first time); `terms_url=""`
    removes the terms."""
    current = load(tenants)
    name, parent_domain = normalize_host(site), normalize_host(parent)
    _not_a_tenant(tenants, name)
    unknown = set(limits) - set(DEFAULTS)
    if unknown:
        raise BadInput("error.site.limit", option=sorted(unknown)[0], value="", max=MAX_LIMIT)
    checked = {key: check_limit(key, limits[key]) if limits.get(key) is not None
               else getattr(current, key) if current else default for key, default in DEFAULTS.items()}
    terms = check_terms_url(terms_url) if terms_url is not None else (current.terms_url if current else None)
    worker = windows_worker if windows_worker is not None else (current.windows_worker if current else False)
    chosen = HostSite(name=name, parent=parent_domain, terms_url=terms, windows_worker=worker, **checked)
    tenants.data.write_site_settings(asdict(chosen))
    return chosen
