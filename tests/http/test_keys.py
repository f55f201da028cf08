"""Key rotation: a new key signs, the old one stays published until its tokens expired."""

from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.oidc import keys
from codeb.oidc.keys import RETAIN
from tests.support.oidc import tokens_for
from tests.support.web import HOST


def published(client):
    return client.get("/jwks.json", headers={"Host": HOST}).json


def test_rotation_keeps_old_tokens_valid_until_they_expire(client, app, mailbox, rp, demo, clock):
    old_tokens = tokens_for(client, mailbox, rp)
    old_kid = jwt.decode(old_tokens["id_token"], KeySet.import_key_set(published(client))).header["kid"]

    demo.store.clock = clock
    new_kid = keys.rotate(demo.store)
    jwks = published(client)
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert all("d" not in k and "p" not in k for k in jwks["keys"])  # public parts only

    fresh = tokens_for(app.test_client(), mailbox, rp, email="bob@example.com")
    fresh_header = jwt.decode(fresh["id_token"], KeySet.import_key_set(jwks)).header
    assert fresh_header["kid"] == new_kid
    old_ok = client.get("/userinfo", headers={"Host": HOST,
                                              "Authorization": "Bearer " + old_tokens["access_token"]})
    assert old_ok.status_code == 200

    clock.advance(RETAIN + 61)
    assert {k["kid"] for k in published(client)["keys"]} == {new_kid}
    keys.rotate(demo.store)  # a later rotation drops the long-retired key from disk
    on_disk = demo.store.read("keys", "signing")["keys"]
    assert old_kid not in {k["jwk"]["kid"] for k in on_disk}


def test_discovery_document(app, client):
    app.config["CODEB_PORT"] = 8000  # `serve --port 8000`: the port is configured, not the Host's
    doc = client.get("/.well-known/openid-configuration", headers={"Host": "localhost:8000"}).json
    assert doc["issuer"] == "http://localhost:8000"
    assert doc["jwks_uri"] == "http://localhost:8000/jwks.json"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                 "private_key_jwt", "none"}
    assert doc["end_session_endpoint"] == "http://localhost:8000/logout"
    assert {"sub", "tenant", "roles", "amr", "auth_time"} <= set(doc["claims_supported"])
    from authlib.oidc.discovery import OpenIDProviderMetadata

    OpenIDProviderMetadata(doc).validate()
