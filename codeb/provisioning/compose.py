"""The steps that make a tenant, each one idempotent: what `create_tenant` (the CLI) and the
sign-up worker (codeb.provisioning.worker) both run.

An `Order` is a tenant to be made, checked whole before any step runs (name,
hosts, sign-up policy, the admin's email). Then, under the tenant's
composition lock (`layout.TENANT` in its folder):

1. `claim`: every host in the data root's host index, by exclusive create,
   after the listing that finds tenants from before the index; never the host
   site's name (`not_the_host_site`: that name is the sign-up page's);
2. `folder_and_keys`: the session secret, the signing key, the EU Wallet
   verifier's test certificate;
3. `settings`: tenant.json, written last of the three, because a tenant exists
   from the moment it does;

and after it, the tenant existing: 4. `first_admin`, 5. `turn` (its TURN shared
secret; the realm is its first host), 6. `vapid` (its Web Push key pair).

Every step finds what an earlier run of the same order made and makes only what
is missing, so a run killed anywhere and run again ends with one tenant and one
admin. The run's id (`Order.by`) marks its host claims and its tenant.json, so a
rerun knows its own tenant from somebody else's.
"""

import secrets as random
from dataclasses import dataclass, field

from ..accounts import Account, Accounts, normalize_email
from ..errors import Conflict
from ..notify import push
from ..oidc import keys
from ..rooms import turn as turn_server
from ..store import layout
from ..tenants import Tenant, Tenants, secrets, settings, wallet
from . import site as host_site


@dataclass(frozen=True)
class Order:
    name: str
    hosts: list[str]
    signup: dict                     # the settings' sign-up part (settings.signup_part)
    by: str = field(default_factory=lambda: "cli-" + random.token_hex(8))  # the run: a request id, a CLI run
    display_name: str | None = None
    admin_email: str | None = None
    admin_verified: bool = False     # the sign-up page verified the address (a magic link)


def order(tenants: Tenants, name: str, hosts: list[str], *, signup: str = "open", domains: list[str] | None = None,
          display_name: str | None = None, admin_email: str | None = None, **run) -> Order:
    """A checked order: refused (BadInput, Conflict) before anything is written."""
    checked = tenants.check_new(name, hosts)
    not_the_host_site(tenants, checked)
    return Order(name=name, hosts=checked, signup=settings.signup_part(signup, domains), display_name=display_name,
                 admin_email=normalize_email(admin_email) if admin_email else None, **run)


def not_the_host_site(tenants: Tenants, hosts: list[str]) -> None:
    """Conflict if one of the (normalized) hosts is the host site's name (`host set --site`): a
    request for it is served the sign-up page, so a tenant there would never be reached."""
    chosen = host_site.load(tenants)
    if chosen is not None and chosen.name in hosts:
        raise Conflict("error.host_is_signup_site", host=chosen.name)


def is_ours(tenants: Tenants, o: Order) -> bool:
    """Whether the tenant's settings exist and were written by this order's run."""
    doc = tenants.store_for(o.name).read(layout.TENANT)
    return doc is not None and (doc.get("provisioned") or {}).get("by") == o.by


def composing(tenants: Tenants, o: Order):
    """The tenant's composition lock: one run composes a tenant at a time."""
    return tenants.store_for(o.name).lock(layout.TENANT)


def claim(tenants: Tenants, o: Order) -> dict:
    """Step 1 (under `composing`): the hosts, checked again and claimed."""
    if not is_ours(tenants, o):
        tenants.check_new(o.name, o.hosts)  # again, under the lock: another run may have won meanwhile
        not_the_host_site(tenants, o.hosts)
    tenants.claim_hosts(o.name, o.hosts, by=o.by)
    return {"hosts": o.hosts}


def folder_and_keys(tenants: Tenants, o: Order) -> dict:
    """Step 2 (under `composing`): what only the tenant's folder holds and nobody serves."""
    store = tenants.store_for(o.name)
    secrets.ensure(store)
    keys.ensure(store)
    wallet.verifier(store, host=o.hosts[0])  # the EU Wallet's self-signed test certificate
    return {"kid": keys.load(store).kid}


def settings_step(tenants: Tenants, o: Order) -> Tenant:
    """Step 3 (under `composing`): tenant.json; an earlier run's of this order is found, not redone."""
    if is_ours(tenants, o):
        return tenants.get(o.name)
    doc = settings.new(name=o.name, hosts=o.hosts, display_name=o.display_name, created=int(tenants.clock()),
                       **o.signup)
    doc["provisioned"] = {"by": o.by}
    tenant = tenants.register(o.name, doc)
    tenants.claim_hosts(o.name, o.hosts, by=o.by)  # again: a same-name run that lost may have taken one back
    return tenant


def first_admin(tenant: Tenant, o: Order) -> Account | None:
    """Step 4: the first admin, found by email if an earlier run made it (never a second one)."""
    if not o.admin_email:
        return None
    accounts = Accounts(tenant.store, tenant.hosts[0])
    found = accounts.find_by_email(o.admin_email)
    if found is None:
        try:
            return accounts.create(email=o.admin_email, roles=["user", "admin"], email_verified=o.admin_verified)
        except Conflict:  # made meanwhile by a run that raced this one
            found = accounts.find_by_email(o.admin_email)
            if found is None:
                raise
    if "admin" not in found.roles:
        found = accounts.set_roles(found.login, [*found.roles, "admin"])
    return found


def turn(tenant: Tenant) -> dict:
    """Step 5: the TURN REST shared secret (made once) and the realm coturn is given."""
    turn_server.load(tenant.store)
    return {"realm": turn_server.realm(tenant)}


def vapid(tenant: Tenant) -> dict:
    """Step 6: the VAPID key pair browsers subscribe to Web Push with (made once)."""
    return {"public_key": push.public_key(tenant.store)}


def undo(tenants: Tenants, o: Order, *, folder_existed: bool) -> None:
    """Take back a failed run: its host claims, and the folder it made unless it holds a tenant
    another run made. Called with the composition lock released (its file is in the folder)."""
    tenants.release_hosts(o.name, o.hosts, by=o.by)
    store = tenants.store_for(o.name)
    if not folder_existed and (is_ours(tenants, o) or not store.exists(layout.TENANT)):
        tenants.data.remove(o.name)
