"""client_credentials (RFC 6749 §4.4) for machine clients: their own API scopes and audience,
no refresh token, no person; refused to clients not allowed it and at the provider's own
resources, which serve people."""

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.errors import BadInput
from codeb.oidc.clients import Clients
from tests.support.oidc import tokens_for
from tests.support.web import HOST


@pytest.fixture
def machine(demo, rp):
    Clients(demo.store).configure(rp.client_id, grant_types=["client_credentials"],
                                  api_scopes=["reports.read", "reports.write"], audience=["https://api.example"],
                                  access_token_lifetime=600)
    return rp


def token_request(client, rp, **data):
    return client.post("/token", data={"grant_type": "client_credentials", **data},
                       auth=(rp.client_id, rp.secret), headers={"Host": HOST})


def claims_of(client, token):
    keys = KeySet.import_key_set(client.get("/jwks.json", headers={"Host": HOST}).json)
    return jwt.decode(token, keys, algorithms=["RS256"]).claims


def test_a_machine_client_gets_a_token_for_its_audience(client, machine):
    response = token_request(client, machine, scope="reports.read")
    assert response.status_code == 200, response.text
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and body["scope"] == "reports.read"
    assert "refresh_token" not in body and "id_token" not in body  # RFC 6749 §4.4.3
    claims = claims_of(client, body["access_token"])
    assert claims["sub"] == machine.client_id == claims["client_id"]
    assert claims["aud"] == ["https://api.example"] and claims["tenant"] == "demo" and claims["roles"] == []
    assert claims["exp"] - claims["iat"] == 600 and claims["gty"] == "client_credentials"
    assert response.headers["Cache-Control"] == "no-store"


def test_without_a_scope_it_gets_all_of_its_own(client, machine):
    response = token_request(client, machine)
    assert response.status_code == 200 and response.json["scope"] == "reports.read reports.write"


@pytest.mark.parametrize("scope", ["openid", "profile", "reports.delete", "reports.read email"])
def test_it_gets_no_scope_beyond_its_own(client, machine, scope):
    response = token_request(client, machine, scope=scope)
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_its_token_opens_none_of_the_provider_s_own_resources(client, machine):
    token = token_request(client, machine).json["access_token"]
    answer = client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {token}"})
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    shell = client.get("/api/me", headers={"Host": HOST, "Authorization": f"Bearer {token}"})
    assert shell.status_code == 401


def test_a_client_not_allowed_it_is_unauthorized_client(client, rp):
    response = token_request(client, rp)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_wrong_secret_is_invalid_client(client, machine):
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           auth=(machine.client_id, "wrong"), headers={"Host": HOST})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_machine_only_client_cannot_start_a_sign_in(client, mailbox, machine):
    with pytest.raises(AssertionError):
        tokens_for(client, mailbox, machine)


def test_a_public_client_cannot_be_a_machine(demo, public_rp):
    with pytest.raises(BadInput) as refused:
        Clients(demo.store).configure(public_rp.client_id, grant_types=["client_credentials"])
    assert refused.value.message_id == "error.client_credentials_public"
    assert Clients(demo.store).get(public_rp.client_id).grant_types == ("authorization_code", "refresh_token")


def test_a_person_s_token_follows_the_client_s_lifetime(client, mailbox, demo, rp):
    Clients(demo.store).configure(rp.client_id, access_token_lifetime=300)
    tokens = tokens_for(client, mailbox, rp)
    claims = claims_of(client, tokens["access_token"])
    assert tokens["expires_in"] == 300 and claims["exp"] - claims["iat"] == 300
