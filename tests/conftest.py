"""Shared fixtures: an app on a temporary data folder, a mailbox, a served app.

`create_app({"CODEB_DATA": tmp})` as in the Flask tutorial: no state outside
the folder. The `demo` tenant answers on `localhost`, `acme` on `acme.localhost`.
"""

import base64
import glob
import hashlib
import os
import re
import secrets
import shutil
import socket
import threading
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest

from codeb.web.app import create_app
from codeb.oidc.clients import Clients
from codeb.tenants import Tenants
from codeb.tenants.provisioning import create_tenant
from codeb.accounts import Accounts

HOST = "localhost"
OTHER_HOST = "acme.localhost"


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "App_Data"
    root.mkdir()
    monkeypatch.delenv("CODEB_MAIL_PICKUP", raising=False)
    monkeypatch.delenv("CODEB_TENANT", raising=False)
    return root


@pytest.fixture(scope="session")
def tenant_template(tmp_path_factory):
    """Two tenants created once (RSA key generation is slow); each test copies them."""
    root = tmp_path_factory.mktemp("template")
    registry = Tenants(str(root))
    create_tenant(registry, "demo", [HOST], display_name="Demo")
    create_tenant(registry, "acme", [OTHER_HOST], display_name="Acme")
    return root


@pytest.fixture
def tenants(data_root, tenant_template):
    shutil.copytree(tenant_template, data_root, dirs_exist_ok=True)
    return Tenants(str(data_root))


class Clock:
    """A clock the tests move forward; the app's stores read it instead of time.time."""

    def __init__(self):
        import time

        self.now = time.time()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tenants, data_root, clock):
    app = create_app({"CODEB_DATA": str(data_root), "TESTING": True, "CODEB_CLOCK": clock})
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(tenants):
    return tenants.get("demo")


@pytest.fixture
def accounts(demo):
    return Accounts(demo.store, demo.hosts[0])


@pytest.fixture
def mailbox(data_root):
    return Mailbox(os.path.join(str(data_root), "_mail", "pickup"))


@pytest.fixture
def rp(demo):
    """A confidential relying party registered with the demo tenant."""
    client, secret = Clients(demo.store).add(
        name="Test RP", redirect_uris=["http://127.0.0.1:9999/cb"],
        post_logout_redirect_uris=["http://127.0.0.1:9999/bye"])
    return RP(client.client_id, secret, "http://127.0.0.1:9999/cb")


@pytest.fixture
def public_rp(demo):
    client, _ = Clients(demo.store).add(
        name="Public RP", redirect_uris=["http://127.0.0.1:9999/spa"], public=True)
    return RP(client.client_id, None, "http://127.0.0.1:9999/spa")


class RP:
    def __init__(self, client_id, secret, redirect_uri):
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri


class Mailbox:
    """The SMTP pickup folder, read as the IIS SMTP service would."""

    def __init__(self, folder):
        self.folder = folder

    def files(self):
        return sorted(glob.glob(os.path.join(self.folder, "*.eml")), key=os.path.getmtime)

    def messages(self):
        result = []
        for path in self.files():
            with open(path, "rb") as f:
                raw = f.read()
            head, _, body = raw.partition(b"\r\n\r\n")
            envelope, message = raw.split(b"\r\n", 2)[:2], raw.split(b"\r\n", 2)[2]
            result.append(Mail(raw, envelope, message_from_bytes(message, policy=policy.SMTP)))
        return result

    def last(self):
        messages = self.messages()
        assert messages, "no mail in the pickup folder"
        return messages[-1]

    def last_link(self, to=None):
        for mail in reversed(self.messages()):
            if to is None or mail.message["To"] == to:
                return mail.link
        raise AssertionError(f"no mail to {to}")


class Mail:
    def __init__(self, raw, envelope, message):
        self.raw, self.envelope, self.message = raw, envelope, message

    @property
    def text(self):
        return self.message.get_body(("plain",)).get_content()

    @property
    def link(self):
        match = re.search(r"https?://\S+/link/\S+", self.text)
        return match.group(0) if match else None


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in(client, mailbox, email, host=HOST, interaction=None, confirm_profile=True):
    """Walk the magic-link path with a test client; return the final response."""
    page = client.get("/signin" + (f"?i={interaction}" if interaction else ""), headers={"Host": host})
    data = {"csrf": csrf_of(page.text), "email": email}
    if interaction:
        data["i"] = interaction
    sent = client.post("/signin/magic-link/begin", data=data, headers={"Host": host})
    assert sent.status_code == 200, sent.text
    path = urlsplit(mailbox.last_link(to=email)).path
    link_page = client.get(path, headers={"Host": host})
    assert link_page.status_code == 200, link_page.text
    done = client.post("/signin/magic-link/complete", data={"csrf": csrf_of(link_page.text), "link": path[len("/link/"):]},
                       headers={"Host": host})
    if confirm_profile and done.headers.get("Location", "").endswith("/welcome"):
        return confirm_first_profile(client, host)
    return done


def confirm_first_profile(client, host=HOST, **fields):
    """The first sign-in's profile screen: confirm it as shown (or with `fields`)."""
    page = client.get("/welcome", headers={"Host": host})
    display_name = re.search(r'id="display_name" name="display_name"[^>]*value="([^"]*)"', page.text, re.S)
    language = re.search(r'<option value="([a-z]+)" selected>', page.text)
    data = {"csrf": csrf_of(page.text), "display_name": display_name.group(1) if display_name else "Person",
            "nickname": "", "language": language.group(1) if language else "en", **fields}
    return client.post("/welcome", data=data, headers={"Host": host})


@pytest.fixture
def served(app):
    """The app served by waitress on a free loopback port, in a thread."""
    from waitress.server import create_server

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    stopping = threading.Event()

    def run():
        try:
            server.run()
        except OSError:  # the listening socket closed under select() at teardown
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://{HOST}:{port}"
    stopping.set()
    server.close()
    thread.join(timeout=5)
