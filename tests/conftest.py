"""Shared fixtures: an app on a temporary data folder, a mailbox, a served app.

`create_app({"CODEB_DATA": tmp})` as in the Flask tutorial: no state outside
the folder. The `demo` tenant answers on `localhost`, `acme` on `acme.localhost`.
Fixtures only: the helpers tests import live in tests/support/.
"""

import os
import shutil
import socket
import threading

import pytest
from waitress.server import create_server

from codeb.accounts import Accounts
from codeb.oidc.clients import Clients
from codeb.provisioning import create_tenant
from codeb.tenants import Tenants
from codeb.web.app import create_app
from tests.support.clock import Clock
from tests.support.mailbox import Mailbox
from tests.support.web import HOST, OTHER_HOST, RP


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


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tenants, data_root, clock):
    # The test client's `Host: localhost` is a browser at http://localhost, port 80.
    return create_app({"CODEB_DATA": str(data_root), "TESTING": True, "CODEB_CLOCK": clock, "CODEB_PORT": 80})


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


@pytest.fixture
def served(app):
    """The app served by waitress on a free loopback port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    app.config["CODEB_PORT"] = port  # as `serve --port` configures it
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
