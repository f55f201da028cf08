"""A real ejabberd (Debian's `ejabberd`) on 127.0.0.1 with CodeB's extauth program, for the
tests of the XMPP auth bridge (issue 16).

`Ejabberd(folder, hosts)` writes its own ejabberd.yml into `folder`: the given virtual hosts,
each with `auth_method: [external]` and its tenant's `extauth_program`
(`<python> -m codeb --data DIR xmpp-auth TENANT`, as an operator writes it), one c2s listener
on a free loopback port with STARTTLS required (a self-signed certificate for the hosts, made
here), no s2s, no HTTP, no admin ACLs, no modules but the few a client session needs.
`auth_use_cache: false`: ejabberd otherwise keeps a password it once accepted for an hour, so a
revoked app password would still sign in (`auth_use_cache` is an operator's setting; this is
the configuration CodeB's documentation must give them).

The Erlang VM runs directly (`erl -s ejabberd`, as ejabberdctl's `foreground` does, without its
`su ejabberd`), not distributed: no node name, no cookie, no epmd, so nothing is shared with a
system ejabberd or another test's. Mnesia's spool, the logs and crash dumps are in `folder`.
`start` waits (bounded) until the log says the listener accepts and the port answers; `stop`
sends SIGTERM to the VM's process group (the VM, its child-setup helper and the extauth
programs it spawned), waits, then SIGKILLs it. `EJABBERD` is None when ejabberd is not
installed: the tests using this skip then.
"""

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.processes import free_port, stop_group

ERL = shutil.which("erl")
EJABBERDCTL = shutil.which("ejabberdctl") or (os.path.exists("/usr/sbin/ejabberdctl") and "/usr/sbin/ejabberdctl")
EBIN_ROOT = Path("/usr/lib/x86_64-linux-gnu")  # Debian's ERL_LIBS for ejabberd (see /usr/sbin/ejabberdctl)
EJABBERD = ERL if EJABBERDCTL and ERL and any(EBIN_ROOT.glob("ejabberd-*/ebin/ejabberd.app")) else None
MISSING = "ejabberd is not installed (Debian package ejabberd: `make system-deps`)"
ROOT = Path(__file__).resolve().parents[2]

START_TIMEOUT = 30  # seconds until the c2s listener accepts (about 2 s when idle)
STOP_TIMEOUT = 10


def self_signed(hosts: list[str], folder: Path) -> tuple[Path, Path]:
    """A certificate for `hosts` and its key, in one PEM file for ejabberd (`certfiles`)
    and the certificate alone for the client to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    both, alone = folder / "server.pem", folder / "ca.pem"
    both.write_bytes(cert_pem + key_pem)
    both.chmod(0o600)
    alone.write_bytes(cert_pem)
    return both, alone


def extauth_program(data_root, tenant: str) -> str:
    """The `extauth_program` line an operator writes (ejabberd splits it at spaces)."""
    program = f"{sys.executable} -m codeb --data {data_root} xmpp-auth {tenant}"
    assert len(program.split()) == 7, f"a path with a space cannot be an extauth_program here: {program}"
    return program


class Ejabberd:
    """One private ejabberd; `hosts` maps each virtual host to its tenant's name."""

    def __init__(self, folder: Path, data_root, hosts: dict[str, str]):
        assert EJABBERD, MISSING
        self.folder, self.hosts = folder, hosts
        self.port = free_port()
        self.spool, self.logs = folder / "spool", folder / "logs"
        self.spool.mkdir()
        self.logs.mkdir()
        self.certfile, self.ca = self_signed(list(hosts), folder)
        self.config = folder / "ejabberd.yml"
        self.config.write_text(self.yaml(data_root))
        self.log = self.logs / "ejabberd.log"
        self.process: subprocess.Popen | None = None

    def yaml(self, data_root) -> str:
        quoted = lambda s: '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
        lines = ["hosts:", *(f"  - {quoted(h)}" for h in self.hosts),
                 "loglevel: info",
                 "certfiles:", f"  - {quoted(self.certfile)}",
                 "auth_method: [external]",
                 "auth_use_cache: false",
                 "extauth_pool_size: 1",
                 "host_config:"]
        for host, tenant in self.hosts.items():
            lines += [f"  {quoted(host)}:", f"    extauth_program: {quoted(extauth_program(data_root, tenant))}"]
        lines += ["listen:", "  -", f"    port: {self.port}", '    ip: "127.0.0.1"', "    module: ejabberd_c2s",
                  "    starttls_required: true",
                  "s2s_access: none",  # no server-to-server (and no s2s listener)
                  "modules:", "  mod_disco: {}", "  mod_ping: {}", "  mod_roster: {}", "  mod_stream_mgmt: {}"]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        assert self.process is None and EJABBERD
        env = {**os.environ, "EJABBERD_CONFIG_PATH": str(self.config), "EJABBERD_LOG_PATH": str(self.log),
               "ERL_LIBS": str(EBIN_ROOT), "ERL_CRASH_DUMP": str(self.logs / "erl_crash.dump"),
               "ERL_CRASH_DUMP_BYTES": "0", "CONTRIB_MODULES_PATH": str(self.folder / "contrib"),
               "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        env.pop("ERL_AFLAGS", None)
        env.pop("ERL_FLAGS", None)
        with open(self.logs / "erl.out", "wb") as out:
            self.process = subprocess.Popen(
                [EJABBERD, "-noinput", "-noshell", "-mnesia", "dir", f'"{self.spool}"', "-s", "ejabberd"],
                cwd=self.folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                pytest.fail(f"ejabberd did not start: {output}")
            time.sleep(0.1)

    def listening(self) -> bool:
        marker = f"Start accepting TCP connections at 127.0.0.1:{self.port} for ejabberd_c2s"
        if not self.log.exists() or marker not in self.log.read_text(errors="replace"):
            return False
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def log_text(self) -> str:
        """All ejabberd logged so far (its own log file)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def logged(self, text: str, count: int, timeout: float = 10) -> int:
        """How often `text` is in ejabberd's log, once it is there `count` times or `timeout`
        seconds have passed (ejabberd's logger writes its file a moment after the event)."""
        deadline = time.monotonic() + timeout
        while (found := self.log_text().count(text)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    def output(self, tail: int = 4000) -> str:
        parts = [p.read_text(errors="replace")[-tail:] for p in (self.logs / "erl.out", self.log) if p.exists()]
        return "\n".join(parts) or "(no output)"

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process, STOP_TIMEOUT)
        self.process = None
