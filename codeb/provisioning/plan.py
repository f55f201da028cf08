"""What the Windows scripts must do for a tenant, as JSON: `python -m codeb provision plan TENANT`.

Each item is one thing the scripts make or remove (the application pool
`codeb-<tenant>`, its folder ACL, the site and its SNI bindings, the
certificate, the TURN server's realm lines, the DNS check) beside the Python
parts they build on, with what Python knows of its state:

- `present` / `missing`: a Python part by looking at the tenant's folder; a
  Windows part by what the Windows worker reported into the tenant's sign-up
  request (`provision report`);
- `unknown`: a Windows part of a tenant made without a request (`tenant
  create`, New-CodebTenant.ps1), which the scripts check themselves.

and the `action` that follows: `none`, `create`, `ensure` (get-compare-set),
`wait` (the Python steps are not done yet) or `remove`. `changes` lists the
items whose action is not `none`: empty for a rerun of a finished tenant.
"""

from ..accounts import Accounts
from ..errors import UnknownTenant
from ..rooms import turn
from ..store import layout
from ..tenants import Tenants
from . import spool

POOL_PREFIX = "codeb-"
# Names no public CA issues for: the scripts give them a self-signed certificate.
INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".localhost", ".test", ".example", ".invalid", ".home.arpa")
WINDOWS_ITEMS = {"app_pool": "iis", "acl": "iis", "site": "iis", "bindings": "iis", "turn_server": "iis",
                 "certificate": "tls", "dns": "dns_check"}


def pool_name(tenant: str) -> str:
    return POOL_PREFIX + tenant


def certificate_source(hosts: list[str]) -> str:
    internal = all(h.endswith(INTERNAL_SUFFIXES) or "." not in h or h in ("localhost",) for h in hosts)
    return "self-signed" if internal else "acme"


def plan(tenants: Tenants, name: str, *, remove: bool = False) -> dict:
    store = tenants.store_for(name)
    request = spool.latest_for(tenants, name)
    try:
        tenant = tenants.get(name)
    except UnknownTenant:
        tenant = None
    if tenant is None and request is None and not remove:
        raise UnknownTenant()
    hosts = tenant.hosts if tenant else list(request["hosts"]) if request else []
    facts = _facts(tenants, name, tenant, hosts, store)
    python = _python_state(tenant, request)
    items = (_removal if remove else _creation)(tenants, name, tenant, request, facts, python)
    return {"tenant": name, "action": "remove" if remove else "create", "request": request["id"] if request else None,
            "request_state": request["state"] if request else None, "python": python,
            "ready": remove or python == "done", "hosts": hosts, "items": items,
            "changes": [item["item"] for item in items if item["action"] != "none"]}


def _facts(tenants: Tenants, name: str, tenant, hosts: list[str], store) -> dict:
    pool = pool_name(name)
    realm = turn.realm(tenant) if tenant else (hosts[0] if hosts else None)
    return {
        "folder": {"path": store.root},
        "keys": {"signing": store.exists(layout.KEYS, layout.SIGNING_KEYS),
                 "session": store.exists(layout.KEYS, layout.SESSION_SECRET)},
        "app_pool": {"name": pool, "identity": "ApplicationPoolIdentity"},
        "acl": {"path": store.root, "identity": f"IIS AppPool\\{pool}", "rights": "Modify", "only": True},
        "site": {"name": pool, "app_pool": pool},
        "bindings": {"bindings": [{"protocol": "https", "host": h, "port": 443, "sni": True} for h in hosts]
                     + [{"protocol": "http", "host": h, "port": 80, "redirect": "https",
                         "except": "/.well-known/acme-challenge/"} for h in hosts]},
        "certificate": {"hosts": hosts, "source": certificate_source(hosts) if hosts else None},
        "turn_server": {"realm": realm, "secret": store.doc_path(layout.KEYS, layout.TURN)},
        "dns": {"hosts": hosts},
        "host_index": {"hosts": sorted(h for h, t in tenants.data.host_claims().items() if t == name)},
    }


def _python_state(tenant, request) -> str:
    if request is None:
        return "done" if tenant is not None else "missing"
    if request["state"] == spool.FAILED and any(s["by"] == "python" and s["state"] != "done"
                                                for s in request["steps"]):
        return "failed"
    return "done" if all(s["state"] == "done" for s in request["steps"] if s["by"] == "python") else "pending"


def _python_items(name: str, tenant, facts: dict, store) -> list[dict]:
    admins = Accounts(tenant.store, tenant.hosts[0]).admins() if tenant else []
    present = {
        "folder": store.exists(layout.TENANT) or facts["keys"]["signing"],
        "keys": facts["keys"]["signing"] and facts["keys"]["session"],
        "settings": tenant is not None,
        "first_admin": bool(admins),
        "turn_secret": store.exists(layout.KEYS, layout.TURN),
        "vapid": store.exists(layout.KEYS, layout.VAPID),
    }
    details = {"folder": facts["folder"], "first_admin": {"admins": admins},
               "turn_secret": {"path": facts["turn_server"]["secret"]}}
    return [{"item": item, "by": "python", **details.get(item, {}), "state": "present" if ok else "missing",
             "action": "none" if ok else "create"} for item, ok in present.items()]


def _windows_state(request, item: str) -> str:
    if request is None:
        return "unknown"
    return "present" if spool.step(request, WINDOWS_ITEMS[item])["state"] == "done" else "missing"


def _creation(tenants: Tenants, name: str, tenant, request, facts: dict, python: str) -> list[dict]:
    items = _python_items(name, tenant, facts, tenants.store_for(name))
    for item, step in WINDOWS_ITEMS.items():
        state = _windows_state(request, item)
        action = {"present": "none", "unknown": "ensure"}.get(state, "create" if python == "done" else "wait")
        items.append({"item": item, "by": "windows", "step": step, **facts[item], "state": state,
                      "action": action})
    return items


def _removal(tenants: Tenants, name: str, tenant, request, facts: dict, python: str) -> list[dict]:
    items = []
    for item in ("site", "bindings", "app_pool", "certificate", "turn_server", "acl"):
        state = _windows_state(request, item)
        items.append({"item": item, "by": "windows", **facts[item], "state": state,
                      "action": "remove" if state != "missing" else "none"})
    folder = tenants.data.exists(name)
    indexed = facts["host_index"]["hosts"]
    items.append({"item": "export", "by": "python", "state": "missing" if folder else "present",
                  "action": "create" if folder else "none",
                  "command": f"python -m codeb tenant remove {name} --export FILE --yes"})
    items.append({"item": "folder", "by": "python", **facts["folder"], "state": "present" if folder else "missing",
                  "action": "remove" if folder else "none"})
    items.append({"item": "host_index", "by": "python", "hosts": indexed, "state": "present" if indexed else "missing",
                  "action": "remove" if indexed else "none"})
    return items
