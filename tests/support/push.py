"""A browser's side of Web Push and a push service on 127.0.0.1, for the tests of codeb.notify.push
and of the workspace's notifications: the browser holds its ECDH key and auth secret and
decrypts what the push service received (RFC 8291) by hand, never with pywebpush."""

import base64
import secrets
import struct
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BODY_LIMIT = 16384  # bytes the local push service reads of one POST


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class Browser:
    """One browser's side of a subscription (W3C Push API): its own P-256 key and a 16-byte
    auth secret, generated as a user agent does (RFC 8291 §2)."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)
        self.auth = secrets.token_bytes(16)

    def subscription(self, endpoint: str) -> dict:
        return {"endpoint": endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(self.public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 and RFC 8188 §2, by hand: the header (salt, record size, the
        application server's ephemeral key as key id), the keys, one record."""
        salt, (record_size,), id_length = body[:16], struct.unpack("!I", body[16:20]), body[20]
        assert id_length == 65 and record_size >= 18  # RFC 8291 §4: keyid is the sender's P-256 point
        server_public = body[21:86]
        ciphertext = body[86:]
        assert len(ciphertext) <= record_size  # RFC 8291 §4: one record
        shared = self.key.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                                                            server_public))
        key_info = b"WebPush: info\x00" + self.public + server_public
        ikm = HKDF(hashes.SHA256(), 32, salt=self.auth, info=key_info).derive(shared)
        cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
        nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        plain = padded.rstrip(b"\x00")
        assert plain.endswith(b"\x02")  # RFC 8188 §2: the last record's delimiter
        return plain[:-1]

    def decrypt_with_http_ece(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")


class PushService(ThreadingHTTPServer):
    """A push service on 127.0.0.1 (RFC 8030 §5): what it answers depends on the path's
    first segment; every POST is kept with its headers and body."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Delivery)
        self.received: list[dict] = []
        self.release = threading.Event()  # lets the slow endpoint go at the end
        self.during: dict[str, object] = {}  # path -> what to do before answering
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def endpoint(self, kind: str, name: str = "x") -> str:
        return f"{self.origin}/{kind}/{name}"

    def at(self, kind: str) -> list[dict]:
        return [r for r in self.received if r["path"].split("/")[1] == kind]


ANSWERS = {"ok": 201, "gone": 410, "missing": 404, "broken": 500, "busy": 429, "forbidden": 403}


class Delivery(BaseHTTPRequestHandler):
    server: PushService

    def do_POST(self):
        length = min(int(self.headers.get("Content-Length") or 0), BODY_LIMIT)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}  # names are case-insensitive
        self.server.received.append({"path": self.path, "headers": headers, "body": body})
        kind = self.path.split("/")[1]
        before = self.server.during.get(self.path)
        if callable(before):
            before()
        if kind == "slow":
            self.server.release.wait(5)
        if kind == "redirect":
            self.send_response(307)
            self.send_header("Location", self.server.endpoint("ok", "redirected"))
        else:
            self.send_response(ANSWERS.get(kind, 201))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def running_push_service():
    server = PushService()
    server.thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        server.thread.join(5)
