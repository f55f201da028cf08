"""Web Push: a notification on a person's devices, through their browser's push service.

A browser subscribes with the tenant's VAPID public key (`public_key`, the
`applicationServerKey` of `pushManager.subscribe`) and hands us its
PushSubscription: an endpoint URL at its push service and two keys. We keep
it at `push/<person>/<id>.json` (`layout.person(sub)`; the id is a hash of the
endpoint, so subscribing again replaces it), at most `PER_PERSON` per person,
the oldest dropped. One browser has one subscription whoever is signed in, so
an endpoint belongs to one person at a time (`layout.BY_PUSH_ENDPOINT`): when
someone else subscribes it, the previous person's copy goes, and their
notifications stop showing on a screen that is no longer theirs.

Sending (`notify`) POSTs a small JSON message {title, body, url, tag} to each
of the person's endpoints with pywebpush: encrypted for that browser alone
(RFC 8291, `aes128gcm` of RFC 8188) and signed with the tenant's VAPID key
(RFC 8292), whose `sub` claim tells the push service whom to contact. A push
service answering 404 or 410 says the subscription is gone (RFC 8030 §7.3):
it is removed. 429, 5xx, a timeout or a refused connection are passing
trouble: the subscription stays and the failure is counted and logged.
`notify` never raises for a push service's failure.

Each endpoint gets `TIMEOUT` seconds, several are pushed at once (`SENDERS`
threads), but a person with many devices behind a slow push service can
still take seconds: a caller on a request's path runs `notify` after the
response is sent (a thread or waitress' post-response hook), never before.

Only the push services of the browsers people use are accepted as endpoints
(`PUSH_SERVICES`), on https at the default port, and redirects are never
followed: the server POSTs to whatever URL a subscription names, and that
must not become a way to make it call hosts inside the network. Loopback
endpoints (a local push service in the tests) need `LOOPBACK_ENDPOINTS`.

pywebpush (with requests and aiohttp), py_vapid and cryptography load at
their first use here, not when the module is imported: the web layer and the
rooms import this module when the application starts (tests/structure/test_startup.py).
"""

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import BadInput, StoreCorrupt
from ..store import layout
from ..store.cache import Memo
from ..store.ids import key_id

if TYPE_CHECKING:
    from py_vapid import Vapid

log = logging.getLogger("codeb.push")

TIMEOUT = 3.0          # seconds per endpoint (connect, and each read)
SENDERS = 8            # endpoints pushed to at once
PER_PERSON = 10        # subscriptions a person keeps (their browsers and devices)
ENDPOINT_LIMIT = 1024  # characters of an endpoint URL
AGENT_LIMIT = 200      # characters of the user agent kept beside a subscription
MESSAGE_LIMIT = 3072   # bytes of a message's JSON: RFC 8030 §7.2 guarantees 4096 after encryption (+103)
TITLE_LIMIT = 200
TAG_LIMIT = 100
VAPID_LIFETIME = 12 * 3600  # seconds a VAPID JWT is valid: RFC 8292 §2 allows at most 24 h
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
GONE = (404, 410)      # RFC 8030 §7.3: the subscription expired or was removed

# The push services browsers subscribe at (host suffixes): Chrome and the other Chromium browsers
# (Firebase Cloud Messaging; android.googleapis.com its older name), Firefox (Mozilla autopush),
# Edge (Windows Push Notification Services), Safari (Apple). An endpoint elsewhere is refused.
PUSH_SERVICES = ("fcm.googleapis.com", "android.googleapis.com", "push.services.mozilla.com",
                 "notify.windows.com", "push.apple.com")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Tests set this to push to a local push service (http or https on 127.0.0.1, any port);
# never on in a deployment.
LOOPBACK_ENDPOINTS = False

_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_MESSAGE_FIELDS = frozenset({"title", "body", "url", "tag"})

# The tenant's VAPID key, decoded once per process and revalidated by the file's stamp.
_vapid_keys = Memo(size=256)


# -- the tenant's VAPID key (RFC 8292 §3.2: the browser's applicationServerKey) ---------------

def public_key(store) -> str:
    """The tenant's VAPID public key as the browser takes it: the uncompressed P-256 point
    (X9.62, 65 bytes), base64url without padding."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- at first use (module docstring)

    point = _vapid(store).public_key.public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
    return _b64url(point)


def _vapid(store) -> "Vapid":
    """The tenant's signer, the key made under its lock the first time it is asked for
    (a tenant from before Web Push gets it then, in whichever process asks first)."""
    signer = store.derived(_vapid_keys, layout.KEYS, layout.VAPID, make=lambda doc: _signer(store, doc))
    if signer is not None:
        return signer
    with store.lock(layout.KEYS, layout.VAPID):
        if not store.exists(layout.KEYS, layout.VAPID):
            store.write(layout.KEYS, layout.VAPID, doc=_new_key(store))
    return store.derived(_vapid_keys, layout.KEYS, layout.VAPID, make=lambda doc: _signer(store, doc))


def _new_key(store) -> dict:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- at first use (module docstring)
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    # The private key raw (the 32-byte scalar, base64url), as py_vapid's `from_raw` takes it.
    return {"private": _b64url(key.private_numbers().private_value.to_bytes(32, "big")),
            "public": _b64url(point), "created": int(store.clock())}


def _signer(store, doc: dict) -> "Vapid":
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 -- at first use (module docstring)
    from py_vapid import Vapid  # noqa: PLC0415

    try:
        scalar = int.from_bytes(_unb64url(doc["private"]), "big")
        key = ec.derive_private_key(scalar, ec.SECP256R1())
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreCorrupt(path=store.doc_path(layout.KEYS, layout.VAPID)) from exc
    # "no-strict": the contact is checked here (`_check_contact`), not by py_vapid's own regex.
    return Vapid(private_key=key, conf={"no-strict": True})


# -- subscriptions ---------------------------------------------------------------------------

def subscribe(store, sub: str, subscription: dict, *, agent: str = "") -> str:
    """Keep the browser's PushSubscription (its `toJSON()`: {endpoint, keys: {p256dh, auth}})
    for the account `sub`; return its id. Subscribing the same endpoint again replaces it;
    the person's oldest subscriptions go beyond `PER_PERSON`."""
    endpoint, p256dh, auth = _checked_subscription(subscription)
    person, sid = layout.person(sub), key_id(endpoint)
    doc = {"endpoint": endpoint, "p256dh": p256dh, "auth": auth, "agent": _clean_agent(agent),
           "created": int(store.clock())}
    owners = store.index(layout.BY_PUSH_ENDPOINT)
    with owners.lock(endpoint):  # then the person's lock: always in this order
        previous = owners.get(endpoint)
        if previous is not None and previous != person:
            store.delete(layout.PUSH, previous, sid)  # the browser is someone else's now
        owners.put(endpoint, person)
        with store.lock(layout.PUSH, person):
            store.write(layout.PUSH, person, sid, doc=doc)
            dropped = _keep_newest(store, person, sid)
    for old in dropped:
        owners.remove(old["endpoint"], person)
    return sid


def unsubscribe(store, sub: str, endpoint) -> bool:
    """Forget one of the person's subscriptions (the browser unsubscribed, or signs out)."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_LIMIT:
        return False
    person, sid = layout.person(sub), key_id(endpoint)
    owners = store.index(layout.BY_PUSH_ENDPOINT)
    with owners.lock(endpoint):
        removed = store.delete(layout.PUSH, person, sid)
        if owners.get(endpoint) == person:
            owners.drop(endpoint)
    return removed


def subscriptions(store, sub: str) -> list[dict]:
    """The person's subscriptions, oldest first, as an account page lists them (their
    devices): {id, endpoint, agent, created}, never the keys."""
    return [{"id": sid, "endpoint": doc["endpoint"], "agent": doc.get("agent", ""), "created": doc["created"]}
            for sid, doc in _stored(store, layout.person(sub))]


def forget_person(store, sub: str) -> int:
    """Remove every subscription of the account (signed out everywhere, or deleted): the
    folder goes; return how many there were."""
    person = layout.person(sub)
    held = _stored(store, person)
    store.remove_tree(layout.PUSH, person)
    owners = store.index(layout.BY_PUSH_ENDPOINT)
    for _, doc in held:
        owners.remove(doc["endpoint"], person)
    return len(held)


def _stored(store, person: str) -> list[tuple[str, dict]]:
    docs = []
    for sid in store.list(layout.PUSH, person):
        doc = store.read(layout.PUSH, person, sid)
        if doc is not None:  # removed since the listing
            docs.append((sid, doc))
    return sorted(docs, key=lambda item: (item[1].get("created", 0), item[0]))


def _keep_newest(store, person: str, newest: str) -> list[dict]:
    """Delete the oldest subscriptions beyond PER_PERSON (under the person's lock), never
    `newest`, the one just made (others may be from the same second); what went."""
    others = [item for item in _stored(store, person) if item[0] != newest]
    extra = others[:max(0, len(others) + 1 - PER_PERSON)]
    for sid, _ in extra:
        store.delete(layout.PUSH, person, sid)
    return [doc for _, doc in extra]


def _checked_subscription(subscription) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) of a PushSubscription's JSON (W3C Push API §3.4), checked
    strictly: what we keep is what RFC 8291 needs and nothing else."""
    if not isinstance(subscription, dict):
        raise BadInput("error.push.subscription")
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise BadInput("error.push.subscription")
    endpoint = check_endpoint(subscription.get("endpoint"))
    return endpoint, _checked_p256dh(keys.get("p256dh")), _checked_auth(keys.get("auth"))


def check_endpoint(endpoint) -> str:
    """An endpoint we may POST to: https at a known push service's default port (loopback
    only while LOOPBACK_ENDPOINTS is on), no user info, no fragment, printable ASCII."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_LIMIT:
        raise BadInput("error.push.endpoint")
    if not endpoint.isascii() or any(c <= " " or c == "\x7f" for c in endpoint):
        raise BadInput("error.push.endpoint")
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        raise BadInput("error.push.endpoint") from None
    host = url.hostname or ""
    if url.username is not None or url.password is not None or url.fragment or "\\" in endpoint:
        raise BadInput("error.push.endpoint")
    if LOOPBACK_ENDPOINTS and host in LOOPBACK_HOSTS and url.scheme in ("http", "https"):
        return endpoint
    if url.scheme != "https" or port not in (None, 443) or not _is_push_service(host):
        raise BadInput("error.push.endpoint")
    return endpoint


def _is_push_service(host: str) -> bool:
    return any(host == service or host.endswith("." + service) for service in PUSH_SERVICES)


def _checked_p256dh(value) -> str:
    """RFC 8291 §3.2: the user agent's ECDH public key, an uncompressed P-256 point."""
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 -- at first use (module docstring)

    raw = _decoded(value, "error.push.key")
    if len(raw) != 65 or raw[0] != 4:
        raise BadInput("error.push.key")
    try:  # on the curve (a point off it would make the ECDH a small-subgroup oracle)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise BadInput("error.push.key") from None
    return _b64url(raw)


def _checked_auth(value) -> str:
    """RFC 8291 §3.2: the authentication secret, 16 octets."""
    raw = _decoded(value, "error.push.auth")
    if len(raw) != 16:
        raise BadInput("error.push.auth")
    return _b64url(raw)


def _decoded(value, message_id: str) -> bytes:
    if not isinstance(value, str) or len(value) > 200 or not _B64URL.fullmatch(value):
        raise BadInput(message_id)
    try:
        return _unb64url(value)
    except ValueError:
        raise BadInput(message_id) from None


def _clean_agent(agent) -> str:
    if not isinstance(agent, str):
        return ""
    return _CONTROL.sub("", agent).strip()[:AGENT_LIMIT]


# -- messages --------------------------------------------------------------------------------

def preview(text: str, limit: int = 140) -> str:
    """A message's first words for a notification's body: one line, at most `limit` characters."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def check_message(message) -> bytes:
    """The JSON a service worker receives: {title, url, body?, tag?}, strings only, the url a
    path on the tenant's own site (the notification opens it), at most MESSAGE_LIMIT bytes."""
    if not isinstance(message, dict) or not set(message) <= _MESSAGE_FIELDS:
        raise BadInput("error.push.message")
    if not all(isinstance(value, str) for value in message.values()):
        raise BadInput("error.push.message")
    title, tag = message.get("title", ""), message.get("tag", "")
    if not title.strip() or len(title) > TITLE_LIMIT or len(tag) > TAG_LIMIT or _CONTROL.search(title + tag):
        raise BadInput("error.push.message")
    if _CONTROL_BUT_NEWLINE.search(message.get("body", "")):
        raise BadInput("error.push.message")
    _check_path(message.get("url"))
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MESSAGE_LIMIT:
        raise BadInput("error.push.too_big")
    return data


def _check_path(url) -> None:
    """A same-site path: "/..." but not "//host" or "/\\host", which a browser opens elsewhere."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//") or "\\" in url:
        raise BadInput("error.push.url")
    if len(url) > ENDPOINT_LIMIT or any(c <= " " or c == "\x7f" for c in url):
        raise BadInput("error.push.url")
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise BadInput("error.push.url")


def contact_for(tenant) -> str:
    """The VAPID `sub` claim (RFC 8292 §2.1): the tenant's mail sender, else its site."""
    sender = tenant.setting("mail", "from")
    return f"mailto:{sender}" if sender else f"https://{tenant.hosts[0]}"


def _check_contact(contact) -> None:
    if not isinstance(contact, str) or not re.fullmatch(r"mailto:[^\s@]+@[^\s@]+|https://[^\s/]+", contact):
        raise ValueError(f"not a VAPID contact (a mailto: or https: URI): {contact!r}")


# -- sending ---------------------------------------------------------------------------------

def notify(store, sub: str, message: dict, *, contact: str, ttl: int = 60, urgency: str = "normal") -> dict:
    """Push `message` to every subscription of the account `sub`; {"sent", "removed", "failed"}.
    Slow push services make this take up to TIMEOUT seconds: run it after the response."""
    return notify_many(store, [sub], message, contact=contact, ttl=ttl, urgency=urgency)


def notify_many(store, subs: Iterable[str], message: dict, *, contact: str, ttl: int = 60,
                urgency: str = "normal") -> dict:
    """`notify` for several accounts at once (a channel's members), their endpoints in parallel."""
    data = check_message(message).decode("utf-8")
    _check_contact(contact)
    if urgency not in URGENCIES or not isinstance(ttl, int) or not 0 <= ttl <= 28 * 86400:
        raise ValueError(f"urgency {urgency!r}, ttl {ttl!r}")
    targets = [(person, sid, doc) for person in dict.fromkeys(layout.person(s) for s in subs)
               for sid, doc in _stored(store, person)]
    counts = {"sent": 0, "removed": 0, "failed": 0}
    if not targets:
        return counts
    headers = _headers(message, urgency)
    signer = _vapid(store)

    def push(target: tuple[str, str, dict]) -> str:
        return _push(target[2], data, signer=signer, contact=contact, ttl=ttl, headers=headers)

    if len(targets) == 1:
        outcomes = [push(targets[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(targets)), thread_name_prefix="push") as pool:
            outcomes = list(pool.map(push, targets))
    for (person, sid, doc), outcome in zip(targets, outcomes, strict=True):
        if outcome == "gone":
            _remove_gone(store, person, sid, doc)
            counts["removed"] += 1
        else:
            counts[outcome] += 1
    return counts


def _headers(message: dict, urgency: str) -> dict:
    headers = {"Urgency": urgency}
    if message.get("tag"):
        # RFC 8030 §5.4: a newer message with the same topic replaces one the push service still
        # holds for an offline device; at most 32 base64url characters, so a hash of the tag.
        headers["Topic"] = _b64url(hashlib.sha256(message["tag"].encode("utf-8")).digest())[:32]
    return headers


def _session(*, loopback: bool):
    """A requests session for one push. A push service answers, it never redirects: a redirect
    is a failure, never followed (it could point anywhere, inside our network too)."""
    import requests  # noqa: PLC0415 -- at first use (module docstring)

    session = requests.Session()
    session.max_redirects = 0
    session.trust_env = not loopback  # a local push service is never behind a proxy
    return session


def _push(doc: dict, data: str, *, signer: "Vapid", contact: str, ttl: int, headers: dict) -> str:
    """One POST (RFC 8030 §5): "sent", "gone" (404/410: remove it) or "failed" (keep it)."""
    import requests  # noqa: PLC0415 -- at first use (module docstring)
    from pywebpush import WebPushException, webpush  # noqa: PLC0415

    try:  # again: the rules may have become stricter since it was stored, or the file damaged
        endpoint = check_endpoint(doc.get("endpoint"))
        keys = {"p256dh": _checked_p256dh(doc.get("p256dh")), "auth": _checked_auth(doc.get("auth"))}
    except BadInput:
        return "gone"  # it can never be pushed to
    url = urlsplit(endpoint)
    # RFC 8292 §2: `aud` is the endpoint's origin, `exp` at most 24 h ahead (real time, which
    # the push service compares with, whatever the store's clock says), `sub` the contact.
    claims = {"aud": _audience(endpoint), "exp": int(time.time()) + VAPID_LIFETIME, "sub": contact}
    info = {"endpoint": endpoint, "keys": keys}
    with _session(loopback=url.hostname in LOOPBACK_HOSTS) as session:
        try:
            webpush(info, data=data, vapid_private_key=signer, vapid_claims=claims, content_encoding="aes128gcm",
                    ttl=ttl, timeout=TIMEOUT, headers=dict(headers), requests_session=session)
        except WebPushException as exc:
            status = exc.status_code
            if status in GONE:
                return "gone"
            log.warning("push to %s refused: HTTP %s", url.netloc, status)
            return "failed"
        except requests.RequestException as exc:  # timeouts, refused connections, TLS, a redirect
            log.warning("push to %s failed: %s", url.netloc, type(exc).__name__)
            return "failed"
    return "sent"


def _audience(endpoint: str) -> str:
    """The endpoint's origin as RFC 6454 §6.2 serializes it (RFC 8292 §2 `aud`): scheme and
    host in lower case, the port only when it is not the scheme's default."""
    url = urlsplit(endpoint)
    host = url.hostname or ""
    host = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}[url.scheme]
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port not in (None, default) else "")


def _remove_gone(store, person: str, sid: str, sent: dict) -> None:
    """Delete a subscription the push service no longer knows, unless the browser subscribed
    again meanwhile (new keys): that one is new, the answer was about the old one."""
    with store.lock(layout.PUSH, person):
        current = store.read(layout.PUSH, person, sid)
        if current is None or (current.get("p256dh"), current.get("auth")) != (sent.get("p256dh"), sent.get("auth")):
            return
        store.delete(layout.PUSH, person, sid)
    if isinstance(sent.get("endpoint"), str):
        store.index(layout.BY_PUSH_ENDPOINT).remove(sent["endpoint"], person)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(value: str) -> bytes:
    value = value.rstrip("=")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
