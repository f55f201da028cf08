"""Jobs: documents in a folder that workers take one at a time (the provisioning spool).

A job is one JSON document, added by an exclusive create (its id is new) and
changed only by the worker holding it. `take` holds the job's lock if no other
worker does, without waiting: two workers draining one folder at once each get
different jobs, and a killed worker's jobs are free again at once (the OS drops
its lock), to be resumed from what their documents say was done.
"""

from contextlib import contextmanager

from .trylock import held_if_free


class Jobs:
    def __init__(self, store, *folder: str):
        self.store = store
        self.folder = folder

    def add(self, job_id: str, doc: dict) -> bool:
        """Write a new job; False (and nothing written) if the id is taken."""
        return self.store.create(*self.folder, job_id, doc=doc)

    def ids(self) -> list[str]:
        return self.store.list(*self.folder)

    def read(self, job_id: str) -> dict | None:
        return self.store.read(*self.folder, job_id)

    def write(self, job_id: str, doc: dict) -> None:
        """Replace a job's document; for the worker holding it (`take`)."""
        self.store.write(*self.folder, job_id, doc=doc)

    @contextmanager
    def take(self, job_id: str):
        """Hold the job for the block if no other worker holds it; yields whether it was taken."""
        with held_if_free(self.store._lock_path(*self.folder, job_id)) as taken:
            yield taken

    @contextmanager
    def update(self, job_id: str):
        """Read-modify-write of a job by someone who is not its worker (a report from the
        Windows side): under the same lock, waited for."""
        with self.store.update(*self.folder, job_id) as doc:
            yield doc
