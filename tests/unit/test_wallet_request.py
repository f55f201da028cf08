"""The OpenID4VP request CodeB signs and the encrypted answer it opens (codeb.wallet.request,
codeb.wallet.response), against the specification's own example where it gives one."""

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from codeb.wallet import Refused
from codeb.wallet import request as vp
from codeb.wallet import response as vp_response
from tests.support.eudi_wallet import check_request_object, encrypt
from tests.support.pid_ca import _name as name_of
from tests.support.pid_ca import certificate, der

# OpenID4VP 1.0 §8.3 (Encrypted Responses): the example answer, the key that opens it, its payload.
SPEC_RESPONSE = (
    "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOEdDTSIsImtpZCI6ImFjIiwiZXBrIjp7Imt0eSI6IkVDIiwieCI6Im5ubVZwbTNWM2piaGNhZlFh"
    "UkJrU1ZOSGx3Wkh3dC05ck9wSnVmeVlJdWsiLCJ5IjoicjRmakRxd0p5czlxVU9QLV9iM21SNVNaRy0tQ3dPMm1pYzVWU05UWU45ZyIsImNydiI6"
    "IlAtMjU2In19..uAYcHRUSSn2X0WPX.yVzlGSYG4qbg0bq18JcUiDRw56yVnbKR8E7S7YlEtzT00RqE3Pw5oTpUG3hdLN4taHZ9gC1kwak8JOnJgQ"
    ".1wR024_3-qtAlx1oFIUpQQ")
SPEC_KEY = {"kty": "EC", "kid": "ac", "use": "enc", "crv": "P-256", "alg": "ECDH-ES",
            "x": "YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk", "y": "Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
            "d": "Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"}


def test_the_specifications_encrypted_response_opens_to_its_payload():
    payload = vp_response.open_response(SPEC_RESPONSE, private_key=SPEC_KEY, enc_values=("A128GCM", "A256GCM"))
    assert payload == {"vp_token": {"example_credential_id": ["eyJhb...YMetA"]}}


def test_an_answer_encrypted_with_an_enc_not_offered_or_to_another_key_is_refused():
    with pytest.raises(Refused) as refused:
        vp_response.open_response(SPEC_RESPONSE, private_key=SPEC_KEY, enc_values=("A256GCM",))
    assert refused.value.reason == "undecryptable"
    private, public = vp_response.new_key()
    other, _ = vp_response.new_key()
    token = encrypt({"vp_token": {}}, public, "A256GCM")
    with pytest.raises(Refused) as refused:
        vp_response.open_response(token, private_key=other, enc_values=vp.RESPONSE_ENC)
    assert refused.value.reason == "undecryptable"
    assert vp_response.open_response(token, private_key=private, enc_values=vp.RESPONSE_ENC) == {"vp_token": {}}
    for garbage in (None, "", "a.b.c.d.e", "x" * 300_000, 42):
        with pytest.raises(Refused):
            vp_response.open_response(garbage, private_key=private, enc_values=vp.RESPONSE_ENC)


def test_one_presentation_of_one_query_is_taken_and_anything_else_refused():
    queries = {vp.SD_JWT_QUERY: vp.SD_JWT, vp.MDOC_QUERY: vp.MDOC}
    assert vp_response.presentation({"vp_token": {"pid_mdoc": ["abc"]}}, queries=queries) == ("mso_mdoc", "abc")
    assert vp_response.presentation({"vp_token": json.dumps({"pid_sd_jwt": ["x~"]})}, queries=queries) == \
        ("dc+sd-jwt", "x~")
    for bad, reason in (({}, "no_presentation"), ({"vp_token": "{"}, "malformed"),
                        ({"vp_token": {"other": ["x"]}}, "unexpected_presentation"),
                        ({"vp_token": {"pid_mdoc": ["a"], "pid_sd_jwt": ["b"]}}, "unexpected_presentation"),
                        ({"vp_token": {"pid_mdoc": ["a", "b"]}}, "unexpected_presentation"),
                        ({"vp_token": {"pid_mdoc": [{"a": 1}]}}, "unexpected_presentation")):
        with pytest.raises(Refused) as refused:
            vp_response.presentation(bad, queries=queries)
        assert refused.value.reason == reason, bad


def test_the_dcql_query_asks_for_the_pid_in_both_formats_and_only_the_claims_named():
    query = vp.dcql_query(["nationality"], vct_values=[vp.PID_VCT, "urn:de:pid:1"])
    sd_jwt, mdoc = query["credentials"]
    assert query["credential_sets"] == [{"options": [["pid_sd_jwt"], ["pid_mdoc"]]}]
    assert sd_jwt["meta"] == {"vct_values": ["urn:eudi:pid:1", "urn:de:pid:1"]}
    assert [c["path"] for c in sd_jwt["claims"]] == [["given_name"], ["family_name"], ["birthdate"],
                                                    ["personal_administrative_number"], ["nationalities"]]
    assert mdoc["meta"] == {"doctype_value": "eu.europa.ec.eudi.pid.1"}
    assert [c["path"][1] for c in mdoc["claims"]] == ["given_name", "family_name", "birth_date",
                                                      "personal_administrative_number", "nationality"]
    assert all(c["intent_to_retain"] is False for c in mdoc["claims"])
    assert mdoc["claim_sets"] == [[c["id"] for c in mdoc["claims"]],
                                  ["given_name", "family_name", "birth_date", "nationality"]]
    assert vp.dcql_query(["birth_place"])["credentials"][0]["claims"][-1]["id"] == "personal_administrative_number"


def test_the_request_object_is_what_openid4vp_and_haip_ask_and_a_wallet_accepts():
    key = ec.generate_private_key(ec.SECP256R1())
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(name_of("Registrar CA"), root_key, ca=True)
    leaf = certificate(name_of("login.example.com"), key, issuer=root.subject, issuer_key=root_key, ca=False)
    chain = [der(leaf)]
    x509_hash = base64.urlsafe_b64encode(hashlib.sha256(chain[0]).digest()).rstrip(b"=").decode()
    client_id = vp.client_id("x509_hash", x509_hash=x509_hash, host="login.example.com")
    _, public = vp_response.new_key()
    params = vp.parameters(client_id=client_id, response_uri="https://login.example.com/signin/wallet/response/t",
                           nonce="n" * 43, state="s" * 43, dcql=vp.dcql_query([]), metadata=vp.client_metadata(public),
                           response_mode="direct_post.jwt", wallet_nonce="wn")
    token = vp.request_object(key=key, chain=chain, claims=params, now=1_800_000_000)
    checked = check_request_object(token, client_id=client_id, wallet_nonce="wn")
    assert checked.header["typ"] == "oauth-authz-req+jwt" and checked.header["alg"] == "ES256"
    assert len(checked.header["x5c"]) == 1  # the leaf, not the root
    claims = checked.claims
    assert claims["aud"] == "https://self-issued.me/v2" and claims["exp"] - claims["iat"] == vp.REQUEST_LIFETIME
    assert claims["client_metadata"]["jwks"]["keys"] == [public] and "d" not in public
    assert claims["client_metadata"]["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert vp.client_id("x509_san_dns", x509_hash=x509_hash, host="login.example.com") == \
        "x509_san_dns:login.example.com"
    url = vp.authorization_url("haip-vp", client_id=client_id, request_uri="https://login.example.com/r")
    assert url.startswith("haip-vp://?client_id=x509_hash%3A") and "request_uri_method=post" in url


def test_the_claims_of_either_format_are_read_by_one_name():
    assert vp.claims_of("dc+sd-jwt", {"given_name": "E", "birthdate": "1964-08-12", "nationalities": ["DE"]}) == \
        {"given_name": "E", "birth_date": "1964-08-12", "nationality": ["DE"]}
    assert vp.claims_of("mso_mdoc", {"eu.europa.ec.eudi.pid.1": {"given_name": "E", "birth_date": "1964-08-12"},
                                     "other": {"family_name": "X"}}) == {"given_name": "E", "birth_date": "1964-08-12"}
    assert vp.claims_of("mso_mdoc", {"eu.europa.ec.eudi.pid.1": "not a namespace"}) == {}
