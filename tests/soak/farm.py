"""The server processes of a farm: start them on free loopback ports, read their memory, kill one.

    with Farm(data_root, pickup, servers=4) as farm:
        farm.urls            # http://127.0.0.1:<port> of each live server
        farm.rss_kib(i)      # VmRSS of server i (/proc/<pid>/status)
        farm.kill(i)         # SIGKILL: no cleanup, as IIS ending a hung worker
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import requests

HOST = "localhost"  # the demo tenant's host name
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READY_TIMEOUT = 180.0  # a start-up on a machine busy with other work


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, index: int, port: int, process: subprocess.Popen, log_path: str):
        self.index, self.port, self.process, self.log_path = index, port, process, log_path
        self.alive = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Farm:
    def __init__(self, data: str, pickup: str, *, servers: int = 4, threads: int = 4):
        self.data, self.pickup, self.count, self.threads = data, pickup, servers, threads
        self.origin_port = free_port()  # the public origin every server answers for (never listened on)
        self.servers: list[Server] = []
        self.lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.origin_port}"

    @property
    def host_header(self) -> str:
        return f"{HOST}:{self.origin_port}"

    def live(self) -> list[Server]:
        with self.lock:
            return [s for s in self.servers if s.alive]

    def start(self) -> "Farm":
        env = {**os.environ, "PYTHONPATH": REPO, "CODEB_MAIL_PICKUP": self.pickup}
        env.pop("CODEB_TENANT", None)
        env.pop("CODEB_ECHO_MAIL", None)
        logs = os.path.join(os.path.dirname(self.data), "server-logs")
        os.makedirs(logs, exist_ok=True)
        for index in range(self.count):
            port = free_port()
            log_path = os.path.join(logs, f"server-{index}.log")
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "tests.soak.server", "--data", self.data, "--port", str(port),
                     "--origin-port", str(self.origin_port), "--threads", str(self.threads)],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            self.servers.append(Server(index, port, process, log_path))
        for server in self.servers:
            self._wait_ready(server)
        return self

    def _wait_ready(self, server: Server) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server {server.index} exited: {self.log_of(server)}")
            try:
                r = requests.get(server.url + "/.well-known/openid-configuration",
                                 headers={"Host": self.host_header}, timeout=5)
                if r.status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or still importing
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server {server.index} not ready in {READY_TIMEOUT:.0f} s: {self.log_of(server)}")

    @staticmethod
    def log_of(server: Server) -> str:
        with open(server.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def rss_kib(self, index: int) -> int | None:
        """Resident memory of server `index` in KiB (VmRSS), None if it is gone or not on Linux."""
        try:
            with open(f"/proc/{self.servers[index].process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            return None
        return None

    def kill(self, index: int) -> None:
        server = self.servers[index]
        with self.lock:
            server.alive = False
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)

    def stop(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=15)
            server.alive = False

    def __enter__(self) -> "Farm":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
