"""What a process keeps of the data folder (tenants, hosts, clients, accounts, the discovery
document, keys) is checked against the files on every request: two app instances on one
data folder stand for two IIS worker processes, and a change in one is seen by the other on
its very next request (DESIGN invariant 1). And the protocol endpoints do no page work."""

import pytest

from codeb import i18n
from codeb.accounts import Accounts
from codeb.accounts.sessions import Sessions
from codeb.oidc import keys
from codeb.oidc.clients import Clients
from codeb.provisioning import create_tenant
from codeb.store import DataRoot
from codeb.tenants import Tenants
from codeb.tenants import settings as tenant_settings
from codeb.web.app import create_app
from tests.support.oidc import tokens_for
from tests.support.web import HOST

DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def other(data_root, clock):
    """A second worker process on the same data folder."""
    return create_app({"CODEB_DATA": str(data_root), "TESTING": True, "CODEB_CLOCK": clock, "CODEB_PORT": 80})


def elsewhere(data_root) -> Tenants:
    """The data folder as a third process (an admin's CLI, another site) sees it."""
    return Tenants(str(data_root))


def refresh(client, rp, token, secret=None):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       auth=(rp.client_id, secret or rp.secret), headers={"Host": HOST})


def test_a_new_client_secret_made_elsewhere_is_the_only_one_at_the_next_request(
        client, other, mailbox, rp, data_root):
    token = tokens_for(client, mailbox, rp)["refresh_token"]
    renewed = Clients(elsewhere(data_root).get("demo").store).new_secret(rp.client_id)
    assert refresh(other.test_client(), rp, token).status_code == 401  # the old secret, just cached
    answer = refresh(other.test_client(), rp, token, secret=renewed)
    assert answer.status_code == 200, answer.text


def test_a_deleted_client_is_unknown_at_the_next_request(client, mailbox, rp, data_root):
    token = tokens_for(client, mailbox, rp)["refresh_token"]
    assert Clients(elsewhere(data_root).get("demo").store).delete(rp.client_id)
    assert refresh(client, rp, token).status_code == 401


def test_a_host_added_and_removed_elsewhere_is_served_and_dropped_at_once(client, data_root):
    assert client.get(DISCOVERY, headers={"Host": "sso.localhost"}).status_code == 404
    demo = elsewhere(data_root).get("demo")
    tenant_settings.save(demo, {"hosts": [*demo.hosts, "sso.localhost"]})
    served = client.get(DISCOVERY, headers={"Host": "sso.localhost"})
    assert served.status_code == 200 and served.json["issuer"] == "http://sso.localhost"
    tenant_settings.save(demo, {"hosts": demo.hosts})
    assert client.get(DISCOVERY, headers={"Host": "sso.localhost"}).status_code == 404
    assert client.get(DISCOVERY, headers={"Host": HOST}).status_code == 200


def test_a_tenant_created_while_serving_answers_its_first_request(client, data_root):
    assert client.get(DISCOVERY, headers={"Host": HOST}).status_code == 200  # the host map is made
    create_tenant(elsewhere(data_root), "late", ["late.localhost"])
    assert client.get(DISCOVERY, headers={"Host": "late.localhost"}).json["issuer"] == "http://late.localhost"


def test_a_known_host_lists_no_tenants(client, monkeypatch):
    """The host map answers; the tenant it names is checked by its settings file alone."""
    assert client.get(DISCOVERY, headers={"Host": HOST}).status_code == 200
    listings = []
    real = DataRoot.tenants
    monkeypatch.setattr(DataRoot, "tenants", lambda self: listings.append(1) or real(self))
    for _ in range(3):
        assert client.get(DISCOVERY, headers={"Host": HOST}).status_code == 200
    assert listings == []
    assert client.get(DISCOVERY, headers={"Host": "nobody.localhost"}).status_code == 404
    assert listings == [1]  # an unknown host looks again: it may be a tenant made meanwhile


def test_the_discovery_document_follows_the_settings_and_revalidates_by_its_etag(client, data_root):
    first = client.get(DISCOVERY, headers={"Host": HOST})
    assert first.headers["Cache-Control"] == "public, max-age=300"
    etag = first.headers["ETag"]
    assert first.json["ui_locales_supported"] == ["en", "de"]
    unchanged = client.get(DISCOVERY, headers={"Host": HOST, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b"" and unchanged.headers["ETag"] == etag
    tenant_settings.save(elsewhere(data_root).get("demo"), {"languages": ["de"]})
    changed = client.get(DISCOVERY, headers={"Host": HOST, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["ui_locales_supported"] == ["de"]
    assert changed.headers["ETag"] != etag


def test_each_issuer_has_its_own_discovery_document(app, client):
    plain = client.get(DISCOVERY, headers={"Host": HOST}).json
    app.config["CODEB_PORT"] = 8000
    ported = client.get(DISCOVERY, headers={"Host": HOST}).json
    assert plain["issuer"] == "http://localhost" and ported["issuer"] == "http://localhost:8000"


def test_a_key_rotation_elsewhere_is_published_at_the_next_request(client, other, data_root):
    before = client.get("/jwks.json", headers={"Host": HOST})
    assert other.test_client().get("/jwks.json", headers={"Host": HOST}).json == before.json
    new_kid = keys.rotate(elsewhere(data_root).get("demo").store)
    after = other.test_client().get("/jwks.json", headers={"Host": HOST})
    assert new_kid in {k["kid"] for k in after.json["keys"]}
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get("/jwks.json", headers={"Host": HOST, "If-None-Match": after.headers["ETag"]}).status_code == 304


def test_an_account_disabled_elsewhere_loses_userinfo_at_the_next_request(client, other, mailbox, rp, data_root):
    access = tokens_for(client, mailbox, rp)["access_token"]
    bearer = {"Host": HOST, "Authorization": "Bearer " + access}
    assert other.test_client().get("/userinfo", headers=bearer).status_code == 200  # its account, cached
    demo = elsewhere(data_root).get("demo")
    Accounts(demo.store, HOST).set_disabled("alice", True)
    assert other.test_client().get("/userinfo", headers=bearer).status_code == 401


def test_a_profile_changed_elsewhere_is_what_userinfo_says_next(client, mailbox, rp, data_root):
    access = tokens_for(client, mailbox, rp)["access_token"]
    bearer = {"Host": HOST, "Authorization": "Bearer " + access}
    assert client.get("/userinfo", headers=bearer).json["name"] != "Alice Example"
    Accounts(elsewhere(data_root).get("demo").store, HOST).set_display_name("alice", "Alice Example")
    assert client.get("/userinfo", headers=bearer).json["name"] == "Alice Example"


def test_a_session_secret_replaced_elsewhere_signs_from_the_next_request(client, data_root):
    from codeb.tenants.secrets import session_secret

    store = elsewhere(data_root).get("demo").store
    before = session_secret(store)
    store.write("keys", "session", doc={"secret": "c2VjcmV0IHJlcGxhY2Vk"})
    assert session_secret(store) == b"secret replaced" != before


# -- the protocol endpoints skip the page work -----------------------------------------

@pytest.fixture
def page_work(monkeypatch):
    """Counts each loaded browser session and each language negotiation."""
    seen = {"sessions": 0, "languages": 0}
    load, negotiate = Sessions.load, i18n.negotiate

    def counted_load(self, *args, **kwargs):
        seen["sessions"] += 1
        return load(self, *args, **kwargs)

    def counted_negotiate(*args, **kwargs):
        seen["languages"] += 1
        return negotiate(*args, **kwargs)

    monkeypatch.setattr(Sessions, "load", counted_load)
    monkeypatch.setattr(i18n, "negotiate", counted_negotiate)
    return seen


def test_token_userinfo_discovery_and_jwks_read_no_session_and_choose_no_language(
        client, mailbox, rp, page_work):
    tokens = tokens_for(client, mailbox, rp)  # the browser holds a signed-in session cookie
    page_work.update(sessions=0, languages=0)
    headers = {"Host": HOST, "Accept-Language": "de"}
    assert client.get(DISCOVERY, headers=headers).status_code == 200
    assert client.get("/jwks.json", headers=headers).status_code == 200
    assert client.get("/userinfo", headers={**headers, "Authorization": "Bearer " + tokens["access_token"]}
                      ).status_code == 200
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200
    assert page_work == {"sessions": 0, "languages": 0}


def test_a_page_still_reads_its_session_and_speaks_the_language(client, page_work):
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"})
    assert page.status_code == 200 and page.headers["Content-Language"] == "de"
    assert page_work == {"sessions": 1, "languages": 1}


def test_a_session_that_cannot_be_read_is_a_clear_error_page(client, mailbox, demo):
    """Made at first use, the session still fails as it did when made up front: a page in
    the person's language, never a second failure while the error page renders."""
    from tests.support.web import sign_in

    sign_in(client, mailbox, "alice@example.com")
    (record,) = demo.store.list("transient", "sessions")
    with open(demo.store.doc_path("transient", "sessions", record), "wb") as f:
        f.write(b"{torn")
    page = client.get("/account", headers={"Host": HOST, "Accept-Language": "de"})
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert page.headers["Content-Language"] == "de"
