"""`make bench`'s side-by-side over HTTP: CodeB, the bare cost of its work, and a peer.

Three servers, each its own process on 127.0.0.1, started and stopped here:

- CodeB: `python -m codeb serve` (waitress) on a temporary data folder holding a
  tenant, a confidential client and a signed-in account made in process (bench/seed.py);
  its codes are issued in process by /authorize against the same folder.
- bare: bench/bare_server.py, Flask on waitress with as many threads, making the same
  RS256 signatures CodeB's token response carries (its claims copied from a real CodeB
  response: two for a code, one for a refresh), once more after the one fsynced write
  CodeB's token answers make, and answering CodeB's discovery document and its userinfo
  claims as static bodies.
- peer: node-oidc-provider 9 (tests/node/peer-op.mjs): RS256, client_secret_basic,
  rotating refresh tokens, opaque access tokens, in-memory store; codes seeded through
  its own models.

One load client, wrk (bench/load.py), drives them all with 8 keep-alive connections:
the refresh grant with one rotating chain per connection (fresh chains for every run,
started by exchanging a code over HTTP), the code exchange spending each pre-issued code
once, discovery, and userinfo with a valid access token. The figures of one server kind
run back to back (CodeB, bare, peer) so that the ratios come from the same minute of a
shared machine. Nothing here passes or fails on speed; a figure with errors says so.
"""

import base64
import ctypes
import dataclasses
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import load
from seed import HOST, REDIRECT_URI, ROOT, issue_codes, setup

from codeb.cli.serve import THREADS
from codeb.oidc.keys import KEY_SIZE

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.path.join(ROOT, "tests", "node")
PEER_SCRIPT = os.path.join(NODE, "peer-op.mjs")
SECONDS, WARMUP = 4, 1
# A server's first figure warms it for longer: node's JIT (and CodeB's first-use imports)
# still speed the peer up for the first few seconds of load.
FIRST_WARMUP = 3
START_TIMEOUT = 60  # seconds a server may take to listen
CODE_MARGIN = 1.6  # CodeB's codes issued per code exchange its refresh rate predicts
PR_SET_PDEATHSIG = 1  # linux/prctl.h
CODE_ATTEMPTS = 3  # runs of a code-exchange figure, each with twice the codes, while one runs out


class PeerMissing(RuntimeError):
    """node or the locked npm packages are missing (`make node-deps`)."""


# -- the machine ------------------------------------------------------------------

def openssl_speed(seconds: int = 1) -> str:
    """The machine's `openssl speed` line: RSA-2048 sign, P-256 sign and verify, one core."""
    done = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048", "ecdsap256"],
                          capture_output=True, text=True, timeout=20 * seconds + 30, check=True)
    rsa = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", done.stdout, re.M)
    ec = re.search(r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", done.stdout, re.M)
    if not rsa or not ec:
        raise RuntimeError(f"unexpected `openssl speed` output:\n{done.stdout}")
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout.split()
    return (f"openssl speed ({' '.join(version[:2])}, one core, {seconds} s each): "
            f"RSA-2048 sign {float(rsa.group(1)):,.0f}/s, "
            f"P-256 sign {float(ec.group(1)):,.0f}/s, verify {float(ec.group(2)):,.0f}/s")


# -- the servers ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One measured process on 127.0.0.1:`port`, and what the load needs of it."""

    name: str
    port: int
    process: subprocess.Popen
    log: str  # where its stderr goes
    codes: Callable[[int], list[tuple[str, str]]] = field(default=lambda n: [])  # n unspent (code, verifier)
    token_path: str = "/token"
    userinfo_path: str | None = None
    access_token: str | None = None  # for userinfo; None: the server has no userinfo figure

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    def wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {START_TIMEOUT} s")

    def tail(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # the peer stops when its stdin closes
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


def stop_with_the_bench() -> None:
    """In a server's process before it runs: SIGTERM when the bench dies (Linux's
    PR_SET_PDEATHSIG), so that no server outlives a bench that was killed."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stop() in the bench's `finally` is all there is


def start(name: str, command: list[str], *, port: int, workdir: str, cwd: str = ROOT, env=None,
          stdin=None, stdout=subprocess.DEVNULL) -> Server:
    log = os.path.join(workdir, f"{name}.log")
    with open(log, "w", encoding="utf-8") as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=err,
                                   text=True, preexec_fn=stop_with_the_bench)  # noqa: PLW1509 (no threads here)
    return Server(name, port, process, log)


def start_codeb(data: str, workdir: str, codes) -> Server:
    """`codeb serve` on `data`; `codes(n)` issues codes in process against the same folder."""
    port = free_port()
    codeb = start("CodeB", [sys.executable, "-m", "codeb", "--data", data, "serve", "--host", "127.0.0.1",
                            "--port", str(port)], port=port, workdir=workdir)
    codeb.codes = codes
    return codeb


def start_bare(workdir: str) -> Server:
    """The bare server, starting; it serves once `send_shape` has told it what to sign."""
    port = free_port()
    bare = start("bare", [sys.executable, os.path.join(HERE, "bare_server.py"), "--port", str(port)],
                 port=port, workdir=workdir, stdin=subprocess.PIPE)
    # It reads no form: any code (and any refresh token) is as good as another.
    bare.codes = lambda n: [(secrets.token_urlsafe(32), secrets.token_urlsafe(48)) for _ in range(n)]
    return bare


def send_shape(bare: Server, shape: dict) -> None:
    assert bare.process.stdin
    bare.process.stdin.write(json.dumps(shape) + "\n")
    bare.process.stdin.flush()


def start_peer(client_id: str, secret: str, workdir: str) -> tuple[Server, str]:
    """node-oidc-provider on a free port; the server and the library's version."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(NODE, "node_modules", "oidc-provider")):
        raise PeerMissing("the peer needs node and the locked npm packages: run `make node-deps`")
    port = free_port()
    settings = {"port": port, "client_id": client_id, "client_secret": secret, "redirect_uri": REDIRECT_URI}
    env = {**os.environ, "NODE_ENV": "production"}  # as one deploys it: no development-only checks
    peer = start("peer", [node, PEER_SCRIPT, json.dumps(settings)], port=port, workdir=workdir, cwd=NODE,
                 env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = peer.process.stdout.readline() if peer.process.stdout else ""
    if not line:
        raise RuntimeError(f"the peer did not start: {peer.tail()}")
    peer.codes = lambda n: peer_codes(peer, n)
    return peer, json.loads(line)["version"]


def peer_codes(peer: Server, n: int) -> list[tuple[str, str]]:
    """`n` codes seeded through the peer's own models (tests/node/peer-op.mjs)."""
    assert peer.process.stdin and peer.process.stdout
    peer.process.stdin.write(json.dumps({"codes": n}) + "\n")
    peer.process.stdin.flush()
    return [(code, verifier) for code, verifier in json.loads(peer.process.stdout.readline())["codes"]]


# -- talking to them before the load ----------------------------------------------

def call(server: Server, method: str, path: str, *, form: dict | None = None, headers: dict | None = None):
    """(status, body) of one request, on its own connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        body = urlencode(form) if form is not None else None
        sent = {"Host": server.host, **(headers or {})}
        if form is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def basic(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both form-encoded, then Basic.
    pair = f"{urlencode({'': client_id})[1:]}:{urlencode({'': secret})[1:]}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def exchange(server: Server, authorization: str, code: str, verifier: str) -> dict:
    status, body = call(server, "POST", server.token_path, headers={"Authorization": authorization}, form={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT_URI})
    if status != 200:
        raise RuntimeError(f"{server.name}: code exchange answered {status}: {body[:300]!r}")
    return json.loads(body)


def discover(server: Server) -> bytes:
    status, body = call(server, "GET", "/.well-known/openid-configuration")
    if status != 200:
        raise RuntimeError(f"{server.name}: discovery answered {status}")
    doc = json.loads(body)
    server.token_path = urlsplit(doc["token_endpoint"]).path
    server.userinfo_path = urlsplit(doc["userinfo_endpoint"]).path
    return body


def jwt_parts(token: str) -> dict:
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
    return {"header": header, "claims": claims}


# -- the figures ------------------------------------------------------------------

@dataclass
class SideBySide:
    """Every figure of one run: {kind: {server name: Figure}}, and the lines printed."""

    figures: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)


class Bench:
    def __init__(self, workdir: str, *, seconds: int, warmup: int):
        self.workdir, self.seconds, self.warmup = workdir, seconds, warmup
        self.result = SideBySide()
        self.files = 0

    def write_lines(self, lines) -> str:
        self.files += 1
        path = os.path.join(self.workdir, f"load-{self.files}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in lines))
        return path

    def measure(self, kind: str, server: Server, path: str, prepare, headers=(), *, first=False) -> load.Figure:
        """One figure after its warm-up; a server's `first` figure warms it longer."""
        warmup = max(self.warmup, FIRST_WARMUP) if first and self.warmup else self.warmup
        figure = load.measured(server.url + path, seconds=self.seconds, warmup=warmup, host=server.host,
                               prepare=prepare, headers=headers)
        self.result.figures.setdefault(kind, {})[server.name] = figure
        return figure


def codes_for(rate: float, seconds: int, margin: float) -> int:
    """Codes for `seconds` of exchanges at about `rate` (at least 50/s) times `margin`, two more per connection."""
    return math.ceil(max(rate, 50.0) * seconds * margin) + 2 * load.CONNECTIONS


def run_side_by_side(*, seconds: int = SECONDS, warmup: int = WARMUP, openssl_seconds: int = 1,
                     out=print) -> SideBySide:
    def say(line: str) -> None:
        bench.result.lines.append(line)
        out(line)

    with tempfile.TemporaryDirectory() as workdir:
        bench = Bench(workdir, seconds=seconds, warmup=warmup)
        load.wrk_path()  # before anything starts: say so at once if the load client is missing
        say(openssl_speed(openssl_seconds))
        data = os.path.join(workdir, "App_Data")
        os.makedirs(data)
        _tenant, _app, browser, client, secret, _account = setup(data)
        authorization = basic(client.client_id, secret)
        servers: list[Server] = []
        try:
            codeb = start_codeb(data, workdir, lambda n: issue_codes(browser, client, n))
            servers.append(codeb)
            bare = start_bare(workdir)
            servers.append(bare)
            peer, version = start_peer(client.client_id, secret, workdir)
            servers.append(peer)
            codeb.wait_listening()
            discovery = discover(codeb)
            first = exchange(codeb, authorization, *codeb.codes(1)[0])
            codeb.access_token = first["access_token"]
            status, claims = call(codeb, "GET", "/userinfo", headers={"Authorization": f"Bearer {codeb.access_token}"})
            if status != 200:
                raise RuntimeError(f"CodeB: userinfo answered {status}: {claims[:300]!r}")
            send_shape(bare, {"key_size": KEY_SIZE, "threads": THREADS, "discovery": discovery.decode(),
                              "userinfo": claims.decode(), "id_token": jwt_parts(first["id_token"]),
                              "access_token": jwt_parts(first["access_token"]),
                              "folder": os.path.join(workdir, "bare-chains")})
            bare.access_token = "any"  # it reads no token
            peer.wait_listening()
            bare.wait_listening()
            discover(peer)
            peer.access_token = exchange(peer, authorization, *peer.codes(1)[0])["access_token"]
            warm = f"after {warmup} s of warm-up ({max(warmup, FIRST_WARMUP)} s for a server's first)" \
                if warmup else "without warm-up"
            say(f"side by side over HTTP on 127.0.0.1: wrk, {load.CONNECTIONS} keep-alive connections, "
                f"{seconds} s per figure {warm}; CodeB and bare on waitress "
                f"({THREADS} threads), peer node-oidc-provider {version}")
            figures(bench, (codeb, bare, peer), authorization)
        except BaseException:
            for server in servers:
                out(f"--- {server.name} log ---\n{server.tail()}")
            raise
        finally:
            for server in servers:
                server.stop()
        report(bench.result, say)
    return bench.result


def figures(bench: Bench, servers: tuple[Server, ...], authorization: str) -> None:
    """Every figure, each kind back to back for the three servers."""
    credentials = (f"Authorization: {authorization}",)
    connections = str(load.CONNECTIONS)

    def chains(server: Server):
        # Fresh chains for every run, each begun by a code exchange over HTTP: a run stops with
        # requests in flight, so its last refresh tokens may be spent without anyone knowing.
        def prepare():
            tokens = [exchange(server, authorization, *c)["refresh_token"] for c in server.codes(load.CONNECTIONS)]
            return ["refresh", bench.write_lines(tokens), connections]
        return prepare

    # The bare server once more, its token answers after the one durable write CodeB's make.
    bare = next(s for s in servers if s.name == "bare")
    durable = dataclasses.replace(bare, name="bare_durable", token_path="/token/durable")
    token_servers = [t for s in servers for t in ((s, durable) if s is bare else (s,))]
    for server in token_servers:
        bench.measure("refresh", server, server.token_path, chains(server), credentials,
                      first=server is not durable)

    def spend(server: Server, margin: float):
        rate = bench.result.figures["refresh"][server.name].rate
        runs = iter([bench.warmup, bench.seconds] if bench.warmup else [bench.seconds])

        def prepare():
            codes = server.codes(codes_for(rate, next(runs), margin))
            return ["code", bench.write_lines(f"{c} {v}" for c, v in codes), connections, REDIRECT_URI]
        return prepare

    for server in token_servers:
        # CodeB's codes cost a request each to issue: as many as its refresh rate predicts, with a
        # margin; the others' cost next to nothing, so they get plenty. A run that ran out is run
        # again with twice as many (a code is spent once, never reused).
        margin = CODE_MARGIN if server.name == "CodeB" else 4 * CODE_MARGIN
        for _ in range(CODE_ATTEMPTS):
            if not bench.measure("code", server, server.token_path, spend(server, margin), credentials).exhausted:
                break
            margin *= 2

    for server in servers:
        bench.measure("discovery", server, "/.well-known/openid-configuration", lambda: ["get"])

    for server in servers:
        if server.access_token:
            bench.measure("userinfo", server, server.userinfo_path or "/userinfo", lambda: ["get"],
                          (f"Authorization: Bearer {server.access_token}",))


PEER = "peer, node-oidc-provider"
LABELS = {
    "refresh": ("refresh grant", {"CodeB": "CodeB", "bare": "bare, one RS256 signature",
                                  "bare_durable": "bare, signature and fsynced write", "peer": PEER}),
    "code": ("code exchange", {"CodeB": "CodeB", "bare": "bare, two RS256 signatures",
                               "bare_durable": "bare, signatures and fsynced write", "peer": PEER}),
    "discovery": ("discovery", {"CodeB": "CodeB", "bare": "bare, static JSON of the same bytes", "peer": PEER}),
    "userinfo": ("userinfo", {"CodeB": "CodeB", "bare": "bare, static JSON of the same claims", "peer": PEER}),
}
RATIOS = {"refresh": ("bare", "bare_durable", "peer"), "code": ("bare", "bare_durable", "peer"),
          "discovery": ("bare", "peer"),
          "userinfo": ("bare", "peer")}
WIDTH = 50


def report(result: SideBySide, say) -> None:
    for kind, (title, names) in LABELS.items():
        got = result.figures[kind]
        for name, label in names.items():
            figure = got[name]
            note = f"  INVALID: {figure.problem}" if figure.problem else ""
            say(f"{f'{title}, {label}':<{WIDTH}}: {figure.rate:8.1f} /s"
                f"  ({figure.requests} requests, {figure.non2xx} non-2xx; "
                f"p50 {figure.p50_ms:.1f} ms, p99 {figure.p99_ms:.1f} ms){note}")
        for other in RATIOS[kind]:
            codeb, them = got["CodeB"], got[other]
            if codeb.problem or them.problem or not them.rate:
                value = "   invalid (a figure above has errors)"
            else:
                value = f"{codeb.rate / them.rate:8.2f}"
            say(f"{f'ratio {title}, CodeB / {other}':<{WIDTH}}: {value}")


if __name__ == "__main__":
    run_side_by_side()
