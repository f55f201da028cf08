"""The admin's company sign-in page (/admin/upstreams): add from a preset with every field
checked, test the connection, switch off and on, delete; all audited, admins only."""

import io

import pytest
from joserfc.jwk import KeySet

from codeb import audit
from codeb.errors import BadInput
from codeb.store import layout
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


# -- editing -----------------------------------------------------------------------------

def edit(admin, uid, **fields):
    page = admin.get("/admin/upstreams")
    return admin.post(f"/admin/upstreams/{uid}", data={"csrf": csrf_of(page.text), **fields})


EVERY_FIELD = {"name": "Corp SSO", "logo_uri": "https://cdn.example/corp.svg", "domains": "corp.example corp.test",
               "authoritative": "1", "others_allowed": "1", "required_for": "admin",
               "roles": "CN=Admins,OU=Groups = admin\n\nstaff = user", "claim_email": "upn", "claim_name": "",
               "claim_groups": "memberOf", "issuer": "https://login.corp.example", "client_id": "codeb-2",
               "token_auth": "client_secret_post", "scopes": "openid email groups",
               "tenant_ids": "", "hosted_domain": "corp.example"}


def test_an_admin_edits_every_field_of_an_upstream_and_the_secret_stays(admin, demo):
    upstream = Upstreams(demo.store).add(name="Corp", issuer="https://idp.example", client_id="codeb",
                                         client_secret="s3cret", domains=["corp.example"])
    page = main_of(admin.get("/admin/upstreams").text)
    assert f'action="/admin/upstreams/{upstream["id"]}"' in page  # its edit panel, prefilled
    assert f'id="edit-{upstream["id"]}-name" name="name" required maxlength="60" value="Corp"' in page
    assert 'value="client_secret_basic" selected' in page and "s3cret" not in page

    saved = edit(admin, upstream["id"], **EVERY_FIELD)  # the secret field left empty
    assert saved.status_code == 303 and saved.headers["Location"].endswith("m=upstream_updated")
    now = Upstreams(demo.store).get(upstream["id"])
    assert (now["name"], now["logo_uri"], now["domains"]) == ("Corp SSO", "https://cdn.example/corp.svg",
                                                             ["corp.example", "corp.test"])
    assert now["authoritative"] is True and now["others_allowed"] is True and now["required_for"] == ["admin"]
    assert now["roles"] == {"CN=Admins,OU=Groups": "admin", "staff": "user"}
    assert now["claims"] == {"email": "upn", "name": "name", "groups": "memberOf",
                             "login": "preferred_username"}  # empty: the usual name
    assert (now["issuer"], now["client_id"], now["token_auth"]) == ("https://login.corp.example", "codeb-2",
                                                                   "client_secret_post")
    assert now["scopes"] == ["openid", "email", "groups"] and now["hosted_domain"] == "corp.example"
    assert now["client_secret"] == "s3cret"  # empty keeps it
    assert (now["id"], now["created"], now["kind"], now["enabled"]) == (upstream["id"], upstream["created"], "oidc",
                                                                        True)
    [event] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.updated"]
    assert event["actor"] == "boss" and event["name"] == "Corp SSO" and "client_secret" not in event["changed"]
    assert {"name", "domains", "roles", "claims", "token_auth"} <= set(event["changed"])
    shown = admin.get(saved.headers["Location"])
    assert "The identity provider was saved." in shown.text and "s3cret" not in shown.text
    assert 'value="upn"' in shown.text and "CN=Admins,OU=Groups = admin\nstaff = user</textarea>" in shown.text

    assert edit(admin, upstream["id"], **EVERY_FIELD).status_code == 303  # the same again: its own domains
    assert len([e for e in audit.read_all(demo.store) if e["event"] == "upstream.updated"]) == 1  # nothing changed
    assert edit(admin, upstream["id"], **EVERY_FIELD, client_secret="n3w").status_code == 303
    assert Upstreams(demo.store).get(upstream["id"])["client_secret"] == "n3w"  # typed: replaced
    removed = edit(admin, upstream["id"], **{**EVERY_FIELD, "token_auth": "client_secret_basic"},
                   remove_client_secret="1")
    assert removed.status_code == 303
    public = Upstreams(demo.store).get(upstream["id"])
    assert public["client_secret"] is None and public["token_auth"] == "none"  # a public client now


@pytest.mark.parametrize("fields, field, text", [
    ({"name": ""}, "name", "Give the identity provider a name"),
    ({"logo_uri": "http://cdn.example/x.svg"}, "logo", "https address"),
    ({"issuer": "http://idp.example"}, "issuer", "must start with https://"),
    ({"client_id": ""}, "client-id", "client ID"),
    ({"domains": "not_a_domain"}, "domains", "is not an email domain"),
    ({"domains": "other.example"}, "domains", "already belongs to Other"),
    ({"domains": "", "authoritative": "1"}, "domains", "Name the email domains"),
    ({"tenant_ids": "nope"}, "tenant-ids", "looks like"),
    ({"issuer": "https://login.microsoftonline.com/organizations/v2.0"}, "tenant-ids", "directory IDs"),
    ({"scopes": "email profile"}, "scopes", "must include openid"),
    ({"token_auth": "tls_client_auth"}, "token-auth", "no client authentication"),
    ({"token_auth": "none", "client_secret": "never-shown-again"}, "client-secret", "sends no client secret"),
    ({"token_auth": "private_key_jwt", "client_secret": "never-shown-again"}, "client-secret", "sends no client"),
    ({"roles": "Admins = emperor"}, "roles", "is not a line"),
    ({"roles": "just a group"}, "roles", "is not a line"),
    ({"claim_email": "not a claim!"}, "claim-email", "is not a claim name"),
])
def test_a_wrong_edit_is_named_beside_its_field_and_nothing_is_written(admin, demo, fields, field, text):
    upstreams = Upstreams(demo.store)
    upstreams.add(name="Other", issuer="https://other.example", client_id="x", domains=["other.example"])
    uid = upstreams.add(name="Corp", issuer="https://idp.example", client_id="codeb", client_secret="s3cret",
                        domains=["corp.example"])["id"]
    before = upstreams.get(uid)
    answer = edit(admin, uid, **{**EVERY_FIELD, "client_secret": "", **fields})
    assert answer.status_code == 400
    assert f'id="edit-{uid}-{field}-error"' in answer.text and text in answer.text
    assert f'<details class="panel" id="edit-{uid}-panel" open>' in answer.text  # its panel open, as typed
    assert 'id="upstream-name-error"' not in answer.text and 'id="add-upstream-panel" open' not in answer.text
    assert "never-shown-again" not in answer.text and "s3cret" not in answer.text
    assert upstreams.get(uid) == before
    assert not [e for e in audit.read_all(demo.store) if e["event"] == "upstream.updated"]


def test_a_saml_idp_is_edited_but_stays_the_same_idp(admin, demo, forging):
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=forging.metadata())
    page = admin.get("/admin/upstreams").text
    assert f'id="edit-{upstream["id"]}-issuer"' not in page and forging.entity_id in page
    saved = edit(admin, upstream["id"], name="Corp IdP", domains="corp.example", claim_email="mail",
                 issuer="https://evil.example", client_id="x")  # not fields of a SAML IdP: ignored
    assert saved.status_code == 303
    now = Upstreams(demo.store).get(upstream["id"])
    assert now["name"] == "Corp IdP" and now["domains"] == ["corp.example"] and now["claims"]["email"] == "mail"
    assert now["claims"]["name"] == "displayName" and now["idp_entity_id"] == forging.entity_id
    assert "issuer" not in now and now["idp_metadata"] == upstream["idp_metadata"]
    with pytest.raises(BadInput) as refused:
        Upstreams(demo.store).update(upstream["id"], issuer="https://evil.example")
    assert refused.value.message_id == "error.upstream.not_editable"


def test_only_admins_edit_and_an_unknown_upstream_is_a_404(app, admin, mailbox, accounts, demo):
    uid = Upstreams(demo.store).add(name="Corp", issuer="https://idp.example", client_id="codeb")["id"]
    assert edit(admin, "nosuchupstrm", **EVERY_FIELD).status_code == 404
    accounts.create(email="pat@example.com", login="pat")
    person = app.test_client()
    sign_in(person, mailbox, "pat@example.com")
    page = person.get("/account")
    refused = person.post(f"/admin/upstreams/{uid}", data={"csrf": csrf_of(page.text), **EVERY_FIELD})
    assert refused.status_code == 403 and Upstreams(demo.store).get(uid)["name"] == "Corp"


# -- private_key_jwt ---------------------------------------------------------------------

def test_the_key_of_the_client_assertions_is_public_and_cacheable(app, admin, demo):
    assert not demo.store.exists(layout.KEYS, layout.UPSTREAM_CLIENT_KEY)
    page = main_of(admin.get("/admin/upstreams").text)
    assert "http://localhost/signin/oidc/jwks" in page  # what the provider's admin registers
    visitor = app.test_client()  # anyone: the upstream fetches it
    answer = visitor.get("/signin/oidc/jwks")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"].startswith("public, max-age=") and answer.headers["ETag"]
    [key] = answer.get_json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # the public half only
    assert demo.store.exists(layout.KEYS, layout.UPSTREAM_CLIENT_KEY)  # made at first use, kept
    assert visitor.get("/signin/oidc/jwks").get_json()["keys"][0]["kid"] == key["kid"]
    again = visitor.get("/signin/oidc/jwks", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert "Set-Cookie" not in answer.headers


def test_an_admin_adds_a_provider_that_knows_codeb_by_its_key(admin, demo):
    refused = add(admin, preset="oidc", name="Corp", issuer="https://idp.example", client_id="codeb",
                  token_auth="client_secret_basic")
    assert refused.status_code == 400 and 'id="upstream-client-secret-error"' in refused.text
    assert "sends the client secret" in refused.text and Upstreams(demo.store).list() == []
    added = add(admin, preset="oidc", name="Corp", issuer="https://idp.example", client_id="codeb",
                token_auth="private_key_jwt")
    assert added.status_code == 303
    [upstream] = Upstreams(demo.store).list()
    assert upstream["token_auth"] == "private_key_jwt" and upstream["client_secret"] is None
    assert "Client authentication: <code>private_key_jwt</code>" in main_of(admin.get("/admin/upstreams").text)


def test_the_connection_test_says_when_the_provider_does_not_offer_the_client_authentication(admin, demo, idp):
    upstream = Upstreams(demo.store).add(name="Corp", issuer=idp.issuer, client_id="codeb",
                                         token_auth="private_key_jwt")
    csrf = csrf_of(admin.get("/admin/upstreams").text)
    tested = admin.post(f"/admin/upstreams/{upstream['id']}/test", data={"csrf": csrf})
    assert tested.status_code == 200 and "does not offer private_key_jwt at its token endpoint" in tested.text
    assert "token_endpoint_auth_methods_supported: client_secret_basic" in tested.text  # the default of Discovery §3
    idp.client_keys = KeySet([])  # now it lists private_key_jwt
    tested = admin.post(f"/admin/upstreams/{upstream['id']}/test", data={"csrf": csrf})
    assert "Connected" in tested.text and "does not offer" not in tested.text


def test_sign_ins_started_at_the_idp_are_the_admins_choice_and_off_by_default(admin, demo, forging):
    assert add_saml(admin, name="Corp SAML", metadata=forging.metadata()).status_code == 303
    [off] = Upstreams(demo.store).list()
    assert off["idp_initiated"] is False
    page = admin.get("/admin/upstreams")
    assert "cannot be tied to the browser that asked" in page.text  # the hint says what it costs
    Upstreams(demo.store).remove(off["id"])
    assert add_saml(admin, name="Corp SAML", metadata=forging.metadata(), idp_initiated="1").status_code == 303
    [on] = Upstreams(demo.store).list()
    assert on["idp_initiated"] is True
    assert Upstreams(demo.store).update(on["id"], idp_initiated=False)["idp_initiated"] is False
