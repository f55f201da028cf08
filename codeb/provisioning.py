"""A new tenant, composed: its folder, settings, secrets, signing keys, the EU Wallet verifier's
test certificate and first admin.

Everything is checked before anything is written (name, hosts, sign-up policy,
the admin's email); then the secrets and keys are made, the settings written
last, because a tenant exists from the moment its `tenant.json` does. If a step
fails after the folder was made, the folder goes again: a failed run leaves
the data root as it found it.

It composes tenants, accounts and the provider's keys, so it sits above all
three (inside `tenants/` it would make tenants and oidc import each other);
the self-service sign-up's spool and worker will join it here.
"""

from dataclasses import dataclass

from .accounts import Account, Accounts, normalize_email
from .oidc import keys
from .store import layout
from .tenants import Tenant, Tenants, secrets, settings, wallet


@dataclass(frozen=True)
class Provisioned:
    tenant: Tenant
    admin: Account | None = None  # the first admin, if one was asked for


def create_tenant(tenants: Tenants, name: str, hosts: list[str], *, signup: str = "open",
                  domains: list[str] | None = None, display_name: str | None = None,
                  admin_email: str | None = None) -> Provisioned:
    hosts = tenants.check_new(name, hosts)  # fail fast: nothing is written yet
    signup_part = settings.signup_part(signup, domains)
    admin_email = normalize_email(admin_email) if admin_email else None
    existed = tenants.data.exists(name)
    store = tenants.store_for(name)
    composing = False
    try:
        with store.lock(layout.TENANT):  # one composition of this tenant at a time
            hosts = tenants.check_new(name, hosts)  # again: another run may have won meanwhile
            composing = True
            secrets.ensure(store)
            keys.ensure(store)
            wallet.verifier(store, host=hosts[0])  # the EU Wallet's self-signed test certificate
            tenant = tenants.register(name, settings.new(
                name=name, hosts=hosts, display_name=display_name, created=int(tenants.clock()),
                **signup_part))
        admin = None
        if admin_email:
            admin = Accounts(store, hosts[0]).create(email=admin_email, roles=["user", "admin"])
    except BaseException:
        if composing and not existed:  # the lock is released: the folder can go
            tenants.data.remove(name)
        raise
    return Provisioned(tenant, admin)
