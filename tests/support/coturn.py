"""A real coturn (Debian's `turnserver`) on 127.0.0.1 for the tests of the meeting rooms' TURN relay.

`Coturn(folder)` picks a port free for UDP and TCP and a range of relay ports of its own;
`start` runs it with command-line options (or a turnserver.conf, as an operator does), waits
(bounded) until it answers a STUN Binding request, and `stop` ends it (terminate, then kill).
It listens and relays on 127.0.0.1 only, with `allow-loopback-peers` (coturn refuses to relay
to loopback peers otherwise, and every peer here is on 127.0.0.1), no TLS, no CLI, everything
it writes in the given folder. `TURNSERVER` is None when coturn is not installed: the tests
using this skip then.
"""

import secrets
import shutil
import socket
import subprocess
import time

import pytest

from codeb.rooms import turn

TURNSERVER = shutil.which("turnserver")
MISSING = "coturn is not installed (Debian package coturn: `make system-deps`)"

START_TIMEOUT = 15   # seconds for coturn to answer a STUN binding request
STOP_TIMEOUT = 10


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for coturn")


def stun_answers(port: int) -> bool:
    """Whether a STUN Binding request (RFC 5389) to the port gets a success response."""
    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            answer = sock.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


def secret_args(tenant, *secrets_given: bytes) -> list[str]:
    """turnserver's options for the TURN REST credentials of `tenant` (codeb.rooms.turn)."""
    return ["--use-auth-secret", *(f"--static-auth-secret={s.decode()}" for s in secrets_given),
            f"--realm={turn.realm(tenant)}"]


class Coturn:
    """One turnserver process; `start` with command-line options, or with a turnserver.conf."""

    def __init__(self, folder):
        assert TURNSERVER, MISSING
        self.folder = folder
        self.port = free_port()
        low = 50000 + secrets.randbelow(12000)
        self.options = [f"listening-port={self.port}", "listening-ip=127.0.0.1", "relay-ip=127.0.0.1",
                        f"min-port={low}", f"max-port={low + 199}", "allow-loopback-peers", "no-tls", "no-dtls",
                        "no-cli", "log-file=stdout", "simple-log", f"pidfile={folder / 'turnserver.pid'}",
                        f"userdb={folder / 'turndb'}"]
        self.process: subprocess.Popen | None = None
        self.runs = 0

    @property
    def uri(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def start(self, *, args: list[str] | None = None, config: str | None = None) -> None:
        assert self.process is None and TURNSERVER
        self.runs += 1
        if config is not None:  # as an operator runs it: `turnserver -c turnserver.conf`
            path = self.folder / f"turnserver-{self.runs}.conf"
            path.write_text("\n".join(self.options) + "\n" + config)
            command = [TURNSERVER, "-c", str(path)]
        else:
            command = [TURNSERVER, "-n", *(f"--{o}" for o in self.options), *(args or [])]
        self.log = self.folder / f"turnserver-{self.runs}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not stun_answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"coturn did not start: {self.output()}")

    def output(self, tail: int = 3000) -> str:
        """The end of what the last run logged (for failure messages)."""
        return self.log.read_text(errors="replace")[-tail:] if self.runs else "(coturn never started)"

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None
