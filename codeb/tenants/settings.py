"""A tenant's settings, `tenant.json`: what a new tenant starts with, and changing them.

The document is composed of parts: the tenant's own (hosts, display name,
sign-up policy, languages, mail), and one part per capability that has
settings, each validated by the code that owns it (a sign-in method checks its
part, `codeb.accounts.extensions` the extension range). `save` writes the
validated parts in one locked update: a form is one change or none.
"""

import copy
from functools import cache
from typing import Any

from .. import i18n
from ..errors import BadInput
from ..store import layout
from .hosts import normalize_host

SIGNUP_POLICIES = ("open", "domains", "invite")

DEFAULTS: dict[str, Any] = {
    "signup": {"policy": "open", "domains": []},
    "methods": ["magic_link", "passkey"],
    "languages": list(i18n.SHIPPED),
    "default_language": "en",
    "time_zone": i18n.DEFAULT_TIME_ZONE,  # every date and time a person reads (codeb.i18n)
    "mail": {"pickup": None, "from": None},
    "extension_range": [600, 699],
    "passkeys": {"user_verification": "required", "attestation": "none", "allowed_aaguids": [],
                 "max_per_account": 10},
    "app_passwords": {"enabled": True},  # native clients' app passwords (codeb.accounts.app_passwords)
}


def new(*, name: str, hosts: list[str], display_name: str | None, signup: dict, created: int) -> dict:
    """The settings of a new tenant: the defaults with its own name, hosts and sign-up policy."""
    settings = copy.deepcopy(DEFAULTS)
    settings.update(name=name, hosts=hosts, created=created, display_name=display_name or hosts[0],
                    signup=signup)
    return settings


def signup_part(policy, domains) -> dict:
    """Who may create an account: `open`, `domains` (of these email domains) or `invite`."""
    if policy not in SIGNUP_POLICIES:
        raise BadInput("error.invalid_signup_policy", policy=str(policy)[:40])
    domains = sorted({d.strip().lower() for d in domains or () if d.strip()})
    for domain in domains:
        normalize_host(domain)
    if policy == "domains" and not domains:
        raise BadInput("error.settings_domains")
    return {"signup": {"policy": policy, "domains": domains}}


def time_zone_part(zone) -> dict:
    """The zone the tenant's pages and mails show times in: an IANA name (tzdata).
    A form without the field leaves it as it is."""
    if zone is None:
        return {}
    zone = str(zone).strip()
    if zone not in _zones():
        raise BadInput("error.settings_time_zone", zone=zone[:60] or "-")
    return {"time_zone": zone}


@cache
def _zones() -> frozenset[str]:
    import zoneinfo  # noqa: PLC0415 -- read when an admin saves a zone, not at start-up

    return frozenset(zoneinfo.available_timezones())


def save(tenant, parts: dict) -> None:
    """Write already validated parts of the settings, all in one update."""
    with tenant.store.update(layout.TENANT) as doc:
        doc.update(copy.deepcopy(parts))
