"""The office shell's Apps grid (`/api/apps`): the tenant's registered clients that have a
home URL, for a signed-in person only, and the client form's `home_url` field (https only)."""

import pytest

from codeb.oidc.clients import FIRST_PARTY, Clients
from tests.support.oidc import tokens_for
from tests.support.web import HOST, OTHER_HOST, RP, csrf_of, field_error, signed_in_admin

SHELL = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")


def bearer(token, host=HOST):
    return {"Host": host, "Authorization": f"Bearer {token}"}


@pytest.fixture
def registered(demo, tenants):
    """Two apps with a home page and one without in `demo`; one app with a home page in `acme`."""
    clients = Clients(demo.store)
    clients.add(name="wiki", redirect_uris=["https://wiki.example/cb"], home_url="https://wiki.example/")
    clients.add(name="Payroll", redirect_uris=["https://pay.example/cb"], home_url="https://pay.example/start")
    clients.add(name="Backend job", redirect_uris=["https://job.example/cb"])
    Clients(tenants.get("acme").store).add(name="Acme CRM", redirect_uris=["https://crm.acme.example/cb"],
                                           home_url="https://crm.acme.example/")


def test_apps_lists_this_tenants_clients_with_a_home_url_by_name(client, mailbox, registered):
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    answer = client.get("/api/apps", headers=bearer(access))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"].startswith("no-store")
    assert answer.json["apps"] == [{"name": "Payroll", "url": "https://pay.example/start"},
                                   {"name": "wiki", "url": "https://wiki.example/"}]
    assert "Acme CRM" not in answer.text and "Backend job" not in answer.text and FIRST_PARTY not in answer.text


def test_apps_are_for_a_signed_in_person_with_the_shells_token_only(client, app, mailbox, registered, rp):
    assert app.test_client().get("/api/apps", headers={"Host": HOST}).status_code == 401
    assert client.get("/api/apps", headers=bearer("not.a.token")).status_code == 401
    # A relying party's token is not the shell's (RFC 9068 §4: its audience is that app).
    relying = tokens_for(client, mailbox, rp, scope="openid")["access_token"]
    refused = client.get("/api/apps", headers=bearer(relying))
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert "wiki" not in refused.text


def test_this_tenants_token_does_not_open_another_tenants_apps(client, mailbox, registered):
    """demo's shell token, sent to acme's host, is refused there: issuer and tenant do not match."""
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    refused = client.get("/api/apps", headers=bearer(access, OTHER_HOST))
    assert refused.status_code == 401 and "Acme CRM" not in refused.text


@pytest.fixture
def admin(app, mailbox, accounts):
    return signed_in_admin(app, mailbox, accounts)


def post_client(admin, path, **fields):
    page = admin.get(path, headers={"Host": HOST})
    data = {"csrf": csrf_of(page.text), "name": "Portal", "redirect_uris": "https://portal.example/cb", **fields}
    return admin.post(path, data=data, headers={"Host": HOST})


def test_the_client_form_saves_changes_and_clears_the_home_url(admin, demo):
    created = post_client(admin, "/admin/clients", home_url="https://portal.example/")
    assert created.status_code == 303, created.text
    [portal] = Clients(demo.store).list()
    assert portal.home_url == "https://portal.example/"
    page = admin.get(f"/admin/clients/{portal.client_id}", headers={"Host": HOST})
    assert 'id="home-url"' in page.text and 'value="https://portal.example/"' in page.text
    moved = post_client(admin, f"/admin/clients/{portal.client_id}", home_url="https://portal.example/home")
    assert moved.status_code == 303 and Clients(demo.store).get(portal.client_id).home_url.endswith("/home")
    cleared = post_client(admin, f"/admin/clients/{portal.client_id}", home_url="")
    assert cleared.status_code == 303 and Clients(demo.store).get(portal.client_id).home_url is None
    assert Clients(demo.store).apps() == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://portal.example/", "data:text/html,hi",
                                 "portal.example", "https://", "https://user:pw@portal.example/",
                                 "https://[zz]/", "https://portal.example:99999/", "https://a b.example/",
                                 "//portal.example/"])
@pytest.mark.parametrize("lang, words", [("en", "not a valid home page"), ("de", "keine gültige Startseite")])
def test_a_home_url_that_is_not_https_is_the_fields_clear_error_and_changes_nothing(admin, demo, accounts, url,
                                                                                   lang, words):
    accounts.set_language("boss", lang, ["en", "de"])  # the admin's own language
    headers = {"Host": HOST}
    page = admin.get("/admin/clients", headers=headers)
    refused = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Portal",
                                                 "redirect_uris": "https://portal.example/cb", "home_url": url},
                         headers=headers)
    assert refused.status_code == 400, refused.text
    assert words in field_error(refused.text, "home-url")
    assert Clients(demo.store).list() == []  # nothing half-written: no client without its home page


def test_a_refused_home_url_on_the_edit_form_keeps_the_saved_one(admin, demo):
    portal, _ = Clients(demo.store).add(name="Portal", redirect_uris=["https://portal.example/cb"],
                                        home_url="https://portal.example/")
    refused = post_client(admin, f"/admin/clients/{portal.client_id}", name="Renamed",
                          home_url="javascript:alert(document.cookie)")
    assert refused.status_code == 400 and field_error(refused.text, "home-url")
    kept = Clients(demo.store).get(portal.client_id)
    assert (kept.name, kept.home_url) == ("Portal", "https://portal.example/")


def test_the_client_form_needs_its_csrf_token(admin, demo):
    forged = admin.post("/admin/clients", data={"name": "Portal", "redirect_uris": "https://portal.example/cb",
                                                "home_url": "https://portal.example/"}, headers={"Host": HOST})
    assert forged.status_code == 400 and Clients(demo.store).list() == []
