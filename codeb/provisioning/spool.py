"""Sign-up requests: one JSON document each in `_host/provisioning/requests/<id>.json`.

The host's web site (a low-privilege application pool) only writes a request,
atomically and once (`submit`); it never makes a tenant. The worker
(codeb.provisioning.worker) takes each in turn and journals every step in the
document itself: its state (`pending`, `started`, `done`, `failed`), when it
started and finished, how many attempts it took, what it made and the error.
The progress page polls `get`; the Windows worker reads its steps from `plan`
and tells how they went with `report` (`python -m codeb provision report`).

A request moves `queued` → `working` → `python_done` (the Python steps are
done; the Windows steps `iis`, `tls`, `dns_check` are pending) → `done`, or to
`failed` with the failing step's error. A worker killed mid-step leaves the
request `working` with that step `started`: the next run resumes it there.
"""

import ipaddress
import re
import secrets

from ..accounts import normalize_email
from ..errors import BadInput, Conflict, NotFound
from ..store import names
from ..tenants import Tenants, settings
from ..tenants.hosts import normalize_host
from . import compose
from .names import check_subdomain

PYTHON_STEPS = ("claim", "folder_and_keys", "settings", "first_admin", "turn", "vapid", "handoff")
WINDOWS_STEPS = ("iis", "tls", "dns_check")
QUEUED, WORKING, PYTHON_DONE, DONE, FAILED = "queued", "working", "python_done", "done", "failed"
OPEN = (QUEUED, WORKING)       # what the worker takes
SIGNUP_POLICY = "invite"       # a new organisation's tenant: its admin invites the others
MAX_ORGANISATION = 100
MAX_DETAIL = 500
REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def check_organisation(value) -> str:
    name = " ".join(str(value or "").split())
    if not 0 < len(name) <= MAX_ORGANISATION or _CONTROL.search(name):
        raise BadInput("error.provisioning.organisation", field="organisation", max=MAX_ORGANISATION)
    return name


def _check_ip(value) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise BadInput("error.provisioning.address", address=str(value)[:60]) from None


def check_id(value) -> str:
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise NotFound()
    return value


def check_available(tenants: Tenants, name: str, host: str) -> None:
    """Conflict if the tenant or its host is taken, or an open request already asks for it.

    What the host's site asks, so it reads only what its low-privilege pool may read: the
    data root's listing (a tenant's folder exists), the host index and the spool, never a
    tenant's own folder (on Windows no other pool can open it). A tenant from before the
    host index that is missing from it (`tenant reindex` adds it) is caught by the worker,
    whose claim step checks every tenant's settings under the tenant's lock."""
    names.tenant_name(name)
    if tenants.data.exists(name):
        raise Conflict("error.tenant_exists", tenant=name)
    compose.not_the_host_site(tenants, [host])
    owner = tenants.data.host_owner(host)
    if owner is not None and owner != name:
        raise Conflict("error.host_taken", host=host, tenant=owner)
    if any(r.get("tenant") == name and r.get("state") in OPEN for r in requests(tenants)):
        raise Conflict("error.subdomain.pending", name=name)


def submit(tenants: Tenants, *, subdomain, parent, organisation, admin_email, ip) -> str:
    """Queue a sign-up request, everything in it checked; return its id. What the web page calls
    once the first admin's email is verified."""
    name = check_subdomain(subdomain)
    host = normalize_host(f"{name}.{normalize_host(parent)}")
    doc = {"tenant": name, "subdomain": name, "parent": normalize_host(parent), "hosts": [host],
           "organisation": check_organisation(organisation), "admin_email": normalize_email(admin_email),
           "ip": _check_ip(ip), "created": int(tenants.clock()), "updated": int(tenants.clock()), "state": QUEUED,
           "steps": [_step(name, "python") for name in PYTHON_STEPS] + [_step(name, "windows")
                                                                         for name in WINDOWS_STEPS]}
    check_available(tenants, name, host)
    request_id = secrets.token_hex(16)
    if not tenants.data.requests().add(request_id, doc):  # 128 random bits: never taken
        raise Conflict("error.provisioning.duplicate")
    return request_id


def _step(name: str, by: str) -> dict:
    return {"name": name, "by": by, "state": "pending", "attempts": 0, "started": None, "finished": None,
            "outcome": None, "error": None}


def get(tenants: Tenants, request_id) -> dict:
    doc = tenants.data.requests().read(check_id(request_id))
    if doc is None:
        raise NotFound()
    return {"id": request_id, **doc}


def requests(tenants: Tenants) -> list[dict]:
    """Every request, oldest first."""
    jobs = tenants.data.requests()
    found = [{"id": job_id, **doc} for job_id in jobs.ids() if (doc := jobs.read(job_id)) is not None]
    return sorted(found, key=lambda r: (r.get("created", 0), r["id"]))


def latest_for(tenants: Tenants, name: str) -> dict | None:
    """The newest request that made (or is making) the tenant, None if it was made otherwise."""
    mine = [r for r in requests(tenants) if r.get("tenant") == name and r.get("state") != FAILED]
    return mine[-1] if mine else None


def step(request: dict, name: str) -> dict:
    return next(s for s in request["steps"] if s["name"] == name)


def order_of(request: dict) -> compose.Order:
    """The tenant a request asks for, as the steps take it; its run is the request's id."""
    return compose.Order(name=request["tenant"], hosts=list(request["hosts"]), by=request["id"],
                         signup=settings.signup_part(SIGNUP_POLICY, None), display_name=request["organisation"],
                         admin_email=request["admin_email"], admin_verified=True)


def report(tenants: Tenants, request_id, step_name: str, result: str, detail: str | None = None) -> dict:
    """What the Windows worker did with one of its steps: `ok` or `failed`, with an optional detail.
    The request is `done` once every Windows step is."""
    if step_name not in WINDOWS_STEPS:
        raise BadInput("error.provisioning.step", step=str(step_name)[:40], steps=", ".join(WINDOWS_STEPS))
    if result not in ("ok", "failed"):
        raise BadInput("error.provisioning.result", result=str(result)[:20])
    request_id = check_id(request_id)
    now = int(tenants.clock())
    with tenants.data.requests().update(request_id) as doc:
        if any(s["by"] == "python" and s["state"] != "done" for s in doc["steps"]):
            raise Conflict("error.provisioning.not_ready", state=str(doc.get("state")))
        entry = step({"steps": doc["steps"]}, step_name)
        entry.update(state="done" if result == "ok" else "failed", finished=now, attempts=entry["attempts"] + 1,
                     started=entry["started"] or now,
                     outcome={"detail": _CONTROL.sub(" ", detail)[:MAX_DETAIL]} if detail else None,
                     error=None if result == "ok" else (_CONTROL.sub(" ", detail or "")[:MAX_DETAIL] or "failed"))
        windows = [s for s in doc["steps"] if s["by"] == "windows"]
        if all(s["state"] == "done" for s in windows):
            doc["state"] = DONE
        elif any(s["state"] == "failed" for s in windows):
            doc["state"] = FAILED
        else:
            doc["state"] = PYTHON_DONE
        doc["updated"] = now
    return get(tenants, request_id)


# -- the sign-up page's browser and its hand-off (codeb.provisioning.signup, codeb.web.get_tenant) ------

HANDOFF_LIMIT = 5        # hand-off links one request's browser may ask for
HANDOFF_WINDOW = 86400   # seconds after the Python steps finished: then the tenant's own sign-in


def bind_browser(tenants: Tenants, request_id, browser: str) -> None:
    """Bind the request's progress page and hand-off to one browser: `browser` is the hash of
    a secret only that browser's cookie holds (the request keeps no secret)."""
    with tenants.data.requests().update(check_id(request_id)) as doc:
        doc["browser"] = str(browser)


def note_handoff(tenants: Tenants, request_id) -> dict:
    """Count one hand-off link for the request and return it; Conflict when its Python steps
    are not done, its HANDOFF_LIMIT is spent or its HANDOFF_WINDOW is over."""
    now = int(tenants.clock())
    with tenants.data.requests().update(check_id(request_id)) as doc:
        ready = (doc.get("handoff") or {}).get("ready")
        if doc.get("state") not in (PYTHON_DONE, DONE) or not ready:
            raise Conflict("error.provisioning.not_ready", state=str(doc.get("state")))
        if doc.get("handoffs", 0) >= HANDOFF_LIMIT or now > ready + HANDOFF_WINDOW:
            raise Conflict("error.handoff.spent")
        doc["handoffs"] = doc.get("handoffs", 0) + 1
    return get(tenants, request_id)
