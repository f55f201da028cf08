"""node-oidc-provider 9 (npm, tests/node/upstream-op.mjs) as a company's identity provider,
federated with a tenant: for the corporate-SSO tests over HTTP and in a real browser."""

import json
import shutil
import socket
import subprocess
from contextlib import contextmanager

import pytest

from codeb import signin
from codeb.upstreams import Upstreams
from codeb.upstreams import oidc as protocol
from tests.support.codebase import ROOT

NODE_DIR = ROOT / "tests" / "node"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """Stop a node test peer: it exits when its stdin closes (serve-op.mjs); killed after ten seconds."""
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


@contextmanager
def company_idp(served: str, tenant, *, token_auth: str = "client_secret_basic", jwks: dict | None = None):
    """Start the provider on a loopback port, federate `tenant` with it ("Corp", claiming
    corp.example), and stop it after. Yields its issuer, the upstream and the library's version.
    `token_auth="private_key_jwt"`: the provider knows CodeB by the key set at CodeB's
    /signin/oidc/jwks (fetched from there), or by `jwks` when given, and CodeB has no secret."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node and tests/node/node_modules are needed: run `make test` (it runs `npm ci`).")
    settings = {"port": free_port(), "client_id": "codeb-demo", "client_secret": "s" * 32,
                "redirect_uri": f"{served}/signin/oidc/callback"}
    if token_auth == "private_key_jwt":
        del settings["client_secret"]
        settings |= {"token_endpoint_auth_method": token_auth,
                     **({"jwks": jwks} if jwks else {"jwks_uri": f"{served}/signin/oidc/jwks"})}
    proc = subprocess.Popen([node, "upstream-op.mjs", json.dumps(settings)], cwd=NODE_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline() or "{}")
        assert ready.get("ready"), proc.stderr.read()
        protocol._discovered.clear()
        upstream = Upstreams(tenant.store).add(name="Corp", issuer=ready["issuer"], client_id=settings["client_id"],
                                               client_secret=settings.get("client_secret"), domains=["corp.example"],
                                               token_auth=token_auth)
        signin.switch_on(tenant.store, "oidc")
        yield {"issuer": ready["issuer"], "upstream": upstream, "version": ready["version"]}
    finally:
        stop(proc)
        protocol._discovered.clear()
        protocol._key_sets.clear()
