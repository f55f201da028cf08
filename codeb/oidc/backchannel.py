"""OpenID Connect Back-Channel Logout 1.0: who must hear that a sign-in ended, and the queue.

`sid` (§2.1, §2.4). Every ID token names the browser session it came from by `sid`, a
hash of the session's store key (`secret_id` of its cookie, which the grant's note keeps as
`session`), prefixed so it is no other name of ours: not the key the store files the
session under, nor the one the Devices page's "End" button posts. It is stable for the
session's life and opaque to the relying party (§2.4: "its contents are opaque to the RP").

Remembering logged-in RPs (§2.3). A token exchange by a client that registered a
`backchannel_logout_uri` (§2.2) adds the `sid` it was given to one record per person (keyed
by the person's sub: `rp-<person>`), with the issuer its ID token named; nothing is written
for any other client, nor when the pair is known already (but once a day, to keep the
record as long as a refresh token lives). A token from a session not known (its grant's
note lost) is remembered as `more`: only `sub` can name it.

When a sign-in ends (§2.7, the OP's side), jobs are queued, one per logout token to send:
- one browser session ends (the person signs out, RP-initiated logout, a device ended from
  the account page, a sign-in that replaces the session): `session_ended`, wired into
  `Sessions` by the web layer, queues a token with `sub` and `sid` for each client that
  session signed in, and forgets them;
- the whole account is cut off (sign out everywhere, disabled, roles changed: everything
  issued so far is void; or deleted): `account_signed_out`, wired into `Accounts`, queues
  one token per session each client knew (`sub` + `sid`), and one with `sub` alone (§2.4:
  "all sessions at the RP for the End-User") for a client given tokens from a session no
  longer known, then removes the person's record (an erasure leaves none behind).

The queue (`backchannel_queue`) is the same transient kind, `job-<id>` records, durable: a
logout a client must still hear survives a recycled process. It is never worked inside the
person's request (nothing waits for a slow client); `wake` hands it to this process's courier
thread (`backchannel_delivery`), and `python -m codeb backchannel deliver TENANT` drains it
too. Any process may: a job is held with a lock taken only if free, so two never send one job
at once. Signing and HTTP live in `backchannel_delivery`, loaded at the first delivery: this
module is what the sign-out paths import, and it loads no JOSE.
"""

import hashlib

from ..store import layout
from .backchannel_queue import Queue
from .client_settings import REFRESH_TOKEN_BOUNDS

SID_PREFIX = b"codeb.backchannel.sid\x00"
PERSON_PREFIX = "rp-"  # the queue's jobs are `job-<id>` (backchannel_queue)
# The person's record lives as long as the longest refresh chain a client may hold (after
# that, no client holds anything of ours from that sign-in), from its last change.
PERSON_KEPT = REFRESH_TOKEN_BOUNDS[1]
RENEW_AFTER = 86400  # a known pair is written again at most once a day, to keep the record alive
SIDS_KEPT = 20  # sessions remembered per client (an account has at most 20 live sessions, Sessions.LISTED)


def session_id(listed_id: str) -> str:
    """The `sid` of the browser session whose store key is `listed_id` (§2.4)."""
    return hashlib.sha256(SID_PREFIX + listed_id.encode("utf-8")).hexdigest()[:32]


def session_id_of(note: dict | None) -> str | None:
    """The `sid` of the session a grant's note (`Grants.get`) names; None if it names none."""
    session = (note or {}).get("session")
    return session_id(session) if isinstance(session, str) and session else None


def person_record(sub: str) -> str:
    return PERSON_PREFIX + layout.person(sub)


# -- §2.3: remembering which clients a session signed in ------------------------------------

def remember(store, *, client_id: str, issuer: str, sub: str, login: str, sid: str | None, now: int) -> None:
    """A client with a back-channel logout URI was given tokens for `sub` from the session
    `sid` (None: unknown). Written only when something is new (or a day old)."""
    records = store.transient(layout.BACKCHANNEL_QUEUE)
    rid = person_record(sub)
    with records.lock(rid):
        doc = records.get(rid) or {"sub": sub, "clients": {}}
        entry = doc["clients"].get(client_id) or {"sids": {}}
        if _known(entry, issuer, sid, now):
            return
        if sid is None:
            entry["more"] = True
        else:
            entry["sids"][sid] = now
            if len(entry["sids"]) > SIDS_KEPT:  # the oldest is forgotten: only `sub` reaches it now
                entry["sids"] = dict(sorted(entry["sids"].items(), key=lambda kv: kv[1])[-SIDS_KEPT:])
                entry["more"] = True
        entry.update(iss=issuer, seen=now)
        clients = {c: e for c, e in doc["clients"].items() if e.get("seen", 0) > now - PERSON_KEPT}
        records.put(rid, {**doc, "login": login, "clients": {**clients, client_id: entry}}, ttl=PERSON_KEPT)


def _known(entry: dict, issuer: str, sid: str | None, now: int) -> bool:
    fresh = entry.get("iss") == issuer and now - entry.get("seen", 0) < RENEW_AFTER
    return fresh and (bool(entry.get("more")) if sid is None else sid in entry["sids"])


# -- §2.7: a sign-in ends ---------------------------------------------------------------------

def session_ended(store, listed_id: str, data: dict) -> None:
    """One signed-in browser session ended (`Sessions`' hook; `data` is what it held): each
    client it signed in gets a logout token naming its `sub` and `sid`."""
    sub = data.get("sub")
    if not isinstance(sub, str):
        return  # a break-glass session: no account, no client
    sid = session_id(listed_id)
    records = store.transient(layout.BACKCHANNEL_QUEUE)
    rid = person_record(sub)
    with records.lock(rid):
        doc = records.get(rid)
        told = [(c, e) for c, e in (doc or {}).get("clients", {}).items() if sid in e["sids"]]
        if doc is None or not told:
            return
        # Queued before the record forgets them: a process killed in between repeats a
        # logout (harmless) rather than losing one.
        queue = Queue(store)
        for client_id, entry in told:
            queue.add(_job(client_id, entry, doc, sid, store.clock()))
            del entry["sids"][sid]
            if not entry["sids"] and not entry.get("more"):
                del doc["clients"][client_id]
        if doc["clients"]:
            records.put(rid, doc, ttl=max(1, doc["expires"] - store.clock()))
        else:
            records.delete(rid)
    wake(store)


def account_signed_out(store, account) -> None:
    """Everything issued to the account until now is void (`Accounts`' hook: sign out
    everywhere, disabled, roles changed, deleted): every client any of its sessions signed in
    is told, per session it knew, and by `sub` alone for sessions no longer known."""
    records = store.transient(layout.BACKCHANNEL_QUEUE)
    rid = person_record(account.sub)
    with records.lock(rid):
        doc = records.get(rid)
        if doc is None:
            return
        queue, now = Queue(store), store.clock()
        for client_id, entry in doc["clients"].items():
            for sid in entry["sids"]:
                queue.add(_job(client_id, entry, doc, sid, now))
            if entry.get("more") or not entry["sids"]:
                queue.add(_job(client_id, entry, doc, None, now))
        records.delete(rid)
    wake(store)


def _job(client_id: str, entry: dict, doc: dict, sid: str | None, now: float) -> dict:
    job = {"client_id": client_id, "iss": entry["iss"], "sub": doc["sub"], "login": doc.get("login", ""),
           "attempts": 0, "due": int(now), "created": int(now)}
    return {**job, "sid": sid} if sid else job


_resumed: set[str] = set()  # the tenant folders whose queue this process has looked at


def resume(store) -> None:
    """On the first request this process serves for the tenant: jobs a recycled process left
    waiting (a retry due later) go to this process's courier. One listing per tenant and process;
    the scheduled `backchannel deliver` covers a site that gets no request."""
    if store.root in _resumed:
        return
    _resumed.add(store.root)  # two first requests at once may both look: one courier either way
    if Queue(store).ids():
        wake(store)


def wake(store) -> None:
    """Have this process's courier deliver what is due (started if it is not running)."""
    from . import backchannel_delivery  # noqa: PLC0415 -- joserfc signs in the courier, never at start-up

    backchannel_delivery.wake(store)
