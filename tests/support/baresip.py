"""A real SIP phone, baresip (Debian's `baresip-core`), for the Kamailio tests of issue 16.

    phone = Baresip(folder, aor="sip:ann@localhost", password="…", proxy=kamailio.sip_uri)
    phone.start()                 # bounded; registers at once
    phone.registration()          # "ok" (200 to the REGISTER) or "failed", waiting at most REGISTER_TIMEOUT
    phone.dial("sip:bob@localhost"); phone.wait_for("CALL_ESTABLISHED")
    phone.stop()

Each phone has its own configuration folder (`baresip -f folder`): an `accounts` file with one
line, `<aor>;auth_user=<login>;auth_pass=<password>;outbound="<proxy>";answermode=auto`, and a
`config` that listens for SIP on a free loopback port, loads no sound card (the `aufile` source
plays a generated tone, 8 kHz like PCMU; `audio_player` names aufile, which in baresip 1.0 is a
source only, so nothing is played) and the `menu` commands behind the `ctrl_tcp` control
interface on another free loopback port. That interface (netstring-framed JSON, baresip's modules/ctrl_tcp) is how the
test reads what happened, as events (`REGISTER_OK`, `REGISTER_FAIL`, `CALL_ESTABLISHED`, ...), and
gives commands (`dial`, `hangup`). baresip's own output goes to `folder/baresip.log`.
`BARESIP` is None when baresip is not installed: tests skip then.
"""

import json
import math
import re
import shutil
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop_group

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")
MISSING = "baresip is not installed (Debian package baresip-core: `make system-deps`)"
START_TIMEOUT = 10
REGISTER_TIMEOUT = 10  # seconds for one REGISTER and its challenge (a few ms when idle)
STOP_TIMEOUT = 5


def sip_ports() -> int:
    """A port for `sip_listen` whose next one is free too: baresip listens for SIP over UDP and
    TCP on the port and over TLS on the next (it has no setting to leave TLS out)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as tls:
                tls.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two free neighbouring loopback ports")


class Baresip:
    """One baresip with one account."""

    def __init__(self, folder: Path, *, aor: str, password: str, proxy: str, auth_user: str | None = None,
                 transport: str = "udp"):
        assert BARESIP, MISSING
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.aor = aor
        self.sip_port, self.ctrl_port = sip_ports(), free_port()
        user = auth_user if auth_user is not None else aor.split(":", 1)[1].split("@", 1)[0]
        outbound = f"{proxy};transport={transport}"
        line = (f"<{aor};transport={transport}>;auth_user={user};auth_pass={password};"
                f'outbound="{outbound}";answermode=auto;regint=600;medianat=;mwi=no;'
                "audio_codecs=pcmu")
        (self.folder / "accounts").write_text(line + "\n")
        (self.folder / "contacts").write_text("")
        (self.folder / "config").write_text(self.config())
        self.log = self.folder / "baresip.log"
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.events: list[dict] = []
        self._buffer = b""

    def config(self) -> str:
        lines = {
            "poll_method": "epoll", "sip_listen": f"127.0.0.1:{self.sip_port}", "call_local_timeout": "30",
            "audio_player": f"aufile,{self.folder / 'heard.wav'}", "audio_source": f"aufile,{self.tone()}",
            "audio_alert": f"aufile,{self.folder / 'alert.wav'}", "rtp_ports": "20000-40000",
            "module_path": str(MODULES), "ctrl_tcp_listen": f"127.0.0.1:{self.ctrl_port}",
        }
        modules = ["module g711.so", "module aufile.so", "module_tmp account.so",
                   "module_app menu.so", "module_app ctrl_tcp.so"]
        return "\n".join([*(f"{k}\t{v}" for k, v in lines.items()), *modules]) + "\n"

    def tone(self) -> Path:
        """A second of a 440 Hz tone, 8 kHz mono, for the `aufile` source (what the phone "says")."""
        path = self.folder / "tone.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 8000)))
                                     for n in range(8000)))
        return path

    def start(self) -> None:
        assert self.process is None and BARESIP
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([BARESIP, "-4", "-f", str(self.folder)], cwd=self.folder,
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while self.control is None:
            try:
                self.control = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5)
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    output = self.output()
                    self.stop()
                    pytest.fail(f"baresip did not start: {output}")
                time.sleep(0.05)

    # -- ctrl_tcp: netstrings of JSON ---------------------------------------------------

    def _read(self, timeout: float) -> dict | None:
        """The next message from ctrl_tcp, or None after `timeout` seconds."""
        assert self.control is not None
        deadline = time.monotonic() + timeout
        while True:
            length, colon, rest = self._buffer.partition(b":")
            if colon and length.isdigit() and len(rest) > int(length):
                size = int(length)
                message, self._buffer = rest[:size], rest[size + 1:]  # the netstring's trailing ","
                return json.loads(message)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.control.settimeout(left)
            try:
                chunk = self.control.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self._buffer += chunk

    def wait_for(self, *types: str, timeout: float = REGISTER_TIMEOUT) -> dict | None:
        """The first event (from now, or kept from before) of one of `types`; None after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") in types:
                    return self.events.pop(index)
            message = self._read(max(0.0, deadline - time.monotonic()))
            if message is None:
                return None
            if message.get("event"):
                self.events.append(message)

    def registration(self, timeout: float = REGISTER_TIMEOUT) -> str:
        """"ok" when the REGISTER was answered 200, "failed" when it was refused, "timeout" else.
        From ctrl_tcp's event, or from baresip's own line about it (the first REGISTER may be
        answered before the test's control connection is there to hear the event)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.wait_for("REGISTER_OK", "REGISTER_FAIL", timeout=0.1)
            if event is not None:
                return "ok" if event["type"] == "REGISTER_OK" else "failed"
            said = self.said_of_registration()
            if said is not None:
                return said
        return "timeout"

    def said_of_registration(self) -> str | None:
        """What baresip printed of its registration: `<aor>: {0/UDP/v4} 200 OK (...) [1 binding]`,
        or `reg: <aor>: 403 Forbidden` and the like for a refusal."""
        for line in self.output(tail=100_000).splitlines():
            if "} 200 OK" in line and "binding" in line:
                return "ok"
            if re.search(r"\b(40[0-9]|4[1-9][0-9]|5[0-9][0-9]|6[0-9][0-9]) [A-Z]", line) and "reg" in line.lower():
                return "failed"
        return None

    def command(self, command: str, params: str = "") -> None:
        assert self.control is not None
        body = json.dumps({"command": command, "params": params, "token": str(time.monotonic_ns())}).encode()
        self.control.sendall(str(len(body)).encode() + b":" + body + b",")

    def dial(self, uri: str) -> None:
        self.command("dial", uri)

    def hangup(self) -> None:
        self.command("hangup")

    # -- the end ----------------------------------------------------------------------

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else "(no output)"

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is None:
            return
        stop_group(self.process, STOP_TIMEOUT)
        self.process = None
