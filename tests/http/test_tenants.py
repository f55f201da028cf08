"""Which tenant answers a request: by Host (port ignored), or the site's fixed tenant."""

import pytest

from codeb.errors import BadInput, Conflict, InvalidName
from codeb.provisioning import create_tenant
from codeb.web.app import create_app
from tests.support.web import HOST, OTHER_HOST, csrf_of


def test_each_host_is_its_own_provider(app, client):
    app.config["CODEB_PORT"] = 8000  # `serve --port 8000`: the port is configured, not the Host's
    demo = client.get("/.well-known/openid-configuration", headers={"Host": "localhost:8000"}).json
    acme = client.get("/.well-known/openid-configuration", headers={"Host": f"{OTHER_HOST}:8000"}).json
    assert demo["issuer"] == "http://localhost:8000"
    assert acme["issuer"] == "http://acme.localhost:8000"
    demo_keys = client.get("/jwks.json", headers={"Host": HOST}).json["keys"]
    acme_keys = client.get("/jwks.json", headers={"Host": OTHER_HOST}).json["keys"]
    assert {k["kid"] for k in demo_keys}.isdisjoint({k["kid"] for k in acme_keys})


def test_production_hosts_get_an_https_issuer(tenants, data_root):
    create_tenant(tenants, "corp", ["login.corp.example"])
    client = create_app({"CODEB_DATA": str(data_root)}).test_client()
    doc = client.get("/.well-known/openid-configuration", headers={"Host": "login.corp.example"},
                     base_url="https://login.corp.example").json
    assert doc["issuer"] == "https://login.corp.example"
    assert doc["authorization_endpoint"] == "https://login.corp.example/authorize"


@pytest.mark.parametrize("host", ["unknown.example", "evil.localhost", "localhost.evil.example", "",
                                  "..", "localhost/../acme", "a" * 300])
def test_unknown_host_is_a_404_page_naming_no_tenant(client, host):
    response = client.get("/signin", headers={"Host": host})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "demo" not in response.text.lower() and "acme" not in response.text.lower()


def test_fixed_tenant_serves_only_its_own_hosts(tenants, data_root):
    app = create_app({"CODEB_DATA": str(data_root), "CODEB_TENANT": "acme"})
    client = app.test_client()
    assert client.get("/signin", headers={"Host": OTHER_HOST}).status_code == 200
    assert client.get("/signin", headers={"Host": HOST}).status_code == 404


def test_fixed_tenant_from_the_environment(tenants, data_root, monkeypatch):
    monkeypatch.setenv("CODEB_DATA", str(data_root))
    monkeypatch.setenv("CODEB_TENANT", "demo")
    client = create_app().test_client()
    assert client.get("/signin", headers={"Host": HOST}).status_code == 200
    assert client.get("/signin", headers={"Host": OTHER_HOST}).status_code == 404


def test_invalid_fixed_tenant_name_is_refused(data_root):
    with pytest.raises(InvalidName):
        create_app({"CODEB_DATA": str(data_root), "CODEB_TENANT": "../x"})


def test_tenant_creation_validates(tenants):
    with pytest.raises(Conflict):
        create_tenant(tenants, "other", [HOST])  # host already served by demo
    with pytest.raises(Conflict):
        create_tenant(tenants, "demo", ["new.example"])
    with pytest.raises(InvalidName):
        create_tenant(tenants, "Bad_Name", ["x.example"])
    with pytest.raises(BadInput):
        create_tenant(tenants, "fine", ["not a host"])
    with pytest.raises(BadInput):
        create_tenant(tenants, "fine", ["ok.example"], signup="everyone")
    assert sorted(tenants.names()) == ["acme", "demo"]


def test_settings_changes_are_seen_by_a_running_app(client, demo):
    assert client.get("/signin", headers={"Host": HOST}).status_code == 200
    with demo.store.update("tenant") as doc:
        doc["hosts"] = ["renamed.localhost"]
    assert client.get("/signin", headers={"Host": HOST}).status_code == 404
    assert client.get("/signin", headers={"Host": "renamed.localhost"}).status_code == 200


def test_the_host_headers_port_does_not_steer_the_issuer_or_the_mailed_link(app, client, mailbox):
    """Finding 11: on a loopback tenant the issuer and the magic link followed the raw Host
    port (`Host: localhost:9999` mailed a link to port 9999); they follow the configured one."""
    app.config["CODEB_PORT"] = 8000  # `serve --port 8000`
    steered = {"Host": "localhost:9999"}
    doc = client.get("/.well-known/openid-configuration", headers=steered).json
    assert doc["issuer"] == "http://localhost:8000"
    assert doc["authorization_endpoint"] == "http://localhost:8000/authorize"
    page = client.get("/signin", headers=steered)
    sent = client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "alice@example.com"},
                       headers=steered)
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"
    assert mailbox.last_link(to="alice@example.com").startswith("http://localhost:8000/link/")


def test_the_local_port_comes_from_the_configuration(tenants, data_root, monkeypatch):
    """Finding 11: `serve --port` (or CODEB_PORT) names the port; without either it is the
    local server's default, 8000, whatever a request's Host says."""
    monkeypatch.delenv("CODEB_PORT", raising=False)
    default = create_app({"CODEB_DATA": str(data_root)}).test_client()
    assert default.get("/.well-known/openid-configuration",
                       headers={"Host": "localhost:1234"}).json["issuer"] == "http://localhost:8000"
    monkeypatch.setenv("CODEB_PORT", "8443")
    configured = create_app({"CODEB_DATA": str(data_root)}).test_client()
    assert configured.get("/.well-known/openid-configuration",
                          headers={"Host": "acme.localhost"}).json["issuer"] == "http://acme.localhost:8443"
