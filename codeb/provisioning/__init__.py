"""Making and removing tenants: composed from tenants, accounts and the provider's keys, so it
sits above all three (inside `tenants/` it would make tenants and oidc import each other).

- `compose`: the idempotent steps that make a tenant, each finding what an earlier run made;
- `create_tenant` (here): those steps in one run, all or nothing (`python -m codeb tenant create`);
- `names`: the rule for the subdomain a person picks on the sign-up page;
- `spool`: sign-up requests in `_host/provisioning/requests/`, written by the host's web
  site (which never makes a tenant) and journaled step by step by the worker;
- `worker`: `python -m codeb provision run` drains the spool through the same steps;
- `plan`: what the Windows scripts must do for a tenant, as JSON;
- `removal`: a tenant exported, then removed with its host-index entries.
"""

from dataclasses import dataclass

from ..accounts import Account
from ..tenants import Tenant, Tenants
from . import compose


@dataclass(frozen=True)
class Provisioned:
    tenant: Tenant
    admin: Account | None = None  # the first admin, if one was asked for


def create_tenant(tenants: Tenants, name: str, hosts: list[str], *, signup: str = "open",
                  domains: list[str] | None = None, display_name: str | None = None,
                  admin_email: str | None = None) -> Provisioned:
    """A new tenant, all of it or nothing: everything checked before anything is written; if a
    step fails after the folder was made, the folder and the host claims go again."""
    order = compose.order(tenants, name, hosts, signup=signup, domains=domains, display_name=display_name,
                          admin_email=admin_email)  # fail fast: nothing is written yet
    existed = tenants.data.exists(name)
    composing = False
    try:
        with compose.composing(tenants, order):  # one composition of this tenant at a time
            composing = True
            compose.claim(tenants, order)
            compose.folder_and_keys(tenants, order)
            tenant = compose.settings_step(tenants, order)
        admin = compose.first_admin(tenant, order)
        compose.turn(tenant)
        compose.vapid(tenant)
    except BaseException:
        if composing:  # the lock is released: the folder can go
            compose.undo(tenants, order, folder_existed=existed)
        raise
    return Provisioned(tenant, admin)


__all__ = ["Provisioned", "create_tenant"]
