"""The discovery document says what the provider does, and no more: every endpoint it names
answers there, every client authentication method and signing algorithm it lists works, and
Authlib's metadata validation accepts it."""

import secrets

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from codeb.oidc.clients import Clients
from tests.support import dpop
from tests.support.web import HOST

KEYS = {"RS256": lambda: RSAKey.generate_key(2048), "PS256": lambda: RSAKey.generate_key(2048),
        "ES256": lambda: ECKey.generate_key("P-256"), "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
        "Ed25519": lambda: OKPKey.generate_key("Ed25519")}
# EdDSA is deprecated for Ed25519 (RFC 9864), which joserfc says; both are taken, as clients still send EdDSA.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


@pytest.fixture
def metadata(client):
    return client.get("/.well-known/openid-configuration", headers={"Host": HOST}).json


def test_authlib_validates_the_document(metadata):
    OpenIDProviderMetadata(metadata).validate()
    AuthorizationServerMetadata(metadata).validate()


@pytest.mark.parametrize("name", ["token_endpoint", "revocation_endpoint", "introspection_endpoint",
                                  "pushed_authorization_request_endpoint"])
def test_every_client_authenticating_endpoint_answers_an_unknown_client_with_invalid_client(client, metadata, name):
    path = metadata[name].removeprefix(f"http://{HOST}")
    response = client.post(path, data={"token": "x", "grant_type": "client_credentials", "response_type": "code"},
                           auth=("f" * 32, "nope"), headers={"Host": HOST})
    assert response.status_code == 401 and response.json["error"] == "invalid_client", (name, response.text)


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_every_listed_assertion_algorithm_authenticates(client, demo, rp, clock, metadata, alg):
    assert alg in metadata["token_endpoint_auth_signing_alg_values_supported"]
    key = KEYS[alg]()
    jwk = {**key.as_dict(private=False), "kid": "k"}
    Clients(demo.store).configure(rp.client_id, jwks={"keys": [jwk]}, token_endpoint_auth_method="private_key_jwt",
                                  grant_types=["authorization_code", "client_credentials"])
    claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": metadata["issuer"], "iat": int(clock.now),
              "exp": int(clock.now) + 60, "jti": secrets.token_urlsafe(16)}
    assertion = jwt.encode({"alg": alg, "kid": "k"}, claims, key, algorithms=[alg])
    response = client.post("/token", data={"grant_type": "client_credentials",
                                           "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:"
                                                                    "jwt-bearer", "client_assertion": assertion},
                           headers={"Host": HOST})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_every_listed_dpop_algorithm_binds_a_token(client, demo, rp, clock, metadata, alg):
    assert alg in metadata["dpop_signing_alg_values_supported"]
    Clients(demo.store).configure(rp.client_id, grant_types=["authorization_code", "client_credentials"])
    key = KEYS[alg]()
    url = metadata["token_endpoint"]

    def ask(nonce=None):
        return client.post("/token", data={"grant_type": "client_credentials"}, auth=(rp.client_id, rp.secret),
                           headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", url, now=clock.now, nonce=nonce,
                                                                     alg=alg)})
    first = ask()
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce"
    bound = ask(first.headers["DPoP-Nonce"])
    assert bound.status_code == 200 and bound.json["token_type"] == "DPoP", bound.text


def test_every_listed_grant_type_is_a_grant_of_the_token_endpoint(client, rp, metadata):
    for grant in metadata["grant_types_supported"]:
        response = client.post("/token", data={"grant_type": grant}, auth=(rp.client_id, rp.secret),
                               headers={"Host": HOST})
        assert response.json.get("error") != "unsupported_grant_type", grant


def test_nothing_unsupported_is_advertised(metadata):
    assert metadata["request_parameter_supported"] is False and metadata["request_uri_parameter_supported"] is False
    assert "frontchannel_logout_supported" not in metadata and "tls_client_certificate_bound_access_tokens" \
        not in metadata
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                      "private_key_jwt", "none"}
