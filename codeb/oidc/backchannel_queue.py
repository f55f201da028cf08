"""The queue of back-channel logouts to send: `job-<id>` records in the `backchannel-logouts` kind.

Beside the people's records of which clients their sessions signed in (codeb.oidc.backchannel,
`rp-<person>`), durable like them: a logout a client must still hear survives a recycled
process or a power cut. A job names the client, the issuer its ID token named, `sub`, `sid`
(when a session is known), how many attempts were made and when the next is due; never a
token (each attempt signs its own, codeb.oidc.backchannel_delivery).
"""

import secrets

from ..store import Jobs, layout

EVENT = "http://schemas.openid.net/event/backchannel-logout"  # Back-Channel Logout §2.4 `events` member
JOB_PREFIX = "job-"
JOB_KEPT = 7 * 86400  # a job nobody worked (no process, no scheduled task) is swept after this


class Queue:
    """The logout tokens waiting to be sent: `job-<id>` records beside the people's records.

    A job is worked only by the deliverer holding it (`take`: a lock taken only if free, as
    the provisioning spool's), which reads it again under that hold, then removes it
    (delivered, or given up) or writes its next attempt."""

    def __init__(self, store):
        self.store = store
        self.records = store.transient(layout.BACKCHANNEL_QUEUE)
        self.locks = Jobs(store, layout.TRANSIENT, layout.BACKCHANNEL_QUEUE)

    def add(self, job: dict) -> str:
        job_id = JOB_PREFIX + secrets.token_hex(16)
        self.records.create(job_id, job, ttl=JOB_KEPT)
        return job_id

    def ids(self) -> list[str]:
        return [name for name in self.locks.ids() if name.startswith(JOB_PREFIX)]

    def read(self, job_id: str) -> dict | None:
        return self.records.get(job_id)

    def take(self, job_id: str):
        """Hold the job for the block if no other deliverer holds it; yields whether it was taken."""
        return self.locks.take(job_id)

    def reschedule(self, job_id: str, doc: dict) -> None:
        self.records.put(job_id, doc, ttl=max(1, doc["expires"] - self.store.clock()))

    def remove(self, job_id: str) -> None:
        self.records.delete(job_id)
