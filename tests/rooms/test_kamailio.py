"""A real Kamailio (Debian's `kamailio`) asks CodeB's digest lookup, and a real SIP phone,
baresip, registers through it (issue 16, "Tests that must exist").

One private Kamailio (tests.support.kamailio) runs CodeB's own template,
deploy/kamailio/kamailio.cfg, with the demo tenant's keys as `python -m codeb sip-secret demo`
prints them, on free loopback ports; it reaches CodeB (the test app, served on loopback by
waitress) at `http://127.0.0.1:<port>`, naming the tenant by the Host header `localhost`.
Each phone is a fresh baresip (tests.support.baresip) that registers as `sip:<login>@localhost`
over UDP with digest: Kamailio challenges, fetches the HA1 values from CodeB and checks
baresip's response against each. The realm is the tenant's SIP realm, its first host.

The WebSocket side (what the shell's phone card uses) is checked with a small SIP-over-WebSocket
client here (`SipOverWebSocket`): it registers with auth_ephemeral credentials made with the key
`sip-secret` prints, is called by baresip (by extension, with CodeB's caller-ID name) and calls
baresip, each call reaching the established state. SIP.js itself, in Chromium, is the browser test's.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import struct
import time

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords, passwords
from codeb.cli import main as cli
from codeb.native import sip_digest
from tests.support.baresip import BARESIP, Baresip
from tests.support.baresip import MISSING as NO_BARESIP
from tests.support.kamailio import KAMAILIO, MISSING, TEMPLATE, Kamailio
from tests.support.web import HOST, OTHER_HOST

if not KAMAILIO:
    pytest.skip(MISSING, allow_module_level=True)
if not BARESIP:
    pytest.skip(NO_BARESIP, allow_module_level=True)

WS_TIMEOUT = 10  # seconds for any one WebSocket read (a few ms when idle)


@pytest.fixture
def keys(data_root, tenants, capsys) -> dict:
    """What the operator runs and copies into kamailio.cfg."""
    assert cli(["--data", str(data_root), "sip-secret", "demo"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def kamailio(tmp_path, served, keys):
    port = served.rsplit(":", 1)[1]
    server = Kamailio(tmp_path / "kamailio", f"http://127.0.0.1:{port}", HOST, keys["lookup_secret"],
                      keys["ephemeral_secret"], keys["realm"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def people(tenants):
    """ann with a SIP app password and an XMPP-only one, dave (disabled) with a SIP app password,
    walt with none, erin of the other tenant with a SIP app password of hers."""
    demo, acme = tenants.get("demo"), tenants.get("acme")
    accounts, theirs = Accounts(demo.store, HOST), Accounts(acme.store, OTHER_HOST)
    for login in ("ann", "dave", "walt"):
        accounts.create(email=f"{login}@example.com", login=login)
    theirs.create(email="erin@acme.example", login="erin")
    made = {"accounts": accounts, "demo": demo,
            "ann": app_passwords.create(accounts, "ann", name="Desk phone", purposes=["sip"], realm=HOST)[1],
            "ann_xmpp": app_passwords.create(accounts, "ann", name="Gajim", purposes=["xmpp"], realm=HOST)[1],
            "dave": app_passwords.create(accounts, "dave", name="Phone", purposes=["sip"], realm=HOST)[1],
            "erin": app_passwords.create(theirs, "erin", name="Phone", purposes=["sip"], realm=OTHER_HOST)[1]}
    accounts.set_disabled("dave", True)
    return made


class Phones:
    """Fresh baresips, each stopped at the end of the test."""

    def __init__(self, folder, kamailio: Kamailio):
        self.folder, self.kamailio, self.made = folder, kamailio, []

    def register(self, login: str, password: str, label: str, *, auth_user: str | None = None) -> str:
        phone = Baresip(self.folder / f"phone-{len(self.made)}", aor=f"sip:{login}@{HOST}", password=password,
                        proxy=self.kamailio.sip_uri, auth_user=auth_user)
        self.made.append(phone)
        phone.start()
        outcome = phone.registration()
        print(f"baresip REGISTER, {label}: {outcome}")
        if outcome == "timeout":
            pytest.fail(f"{label}: no answer\n{phone.output()}\n{self.kamailio.output()}")
        phone.stop()
        return outcome

    def stop(self) -> None:
        for phone in self.made:
            phone.stop()


@pytest.fixture
def phones(tmp_path, kamailio):
    made = Phones(tmp_path, kamailio)
    yield made
    made.stop()


def refusals(store) -> list[dict]:
    return [e for e in audit.read_all(store) if e["event"] == "sip.digest_refused"]


def test_what_runs_is_the_template_with_its_values_filled_in(kamailio):
    template, ran = TEMPLATE.read_text().splitlines(), kamailio.config.read_text().splitlines()
    changed = [(a, b) for a, b in zip(template, ran, strict=True) if a != b]
    assert all(a.startswith('#!substdef "!') and b.startswith('#!substdef "!') for a, b in changed)
    assert len(changed) == len(kamailio.values)
    assert kamailio.check().returncode == 0, kamailio.check().stderr[-3000:]


def test_baresip_registers_with_a_sip_app_password_and_is_refused_otherwise(phones, people, kamailio):
    assert phones.register("ann", people["ann"], "ann's SIP app password") == "ok", kamailio.output()
    _, mobile = app_passwords.create(people["accounts"], "ann", name="Mobile", purposes=["sip"], realm=HOST)
    assert phones.register("ann", mobile, "ann's second SIP app password (the second HA1 tried)") == "ok"
    refused = {
        "ann with a wrong password": ("ann", app_passwords.generate(), None),
        "ann with her XMPP-only app password": ("ann", people["ann_xmpp"], None),
        "dave, disabled, with his app password": ("dave", people["dave"], None),
        "walt, who has no app password, with ann's": ("walt", people["ann"], None),
        "erin of the other tenant, with her own app password": ("erin", people["erin"], None),
        "ann's address, digest user walt": ("ann", people["ann"], "walt"),
    }
    for label, (login, password, auth_user) in refused.items():
        assert phones.register(login, password, label, auth_user=auth_user) == "failed", label

    (desk,) = [a for a in app_passwords.listed(people["accounts"].require("ann")) if a.name == "Desk phone"]
    app_passwords.revoke(people["accounts"], "ann", desk.id)
    assert phones.register("ann", people["ann"], "ann's SIP app password, revoked") == "failed"
    assert phones.register("ann", mobile, "ann's other one, kept") == "ok"

    # CodeB's account of it (repeated identical refusals are one audit line with a count); the
    # digest user walt for ann's address never reached CodeB: Kamailio refuses it first
    reasons = {(e.get("login", "-"), e["reason"]) for e in refusals(people["demo"].store)}
    assert reasons == {("ann", "wrong"), ("dave", "disabled"), ("walt", "no_app_password"), ("-", "unknown")}, \
        reasons  # ann's revoked one is "wrong": she still has another
    assert kamailio.logged("refused, reported to CodeB (204)") == len(refused) - 1 + 1  # and the revoked one
    written = repr(audit.read_all(people["demo"].store))
    for secret in (people["ann"], people["ann_xmpp"], people["dave"], people["erin"]):
        assert secret not in written  # audited without the secret


def test_the_optional_password_registers_too(phones, people, kamailio):
    password = "Correct-Horse-Battery-Staple-9"  # no space: a baresip accounts line ends at one
    passwords.change(people["accounts"], "walt", current="", new=password, repeat=password, realm=HOST)
    assert phones.register("walt", password, "walt's password") == "ok", kamailio.output()


def test_a_burst_of_wrong_passwords_closes_the_window_until_it_is_over(phones, people, kamailio, clock):
    limit, window = sip_digest.ACCOUNT_FAILURES
    for n in range(limit):
        assert phones.register("ann", app_passwords.generate(), f"wrong password {n + 1}") == "failed"
    assert phones.register("ann", people["ann"], "the right one, window full") == "failed"
    clock.advance(window + 1)
    assert phones.register("ann", people["ann"], "the right one, window over") == "ok", kamailio.output()
    # every refusal reached CodeB: the wrong ones counted, the one while the window was full not
    assert kamailio.logged("digest of ann from 127.0.0.1 refused, reported to CodeB (204)") == limit + 1
    assert {(e["login"], e["reason"]) for e in refusals(people["demo"].store)} == {("ann", "wrong"),
                                                                                   ("ann", "rate_limited")}


# -- WebSocket: a browser's registration and a call from a native phone ------------------

class SipOverWebSocket:
    """A minimal SIP user agent over WebSocket (RFC 7118, RFC 6455 client frames) standing in for
    the shell's phone card: it registers with auth_ephemeral credentials and answers one call.
    The browser test with SIP.js itself is tests/browser's; this checks the template's WS side."""

    def __init__(self, port: int, login: str):
        self.login, self.tag, self.host = login, secrets.token_hex(4), f"{secrets.token_hex(4)}.invalid"
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WS_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: sip\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert b"Sec-WebSocket-Accept: " + accept in head, head
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        size = bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(data))
        self.sock.sendall(b"\x81" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            assert chunk, "Kamailio closed the WebSocket"
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def receive(self) -> str:
        """The next SIP message (text frame); pings are answered on the way."""
        while True:
            first, second = self._exactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack(">H", self._exactly(2))
            elif size == 127:
                (size,) = struct.unpack(">Q", self._exactly(8))
            payload = self._exactly(size)
            if first & 0x0F == 0x9:  # ping: pong
                mask = os.urandom(4)
                self.sock.sendall(b"\x8a" + bytes([0x80 | len(payload)]) + mask
                                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                continue
            if first & 0x0F == 0x1:
                return payload.decode()

    def register(self, realm: str, ephemeral_key: str, *, expires_in: int = 600, login: str | None = None) -> str:
        """REGISTER, the 401's challenge answered with `<expiry>:<login>` and its HMAC; the final status line."""
        username = f"{int(time.time()) + expires_in}:{login or self.login}"
        password = base64.b64encode(hmac.new(ephemeral_key.encode(), username.encode(), hashlib.sha1).digest()).decode()
        call_id, challenge = secrets.token_hex(8), None
        for cseq in (1, 2):
            extra = self.authorization(challenge, username, password, "REGISTER", f"sip:{realm}") if challenge else ""
            self.send(f"REGISTER sip:{realm} SIP/2.0\r\n{self.via()}Max-Forwards: 70\r\n"
                      f"From: <sip:{self.login}@{realm}>;tag={self.tag}\r\nTo: <sip:{self.login}@{realm}>\r\n"
                      f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{extra}"
                      f"Contact: <sip:{self.login}@{self.host};transport=ws>;expires=600\r\nExpires: 600\r\n"
                      "Content-Length: 0\r\n\r\n")
            reply = self.receive()
            if not reply.startswith("SIP/2.0 401"):
                return reply.split("\r\n", 1)[0]
            challenge = dict(re.findall(r'(\w+)="?([^",]+)"?', reply.split("WWW-Authenticate: Digest ", 1)[1]
                                        .split("\r\n", 1)[0]))
        return "SIP/2.0 401 (twice)"

    def via(self) -> str:
        return f"Via: SIP/2.0/WS {self.host};branch=z9hG4bK{secrets.token_hex(6)}\r\n"

    @staticmethod
    def authorization(challenge: dict, username: str, password: str, method: str, uri: str) -> str:
        """RFC 2617 §3.2.2 with qop=auth, MD5, as any SIP client computes it."""
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
        cnonce, nc = secrets.token_hex(8), "00000001"
        ha1, ha2 = md5(f"{username}:{challenge['realm']}:{password}"), md5(f"{method}:{uri}")
        response = md5(f"{ha1}:{challenge['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        return (f'Authorization: Digest username="{username}", realm="{challenge["realm"]}", '
                f'nonce="{challenge["nonce"]}", uri="{uri}", response="{response}", algorithm=MD5, qop=auth, '
                f'nc={nc}, cnonce="{cnonce}"\r\n')

    def answer(self, invite: str) -> None:
        """200 OK to an INVITE, with an SDP answer (PCMU), its Via, Record-Route, From, To, Call-ID, CSeq."""
        head = invite.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        kept = [h for h in head if h.split(":", 1)[0].lower() in ("via", "record-route", "from", "call-id", "cseq")]
        to = next(h for h in head if h.lower().startswith("to:"))
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
        self.send("SIP/2.0 200 OK\r\n" + "\r\n".join(kept) + f"\r\n{to};tag={self.tag}\r\n"
                  f"Contact: <sip:{self.login}@{self.host};transport=ws>\r\nContent-Type: application/sdp\r\n"
                  f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")

    def call(self, target: str, realm: str, ephemeral_key: str) -> str:
        """INVITE `target` as SIP.js does: the 407's challenge answered with ephemeral credentials,
        then the 2xx ACKed along its Record-Route; the final status line of the INVITE."""
        username = f"{int(time.time()) + 600}:{self.login}"
        password = base64.b64encode(hmac.new(ephemeral_key.encode(), username.encode(), hashlib.sha1).digest()).decode()
        call_id, self.call_tag, challenge = secrets.token_hex(8), secrets.token_hex(4), None
        sdp = ("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
        for cseq in (1, 2):
            extra = self.authorization(challenge, username, password, "INVITE", target).replace(
                "Authorization:", "Proxy-Authorization:") if challenge else ""
            self.send(f"INVITE {target} SIP/2.0\r\n{self.via()}Max-Forwards: 70\r\n"
                      f"From: <sip:{self.login}@{realm}>;tag={self.call_tag}\r\nTo: <{target}>\r\n"
                      f"Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n{extra}"
                      f"Contact: <sip:{self.login}@{self.host};transport=ws;ob>\r\n"
                      f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
            reply = self.receive()
            while reply.startswith(("SIP/2.0 100", "SIP/2.0 180", "SIP/2.0 183")):
                reply = self.receive()
            if not reply.startswith("SIP/2.0 407"):
                break
            challenge = dict(re.findall(r'(\w+)="?([^",]+)"?', reply.split("Proxy-Authenticate: Digest ", 1)[1]
                                        .split("\r\n", 1)[0]))
        status = reply.split("\r\n", 1)[0]
        if status.startswith("SIP/2.0 200"):
            head = reply.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
            routes = [h.split(":", 1)[1].strip() for h in head if h.lower().startswith("record-route:")][::-1]
            contact = re.search(r"<([^>]+)>", next(h for h in head if h.lower().startswith("contact:"))).group(1)
            to = next(h for h in head if h.lower().startswith("to:"))
            self.send(f"ACK {contact} SIP/2.0\r\n{self.via()}Max-Forwards: 70\r\n"
                      + "".join(f"Route: {r}\r\n" for r in routes)
                      + f"From: <sip:{self.login}@{realm}>;tag={self.call_tag}\r\n{to}\r\n"
                      f"Call-ID: {call_id}\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n")
        return status

    def close(self) -> None:
        self.sock.close()


def test_a_websocket_client_registers_with_ephemeral_credentials_and_a_phone_calls_it_by_extension(
        tmp_path, kamailio, keys, people):
    bob_account = people["accounts"].create(email="bob@example.com", login="bob", display_name="Bob Builder")
    people["accounts"].set_display_name("ann", "Ann Smith")
    browser = SipOverWebSocket(kamailio.ws_port, "bob")
    try:
        key = keys["ephemeral_secret"]
        refused = {"expired": (key, -60, None), "wrong key": ("x" + key, 600, None),
                   "someone else's name": (key, 600, "ann")}
        for label, (used, expires_in, login) in refused.items():
            status = browser.register(HOST, used, expires_in=expires_in, login=login)
            assert status.startswith(("SIP/2.0 401", "SIP/2.0 403")), (label, status)
        assert browser.register(HOST, keys["ephemeral_secret"]) == "SIP/2.0 200 OK", kamailio.output()

        phone = Baresip(tmp_path / "ann-phone", aor=f"sip:ann@{HOST}", password=people["ann"], proxy=kamailio.sip_uri)
        try:
            phone.start()
            assert phone.registration() == "ok", phone.output()
            phone.dial(f"sip:{bob_account.ext}@{HOST}")  # by extension: CodeB names bob
            invite = browser.receive()
            while not invite.startswith("INVITE "):
                invite = browser.receive()
            assert re.search(r'^P-Asserted-Identity: "Ann Smith" <sip:ann@localhost>\r$', invite, re.M), invite
            assert invite.startswith(f"INVITE sip:bob@{browser.host};transport=ws SIP/2.0"), invite
            browser.answer(invite)
            ack = browser.receive()  # the ACK follows the Record-Route back to the WebSocket
            assert ack.startswith("ACK "), ack
            established = phone.wait_for("CALL_ESTABLISHED")
            assert established is not None, phone.output()
            phone.hangup()
            bye = browser.receive()
            assert bye.startswith("BYE "), bye
        finally:
            phone.stop()
    finally:
        browser.close()


def test_a_websocket_client_calls_a_native_phone(tmp_path, kamailio, keys, people):
    browser = SipOverWebSocket(kamailio.ws_port, "bob")
    people["accounts"].create(email="bob@example.com", login="bob")
    phone = Baresip(tmp_path / "ann-phone", aor=f"sip:ann@{HOST}", password=people["ann"], proxy=kamailio.sip_uri)
    try:
        assert browser.register(HOST, keys["ephemeral_secret"]) == "SIP/2.0 200 OK", kamailio.output()
        phone.start()
        assert phone.registration() == "ok", phone.output()
        answered = browser.call(f"sip:ann@{HOST}", HOST, keys["ephemeral_secret"])
        assert answered.startswith("SIP/2.0 200 "), (answered, phone.output(), kamailio.output())
        assert phone.wait_for("CALL_ESTABLISHED") is not None, phone.output()
        assert browser.call(f"sip:nobody@{HOST}", HOST, keys["ephemeral_secret"]).startswith("SIP/2.0 404")
    finally:
        phone.stop()
        browser.close()
