"""Web Push as a browser's push service sees it: a local push service on 127.0.0.1 takes the
POSTs of codeb.notify.push, and the test holds what only the browser holds (its ECDH private
key and auth secret), so it can decrypt the payload (RFC 8291) and check the VAPID header
(RFC 8292) itself: with cryptography and joserfc, never with pywebpush, the code under test."""

import json
import re
import time
from http.server import ThreadingHTTPServer

import pytest
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey

from codeb.notify import push
from codeb.store import Store, layout
from tests.support.clock import Clock
from tests.support.push import Browser, Delivery, b64url, running_push_service, unb64url

CONTACT = "mailto:it@login.example"
MESSAGE = {"title": "Anna in #team", "body": "Lunch at 12? Grüße", "url": "/office/channels/abc", "tag": "c:abc"}


@pytest.fixture
def service():
    with running_push_service() as server:
        yield server


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    monkeypatch.setattr(push, "TIMEOUT", 0.5)  # the slow endpoint times out quickly
    return Store(str(tmp_path / "tenant"), clock=Clock())


def subscribed(store, service, sub: str, kind: str, name: str = "x") -> Browser:
    browser = Browser()
    push.subscribe(store, sub, browser.subscription(service.endpoint(kind, name)))
    return browser


def vapid_parts(authorization: str) -> tuple[str, str]:
    """RFC 8292 §3: `vapid t=<JWT>, k=<public key>` (the space after the comma is optional)."""
    found = re.fullmatch(r"vapid t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)", authorization)
    assert found, authorization
    return found.group(1), found.group(2)


def verified_claims(token: str, key: str) -> dict:
    """RFC 8292 §2 and RFC 7515: an ES256 JWS over header.payload, the signature r‖s, by the key k."""
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    signing_input, signature = token.rsplit(".", 1)
    header = json.loads(unb64url(signing_input.split(".")[0]))
    assert header == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    assert len(raw) == 64
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                  signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    # And once more with joserfc, an independent JOSE implementation.
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = jwt.decode(token, ECKey.import_key(pem), algorithms=["ES256"]).claims
    assert claims == json.loads(unb64url(signing_input.split(".")[1]))
    return claims


# -- what arrives ------------------------------------------------------------------------------

def test_the_payload_is_encrypted_for_that_browser_alone(store, service):
    browser = subscribed(store, service, "alice-sub", "ok")
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT) == {"sent": 1, "removed": 0, "failed": 0}
    (request,) = service.received
    body = request["body"]
    assert json.dumps(MESSAGE).encode() not in body and b"Anna" not in body
    assert json.loads(browser.decrypt(body)) == MESSAGE
    assert browser.decrypt_with_http_ece(body) == browser.decrypt(body)  # both readings of RFC 8291 agree
    with pytest.raises(InvalidTag):
        Browser().decrypt(body)  # another browser's keys open nothing
    stranger = Browser()
    stranger.key = browser.key  # the right key without the auth secret neither
    stranger.public = browser.public
    with pytest.raises(InvalidTag):
        stranger.decrypt(body)


def test_the_headers_say_how_to_deliver_it(store, service):
    subscribed(store, service, "alice-sub", "ok")
    push.notify(store, "alice-sub", MESSAGE, contact=CONTACT, ttl=90, urgency="high")
    headers = service.received[0]["headers"]
    assert headers["content-encoding"] == "aes128gcm"  # RFC 8291 §4
    assert headers["ttl"] == "90"                      # RFC 8030 §5.2
    assert headers["urgency"] == "high"                # RFC 8030 §5.3
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", headers["topic"])  # RFC 8030 §5.4
    assert int(headers["content-length"]) == len(service.received[0]["body"])


def test_one_tag_one_topic_no_tag_no_topic(store, service):
    subscribed(store, service, "alice-sub", "ok")
    push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    push.notify(store, "alice-sub", {**MESSAGE, "body": "later"}, contact=CONTACT)
    push.notify(store, "alice-sub", {**MESSAGE, "tag": "c:other"}, contact=CONTACT)
    push.notify(store, "alice-sub", {"title": "Call", "url": "/office"}, contact=CONTACT)
    topics = [r["headers"].get("topic") for r in service.received]
    assert topics[0] == topics[1] != topics[2] and topics[3] is None


def test_the_vapid_header_is_valid(store, service):
    subscribed(store, service, "alice-sub", "ok")
    before = int(time.time())
    push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    token, key = vapid_parts(service.received[0]["headers"]["authorization"])
    assert key == push.public_key(store)  # RFC 8292 §3.2: the browser's applicationServerKey
    claims = verified_claims(token, key)
    assert claims["aud"] == service.origin  # RFC 8292 §2: the push resource's origin
    assert before < claims["exp"] <= int(time.time()) + 24 * 3600
    assert claims["sub"] == CONTACT


def test_a_forged_signature_does_not_verify(store, service):
    """The check above would see a wrong key or a changed claim (it is not vacuous)."""
    subscribed(store, service, "alice-sub", "ok")
    push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    token, key = vapid_parts(service.received[0]["headers"]["authorization"])
    other = b64url(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    with pytest.raises(InvalidSignature):
        verified_claims(token, other)
    header, payload, signature = token.split(".")
    changed = b64url(json.dumps({**json.loads(unb64url(payload)), "aud": "https://evil.example"}).encode())
    with pytest.raises(InvalidSignature):
        verified_claims(f"{header}.{changed}.{signature}", key)


def test_the_contact_falls_back_to_the_site(store, service):
    subscribed(store, service, "alice-sub", "ok")
    push.notify(store, "alice-sub", MESSAGE, contact="https://login.example")
    token, key = vapid_parts(service.received[0]["headers"]["authorization"])
    assert verified_claims(token, key)["sub"] == "https://login.example"


def test_every_device_of_the_person_gets_it(store, service):
    browsers = [subscribed(store, service, "alice-sub", "ok", f"device{n}") for n in range(3)]
    subscribed(store, service, "bob-sub", "ok", "bob")
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)["sent"] == 3
    by_path = {r["path"]: r["body"] for r in service.received}
    assert set(by_path) == {f"/ok/device{n}" for n in range(3)}
    for n, browser in enumerate(browsers):
        assert json.loads(browser.decrypt(by_path[f"/ok/device{n}"])) == MESSAGE
    assert len({body[21:86] for body in by_path.values()}) == 3  # a fresh ephemeral key each (RFC 8291 §3.1)


def test_notify_many_reaches_each_person_once(store, service):
    subscribed(store, service, "alice-sub", "ok", "alice")
    subscribed(store, service, "bob-sub", "ok", "bob")
    counts = push.notify_many(store, ["alice-sub", "bob-sub", "alice-sub", "carol-sub"], MESSAGE, contact=CONTACT)
    assert counts == {"sent": 2, "removed": 0, "failed": 0}
    assert sorted(r["path"] for r in service.received) == ["/ok/alice", "/ok/bob"]


# -- what the push service answers ---------------------------------------------------------------

def test_gone_subscriptions_are_removed_the_others_kept(store, service, monkeypatch):
    monkeypatch.setattr(push, "TIMEOUT", 1.5)  # every answer but the slow one's arrives in time, even under load
    for kind in ("ok", "gone", "missing", "broken", "busy", "forbidden", "slow"):
        subscribed(store, service, "alice-sub", kind)
    started = time.monotonic()
    counts = push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    assert time.monotonic() - started < 4  # the slow one got TIMEOUT, not the 5 s it takes
    assert counts == {"sent": 1, "removed": 2, "failed": 4}
    left = {s["endpoint"].split("/")[3] for s in push.subscriptions(store, "alice-sub")}
    assert left == {"ok", "broken", "busy", "forbidden", "slow"}  # 404 and 410 gone (RFC 8030 §7.3)
    owners = store.index(layout.BY_PUSH_ENDPOINT)
    assert owners.get(service.endpoint("gone")) is None and owners.get(service.endpoint("ok")) is not None
    assert {r["path"] for r in service.received} == {f"/{k}/x" for k in
                                                     ("ok", "gone", "missing", "broken", "busy", "forbidden", "slow")}


def test_a_push_service_that_is_not_there_fails_without_raising(store, service):
    browser = Browser()
    # A port nobody listens on: the connection is refused.
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Delivery)
    port = closed.server_address[1]
    closed.server_close()
    push.subscribe(store, "alice-sub", browser.subscription(f"http://127.0.0.1:{port}/ok/x"))
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT) == {"sent": 0, "removed": 0, "failed": 1}
    assert len(push.subscriptions(store, "alice-sub")) == 1


def test_a_redirect_is_not_followed(store, service):
    subscribed(store, service, "alice-sub", "redirect")
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT) == {"sent": 0, "removed": 0, "failed": 1}
    assert [r["path"] for r in service.received] == ["/redirect/x"]  # nothing went where it pointed
    assert len(push.subscriptions(store, "alice-sub")) == 1


def test_a_browser_that_subscribed_again_meanwhile_is_kept(store, service):
    """410 for the old keys while the browser has just subscribed again with new ones: the
    answer was about the old subscription, and the new one stays."""
    subscribed(store, service, "alice-sub", "gone", "renewed")
    renewed = Browser()
    service.during["/gone/renewed"] = lambda: push.subscribe(
        store, "alice-sub", renewed.subscription(service.endpoint("gone", "renewed")))
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)["removed"] == 1
    (kept,) = store.list(layout.PUSH, layout.person("alice-sub"))
    assert store.read(layout.PUSH, layout.person("alice-sub"), kept)["p256dh"] == b64url(renewed.public)


def test_endpoints_are_pushed_to_at_once(store, service):
    for n in range(push.SENDERS):
        subscribed(store, service, "alice-sub", "slow", f"d{n}")
    started = time.monotonic()
    counts = push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    assert counts == {"sent": 0, "removed": 0, "failed": push.SENDERS}
    assert time.monotonic() - started < push.SENDERS * push.TIMEOUT * 0.6  # one after another would take 4 s


def test_a_stored_endpoint_no_longer_allowed_is_removed_unsent(store, service, monkeypatch):
    subscribed(store, service, "alice-sub", "ok")
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", False)  # as in a deployment
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT) == {"sent": 0, "removed": 1, "failed": 0}
    assert service.received == [] and push.subscriptions(store, "alice-sub") == []


# -- who receives ----------------------------------------------------------------------------------

def test_a_browser_someone_else_signed_in_to_no_longer_gets_the_old_accounts(store, service):
    browser = subscribed(store, service, "alice-sub", "ok", "shared")
    push.subscribe(store, "bob-sub", browser.subscription(service.endpoint("ok", "shared")))
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)["sent"] == 0
    assert push.notify(store, "bob-sub", MESSAGE, contact=CONTACT)["sent"] == 1
    assert len(service.received) == 1


def test_signed_out_everywhere_nothing_more_arrives(store, service):
    subscribed(store, service, "alice-sub", "ok", "a")
    subscribed(store, service, "alice-sub", "ok", "b")
    assert push.forget_person(store, "alice-sub") == 2
    assert push.notify(store, "alice-sub", MESSAGE, contact=CONTACT) == {"sent": 0, "removed": 0, "failed": 0}
    assert service.received == []


def test_unsubscribed_nothing_more_arrives(store, service):
    subscribed(store, service, "alice-sub", "ok", "a")
    assert push.unsubscribe(store, "alice-sub", service.endpoint("ok", "a"))
    push.notify(store, "alice-sub", MESSAGE, contact=CONTACT)
    assert service.received == []
