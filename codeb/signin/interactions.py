"""Pending authorization requests while the person signs in (DESIGN: the sign-in flow, step 2).

The validated request's parameters wait in `transient/interactions/` for half
an hour; the sign-in page carries only the interaction's id. Any process can
resume it, including the one that serves a magic link opened on another device.
"""

import re
import secrets

from ..errors import NotFound, RateLimited
from ..store import layout, secret_id

LIFETIME = 1800
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# Interactions a client IP may start per quarter hour: each is written to disk, so a flood is
# stopped, while an office of hundreds behind one address signing in at 9 am is not.
PER_CLIENT = (1000, 900)


def _records(store):
    return store.transient(layout.INTERACTIONS)


def create(store, *, params: dict, client_id: str, client_name: str, client_ip: str) -> str:
    """A new interaction's id; RateLimited (nothing written) past PER_CLIENT."""
    wait = store.counter(layout.INTERACTIONS_PER_CLIENT).hit(client_ip, *PER_CLIENT)
    if wait:
        raise RateLimited(wait, "error.authorize.too_many")
    iid = secrets.token_hex(16)
    _records(store).put(iid, {"params": params, "client_id": client_id,
                              "client_name": client_name, "created": store.clock()},
                        ttl=LIFETIME)
    return iid


def get(store, iid) -> dict | None:
    if not isinstance(iid, str) or not ID_PATTERN.fullmatch(iid):
        return None
    return _records(store).get(iid)


def answered_by(store, iid, session_sid: str, *, continued: bool = False) -> bool:
    """Record which browser session answers this request (only it may resume it): the one that
    signed in for it, or, `continued`, the one already signed in that the person chose to
    continue with ("Signed in as … Continue"). False if the request is gone (expired, or not
    an interaction id at all)."""
    return note(store, iid, session=secret_id(session_sid), continued=continued)


def note(store, iid, **fields) -> bool:
    """Add what the person decided to the waiting request (`consented`); False if it is gone."""
    if not isinstance(iid, str) or not ID_PATTERN.fullmatch(iid):
        return False
    try:
        with _records(store).update(iid) as record:
            record.update(fields)
    except NotFound:
        return False
    return True


def may_resume(pending: dict, session_sid: str | None) -> bool:
    if not session_sid:
        return False
    return pending.get("session") == secret_id(session_sid)


def finish(store, iid: str) -> None:
    _records(store).delete(iid)
