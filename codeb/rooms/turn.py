"""TURN credentials for a tenant's meetings: the TURN REST API scheme that coturn verifies.

Each tenant "gets a TURN server": its settings name the TURN (and STUN) URIs its
browsers are given (`turn.uris`), the realm (`turn.realm`, by default the tenant's first
host) and how long a credential lasts (`turn.ttl`, clamped to 300..86400 seconds). The
credential is the one of draft-uberti-behave-turn-rest-00, which coturn checks with
`use-auth-secret` and `static-auth-secret`, so coturn needs no user database and nothing
here talks to it:

    username   = "<unix time it expires>:<user id>"
    credential = base64(HMAC-SHA1(shared secret, username))

The shared secret is the tenant's, in `keys/turn.json` (`{"current", "previous", "rotated"}`),
made under its lock the first time it is asked for. It is 32 random bytes written as
base64, and that base64 text is the secret: coturn keys its HMAC with the bytes of the
string in `static-auth-secret=`, so what `secret` returns is that text's bytes. A rotation
keeps the previous secret for the switch: `coturn_config` gives coturn both until the
longest credential minted with the previous one has expired; credentials are always minted
with the current one.
"""

import base64
import hashlib
import hmac
import logging
import math
import re
from dataclasses import dataclass
from secrets import token_bytes

from ..errors import BadInput, StoreCorrupt
from ..store import layout
from ..store.cache import Memo

log = logging.getLogger("codeb.rooms")

SETTING = "turn"          # the tenant's settings part: {"uris": [...], "realm": ..., "ttl": ...}
DEFAULT_TTL = 3600        # seconds a credential lasts unless the tenant says otherwise
MIN_TTL, MAX_TTL = 300, 86400
SECRET_BYTES = 32

USER = re.compile(r"[A-Za-z0-9_-]{1,64}")
# RFC 7064 (stun:) and RFC 7065 (turn:, turns:): a host name, IPv4 address or [IPv6] address,
# an optional port, and for TURN an optional transport. Nothing else: no user part, no spaces.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"
URI = re.compile(rf"(?:turns?:{_HOST}(?::(?P<tport>[0-9]{{1,5}}))?(?:\?transport=(?:udp|tcp))?"
                 rf"|stun:{_HOST}(?::(?P<sport>[0-9]{{1,5}}))?)")
# A realm goes into turnserver.conf as `realm=<realm>`: a host-like name, never a line break.
REALM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Secrets:
    current: bytes
    previous: bytes | None
    rotated: int


# Decoded secrets by tenant folder, revalidated by the file's stamp on every use
# (codeb.store.cache): a rotation by another process is used from its next credential.
_secrets = Memo(size=256)


def _decode(doc: dict) -> Secrets:
    current, previous, rotated = doc.get("current"), doc.get("previous"), doc.get("rotated")
    if not isinstance(current, str) or not _is_secret(current) or not isinstance(rotated, int):
        raise ValueError("not a TURN secret document")
    if previous is not None and not (isinstance(previous, str) and _is_secret(previous)):
        raise ValueError("not a TURN secret document")
    return Secrets(current=current.encode("ascii"), previous=None if previous is None else previous.encode("ascii"),
                   rotated=rotated)


def _is_secret(value: str) -> bool:
    if not value.isascii():
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == SECRET_BYTES
    except ValueError:
        return False


def _new_secret() -> str:
    return base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def _cached(store) -> Secrets | None:
    try:
        return store.derived(_secrets, layout.KEYS, layout.TURN, make=_decode)
    except ValueError:
        raise StoreCorrupt(path=store.doc_path(layout.KEYS, layout.TURN)) from None


def load(store) -> Secrets:
    """The tenant's TURN secrets, made under their lock the first time they are asked for."""
    found = _cached(store)
    if found is not None:
        return found
    with store.lock(layout.KEYS, layout.TURN):
        if not store.exists(layout.KEYS, layout.TURN):
            store.write(layout.KEYS, layout.TURN,
                        doc={"current": _new_secret(), "previous": None, "rotated": int(store.clock())})
    made = _cached(store)
    if made is None:  # written under the lock a moment ago: gone means the folder is damaged
        raise StoreCorrupt(path=store.doc_path(layout.KEYS, layout.TURN))
    return made


def secret(store) -> bytes:
    """The current shared secret: the HMAC key, and (decoded as ASCII) coturn's `static-auth-secret`."""
    return load(store).current


def rotate(store) -> None:
    """A new current secret; the current one becomes the previous (the one before is dropped)."""
    with store.lock(layout.KEYS, layout.TURN):
        doc = store.read(layout.KEYS, layout.TURN)
        if doc is not None:
            try:
                previous: str | None = _decode(doc).current.decode("ascii")
            except ValueError:
                raise StoreCorrupt(path=store.doc_path(layout.KEYS, layout.TURN)) from None
        else:
            previous = None
        store.write(layout.KEYS, layout.TURN,
                    doc={"current": _new_secret(), "previous": previous, "rotated": int(store.clock())})


# -- the tenant's settings --------------------------------------------------------------------

def uris(tenant) -> list[str]:
    """The tenant's TURN and STUN URIs; a stored one that is no such URI is skipped, with a warning."""
    stored = tenant.setting(SETTING, "uris", default=[])
    if not isinstance(stored, list):
        log.warning("tenant %s: turn.uris is not a list; no TURN server is offered", tenant.name)
        return []
    good = []
    for uri in stored:
        if isinstance(uri, str) and valid_uri(uri):
            good.append(uri)
        else:
            log.warning("tenant %s: skipping turn.uris entry %r: not a turn:, turns: or stun: URI",
                        tenant.name, str(uri)[:100])
    return good


def valid_uri(uri: str) -> bool:
    match = URI.fullmatch(uri)
    if match is None:
        return False
    port = match.group("tport") or match.group("sport")
    return port is None or 1 <= int(port) <= 65535


def realm(tenant) -> str:
    stored = tenant.setting(SETTING, "realm")
    if stored is None:
        return tenant.hosts[0]
    if isinstance(stored, str) and REALM.fullmatch(stored):
        return stored
    log.warning("tenant %s: turn.realm %r is no realm; using %s", tenant.name, str(stored)[:100], tenant.hosts[0])
    return tenant.hosts[0]


def settings_part(tenant, *, uris: list[str] | None = None, realm: str | None = None,
                  ttl: int | None = None) -> dict:
    """The tenant's `turn` settings with the given changes, validated (what is not given stays):
    URIs of the turn:, turns: or stun: schemes (at most 10), a host-like realm, a credential
    lifetime of MIN_TTL..MAX_TTL seconds."""
    current = tenant.setting(SETTING, default={})
    part = dict(current) if isinstance(current, dict) else {}
    if uris is not None:
        for uri in uris:
            if not isinstance(uri, str) or not valid_uri(uri):
                raise BadInput("error.turn_uri", uri=str(uri)[:100])
        if len(uris) > 10:
            raise BadInput("error.turn_uri", uri=str(uris[10])[:100])
        part["uris"] = list(dict.fromkeys(uris))
    if realm is not None:
        if not isinstance(realm, str) or not REALM.fullmatch(realm):
            raise BadInput("error.turn_realm", realm=str(realm)[:100])
        part["realm"] = realm
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
            raise BadInput("error.turn_ttl", low=MIN_TTL, high=MAX_TTL)
        part["ttl"] = ttl
    return {SETTING: part}


def ttl(tenant) -> int:
    """Seconds a credential lasts: the tenant's `turn.ttl`, clamped to MIN_TTL..MAX_TTL."""
    stored = tenant.setting(SETTING, "ttl", default=DEFAULT_TTL)
    if isinstance(stored, bool) or not isinstance(stored, int | float) or not math.isfinite(stored):
        log.warning("tenant %s: turn.ttl %r is no number; using %d", tenant.name, str(stored)[:40], DEFAULT_TTL)
        stored = DEFAULT_TTL
    return max(MIN_TTL, min(MAX_TTL, int(stored)))


# -- credentials ------------------------------------------------------------------------------

def check_user(user) -> str:
    if not isinstance(user, str) or not USER.fullmatch(user):
        raise ValueError("a TURN user id is 1 to 64 of A-Z, a-z, 0-9, _ and -")
    return user


def sign(key: bytes, username: str) -> str:
    """The TURN REST credential of `username`: base64(HMAC-SHA1(key, username))."""
    return base64.b64encode(hmac.new(key, username.encode("ascii"), hashlib.sha1).digest()).decode("ascii")


def credentials(tenant, user: str, *, now: float | None = None) -> dict:
    """A credential for `user` valid for the tenant's ttl from `now` (default: the store's clock)."""
    return _issue(tenant, check_user(user), now, uris(tenant))


def _issue(tenant, user: str, now: float | None, offered: list[str]) -> dict:
    lifetime = ttl(tenant)
    expires = int(tenant.store.clock() if now is None else now) + lifetime
    username = f"{expires}:{user}"
    return {"username": username, "credential": sign(secret(tenant.store), username), "ttl": lifetime,
            "uris": offered}


def ice_servers(tenant, user: str) -> list[dict]:
    """The RTCIceServer list a browser in one of the tenant's meetings is given; [] when the
    tenant offers no TURN server (then WebRTC uses host candidates only)."""
    check_user(user)
    offered = uris(tenant)
    if not offered:
        return []
    issued = _issue(tenant, user, None, offered)
    return [{"urls": issued["uris"], "username": issued["username"], "credential": issued["credential"]}]


# -- the TURN server's side -------------------------------------------------------------------

def switching(store, *, now: float | None = None) -> bool:
    """Whether a credential minted with the previous secret may still be valid: within MAX_TTL
    (the longest any credential lives) of the rotation."""
    held = load(store)
    at = store.clock() if now is None else now
    return held.previous is not None and at < held.rotated + MAX_TTL


def coturn_config(tenant) -> str:
    """The lines for this tenant in coturn's turnserver.conf: the current secret, and the
    previous one as a second `static-auth-secret` while credentials minted with it may live."""
    held = load(tenant.store)
    lines = [f"# CodeB tenant {tenant.name}: TURN REST API credentials (draft-uberti-behave-turn-rest-00)",
             "use-auth-secret",
             f"static-auth-secret={held.current.decode('ascii')}"]
    if held.previous is not None and switching(tenant.store):
        lines.append(f"static-auth-secret={held.previous.decode('ascii')}")
    lines.append(f"realm={realm(tenant)}")
    return "\n".join(lines) + "\n"
