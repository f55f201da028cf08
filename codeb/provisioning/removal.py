"""A tenant removed: exported first (its whole folder as one zip), then its host-index entries
and its folder. The Windows parts (site, pool, certificate) are the scripts' (`plan --remove`)."""

from ..errors import BadInput, UnknownTenant
from ..store import names
from ..tenants import Tenants


def remove_tenant(tenants: Tenants, name: str, *, export_to: str, confirmed: bool) -> dict:
    """Export the tenant to `export_to` (a new file), then remove it; refused unless `confirmed`."""
    names.tenant_name(name)
    if not confirmed:
        raise BadInput("error.tenant_remove_confirm", tenant=name)
    if not tenants.data.exists(name):
        raise UnknownTenant()
    exported = tenants.data.export(name, export_to)  # before anything goes: a failed export removes nothing
    hosts = tenants.remove(name)
    return {"tenant": name, "export": exported, "hosts_released": hosts, "removed": True}
