"""The admin's company sign-in page (/admin/upstreams): add from a preset with every field
checked, test the connection, switch off and on, delete; all audited, admins only."""

import pytest

from codeb import audit
from codeb.upstreams import Upstreams
from codeb.upstreams import oidc as protocol
from tests.support.upstream_idp import UpstreamIdP
from tests.support.web import csrf_of, main_of, sign_in, signed_in_admin


@pytest.fixture
def admin(app, mailbox, accounts):
    return signed_in_admin(app, mailbox, accounts)


@pytest.fixture
def idp():
    protocol._discovered.clear()
    protocol._key_sets.clear()
    server = UpstreamIdP()
    yield server
    server.stop()
    protocol._discovered.clear()
    protocol._key_sets.clear()


def add(admin, **fields):
    page = admin.get("/admin/upstreams")
    return admin.post("/admin/upstreams", data={"csrf": csrf_of(page.text), **fields})


def test_the_page_shows_what_to_give_the_providers_admin(admin):
    page = admin.get("/admin/upstreams")
    assert page.status_code == 200
    main = main_of(page.text)
    assert "http://localhost/signin/oidc/callback" in main and "No company identity provider" in main
    assert 'href="/admin/upstreams"' in page.text  # in the admin navigation


def test_an_admin_adds_an_upstream_and_company_sign_in_switches_on(admin, demo, idp):
    added = add(admin, preset="keycloak", name="Corp", issuer=idp.issuer, client_id="codeb", client_secret="s3cret",
                domains="corp.example, Sub.Corp.example", authoritative="1")
    assert added.status_code == 303 and added.headers["Location"].endswith("m=upstream_created")
    [upstream] = Upstreams(demo.store).list()
    assert upstream["domains"] == ["corp.example", "sub.corp.example"] and upstream["authoritative"] is True
    assert upstream["client_secret"] == "s3cret" and upstream["preset"] == "keycloak"
    assert "oidc" in demo.store.read("tenant")["methods"]
    page = admin.get("/admin/upstreams")
    assert "s3cret" not in page.text and "Corp" in main_of(page.text)
    [event] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.created"]
    assert event["actor"] == "boss" and event["name"] == "Corp"

    tested = admin.post(f"/admin/upstreams/{upstream['id']}/test", data={"csrf": csrf_of(page.text)})
    assert tested.status_code == 200
    assert "Connected" in tested.text and "1 signing key." in tested.text and f"{idp.issuer}/token" in tested.text

    off = admin.post(f"/admin/upstreams/{upstream['id']}/disable", data={"csrf": csrf_of(page.text)})
    assert off.status_code == 303 and Upstreams(demo.store).enabled() == []
    signin = admin.get("/signin")
    assert "Sign in with Corp" not in signin.text
    on = admin.post(f"/admin/upstreams/{upstream['id']}/enable", data={"csrf": csrf_of(page.text)})
    assert on.status_code == 303 and len(Upstreams(demo.store).enabled()) == 1
    gone = admin.post(f"/admin/upstreams/{upstream['id']}/delete", data={"csrf": csrf_of(page.text)})
    assert gone.status_code == 303 and Upstreams(demo.store).list() == []
    assert admin.post(f"/admin/upstreams/{upstream['id']}/delete", data={"csrf": csrf_of(page.text)}).status_code == 404
    events = [e["event"] for e in audit.read_all(demo.store) if e["event"].startswith("upstream.")]
    assert events == ["upstream.created", "upstream.disabled", "upstream.enabled", "upstream.deleted"]


@pytest.mark.parametrize("fields, field, text", [
    ({"issuer": "http://idp.example"}, "upstream-issuer", "must start with https://"),
    ({"client_id": ""}, "upstream-client-id", "client ID"),
    ({"domains": "not_a_domain"}, "upstream-domains", "is not an email domain"),
    ({"authoritative": "1", "domains": ""}, "upstream-domains", "Name the email domains"),
    ({"issuer": "https://login.microsoftonline.com/organizations/v2.0"}, "upstream-tenant-ids", "directory IDs"),
    ({"tenant_ids": "nope"}, "upstream-tenant-ids", "looks like"),
])
def test_a_wrong_field_is_named_beside_it_and_nothing_is_written(admin, demo, fields, field, text):
    form = {"preset": "oidc", "name": "Corp", "issuer": "https://idp.example", "client_id": "codeb",
            "client_secret": "never-shown-again", **fields}
    answer = add(admin, **form)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in answer.text and text in answer.text
    assert "never-shown-again" not in answer.text  # a typed secret is not echoed back
    assert Upstreams(demo.store).list() == []


def test_a_failed_connection_test_says_why(admin, demo):
    upstream = Upstreams(demo.store).add(name="Gone", issuer="http://127.0.0.1:9", client_id="x")
    page = admin.get("/admin/upstreams")
    tested = admin.post(f"/admin/upstreams/{upstream['id']}/test", data={"csrf": csrf_of(page.text)})
    assert tested.status_code == 200 and "could not be reached" in tested.text and "discovery:" in tested.text


def test_only_admins_reach_it(app, mailbox, accounts, demo):
    accounts.create(email="pat@example.com", login="pat")
    person = app.test_client()
    sign_in(person, mailbox, "pat@example.com")
    assert person.get("/admin/upstreams").status_code == 403
    page = person.get("/account")
    assert person.post("/admin/upstreams", data={"csrf": csrf_of(page.text), "name": "x"}).status_code == 403
    assert app.test_client().get("/admin/upstreams").status_code == 303  # signed out: to the sign-in page
