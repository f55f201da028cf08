"""A real Prosody (Debian's `prosody`) on 127.0.0.1 with CodeB's auth module, for the tests of
the XMPP auth bridge's HTTP side (issue 16).

`Prosody(folder, hosts)` writes its own configuration into `folder`: the given virtual hosts,
each `authentication = "codeb"` with its tenant's `codeb_auth_url` and `codeb_auth_secret`
(what `python -m codeb xmpp-auth-secret TENANT` prints), `plugin_paths` holding
deploy/prosody/mod_auth_codeb.lua as an operator installs it, one c2s listener on a free
loopback port with encryption required (a self-signed certificate, made here), no s2s, no
HTTP listener, no admin socket, data, pid file and log in `folder`.

Prosody runs in the foreground (`prosody -F --config ...`) in its own process group; running
as root here it is told so (`run_as_root`), otherwise it would try to become the `prosody`
user. `start` waits (bounded) until the log says the listener is up and the port answers;
`stop` sends SIGTERM to the group, waits, then SIGKILLs it. `PROSODY` is None when Prosody
is not installed: the tests using this skip then.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.ejabberd import self_signed
from tests.support.processes import free_port, stop_group

PROSODY = shutil.which("prosody") or (os.path.exists("/usr/bin/prosody") and "/usr/bin/prosody") or None
MISSING = "Prosody is not installed (Debian package prosody: `make system-deps`)"
ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "deploy" / "prosody"

START_TIMEOUT = 30  # seconds until the c2s listener accepts (well under 1 s when idle)
STOP_TIMEOUT = 10


def lua(value) -> str:
    """A Lua string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Prosody:
    """One private Prosody; `hosts` maps each virtual host to (CodeB's auth URL, the tenant's secret)."""

    def __init__(self, folder: Path, hosts: dict[str, tuple[str, str]], *, module: str = "codeb",
                 oauthbearer: bool = False):
        assert PROSODY, MISSING
        self.folder, self.hosts, self.module, self.oauthbearer = folder, hosts, module, oauthbearer
        self.port = free_port()
        self.data = folder / "data"
        self.data.mkdir()
        self.certfile, self.ca = self_signed(list(hosts), folder)
        self.keyfile = folder / "server.pem"  # the key is in the same PEM file
        self.log = folder / "prosody.log"
        self.config = folder / "prosody.cfg.lua"
        self.config.write_text(self.lua_config())
        self.process: subprocess.Popen | None = None

    def lua_config(self) -> str:
        lines = [
            "run_as_root = true",
            "daemonize = false",
            f"pidfile = {lua(self.folder / 'prosody.pid')}",
            f"data_path = {lua(self.data)}",
            f"plugin_paths = {{ {lua(PLUGINS)} }}",
            f"log = {{ {{ levels = {{ min = \"debug\" }}, to = \"file\", filename = {lua(self.log)} }} }}",
            'modules_enabled = { "disco", "roster", "saslauth", "tls", "ping" }',
            'modules_disabled = { "s2s", "offline", "c2s_conn_throttle", "admin_socket" }',
            f"c2s_ports = {{ {self.port} }}",
            'c2s_interfaces = { "127.0.0.1" }',
            "s2s_ports = { }",
            "http_ports = { }",
            "https_ports = { }",
            "c2s_require_encryption = true",
            "allow_registration = false",
            "storage = \"internal\"",
            f"ssl = {{ certificate = {lua(self.certfile)}, key = {lua(self.keyfile)} }}",
        ]
        for host, (url, secret) in self.hosts.items():
            lines += [f"VirtualHost {lua(host)}", f"  authentication = {lua(self.module)}",
                      f"  codeb_auth_url = {lua(url)}", f"  codeb_auth_secret = {lua(secret)}",
                      f"  codeb_oauthbearer = {'true' if self.oauthbearer else 'false'}",
                      f"  ssl = {{ certificate = {lua(self.certfile)}, key = {lua(self.keyfile)} }}"]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        assert self.process is None and PROSODY
        with open(self.folder / "prosody.out", "wb") as out:
            self.process = subprocess.Popen([PROSODY, "-F", "--config", str(self.config)], cwd=self.folder,
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                pytest.fail(f"Prosody did not start: {output}")
            time.sleep(0.1)

    def listening(self) -> bool:
        if "Activated service 'c2s' on" not in self.log_text():
            return False
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def output(self, tail: int = 4000) -> str:
        parts = [p.read_text(errors="replace")[-tail:] for p in (self.folder / "prosody.out", self.log) if p.exists()]
        return "\n".join(parts) or "(no output)"

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process, STOP_TIMEOUT)
        self.process = None
