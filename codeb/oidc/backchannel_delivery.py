"""Delivering the queued back-channel logouts (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.5, §2.8).

Each attempt signs a fresh Logout Token (§2.4): RS256 with the tenant's current key, `typ`
`logout+jwt` and `kid` in the header; `iss` (the issuer the client's ID token named), `aud`
(the client), `iat`, `exp` two minutes on (§2.4 recommends two minutes), a new `jti`, `sub`,
`sid` when the job names the session, and `events` with the back-channel logout member; never
a `nonce` (§2.4: its absence keeps a Logout Token from passing as an ID token).

A retry signs a new token rather than sending the first again: a retry comes minutes to an
hour later, when the first token's `exp` has passed and an RP would rightly refuse it (§2.6
validates `exp` as for ID tokens); the key may have been rotated meanwhile; and no token is
ever written to disk or the audit log. A token sent twice (a process killed after the
client's 200, before the job was removed) is a second logout with its own `jti`, harmless.

It is POSTed as `application/x-www-form-urlencoded` `logout_token=…` (§2.5), with a short
timeout and no redirect followed; 200 is success, and 204 too (§2.8: some frameworks answer
an empty 200 so). Anything else, or no answer, is retried after `BACKOFF` (five attempts
over about an hour); after the last one the job is given up with a `backchannel.failed`
audit line, as every success gets `backchannel.delivered` (client, account, attempts, status:
never the token).

`deliver_due` works every due job once, a few at a time (§2: "OPs contact them in parallel");
a job another deliverer holds is skipped, never waited for. Who calls it: this process's
courier (`wake`, after a sign-out queued jobs, a daemon thread that also sleeps until the next
retry and stops once the queue is empty), or `python -m codeb backchannel deliver TENANT`
(tests, and a scheduled task, which picks up what a recycled process left). Times are the
store's clock, so a test clock drives the retries.
"""

import http.client
import logging
import secrets
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from joserfc import jwt

from .. import audit
from .backchannel_queue import EVENT, Queue
from .clients import Clients
from .keys import load as load_keys

LOGOUT_TOKEN_LIFETIME = 120  # §2.4: "two minutes as the recommended duration"
TIMEOUT = 5  # seconds a client has to answer, per attempt
ATTEMPTS = 5
BACKOFF = (60, 300, 900, 2700)  # after the 1st … 4th failed attempt: the 5th comes about 66 minutes in
SUCCESS = (200, 204)  # §2.8
WORKERS = 4  # clients contacted at once by one deliverer
POLL = 60  # the courier's longest sleep while jobs wait (a retry due, or another deliverer's job)
MAX_ANSWER = 4096  # bytes of a client's answer read (and ignored)

DELIVERED, RETRYING, FAILED, BUSY, GONE, WAITING = "delivered", "retrying", "failed", "busy", "gone", "waiting"

log = logging.getLogger("codeb")


def logout_token(keys, *, issuer: str, client_id: str, sub: str | None, sid: str | None, now: int) -> str:
    """A signed Logout Token (§2.4): `sub`, `sid` or both, never a `nonce`."""
    if not (sub or sid):
        raise ValueError("a Logout Token names a sub, a sid or both")  # §2.4
    claims = {"iss": issuer, "aud": client_id, "iat": now, "exp": now + LOGOUT_TOKEN_LIFETIME,
              "jti": secrets.token_urlsafe(16), "events": {EVENT: {}}}
    claims.update({name: value for name, value in (("sub", sub), ("sid", sid)) if value})
    header = {"alg": "RS256", "typ": "logout+jwt", "kid": keys.kid}
    return jwt.encode(header, claims, keys.current, algorithms=["RS256"])


def post(uri: str, token: str, timeout: float = TIMEOUT) -> int | None:
    """The Back-Channel Logout Request (§2.5); the client's HTTP status, None if it did not answer.
    A redirect is an answer, never followed (it is not the 200 the spec asks for)."""
    parts = urlsplit(uri)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context())
    else:  # http only to the loopback (client_settings.check_url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=urlencode({"logout_token": token}),
                           headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "CodeB"})
        answer = connection.getresponse()
        answer.read(MAX_ANSWER)
        return answer.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@dataclass
class Outcome:
    """What one pass over the queue did, and what still waits."""

    counts: dict = field(default_factory=dict)  # delivered, retrying, failed, busy, waiting → how many
    next_due: float | None = None  # the earliest job still waiting

    def count(self, result: str) -> None:
        self.counts[result] = self.counts.get(result, 0) + 1

    @property
    def pending(self) -> int:
        return sum(self.counts.get(k, 0) for k in (RETRYING, BUSY, WAITING))

    def pause(self, now: float) -> float | None:
        """How long a courier may sleep before the next pass; None when nothing waits."""
        if not self.pending:
            return None
        if self.next_due is None:
            return POLL  # only jobs other deliverers hold: look again later
        return max(1.0, min(POLL, self.next_due - now))


def deliver_due(store, *, send=post, workers: int = WORKERS) -> Outcome:
    """Attempt every job that is due, once; skip the ones another deliverer holds."""
    queue, outcome, due = Queue(store), Outcome(), []
    now = store.clock()
    for job_id in queue.ids():
        doc = queue.read(job_id)
        if doc is None:
            continue
        if doc["due"] > now:
            outcome.count(WAITING)
            outcome.next_due = min(doc["due"], outcome.next_due or doc["due"])
        else:
            due.append(job_id)
    if due:
        with ThreadPoolExecutor(max_workers=min(workers, len(due))) as pool:
            for result, next_due in pool.map(lambda job_id: deliver(store, queue, job_id, send), due):
                outcome.count(result)
                if next_due is not None:
                    outcome.next_due = min(next_due, outcome.next_due or next_due)
    return outcome


def deliver(store, queue: Queue, job_id: str, send) -> tuple[str, float | None]:
    """One attempt at one job, if no other deliverer holds it: (what happened, its next due time)."""
    with queue.take(job_id) as taken:
        if not taken:
            return BUSY, None
        doc = queue.read(job_id)  # again, under the hold: another deliverer may have finished it
        now = store.clock()
        if doc is None:
            return GONE, None
        if doc["due"] > now:
            return WAITING, doc["due"]
        return attempt(store, queue, job_id, doc, int(now), send)


def attempt(store, queue: Queue, job_id: str, doc: dict, now: int, send) -> tuple[str, float | None]:
    client = Clients(store).get(doc["client_id"])
    uri = client.backchannel_logout_uri if client is not None else None
    if uri is None:  # the client is gone, or takes no back-channel logouts any more
        return _give_up(store, queue, job_id, doc, status=None, reason="unregistered"), None
    token = logout_token(load_keys(store), issuer=doc["iss"], client_id=doc["client_id"], sub=doc.get("sub"),
                         sid=doc.get("sid"), now=now)
    try:
        status = send(uri, token)
    except Exception:  # a URI http.client cannot send to (one saved before the checks were stricter)
        log.exception("back-channel logout to %s failed", doc["client_id"])
        status = None  # unreachable: retried, then given up, never a stuck job
    attempts = doc["attempts"] + 1
    if status in SUCCESS:
        queue.remove(job_id)
        audit.append(store, "backchannel.delivered", **_facts(doc), attempts=attempts, status=status)
        return DELIVERED, None
    if attempts >= ATTEMPTS:
        return _give_up(store, queue, job_id, {**doc, "attempts": attempts}, status=status,
                        reason="refused" if status else "unreachable"), None
    doc.update(attempts=attempts, due=now + BACKOFF[attempts - 1], status=status)
    queue.reschedule(job_id, doc)
    return RETRYING, doc["due"]


def _give_up(store, queue: Queue, job_id: str, doc: dict, *, status, reason: str) -> str:
    queue.remove(job_id)
    audit.append(store, "backchannel.failed", **_facts(doc), attempts=doc["attempts"], status=status, reason=reason)
    return FAILED


def _facts(doc: dict) -> dict:
    """What the audit line says of a job: the client and the account, whether it named a session."""
    return {"client_id": doc["client_id"], "login": doc.get("login", ""), "sub": doc.get("sub"),
            "session": bool(doc.get("sid"))}


# -- the courier: this process's deliverer, after the response ---------------------------------

_couriers: dict[str, "Courier"] = {}  # a tenant folder → its running courier, in this process
_guard = threading.Lock()


class Courier(threading.Thread):
    """Delivers one tenant's queue in the background: a pass whenever woken, then sleeps
    until the next retry is due; it ends when nothing waits (the next `wake` starts another)."""

    def __init__(self, store):
        super().__init__(name="codeb-backchannel", daemon=True)
        self.store = store
        self.woken = threading.Event()

    def run(self) -> None:
        while True:
            self.woken.clear()
            pause = self._pass()
            with _guard:  # a `wake` after the pass found the queue empty finds this courier gone
                if pause is None and not self.woken.is_set():
                    _couriers.pop(self.store.root, None)
                    return
            self.woken.wait(pause or 0)

    def _pass(self) -> float | None:
        try:
            return deliver_due(self.store).pause(self.store.clock())
        except Exception:  # a broken store or key: logged, tried again later, never the thread's end
            log.exception("back-channel logout delivery failed")
            return POLL


def courier_of(store) -> "Courier | None":
    """This process's running courier for the tenant, if one runs (tests wait for it to finish)."""
    with _guard:
        return _couriers.get(store.root)


def wake(store) -> None:
    """Start this process's courier for the tenant, or wake the running one."""
    with _guard:
        courier = _couriers.get(store.root)
        if courier is None:
            courier = _couriers[store.root] = Courier(store)
            courier.start()
        else:
            courier.woken.set()
