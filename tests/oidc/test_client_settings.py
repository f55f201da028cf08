"""A client's protocol settings (codeb.oidc.client_settings): checked together, stored in its
document, obeyed by the endpoints; a wrong one changes nothing and names itself."""

import json
import re
from pathlib import Path

import pytest
from joserfc.jwk import ECKey, RSAKey

from codeb.errors import BadInput
from codeb.oidc.clients import Clients
from tests.support.oidc import tokens_for
from tests.support.web import HOST

ROOT = Path(__file__).resolve().parents[2]


def public_key():
    return ECKey.generate_key("P-256", parameters={"kid": "k1"}).as_dict(private=False)


def test_defaults_are_today_s_behaviour(demo, rp, public_rp):
    client = Clients(demo.store).get(rp.client_id)
    assert client.grant_types == ("authorization_code", "refresh_token")
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert client.check_endpoint_auth_method("client_secret_post", "token")
    assert client.access_token_lifetime == 3600 and client.refresh_token_lifetime == 30 * 86400
    assert not (client.require_par or client.require_dpop or client.fapi or client.resource_server)
    assert Clients(demo.store).get(public_rp.client_id).token_endpoint_auth_method == "none"


def test_settings_are_stored_and_cleared(demo, rp):
    clients = Clients(demo.store)
    set_ = clients.configure(rp.client_id, backchannel_logout_uri="https://app.example/bc", require_par=True,
                             access_token_lifetime="900", audience=["https://api.example"])
    assert set_.backchannel_logout_uri == "https://app.example/bc" and set_.require_par
    assert clients.get(rp.client_id).access_token_lifetime == 900
    cleared = clients.configure(rp.client_id, backchannel_logout_uri="", require_par=False, access_token_lifetime="")
    assert cleared.backchannel_logout_uri is None and not cleared.require_par
    assert cleared.access_token_lifetime == 3600
    assert "require_par" not in cleared.doc and "access_token_lifetime" not in cleared.doc
    assert cleared.audience == ("https://api.example",)  # not named: unchanged


def test_fapi_mode_sets_its_combination_and_keeps_it(demo, rp):
    clients = Clients(demo.store)
    client = clients.configure(rp.client_id, jwks={"keys": [public_key()]}, fapi=True)
    assert client.fapi and client.require_par and client.require_dpop
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert not client.check_endpoint_auth_method("client_secret_basic", "token")
    kept = clients.configure(rp.client_id, require_par=False, token_endpoint_auth_method="client_secret_basic")
    assert kept.require_par and kept.token_endpoint_auth_method == "private_key_jwt"


@pytest.mark.parametrize("changes, message_id", [
    ({"grant_types": []}, "error.client_grant_types"),
    ({"grant_types": ["password"]}, "error.client_grant_types"),
    ({"grant_types": ["refresh_token"]}, "error.client_refresh_needs_code"),
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "error.client_auth_method"),
    ({"token_endpoint_auth_method": "none"}, "error.client_auth_method_public"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "error.client_needs_keys"),
    ({"jwks": "{not json"}, "error.client_jwks"),
    ({"jwks": {"keys": []}}, "error.client_jwks"),
    ({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}, "error.client_jwks"),
    ({"jwks": {"keys": [ECKey.generate_key("P-256").as_dict(private=True)]}}, "error.client_jwks_private"),
    ({"jwks": {"keys": [public_key(), public_key()]}}, "error.client_jwks"),  # two keys, one kid
    ({"jwks_uri": "http://keys.example/jwks"}, "error.client_jwks_uri"),
    ({"jwks_uri": "https://keys.example/jwks#frag"}, "error.client_jwks_uri"),
    ({"jwks": {"keys": [public_key()]}, "jwks_uri": "https://keys.example/jwks"}, "error.client_jwks_both"),
    ({"backchannel_logout_uri": "javascript:alert(1)"}, "error.client_backchannel_uri"),
    ({"backchannel_logout_uri": "https://user:pw@app.example/bc"}, "error.client_backchannel_uri"),
    # An HTTP request line is ASCII: such a URI could never be called (percent-encoded, it can).
    ({"backchannel_logout_uri": "https://app.example/abmelden/ü"}, "error.client_backchannel_uri"),
    ({"jwks_uri": "https://bücher.example/jwks"}, "error.client_jwks_uri"),
    ({"access_token_lifetime": 7200}, "error.client_access_lifetime"),
    ({"access_token_lifetime": "soon"}, "error.client_access_lifetime"),
    ({"refresh_token_lifetime": 60}, "error.client_refresh_lifetime"),
    ({"api_scopes": ["reports read"]}, "error.client_api_scope"),
    ({"audience": ['"quoted"']}, "error.client_audience"),
    ({"fapi": True}, "error.client_needs_keys"),
])
def test_a_wrong_setting_names_itself_and_changes_nothing(demo, rp, changes, message_id):
    clients = Clients(demo.store)
    before = clients.get(rp.client_id).doc
    with pytest.raises(BadInput) as refused:
        clients.configure(rp.client_id, **changes)
    assert refused.value.message_id == message_id
    assert clients.get(rp.client_id).doc == before


@pytest.mark.parametrize("changes, message_id", [
    ({"fapi": True, "jwks": {"keys": [RSAKey.generate_key(2048).as_dict(private=False)]}}, "error.client_fapi_public"),
    ({"resource_server": True}, "error.client_resource_server_public"),
])
def test_a_public_client_can_be_neither_fapi_nor_a_resource_server(demo, public_rp, changes, message_id):
    with pytest.raises(BadInput) as refused:
        Clients(demo.store).configure(public_rp.client_id, **changes)
    assert refused.value.message_id == message_id


def test_an_unknown_setting_is_a_programming_error(demo, rp):
    with pytest.raises(ValueError):
        Clients(demo.store).configure(rp.client_id, redirect_uris=["https://evil.example/cb"])


def test_every_message_of_a_setting_exists_in_english_and_german():
    source = (ROOT / "codeb/oidc/client_settings.py").read_text(encoding="utf-8")
    ids = set(re.findall(r'"(error\.client_[a-z_]+)"', source))
    assert len(ids) >= 15
    for lang in ("en", "de"):
        catalogue = json.loads((ROOT / f"codeb/i18n/{lang}.json").read_text(encoding="utf-8"))
        assert ids <= set(catalogue), ids - set(catalogue)


def test_the_refresh_chain_lives_as_long_as_the_client_says(client, mailbox, demo, rp, clock):
    Clients(demo.store).configure(rp.client_id, refresh_token_lifetime=3600)
    tokens = tokens_for(client, mailbox, rp)
    clock.advance(3500)
    rotated = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert rotated.status_code == 200, rotated.text
    clock.advance(3601)
    late = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": rotated.json["refresh_token"]},
                       auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert late.status_code == 400 and late.json["error"] == "invalid_grant"
