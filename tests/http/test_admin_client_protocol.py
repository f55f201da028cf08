"""The client page's protocol settings: saved, shown again, refused beside the field (in the
admin's language) with nothing stored, and audited."""

import json

from joserfc.jwk import ECKey

from codeb import audit
from codeb.oidc.clients import Clients
from codeb.store import layout
from tests.support.web import HOST, csrf_of, field_error


def page_of(admin, client_id):
    return admin.get(f"/admin/clients/{client_id}", headers={"Host": HOST})


def save(admin, client_id, **form):
    page = page_of(admin, client_id)
    data = {"csrf": csrf_of(page.text), "grant_types": ["authorization_code", "refresh_token"],
            "access_token_lifetime": "3600", "refresh_token_lifetime": "2592000", **form}
    return admin.post(f"/admin/clients/{client_id}/protocol", data=data, headers={"Host": HOST})


def test_protocol_settings_are_saved_and_shown(people, demo, rp):
    admin = people["admin"]
    page = page_of(admin, rp.client_id)
    assert page.status_code == 200 and 'id="protocol-form"' in page.text
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}).as_dict(private=False)
    saved = save(admin, rp.client_id, token_endpoint_auth_method="private_key_jwt", jwks=json.dumps({"keys": [key]}),
                 require_par="1", backchannel_logout_uri="https://app.example/bc", access_token_lifetime="900",
                 grant_types=["authorization_code", "refresh_token", "client_credentials"],
                 api_scopes="reports.read\nreports.write", audience="https://api.example", resource_server="1")
    assert saved.status_code == 303 and "m=client_protocol_saved" in saved.headers["Location"]
    client = Clients(demo.store).get(rp.client_id)
    assert client.token_endpoint_auth_method == "private_key_jwt" and client.jwks == {"keys": [key]}
    assert client.require_par and client.resource_server and client.access_token_lifetime == 900
    assert client.api_scopes == ("reports.read", "reports.write") and client.audience == ("https://api.example",)
    assert client.backchannel_logout_uri == "https://app.example/bc"
    shown = page_of(admin, rp.client_id).text
    assert 'value="https://app.example/bc"' in shown and 'value="900"' in shown and "reports.write" in shown
    assert [e for e in audit.read_all(demo.store) if e["event"] == "client.protocol_changed"]


def test_a_wrong_setting_is_shown_beside_its_field_and_nothing_is_stored(people, demo, rp):
    admin = people["admin"]
    before = Clients(demo.store).get(rp.client_id).doc
    refused = save(admin, rp.client_id, access_token_lifetime="7200", require_par="1")
    assert refused.status_code == 400
    assert field_error(refused.text, "access-lifetime") and "between 60 and 3600" in refused.text
    assert 'name="require_par" value="1" checked' in refused.text  # the admin's other choices stay on the form
    private = save(admin, rp.client_id, jwks=json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}))
    assert private.status_code == 400 and field_error(private.text, "jwks")
    assert Clients(demo.store).get(rp.client_id).doc == before


def test_the_refusal_is_in_the_admin_s_language(people, demo, rp):
    admin = people["admin"]
    with demo.store.update(layout.USERS, "boss") as doc:  # the admin reads German
        doc["language"] = "de"
    refused = admin.post(f"/admin/clients/{rp.client_id}/protocol",
                         data={"csrf": csrf_of(page_of(admin, rp.client_id).text), "grant_types": []},
                         headers={"Host": HOST, "Accept-Language": "de"})
    assert refused.status_code == 400 and "Wählen Sie mindestens eine Grant-Art" in refused.text


def test_a_public_client_s_form_offers_no_secret_settings(people, public_rp):
    page = page_of(people["admin"], public_rp.client_id).text
    assert 'name="jwks"' not in page and 'value="client_credentials"' not in page and 'name="fapi"' not in page


def test_the_protocol_form_needs_an_admin_and_csrf(people, rp):
    path = f"/admin/clients/{rp.client_id}/protocol"
    assert people["user"].post(path, data={}, headers={"Host": HOST}).status_code in (400, 403)
    assert people["admin"].post(path, data={"grant_types": ["authorization_code"]},
                                headers={"Host": HOST}).status_code == 400
