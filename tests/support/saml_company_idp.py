"""samlify (npm, tests/node/saml-idp.mjs) as a company's SAML 2.0 identity provider,
federated with a tenant: for the corporate-SSO tests over HTTP and in a real browser.

CodeB imports the IdP's metadata from its URL, as an admin does; the IdP learns CodeB
by the signed SP metadata CodeB serves (fetched over HTTP from the served app), and
verifies each AuthnRequest's signature against it."""

import json
import shutil
import subprocess
from contextlib import contextmanager

import pytest
import requests

from codeb import signin
from codeb.upstreams import Upstreams, sp_entity_id
from tests.support.codebase import ROOT
from tests.support.company_idp import free_port, stop

NODE_DIR = ROOT / "tests" / "node"
USERS = {"alice": {"email": "alice@corp.example", "name": "Alice Example", "groups": ["staff"]}}


@contextmanager
def saml_company_idp(served: str, tenant, sign: str = "assertion", users: dict | None = None):
    """Start the IdP on a loopback port (it signs the assertion, the response or both, as `sign`
    says), federate `tenant` with it ("Corp SAML", claiming corp.example), register CodeB's SP
    metadata with it, and stop it after. Yields its entity id and metadata URL, its base URL,
    the upstream and samlify's version."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "samlify").is_dir():
        pytest.fail("node and tests/node/node_modules/samlify are needed: run `make test` (it runs `npm ci`).")
    port = free_port()
    settings = {"port": port, "users": USERS if users is None else users, "sign": sign}
    proc = subprocess.Popen([node, "saml-idp.mjs", json.dumps(settings)], cwd=NODE_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline() or "{}")
        assert ready.get("ready"), proc.stderr.read()
        base = f"http://127.0.0.1:{port}"
        upstream = Upstreams(tenant.store).add_saml(name="Corp SAML", metadata_url=ready["metadata_url"],
                                                    domains=["corp.example"])
        signin.switch_on(tenant.store, "saml")
        metadata = requests.get(sp_entity_id(served, upstream["id"]), timeout=10)
        assert metadata.status_code == 200, metadata.text[:500]
        registered = requests.post(f"{base}/sp", data=metadata.content, timeout=10,
                                   headers={"Content-Type": "application/samlmetadata+xml"})
        assert registered.status_code == 204, registered.text[:500]
        yield {"entity_id": ready["entity_id"], "metadata_url": ready["metadata_url"], "base": base,
               "upstream": upstream, "version": ready["version"]}
    finally:
        stop(proc)
