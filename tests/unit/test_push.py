"""Web Push without a push service: the VAPID key, what a subscription may be, where it is
kept, what a message may hold (codeb.notify.push). Delivery: tests/rooms/test_push_delivery.py."""

import base64
import json
import subprocess
import sys
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from codeb.errors import BadInput, StoreCorrupt
from codeb.notify import push
from codeb.store import Store, layout
from tests.support.clock import Clock
from tests.support.codebase import ROOT

FCM = "https://fcm.googleapis.com/fcm/send/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict:
    """What a browser's PushSubscription.toJSON() holds as keys: a fresh P-256 point and 16 random bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": b64url(point), "auth": b64url(bytes(range(16)))}


def subscription(endpoint: str = FCM + "abc123", **keys) -> dict:
    return {"endpoint": endpoint, "expirationTime": None, "keys": {**browser_keys(), **keys}}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return Store(str(tmp_path / "tenant"), clock=clock)


# -- the VAPID key -------------------------------------------------------------------------------

def test_the_public_key_is_an_uncompressed_p256_point_made_once(store):
    assert not store.exists(layout.KEYS, layout.VAPID)
    key = push.public_key(store)
    assert "=" not in key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # on the curve
    assert push.public_key(store) == key
    doc = store.read(layout.KEYS, layout.VAPID)
    assert doc["public"] == key and len(base64.urlsafe_b64decode(doc["private"] + "=")) == 32


def test_each_tenant_has_its_own_key(tmp_path):
    assert push.public_key(Store(str(tmp_path / "a"))) != push.public_key(Store(str(tmp_path / "b")))


def test_threads_asking_first_at_once_get_one_key(store):
    keys, start = [], threading.Barrier(6)

    def ask():
        start.wait(5)
        keys.append(push.public_key(store))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(keys) == 6 and len(set(keys)) == 1
    assert set(keys) == {store.read(layout.KEYS, layout.VAPID)["public"]}


def test_a_damaged_key_document_is_corrupt_not_replaced(store):
    store.write(layout.KEYS, layout.VAPID, doc={"private": "!!"})
    with pytest.raises(StoreCorrupt):
        push.public_key(store)
    assert store.read(layout.KEYS, layout.VAPID)["private"] == "!!"


# -- what a subscription may be --------------------------------------------------------------------

POINT_OFF_THE_CURVE = b64url(b"\x04" + b"\x01" * 64)
COMPRESSED_SIZED = b64url(b"\x03" + b"\x01" * 64)
REFUSED = [
    ("not-an-object", ["x"], "error.push.subscription"),
    ("no-keys", {"endpoint": FCM + "a"}, "error.push.subscription"),
    ("keys-not-an-object", {"endpoint": FCM + "a", "keys": "p256dh"}, "error.push.subscription"),
    ("no-endpoint", {"keys": {}}, "error.push.endpoint"),
    ("endpoint-not-a-string", {"endpoint": 5, "keys": {}}, "error.push.endpoint"),
    ("http", subscription("http://fcm.googleapis.com/fcm/send/a"), "error.push.endpoint"),
    ("unknown-service", subscription("https://push.example.com/a"), "error.push.endpoint"),
    ("service-as-prefix", subscription("https://fcm.googleapis.com.evil.example/a"), "error.push.endpoint"),
    ("service-as-suffix-of-a-label", subscription("https://evilfcm.googleapis.com/a"), "error.push.endpoint"),
    ("user-info", subscription("https://fcm.googleapis.com@evil.example/a"), "error.push.endpoint"),
    ("other-port", subscription("https://fcm.googleapis.com:8443/a"), "error.push.endpoint"),
    ("bad-port", subscription("https://fcm.googleapis.com:99999/a"), "error.push.endpoint"),
    ("inner-address", subscription("https://10.0.0.1/a"), "error.push.endpoint"),
    ("loopback-while-off", subscription("http://127.0.0.1:8080/push/a"), "error.push.endpoint"),
    ("localhost-while-off", subscription("https://localhost/push/a"), "error.push.endpoint"),
    ("fragment", subscription(FCM + "a#b"), "error.push.endpoint"),
    ("space", subscription(FCM + "a b"), "error.push.endpoint"),
    ("newline", subscription(FCM + "a\r\nX-Injected: 1"), "error.push.endpoint"),
    ("backslash", subscription("https://fcm.googleapis.com\\@evil.example/a"), "error.push.endpoint"),
    ("not-ascii", subscription(FCM + "ä"), "error.push.endpoint"),
    ("too-long", subscription(FCM + "a" * (1025 - len(FCM))), "error.push.endpoint"),
    ("p256dh-missing", {"endpoint": FCM + "a", "keys": {"auth": b64url(bytes(16))}}, "error.push.key"),
    ("p256dh-not-a-string", subscription(p256dh=65), "error.push.key"),
    ("p256dh-64-bytes", subscription(p256dh=b64url(b"\x04" + bytes(63))), "error.push.key"),
    ("p256dh-not-uncompressed", subscription(p256dh=COMPRESSED_SIZED), "error.push.key"),
    ("p256dh-off-the-curve", subscription(p256dh=POINT_OFF_THE_CURVE), "error.push.key"),
    ("p256dh-not-base64url", subscription(p256dh="BA+/" + "A" * 83), "error.push.key"),
    ("p256dh-impossible-length", subscription(p256dh="A" * 85), "error.push.key"),
    ("auth-missing", {"endpoint": FCM + "a", "keys": {"p256dh": browser_keys()["p256dh"]}}, "error.push.auth"),
    ("auth-15-bytes", subscription(auth=b64url(bytes(15))), "error.push.auth"),
    ("auth-17-bytes", subscription(auth=b64url(bytes(17))), "error.push.auth"),
    ("auth-not-a-string", subscription(auth=["x"]), "error.push.auth"),
    ("auth-with-space", subscription(auth="AAAA AAAAAAAAAAAAAAAAA"), "error.push.auth"),
]


@pytest.mark.parametrize(("value", "message_id"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_subscription_is_checked_strictly(store, value, message_id):
    with pytest.raises(BadInput) as refused:
        push.subscribe(store, "alice-sub", value)
    assert refused.value.message_id == message_id
    assert push.subscriptions(store, "alice-sub") == []


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/dXJb:APA91bH",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABm",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
    "https://web.push.apple.com/QGt2eQ",
    "https://fcm.googleapis.com:443/fcm/send/x",
], ids=["chrome", "firefox", "edge", "safari", "explicit-port"])
def test_the_browsers_push_services_are_accepted(store, endpoint):
    sid = push.subscribe(store, "alice-sub", subscription(endpoint))
    assert [s["id"] for s in push.subscriptions(store, "alice-sub")] == [sid]


def test_loopback_endpoints_only_with_the_switch(store, monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    push.subscribe(store, "alice-sub", subscription("http://127.0.0.1:8080/push/a"))
    with pytest.raises(BadInput):  # the switch opens loopback, not the rest of the network
        push.subscribe(store, "alice-sub", subscription("http://10.0.0.1:8080/push/a"))
    with pytest.raises(BadInput):
        push.subscribe(store, "alice-sub", subscription("ftp://127.0.0.1/push/a"))


def test_padded_keys_are_kept_unpadded(store):
    keys = browser_keys()
    push.subscribe(store, "alice-sub", subscription(p256dh=keys["p256dh"] + "=", auth=keys["auth"] + "=="))
    (sid,) = store.list(layout.PUSH, layout.person("alice-sub"))
    doc = store.read(layout.PUSH, layout.person("alice-sub"), sid)
    assert (doc["p256dh"], doc["auth"]) == (keys["p256dh"], keys["auth"])


# -- where subscriptions are kept --------------------------------------------------------------

def test_kept_under_the_persons_folder_by_a_hash_of_the_endpoint(store):
    sid = push.subscribe(store, "alice-sub", subscription(FCM + "abc"), agent="Firefox\x00 on\nLinux")
    assert store.list(layout.PUSH) == []  # list() names documents; the person's folder holds them
    assert store.list(layout.PUSH, layout.person("alice-sub")) == [sid]
    assert "abc" not in sid and len(sid) == 40
    listed = push.subscriptions(store, "alice-sub")
    assert listed == [{"id": sid, "endpoint": FCM + "abc", "agent": "Firefox onLinux", "created": int(store.clock())}]
    assert "p256dh" not in json.dumps(listed) and "auth" not in listed[0]  # the keys never leave


def test_the_agent_is_cut_short(store):
    push.subscribe(store, "alice-sub", subscription(), agent="A" * 5000)
    assert push.subscriptions(store, "alice-sub")[0]["agent"] == "A" * push.AGENT_LIMIT
    push.subscribe(store, "alice-sub", subscription(), agent=None)
    assert push.subscriptions(store, "alice-sub")[0]["agent"] == ""


def test_subscribing_again_replaces(store, clock):
    first = push.subscribe(store, "alice-sub", subscription(FCM + "same"))
    clock.advance(60)
    renewed = subscription(FCM + "same")
    assert push.subscribe(store, "alice-sub", renewed) == first
    (sid,) = store.list(layout.PUSH, layout.person("alice-sub"))
    doc = store.read(layout.PUSH, layout.person("alice-sub"), sid)
    assert doc["p256dh"] == renewed["keys"]["p256dh"] and doc["created"] == int(clock())


def test_at_most_ten_per_person_the_oldest_go(store, clock):
    ids = []
    for n in range(12):
        ids.append(push.subscribe(store, "alice-sub", subscription(FCM + f"device{n}")))
        clock.advance(1)
    assert [s["id"] for s in push.subscriptions(store, "alice-sub")] == ids[2:]
    owners = store.index(layout.BY_PUSH_ENDPOINT)
    assert owners.get(FCM + "device0") is None and owners.get(FCM + "device11") == layout.person("alice-sub")


def test_the_newest_stays_even_within_one_second(store):
    ids = [push.subscribe(store, "alice-sub", subscription(FCM + f"device{n}")) for n in range(15)]
    kept = {s["id"] for s in push.subscriptions(store, "alice-sub")}
    assert len(kept) == 10 and ids[-1] in kept


def test_one_browser_belongs_to_the_account_last_signed_in(store):
    """Alice signs out, Bob signs in on the same browser: its one subscription is Bob's now,
    and Alice's notifications no longer show on Bob's screen."""
    push.subscribe(store, "alice-sub", subscription(FCM + "shared"))
    push.subscribe(store, "alice-sub", subscription(FCM + "alices-phone"))
    push.subscribe(store, "bob-sub", subscription(FCM + "shared"))
    assert [s["endpoint"] for s in push.subscriptions(store, "alice-sub")] == [FCM + "alices-phone"]
    assert [s["endpoint"] for s in push.subscriptions(store, "bob-sub")] == [FCM + "shared"]


def test_unsubscribe_removes_only_ones_own(store):
    push.subscribe(store, "alice-sub", subscription(FCM + "a"))
    assert push.unsubscribe(store, "bob-sub", FCM + "a") is False
    assert len(push.subscriptions(store, "alice-sub")) == 1
    assert push.unsubscribe(store, "alice-sub", FCM + "a") is True
    assert push.unsubscribe(store, "alice-sub", FCM + "a") is False
    assert push.subscriptions(store, "alice-sub") == []
    assert store.index(layout.BY_PUSH_ENDPOINT).get(FCM + "a") is None
    for nonsense in (None, 5, "", "x" * 2000):
        assert push.unsubscribe(store, "alice-sub", nonsense) is False


def test_forget_person_removes_the_folder_and_its_owners(store):
    for n in range(3):
        push.subscribe(store, "alice-sub", subscription(FCM + f"d{n}"))
    push.subscribe(store, "bob-sub", subscription(FCM + "bob"))
    assert push.forget_person(store, "alice-sub") == 3
    assert push.subscriptions(store, "alice-sub") == []
    assert store.folder_stamp(layout.PUSH, layout.person("alice-sub")) is None
    assert store.index(layout.BY_PUSH_ENDPOINT).get(FCM + "d0") is None
    assert len(push.subscriptions(store, "bob-sub")) == 1
    assert push.forget_person(store, "alice-sub") == 0


# -- what a message may hold -------------------------------------------------------------------

GOOD = {"title": "Anna in #team", "body": "Lunch at 12?\nMeet at the door", "url": "/office/channels/abc",
        "tag": "c:abc"}
BAD_MESSAGES = [
    ("not-an-object", "hello", "error.push.message"),
    ("unknown-field", {**GOOD, "icon": "https://evil.example/x.png"}, "error.push.message"),
    ("no-title", {"url": "/"}, "error.push.message"),
    ("blank-title", {"title": "  ", "url": "/"}, "error.push.message"),
    ("title-not-a-string", {"title": 5, "url": "/"}, "error.push.message"),
    ("title-with-newline", {"title": "a\nb", "url": "/"}, "error.push.message"),
    ("title-too-long", {"title": "t" * 201, "url": "/"}, "error.push.message"),
    ("tag-too-long", {"title": "t", "url": "/", "tag": "t" * 101}, "error.push.message"),
    ("body-with-escape", {"title": "t", "url": "/", "body": "\x1b[2J"}, "error.push.message"),
    ("no-url", {"title": "t"}, "error.push.url"),
    ("absolute-url", {**GOOD, "url": "https://evil.example/"}, "error.push.url"),
    ("scheme-relative-url", {**GOOD, "url": "//evil.example/"}, "error.push.url"),
    ("backslash-url", {**GOOD, "url": "/\\evil.example/"}, "error.push.url"),
    ("javascript-url", {**GOOD, "url": "javascript:alert(1)"}, "error.push.url"),
    ("relative-url", {**GOOD, "url": "office"}, "error.push.url"),
    ("url-with-newline", {**GOOD, "url": "/a\n/b"}, "error.push.url"),
    ("too-big", {**GOOD, "body": "x" * 3100}, "error.push.too_big"),
    ("too-big-in-bytes", {**GOOD, "body": "€" * 1100}, "error.push.too_big"),  # 1100 characters, 3300 bytes
]


@pytest.mark.parametrize(("message", "message_id"), [m[1:] for m in BAD_MESSAGES], ids=[m[0] for m in BAD_MESSAGES])
def test_a_message_is_checked(message, message_id):
    with pytest.raises(BadInput) as refused:
        push.check_message(message)
    assert refused.value.message_id == message_id


def test_a_good_message_is_compact_json():
    data = push.check_message({"title": "Anna", "body": "Grüße €", "url": "/office"})
    assert data == '{"title":"Anna","body":"Grüße €","url":"/office"}'.encode()  # UTF-8, no \u escapes, no spaces
    assert len(push.check_message({**GOOD, "body": "x" * 2900})) <= push.MESSAGE_LIMIT


def test_messages_are_refused_before_anything_is_sent(store):
    push.subscribe(store, "alice-sub", subscription())
    with pytest.raises(BadInput):
        push.notify(store, "alice-sub", {**GOOD, "url": "https://evil.example/"}, contact="mailto:a@example.com")
    with pytest.raises(ValueError, match="contact"):
        push.notify(store, "alice-sub", GOOD, contact="a@example.com")
    with pytest.raises(ValueError, match="urgency"):
        push.notify(store, "alice-sub", GOOD, contact="mailto:a@example.com", urgency="now")


def test_nobody_subscribed_sends_nothing_and_makes_no_key(store):
    assert push.notify(store, "alice-sub", GOOD, contact="https://login.example") == \
        {"sent": 0, "removed": 0, "failed": 0}
    assert not store.exists(layout.KEYS, layout.VAPID)


def test_preview_is_one_short_line():
    assert push.preview("  Hello\n\tworld  ") == "Hello world"
    long = push.preview("word " * 100, limit=20)
    assert len(long) == 20 and long.endswith("…")


class Tenant:
    def __init__(self, sender):
        self.hosts = ["login.example", "other.example"]
        self.sender = sender

    def setting(self, *path, default=None):
        return self.sender if path == ("mail", "from") else default


def test_the_contact_is_the_mail_sender_else_the_site():
    assert push.contact_for(Tenant("it@example.com")) == "mailto:it@example.com"
    assert push.contact_for(Tenant(None)) == "https://login.example"


def test_importing_it_loads_no_flask_and_no_push_library():
    """The web layer and the rooms import it at start-up: pywebpush, aiohttp, requests and
    cryptography load at the first push (tests/structure/test_startup.py)."""
    probe = "import sys, codeb.notify.push; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    heavy = {"flask", "pywebpush", "aiohttp", "requests", "cryptography", "py_vapid", "http_ece"}
    assert "codeb.notify.push" in loaded
    assert not heavy & {name.split(".")[0] for name in loaded}


@pytest.mark.parametrize(("endpoint", "audience"), [
    ("https://FCM.googleapis.com:443/fcm/send/x", "https://fcm.googleapis.com"),
    ("https://updates.push.services.mozilla.com/wpush/v2/x", "https://updates.push.services.mozilla.com"),
    ("http://127.0.0.1:8080/push/x", "http://127.0.0.1:8080"),
    ("http://LOCALHOST:80/push/x", "http://localhost"),
    ("http://[::1]:9000/push/x", "http://[::1]:9000"),
], ids=["default-port-dropped", "no-port", "loopback-port", "lower-case", "ipv6"])
def test_the_vapid_audience_is_the_endpoints_origin(endpoint, audience):
    assert push._audience(endpoint) == audience  # RFC 8292 §2, serialized as RFC 6454 §6.2


def test_a_damaged_subscription_is_removed_unsent(store):
    sid = push.subscribe(store, "alice-sub", subscription())
    with store.update(layout.PUSH, layout.person("alice-sub"), sid) as doc:
        del doc["auth"]
    assert push.notify(store, "alice-sub", GOOD, contact="https://login.example") == \
        {"sent": 0, "removed": 1, "failed": 0}
    assert push.subscriptions(store, "alice-sub") == []
