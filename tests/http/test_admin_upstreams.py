"""The admin's company sign-in page (/admin/upstreams): add from a preset with every field
checked, test the connection, switch off and on, delete; all audited, admins only."""

import io

import pytest

from codeb import audit
from codeb.upstreams import Upstreams
from codeb.upstreams import oidc as protocol
from tests.support.saml_idp import ForgingIdP, MetadataServer
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


# -- SAML ----------------------------------------------------------------------------------

@pytest.fixture
def forging(tmp_path):
    return ForgingIdP(tmp_path)


def add_saml(admin, files=None, **fields):
    page = admin.get("/admin/upstreams")
    return admin.post("/admin/upstreams/saml", data={"csrf": csrf_of(page.text), **fields, **(files or {})},
                      content_type="multipart/form-data")


def test_an_admin_adds_a_saml_idp_from_its_metadata_file(app, admin, demo, forging):
    added = add_saml(admin, name="Corp SAML", domains="corp.example", claim_email="mail",
                     files={"metadata_file": (io.BytesIO(forging.metadata().encode()), "idp.xml")})
    assert added.status_code == 303, added.text[:500]
    [upstream] = Upstreams(demo.store).list()
    assert upstream["kind"] == "saml" and upstream["idp_entity_id"] == forging.entity_id
    assert upstream["claims"]["email"] == "mail" and upstream["claims"]["name"] == "displayName"
    assert upstream["metadata_url"] is None
    assert "saml" in demo.store.read("tenant")["methods"]
    page = main_of(admin.get("/admin/upstreams").text)
    assert forging.entity_id in page and upstream["certs"][0]["sha256"] in page
    assert f"http://localhost/signin/saml/metadata/{upstream['id']}" in page  # our entity id, to copy
    assert f'href="/signin/saml/metadata/{upstream["id"]}"' in page and "http://localhost/signin/saml/acs" in page
    assert f"/admin/upstreams/{upstream['id']}/refresh" not in page  # nothing to refresh from
    tested = admin.post(f"/admin/upstreams/{upstream['id']}/test", data={"csrf": csrf_of(admin.get("/account").text)})
    assert tested.status_code == 200 and "1 signing certificate." in tested.text and forging.sso_url in tested.text
    [event] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.created"]
    assert event["issuer"] == forging.entity_id
    assert "Sign in with Corp SAML" in app.test_client().get("/signin").text


def test_a_saml_idp_from_a_url_is_refreshed_from_it(admin, demo, forging, tmp_path):
    served = MetadataServer(forging.metadata())
    try:
        added = add_saml(admin, name="Corp SAML", metadata_url=served.url)
        assert added.status_code == 303, added.text[:500]
        [upstream] = Upstreams(demo.store).list()
        assert upstream["metadata_url"] == served.url
        (tmp_path / "rolled").mkdir()
        rolled = ForgingIdP(tmp_path / "rolled")  # the IdP rolled over to a new signing certificate
        served.xml = forging.metadata().replace(forging.cert_body, rolled.cert_body)
        refreshed = admin.post(f"/admin/upstreams/{upstream['id']}/refresh",
                               data={"csrf": csrf_of(admin.get("/admin/upstreams").text)})
        assert refreshed.status_code == 200 and "Connected" in refreshed.text
        [now] = Upstreams(demo.store).list()
        assert now["certs"] != upstream["certs"] and rolled.cert_body in now["idp_metadata"]
        assert "upstream.refreshed" in [e["event"] for e in audit.read_all(demo.store)]
        served.xml = "<broken"
        broken = admin.post(f"/admin/upstreams/{upstream['id']}/refresh",
                            data={"csrf": csrf_of(admin.get("/admin/upstreams").text)})
        assert broken.status_code == 200 and "unreadable metadata" in broken.text
        assert Upstreams(demo.store).list()[0]["certs"] == now["certs"]  # the old metadata stays
    finally:
        served.stop()


@pytest.mark.parametrize("fields, text", [
    ({}, "its URL, its file or the XML itself"),
    ({"metadata": "<not-metadata/>"}, "cannot be used"),
    ({"metadata": '<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'}, "cannot be used"),
    ({"metadata_url": "http://idp.example/metadata"}, "not https"),
])
def test_saml_metadata_that_cannot_be_used_is_named_and_nothing_is_written(admin, demo, fields, text):
    answer = add_saml(admin, name="Corp SAML", **fields)
    assert answer.status_code == 400 and text in answer.text
    assert 'id="saml-metadata-url-error"' in answer.text
    assert Upstreams(demo.store).list() == []


def test_a_saml_idp_without_a_url_says_it_cannot_be_refreshed(admin, demo, forging):
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=forging.metadata())
    answer = admin.post(f"/admin/upstreams/{upstream['id']}/refresh",
                        data={"csrf": csrf_of(admin.get("/admin/upstreams").text)})
    assert answer.status_code == 400 and "cannot be refreshed" in answer.text


def test_the_button_shows_the_upstreams_logo_and_the_page_allows_exactly_its_origin(app, admin, demo, forging):
    refused = add_saml(admin, name="Corp SAML", metadata=forging.metadata(), logo_uri="http://cdn.example/corp.svg")
    assert refused.status_code == 400 and 'id="saml-logo-error"' in refused.text and "https address" in refused.text
    assert add_saml(admin, name="Corp SAML", metadata=forging.metadata(),
                    logo_uri="https://cdn.example/corp.svg").status_code == 303
    page = app.test_client().get("/signin")
    assert '<img class="upstream-logo" src="https://cdn.example/corp.svg" alt=""' in page.text
    img_src = next(d for d in page.headers["Content-Security-Policy"].split(";") if d.strip().startswith("img-src"))
    assert "https://cdn.example" in img_src.split()
