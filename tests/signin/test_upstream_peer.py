"""Corporate SSO against a certified OpenID provider nobody here wrote: node-oidc-provider 9
(npm, tests/node/upstream-op.mjs) is the company's identity provider of the demo tenant.
The person's browser (a `requests.Session`) signs in on the library's own development pages;
CodeB does discovery, PKCE, the code exchange, the ID token's checks, RFC 9207's `iss` and
userinfo against it."""

import json
import re
import shutil
import socket
import subprocess
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from codeb.accounts import Accounts
from codeb.accounts.links import Links
from codeb.store import layout
from codeb.upstreams import Upstreams
from codeb.upstreams import oidc as protocol
from tests.support.codebase import ROOT
from tests.support.web import csrf_of

NODE_DIR = ROOT / "tests" / "node"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def company(served, demo):
    """node-oidc-provider on loopback, federated with the demo tenant."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node and tests/node/node_modules are needed: run `make test` (it runs `npm ci`).")
    settings = {"port": free_port(), "client_id": "codeb-demo", "client_secret": "s" * 32,
                "redirect_uri": f"{served}/signin/oidc/callback"}
    proc = subprocess.Popen([node, "upstream-op.mjs", json.dumps(settings)], cwd=NODE_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(proc.stdout.readline() or "{}")
        assert ready.get("ready"), proc.stderr.read()
        protocol._discovered.clear()
        upstream = Upstreams(demo.store).add(name="Corp", issuer=ready["issuer"], client_id=settings["client_id"],
                                             client_secret=settings["client_secret"], domains=["corp.example"])
        with demo.store.update(layout.TENANT) as doc:
            doc["methods"] = ["passkey", "oidc", "magic_link"]
        yield {"issuer": ready["issuer"], "upstream": upstream, "version": ready["version"]}
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        protocol._discovered.clear()
        protocol._key_sets.clear()


def sign_in_at_the_company(served: str, company: dict, login: str, http: requests.Session | None = None):
    """Press "Sign in with Corp", sign in and consent on the library's pages; return the browser
    and CodeB's answer to the callback."""
    http = http or requests.Session()
    page = http.get(f"{served}/signin", timeout=10)
    moved = http.post(f"{served}/signin/oidc/begin", timeout=10,
                      data={"csrf": csrf_of(page.text), "upstream": company["upstream"]["id"]})
    url = unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))
    for _ in range(10):
        answer = http.get(url, allow_redirects=False, timeout=10)
        if answer.status_code in (302, 303):
            url = urljoin(url, answer.headers["Location"])
            if url.startswith(f"{served}/signin/oidc/callback"):
                return http, http.get(url, allow_redirects=False, timeout=10)
            continue
        assert answer.status_code == 200, answer.text[:500]
        prompt = re.search(r'name="prompt" value="(\w+)"', answer.text).group(1)
        action = unescape(re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1))
        form = {"prompt": prompt} | ({"login": login, "password": "any"} if prompt == "login" else {})
        posted = http.post(urljoin(url, action), data=form, allow_redirects=False, timeout=10)
        assert posted.status_code in (302, 303), posted.text[:500]
        url = urljoin(url, posted.headers["Location"])
    raise AssertionError("the company's sign-in did not end")


def test_a_person_signs_in_through_node_oidc_provider(served, company, demo):
    http, landed = sign_in_at_the_company(served, company, "ada")
    assert landed.status_code == 303, landed.text[:500]
    assert urlsplit(landed.headers["Location"]).path == "/welcome"
    welcome = http.get(urljoin(served, landed.headers["Location"]), timeout=10)
    assert 'value="ada of Corp"' in welcome.text  # the name came from its userinfo
    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    assert account.email_verified
    assert Links(accounts).find(company["issuer"], "ada").login == account.login

    # The same identity again: the same account.
    _, again = sign_in_at_the_company(served, company, "ada")
    assert again.status_code == 303 and len(accounts.list()) == 1


def test_an_unverified_email_never_enters_the_existing_account(served, company, demo):
    accounts = Accounts(demo.store, "localhost")
    mine = accounts.create(email="unverified-eve@corp.example")
    with demo.store.update(layout.UPSTREAMS, company["upstream"]["id"]) as doc:
        doc["authoritative"] = True  # even so: the upstream does not vouch for this address
    _, refused = sign_in_at_the_company(served, company, "unverified-eve")
    assert refused.status_code == 400 and "not trusted to sign in to it" in refused.text
    assert accounts.require(mine.login).links == [] and len(accounts.list()) == 1


def test_a_verified_email_of_an_authoritative_upstream_links_the_existing_account(served, company, demo):
    accounts = Accounts(demo.store, "localhost")
    mine = accounts.create(email="bob@corp.example")
    with demo.store.update(layout.UPSTREAMS, company["upstream"]["id"]) as doc:
        doc["authoritative"] = True
    _, landed = sign_in_at_the_company(served, company, "bob")
    assert landed.status_code == 303
    assert [link["subject"] for link in accounts.require(mine.login).links] == ["bob"]
