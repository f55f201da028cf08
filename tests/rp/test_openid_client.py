"""A relying party built on openid-client (npm, v6) against the served provider.

`tests/node/rp.mjs` does the protocol with the library's own checks (discovery,
PKCE, state, RFC 9207 `iss`, ID token validation, userinfo `sub`, refresh) and
talks JSON lines with this test, which plays the person's browser between the
authorization URL and the callback, and follows the logout URL it builds.
"""

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.support.factories import closing_all
from tests.support.web import query_of

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(os.path.dirname(HERE), "node")  # tests/node: the locked npm packages
SCRIPT = os.path.join(NODE_DIR, "rp.mjs")
TIMEOUT = 30


def node_or_fail() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: the openid-client relying party needs Node 20+. "
                    "Install it, then run `make test`.")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openid-client")):
        pytest.fail("tests/node/node_modules is missing: run `make test` "
                    "(it installs openid-client with `npm ci` in tests/node).")
    return node


class NodeRP:
    """`node rp.mjs` as a child process speaking JSON lines."""

    def __init__(self, settings: dict, script: str = SCRIPT):
        self.proc = subprocess.Popen(
            [node_or_fail(), script, json.dumps(settings)], cwd=NODE_DIR,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8")
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _pump_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the process is exiting

    def read(self, step: str) -> dict:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"openid-client RP said nothing for {TIMEOUT}s waiting for '{step}'")
        if line is None:
            self.proc.wait(timeout=TIMEOUT)
            pytest.fail(f"openid-client RP exited ({self.proc.returncode}) before '{step}': "
                        + "".join(self.stderr)[-2000:])
        message = json.loads(line)
        if message.get("step") == "error":
            pytest.fail(f"openid-client refused the provider's answer at {message.get('where')}: "
                        + json.dumps(message, indent=1))
        assert message.get("step") == step, message
        return message

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@contextlib.contextmanager
def node_rps(script: str = SCRIPT):
    """Starts `node <script>` with settings, as often as a test asks; each one still running at
    the end is killed."""
    def stop(rp):
        if rp.proc.poll() is None:
            rp.proc.kill()
            rp.proc.wait()

    with closing_all(lambda **settings: NodeRP(settings, script=script), stop) as start:
        yield start


@pytest.fixture
def node_rp():
    with node_rps() as start:
        yield start


def silent_authorize(user_agent, issuer, client_id, redirect_uri) -> dict:
    """`prompt=none` from the browser session alone; PKCE so that public clients pass too."""
    r = user_agent.get(issuer + "/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid", "state": "silent", "prompt": "none",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"}))
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"].split("?")[0] == redirect_uri
    return query_of(r.headers["Location"])


def run(node_rp, user_agent, *, issuer, client_id, secret, redirect_uri, post_logout, email):
    rp = node_rp(issuer=issuer, client_id=client_id, client_secret=secret,
                 redirect_uri=redirect_uri, post_logout_redirect_uri=post_logout,
                 scope="openid profile email")

    start = rp.read("authorize")
    assert start["issuer"] == issuer
    assert start["iss_parameter_supported"] is True
    sent = query_of(start["url"])
    assert start["url"].startswith(issuer + "/authorize?")
    assert sent["code_challenge_method"] == "S256" and sent["state"] == start["state"]
    assert sent["nonce"] == start["nonce"] and sent["client_id"] == client_id

    callback = user_agent.sign_in(start["url"], email)
    assert callback.split("?")[0] == redirect_uri, callback
    rp.send({"callback": callback})

    tokens = rp.read("tokens")
    claims = tokens["claims"]
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["has_refresh_token"] is True
    assert claims["iss"] == issuer and claims["aud"] in (client_id, [client_id])
    assert claims["nonce"] == start["nonce"]
    assert claims["tenant"] == "demo"
    assert isinstance(claims["roles"], list)
    assert claims["amr"] and isinstance(claims["auth_time"], int)

    userinfo = rp.read("userinfo")["userinfo"]
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == email and userinfo["tenant"] == "demo"

    refresh = rp.read("refresh")
    assert refresh["rotated"] is True, "the refresh grant must hand out a new refresh token"
    assert refresh["access_token_changed"] is True
    assert refresh["userinfo_sub"] == claims["sub"]

    replay = rp.read("replay")
    assert replay["refused"] is True, "a rotated-out refresh token was accepted again"
    assert replay["error"] == "invalid_grant", replay
    # Reusing it ended the grant (RFC 9700 §4.14.2): the fresh access token is dead too.
    dead = requests.get(issuer + "/userinfo", timeout=10,
                        headers={"Authorization": "Bearer " + refresh["access_token"]})
    assert dead.status_code == 401, dead.text

    logout = rp.read("logout")
    assert rp.close() == 0, "".join(rp.stderr)[-2000:]
    sent = query_of(logout["url"])
    assert logout["url"].startswith(issuer + "/logout?")
    assert sent["id_token_hint"] == tokens["id_token"] and sent["client_id"] == client_id
    assert sent["state"] == logout["state"]

    # The session is live before the logout ...
    assert "code" in silent_authorize(user_agent, issuer, client_id, redirect_uri)
    return logout


def test_confidential_client(served, user_agent, rp, node_rp):
    logout = run(node_rp, user_agent, issuer=served, client_id=rp.client_id, secret=rp.secret,
                 redirect_uri=rp.redirect_uri, post_logout="http://127.0.0.1:9999/bye",
                 email="carol@example.com")
    r = user_agent.get(logout["url"])
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"] == "http://127.0.0.1:9999/bye?" + urlencode({"state": logout["state"]})
    answer = silent_authorize(user_agent, served, rp.client_id, rp.redirect_uri)
    assert answer.get("error") == "login_required", answer


def test_public_client(served, user_agent, public_rp, node_rp):
    # The public client registered no post-logout URI, so the RP asks for none:
    # the OP ends the session and shows its own signed-out page.
    logout = run(node_rp, user_agent, issuer=served, client_id=public_rp.client_id, secret=None,
                 redirect_uri=public_rp.redirect_uri, post_logout=None, email="dave@example.com")
    assert "post_logout_redirect_uri" not in query_of(logout["url"])
    r = user_agent.get(logout["url"])
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert urlsplit(public_rp.redirect_uri).netloc not in r.text
    answer = silent_authorize(user_agent, served, public_rp.client_id, public_rp.redirect_uri)
    assert answer.get("error") == "login_required", answer
