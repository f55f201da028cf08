"""The privileged worker: `python -m codeb provision run [--once]` drains the spool.

Each open request is taken under its own lock, without waiting (codeb.store.jobs):
two workers at once each take different requests, and a killed worker's request
is free again at once. Its Python steps run in order (codeb.provisioning.compose),
each journaled in the request before and after it runs, a done step skipped on a
rerun: a run killed anywhere resumes at the step it was in, which finds what it
had made. `claim`, `folder_and_keys` and `settings` run under the tenant's
composition lock, held until the tenant exists.

A failure that passes (the store busy or full: a 503 error) leaves the request
queued for the next pass, the error in its step. Any other failure fails the
request: its host claims go, and the folder it made unless it holds the tenant.
"""

import logging
import time
from collections.abc import Callable

from ..errors import CodebError
from ..tenants import Tenant, Tenants
from ..tenants.hosts import is_loopback, origin
from . import compose, spool

log = logging.getLogger("codeb.provisioning")

OnStep = Callable[[str, str, str], None]  # (request id, step, "started" | "worked"): tests kill the worker here
IDLE_SLEEP, MAX_SLEEP = 1.0, 10.0         # seconds between polls of an empty spool: doubling up to MAX_SLEEP


class _Journal:
    """One request's document, written after every change (the worker holds its lock)."""

    def __init__(self, tenants: Tenants, request: dict):
        self.tenants, self.id = tenants, request["id"]
        self.doc = {k: v for k, v in request.items() if k != "id"}

    def save(self) -> None:
        self.doc["updated"] = int(self.tenants.clock())
        self.tenants.data.requests().write(self.id, self.doc)

    def step(self, name: str) -> dict:
        return spool.step(self.doc, name)

    def started(self, name: str) -> None:
        entry = self.step(name)
        entry["resumed"] = entry["state"] == "started"  # a run was killed in it
        entry.update(state="started", attempts=entry["attempts"] + 1, started=int(self.tenants.clock()), error=None)
        self.doc["state"] = spool.WORKING
        self.save()

    def finished(self, name: str, outcome: dict | None) -> None:
        self.step(name).update(state="done", finished=int(self.tenants.clock()), outcome=outcome)
        self.save()

    def failed(self, name: str, error: CodebError | None, *, final: bool) -> None:
        message = {"id": error.message_id, "text": str(error)} if error else {"id": "error.server", "text": "failed"}
        self.step(name).update(state="failed", finished=int(self.tenants.clock()), error=message)
        self.doc["state"] = spool.FAILED if final else spool.QUEUED
        self.save()


class _Run:
    def __init__(self, tenants: Tenants, request: dict, on_step: OnStep | None):
        self.tenants, self.journal, self.on_step = tenants, _Journal(tenants, request), on_step
        self.order = spool.order_of(request)
        self.tenant: Tenant | None = None
        self.admin = None

    def do(self, name: str, work: Callable[[], dict | None]) -> None:
        if self.journal.step(name)["state"] == "done":
            return
        self.journal.started(name)
        if self.on_step:
            self.on_step(self.journal.id, name, "started")
        outcome = work()
        if self.on_step:
            self.on_step(self.journal.id, name, "worked")
        self.journal.finished(name, outcome)

    def python_steps(self) -> None:
        t, o = self.tenants, self.order
        if any(self.journal.step(s)["state"] != "done" for s in ("claim", "folder_and_keys", "settings")):
            with compose.composing(t, o):
                self.do("claim", lambda: {**compose.claim(t, o), "folder_existed": self._folder_existed()})
                self.do("folder_and_keys", lambda: compose.folder_and_keys(t, o))
                self.do("settings", lambda: {"tenant": compose.settings_step(t, o).name})
        self.tenant = t.get(o.name)
        self.do("first_admin", self._first_admin)
        self.do("turn", lambda: compose.turn(self._tenant()))
        self.do("vapid", lambda: compose.vapid(self._tenant()))
        self.do("handoff", self._handoff)
        self.journal.doc["state"] = spool.PYTHON_DONE
        self.journal.save()

    def _folder_existed(self) -> bool:
        # Asked when the claim step starts its first attempt: the composition lock has made the
        # folder by then, so it existed before only if it holds more than the lock.
        store = self.tenants.store_for(self.order.name)
        return bool(store.list() or store.folders())

    def _tenant(self) -> Tenant:
        assert self.tenant is not None
        return self.tenant

    def _first_admin(self) -> dict | None:
        admin = compose.first_admin(self._tenant(), self.order)
        return {"login": admin.login, "sub": admin.sub} if admin else None

    def _handoff(self) -> dict:
        """What the progress page needs to hand the first admin over to the new tenant (its
        one-time link is the web page's to make): the tenant, its issuer, the admin's login."""
        tenant = self._tenant()
        admin = self.journal.step("first_admin")["outcome"] or {}
        host = tenant.hosts[0]
        record = {"tenant": tenant.name, "host": host,
                  "issuer": None if is_loopback(host) else origin(host, local_port=None),
                  "admin": admin.get("login"), "ready": int(self.tenants.clock())}
        self.journal.doc["handoff"] = record
        return record

    def run(self) -> str:
        try:
            self.python_steps()
        except CodebError as error:
            name = self._current()
            final = error.status != 503
            self.journal.failed(name, error, final=final)
            if final and self.journal.step("settings")["state"] != "done":
                claimed = self.journal.step("claim")["outcome"] or {}
                compose.undo(self.tenants, self.order, folder_existed=claimed.get("folder_existed", False))
            log.warning("provisioning request %s: step %s failed: %s", self.journal.id, name, error)
        except Exception:  # a bug or the file system: kept for the next pass, told to the operator's log
            log.exception("provisioning request %s: step %s failed", self.journal.id, self._current())
            self.journal.failed(self._current(), None, final=False)
        return self.journal.doc["state"]

    def _current(self) -> str:
        return next((s["name"] for s in self.journal.doc["steps"] if s["state"] == "started"), "claim")


def process(tenants: Tenants, request_id: str, *, on_step: OnStep | None = None) -> str | None:
    """Take one request and run its Python steps; its state after, None if another worker has it."""
    jobs = tenants.data.requests()
    with jobs.take(request_id) as taken:
        if not taken:
            return None
        request = spool.get(tenants, request_id)  # read again under its lock: another worker may have finished it
        if request["state"] not in spool.OPEN:
            return request["state"]
        return _Run(tenants, request, on_step).run()


def drain(tenants: Tenants, *, on_step: OnStep | None = None) -> dict[str, str]:
    """One pass over the spool: every open request processed; what became of each."""
    done = {}
    for request in spool.requests(tenants):
        if request.get("state") in spool.OPEN:
            state = process(tenants, request["id"], on_step=on_step)
            if state is not None:
                done[request["id"]] = state
    return done


def run(tenants: Tenants, *, once: bool, on_pass: Callable[[dict], None] | None = None,
        sleep: Callable[[float], None] = time.sleep) -> None:
    """Drain the spool; with `once`, one pass; otherwise poll until interrupted, sleeping longer
    (up to MAX_SLEEP) while it stays empty."""
    pause = IDLE_SLEEP
    while True:
        done = drain(tenants)
        if on_pass:
            on_pass(done)
        if once:
            return
        pause = IDLE_SLEEP if done else min(pause * 2, MAX_SLEEP)
        sleep(pause)
