"""A real Kamailio (Debian's `kamailio` and its module packages) on 127.0.0.1, configured by
CodeB's own template deploy/kamailio/kamailio.cfg, for the SIP tests of issue 16.

    server = Kamailio(folder, codeb_base_url="http://127.0.0.1:PORT", tenant_host="localhost",
                      lookup_secret="…", ephemeral_secret="…", realm="localhost")
    server.start()        # bounded: fails the test if Kamailio does not answer in START_TIMEOUT
    server.sip_port       # UDP and TCP, native phones (digest, HA1 from CodeB's lookup)
    server.ws_port        # WebSocket listener (plain ws, no TLS), browsers (auth_ephemeral)
    server.ws_url         # "ws://127.0.0.1:<ws_port>"
    server.sip_uri        # "sip:127.0.0.1:<sip_port>" (a phone's outbound proxy)
    server.output()       # what Kamailio logged so far (stderr), for assertion messages
    server.logged(text)   # how often `text` is in that log
    server.stop()         # SIGTERM, then SIGKILL, bounded; safe to call twice

The configuration is the template itself with its `#!substdef` values replaced
(`configured`): what the tests exercise is exactly what the operator installs. The secrets
are the text forms `python -m codeb sip-secret TENANT` prints (base64url without padding);
the ephemeral one is the HMAC-SHA1 key of auth_ephemeral as it stands, so a browser's password
is base64(HMAC-SHA1(ephemeral_secret.encode(), "<expiry>:<login>")) and its username `<expiry>:<login>`.

Kamailio runs in the foreground (`-DD -E`: no daemon, log to stderr, into `folder/kamailio.log`),
as the current user, with its runtime directory, pid file and control socket in `folder`, and
its own process group, which `stop` ends. `start` waits until Kamailio answers an OPTIONS
keepalive on the UDP port and the WebSocket port accepts. `KAMAILIO` is None when Kamailio or a
module the template loads is not installed: tests skip then (`MISSING` says why).
"""

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
MODULES = next(iter(sorted(Path("/usr/lib").glob("*/kamailio/modules"))), Path("/usr/lib/kamailio/modules"))
NEEDED = ("auth", "auth_ephemeral", "http_client", "json", "websocket", "xhttp", "nathelper", "registrar", "usrloc")
_BINARY = shutil.which("kamailio") or (os.path.exists("/usr/sbin/kamailio") and "/usr/sbin/kamailio") or None
KAMAILIO = _BINARY if _BINARY and all((MODULES / f"{m}.so").exists() for m in NEEDED) else None
MISSING = ("Kamailio is not installed (Debian packages kamailio kamailio-autheph-modules kamailio-utils-modules "
           "kamailio-websocket-modules kamailio-json-modules: `make system-deps`)")

START_TIMEOUT = 20  # seconds until Kamailio answers (well under 1 s when idle)
STOP_TIMEOUT = 10
_SUBSTDEF = re.compile(r'^#!substdef "!(?P<name>[A-Z_]+)!(?P<value>[^!]*)!g"$', re.M)



def configured(values: dict[str, str], template: str | None = None) -> str:
    """The template with the named `#!substdef` values replaced; every name must be one of its own."""
    text = TEMPLATE.read_text() if template is None else template
    names = {m.group("name") for m in _SUBSTDEF.finditer(text)}
    unknown = set(values) - names
    assert not unknown, f"not in the template: {sorted(unknown)}"
    for name, value in values.items():
        assert "!" not in value and "\n" not in value, (name, value)
    return _SUBSTDEF.sub(lambda m: f'#!substdef "!{m.group("name")}!{values.get(m.group("name"), m.group("value"))}!g"',
                         text)


class Kamailio:
    """One private Kamailio for one tenant: `codeb_base_url` is where CodeB answers, and
    `tenant_host` the Host it is asked with (CodeB picks the tenant by it)."""

    def __init__(self, folder: Path, codeb_base_url: str, tenant_host: str, lookup_secret: str,
                 ephemeral_secret: str, realm: str):
        assert KAMAILIO, MISSING
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.realm = realm
        self.sip_port = free_port()
        self.ws_port = free_port()
        while self.ws_port == self.sip_port:
            self.ws_port = free_port()
        self.values = {"SIP_REALM": realm, "SIP_ADDRESS": "127.0.0.1", "SIP_PORT": str(self.sip_port),
                       "WS_PORT": str(self.ws_port), "CODEB_URL": codeb_base_url.rstrip("/"),
                       "CODEB_HOST": tenant_host, "CODEB_LOOKUP_SECRET": lookup_secret,
                       "CODEB_EPHEMERAL_SECRET": ephemeral_secret, "RUN_DIR": str(self.folder)}
        self.config = self.folder / "kamailio.cfg"
        self.config.write_text(configured(self.values))
        self.log = self.folder / "kamailio.log"
        self.process: subprocess.Popen | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def sip_uri(self) -> str:
        return f"sip:127.0.0.1:{self.sip_port}"

    def command(self) -> list[str]:
        assert KAMAILIO
        return [KAMAILIO, "-DD", "-E", "-f", str(self.config), "-Y", str(self.folder),
                "-P", str(self.folder / "kamailio.pid"), "-w", str(self.folder), "-m", "64", "-M", "8"]

    def check(self) -> subprocess.CompletedProcess:
        """`kamailio -c`: the configuration parses and every module loads."""
        assert KAMAILIO
        return subprocess.run([KAMAILIO, "-c", "-f", str(self.config)], capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        assert self.process is None and KAMAILIO
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command(), cwd=self.folder, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                pytest.fail(f"Kamailio did not start: {output}")
            time.sleep(0.1)

    def answers(self) -> bool:
        """An OPTIONS to the server itself is answered 200 (its keepalive), and the WebSocket port accepts."""
        call_id = uuid.uuid4().hex
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.3)
            port = sock.getsockname()[1]
            options = (f"OPTIONS sip:{self.realm} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id[:12]};rport\r\n"
                       "Max-Forwards: 70\r\n"
                       f"From: <sip:probe@{self.realm}>;tag={call_id[:8]}\r\n"
                       f"To: <sip:{self.realm}>\r\n"
                       f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
            try:
                sock.sendto(options.encode(), ("127.0.0.1", self.sip_port))
                reply = sock.recv(4096).decode(errors="replace")
            except OSError:
                return False
        if not reply.startswith("SIP/2.0 200"):
            return False
        try:
            socket.create_connection(("127.0.0.1", self.ws_port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def output(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else "(no output)"

    def logged(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text) if self.log.exists() else 0

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process, STOP_TIMEOUT)
        self.process = None
