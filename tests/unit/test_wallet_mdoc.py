"""The mdoc verifier's checks (codeb.wallet.mdoc), one attack or broken wallet each.

PIDs come from the test wallet (tests/support/pid_mdoc.py): issued with pymdoccbor under a
test PID provider's CA, presented with a device signature over this request's
SessionTranscript. The SessionTranscripts are held to OpenID4VP 1.0's own examples
(Appendix B.2.6). Each refusal test changes one thing and names the exact reason.
"""

import base64
import datetime as dt
import hashlib
import json
import time

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from codeb.wallet import Refused, mdoc
from tests.support import pid_mdoc
from tests.support.pid_ca import PidCA
from tests.support.pid_mdoc import PID

CLIENT_ID = "x509_san_dns:login.acme.example"
NONCE = "n-0S6_WzA2Mj"
RESPONSE_URI = "https://login.acme.example/signin/wallet/response"
THUMBPRINT = hashlib.sha256(b"the response encryption key").digest()
NAMES = ("given_name", "family_name", "birth_date")

# OpenID4VP 1.0 final, Appendix B.2.6.1 and B.2.6.2: the examples' inputs and results.
SPEC_JWK = {"kty": "EC", "crv": "P-256", "x": "DxiH5Q4Yx3UrukE2lWCErq8N8bqC9CHLLrAwLz5BmE0",
            "y": "XtLM4-3h5o3HUH0MHVJV0kyq0iBlrBwlh8qEDMZ4-Pc", "use": "enc", "alg": "ECDH-ES", "kid": "1"}
SPEC_THUMBPRINT = bytes.fromhex("4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047")
SPEC_NONCE = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"
SPEC_TRANSCRIPT = bytes.fromhex("83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8e"
                                "ed494cefdd9d95240d254b046b11b68013722aad38ac")
SPEC_DC_API_TRANSCRIPT = bytes.fromhex("83f6f682764f70656e4944345650444341504948616e646f7665725820fbece366f4"
                                       "212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a")


@pytest.fixture(scope="module")
def pid(ca):
    return pid_mdoc.issue(ca)


def transcript(**changes) -> bytes:
    return mdoc.session_transcript(**{"client_id": CLIENT_ID, "nonce": NONCE, "jwk_thumbprint": THUMBPRINT,
                                      "response_uri": RESPONSE_URI, **changes})


def token(pid, *, items=NAMES, **changes) -> str:
    return pid_mdoc.vp_token(pid_mdoc.present(pid, transcript(), items=items, **changes))


def verify(anchors, vp_token, *, now=None, session=None):
    return mdoc.verify(vp_token, anchors=anchors, transcript=session or transcript(), now=int(now or time.time()),
                       doc_types={PID})


def refused(anchors, vp_token, **expected) -> str:
    with pytest.raises(Refused) as refusal:
        verify(anchors, vp_token, **expected)
    assert "Erika" not in refusal.value.detail and "Mustermann" not in refusal.value.detail
    return refusal.value.reason


# The SessionTranscript, against the specification's examples.

def test_the_redirect_session_transcript_is_the_specifications_example():
    assert mdoc.session_transcript(client_id="x509_san_dns:example.com", nonce=SPEC_NONCE,
                                   jwk_thumbprint=SPEC_THUMBPRINT,
                                   response_uri="https://example.com/response") == SPEC_TRANSCRIPT


def test_the_dc_api_session_transcript_is_the_specifications_example():
    assert mdoc.dc_api_session_transcript(origin="https://example.com", nonce=SPEC_NONCE,
                                          jwk_thumbprint=SPEC_THUMBPRINT) == SPEC_DC_API_TRANSCRIPT


def test_the_examples_thumbprint_is_the_rfc7638_thumbprint_of_their_jwk():
    members = json.dumps({name: SPEC_JWK[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert hashlib.sha256(members.encode()).digest() == SPEC_THUMBPRINT


def test_an_unencrypted_response_has_null_for_the_thumbprint():
    handover = cbor2.loads(transcript(jwk_thumbprint=None))[2]
    info = cbor2.dumps([CLIENT_ID, NONCE, None, RESPONSE_URI])
    assert handover == ["OpenID4VPHandover", hashlib.sha256(info).digest()]


# What a good presentation gives.

def test_a_presented_pid_gives_exactly_the_disclosed_claims(anchors, pid):
    presented = verify(anchors, token(pid))
    assert presented.format == "mso_mdoc" == mdoc.FORMAT
    assert presented.credential_type == PID
    assert presented.issuer == "CN=Test PID Signer,O=Test PID Provider,C=DE"
    assert presented.anchor == "pid-de"
    assert set(presented.claims) <= {PID}
    assert presented.claims.get(PID, {}).items() <= {"given_name": "Erika", "family_name": "Mustermann",
                                                     "birth_date": "1964-08-12"}.items()
    assert presented.status is None
    assert presented.expires == int(pid.mso["validityInfo"]["validUntil"].timestamp())


def test_the_device_response_may_come_as_bytes_and_with_padding(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=["nationality", "age_over_18"])
    raw = pid_mdoc.device_response(document)
    assert verify(anchors, raw).claims == {PID: {"nationality": ["DE"], "age_over_18": True}}
    assert verify(anchors, base64.urlsafe_b64encode(raw).decode()).claims[PID]["age_over_18"] is True


def test_the_status_list_entry_is_returned(ca, anchors):
    status = {"status_list": {"idx": 412, "uri": "https://pid.example/status/7"}}
    presented = verify(anchors, token(pid_mdoc.issue(ca, status=status)))
    assert presented.status == {"uri": "https://pid.example/status/7", "idx": 412}


def test_a_signer_under_an_intermediate_is_trusted(ca, anchors):
    signed = pid_mdoc.issue(ca, signer=ca.signer(via_intermediate=True))
    assert verify(anchors, token(signed)).anchor == "pid-de"


def test_the_dc_api_transcript_is_verified_the_same_way(anchors, pid):
    dc_api = mdoc.dc_api_session_transcript(origin="https://login.acme.example", nonce=NONCE, jwk_thumbprint=None)
    vp_token = pid_mdoc.vp_token(pid_mdoc.present(pid, dc_api, items=NAMES))
    assert verify(anchors, vp_token, session=dc_api).claims[PID]["family_name"] == "Mustermann"
    assert refused(anchors, vp_token) == "bad_device_signature"


# The holder's binding to this request.

@pytest.mark.parametrize("changes", [
    {"nonce": "another-nonce"},
    {"client_id": "x509_san_dns:evil.example"},
    {"response_uri": "https://evil.example/response"},
    {"jwk_thumbprint": hashlib.sha256(b"another key").digest()},
    {"jwk_thumbprint": None},
])
def test_a_presentation_for_another_request_is_refused(anchors, pid, changes):
    vp_token = pid_mdoc.vp_token(pid_mdoc.present(pid, transcript(**changes), items=NAMES))
    assert refused(anchors, vp_token) == "bad_device_signature"


def test_a_device_signature_by_another_key_is_refused(anchors, pid):
    assert refused(anchors, token(pid, device_key=ec.generate_private_key(ec.SECP256R1()))) == "bad_device_signature"


def test_a_device_mac_is_refused(anchors, pid):
    assert refused(anchors, token(pid, device_mac=True)) == "device_mac_unsupported"


def test_device_signed_items_are_refused(anchors, pid):
    assert refused(anchors, token(pid, device_items={PID: {"given_name": "Mallory"}})) == "device_signed_items"


def test_an_attached_device_signature_payload_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    document["deviceSigned"]["deviceAuth"]["deviceSignature"][2] = b"whatever"
    assert refused(anchors, pid_mdoc.vp_token(document)) == "bad_device_signature"


def test_a_document_without_device_signature_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    del document["deviceSigned"]
    assert refused(anchors, pid_mdoc.vp_token(document)) == "no_device_signature"


def test_an_mso_without_device_key_is_refused(ca, anchors):
    assert refused(anchors, token(pid_mdoc.issue(ca, edit_mso=lambda mso: mso.pop("deviceKeyInfo")))) \
        == "no_device_key"


def test_a_device_key_off_its_curve_is_refused(ca, anchors):
    def off_curve(mso):
        mso["deviceKeyInfo"]["deviceKey"][-3] = bytes(32)
    assert refused(anchors, token(pid_mdoc.issue(ca, edit_mso=off_curve))) == "bad_device_key"


# The issuer's data.

def test_a_tampered_item_is_refused(anchors, pid):
    assert refused(anchors, token(pid, tamper={"family_name": "Musterfrau"})) == "tampered_item"


def test_an_item_repeated_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    items = document["issuerSigned"]["nameSpaces"][PID]
    items.append(items[0])
    assert refused(anchors, pid_mdoc.vp_token(document)) == "duplicate_item"


def test_an_item_in_a_namespace_the_mso_does_not_sign_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    document["issuerSigned"]["nameSpaces"]["eu.europa.ec.eudi.other.1"] = document["issuerSigned"]["nameSpaces"][PID]
    assert refused(anchors, pid_mdoc.vp_token(document)) == "tampered_item"


def test_a_pid_of_another_doc_type_is_refused(ca, anchors):
    assert refused(anchors, token(pid_mdoc.issue(ca, doc_type="org.iso.18013.5.1.mDL"))) == "wrong_doc_type"


def test_a_document_relabelled_as_a_pid_is_refused(ca, anchors):
    # An mDL's MSO, its document presented under the PID's docType (and signed so by the device).
    assert refused(anchors, token(pid_mdoc.issue(ca, doc_type="org.iso.18013.5.1.mDL"), doc_type=PID)) \
        == "wrong_doc_type"


def test_an_expired_mso_is_refused(ca, anchors):
    now = dt.datetime.now(dt.UTC)
    expired = pid_mdoc.issue(ca, edit_mso=pid_mdoc.validity(now - dt.timedelta(days=30), now - dt.timedelta(hours=1)))
    assert refused(anchors, token(expired)) == "expired"


def test_an_mso_not_yet_valid_is_refused(ca, anchors):
    now = dt.datetime.now(dt.UTC)
    future = pid_mdoc.issue(ca, edit_mso=pid_mdoc.validity(now + dt.timedelta(hours=1), now + dt.timedelta(days=30)))
    assert refused(anchors, token(future)) == "not_yet_valid"


def test_the_msos_validity_is_checked_at_the_given_time(anchors, pid):
    valid_until = pid.mso["validityInfo"]["validUntil"].timestamp()
    assert verify(anchors, token(pid), now=valid_until + mdoc.SKEW - 1).claims
    assert refused(anchors, token(pid), now=valid_until + mdoc.SKEW + 1) == "expired"


def test_an_unknown_digest_algorithm_is_refused(ca, anchors):
    assert refused(anchors, token(pid_mdoc.issue(ca, edit_mso=lambda mso: mso.update(digestAlgorithm="MD5")))) \
        == "bad_digest_algorithm"


def test_a_bad_status_entry_is_refused(ca, anchors):
    status = {"status_list": {"idx": -1, "uri": "https://pid.example/status/7"}}
    assert refused(anchors, token(pid_mdoc.issue(ca, edit_mso=lambda mso: mso.update(status=status)))) == "bad_status"


# The issuer's signature and certificate.

def test_a_signer_from_another_ca_is_refused(anchors):
    assert refused(anchors, token(pid_mdoc.issue(PidCA("Other PID CA")))) == "untrusted_issuer"


def test_a_self_signed_signer_is_refused(ca, anchors):
    assert refused(anchors, token(pid_mdoc.issue(ca, signer=PidCA.self_signed_signer()))) == "self_signed_leaf"


def test_an_expired_signer_certificate_is_refused(ca, anchors):
    assert refused(anchors, token(pid_mdoc.issue(ca, signer=ca.expired_signer()))) == "certificate_expired"


def test_an_mso_signed_by_another_key_than_its_certificates_is_refused(ca, anchors):
    _, chain = ca.signer()
    forged = pid_mdoc.issue(ca, signer=(ec.generate_private_key(ec.SECP256R1()), chain))
    assert refused(anchors, token(forged)) == "bad_signature"


def test_an_issuer_signature_without_an_accepted_algorithm_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    document["issuerSigned"]["issuerAuth"] = [cbor2.dumps({1: -8}), *pid.issuer_signed["issuerAuth"][1:]]  # EdDSA
    assert refused(anchors, pid_mdoc.vp_token(document)) == "bad_algorithm"


def test_an_issuer_signature_without_certificate_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    document["issuerSigned"]["issuerAuth"] = [pid.issuer_signed["issuerAuth"][0], {},
                                              *pid.issuer_signed["issuerAuth"][2:]]
    assert refused(anchors, pid_mdoc.vp_token(document)) == "no_certificate"


# The DeviceResponse around it.

def test_a_device_response_with_an_error_status_is_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    assert refused(anchors, pid_mdoc.vp_token(document, status=10)) == "device_response_status"


def test_several_documents_are_refused(anchors, pid):
    document = pid_mdoc.present(pid, transcript(), items=NAMES)
    assert refused(anchors, pid_mdoc.vp_token(document, document)) == "several_documents"


def test_no_document_is_refused(anchors):
    assert refused(anchors, pid_mdoc.vp_token()) == "no_document"


@pytest.mark.parametrize("vp_token", [
    "not base64url!",
    base64.urlsafe_b64encode(b"\xff\xfe garbage").decode(),
    b"\x1f",
    b"",
    cbor2.dumps(["a", "DeviceResponse", "is", "a", "map"]),
    cbor2.dumps({"version": "1.0", "status": 0}) + b"\x00",   # bytes after it
    bytes.fromhex("a2617601617602"),                           # a duplicate key
    bytes.fromhex("d81c81d81d00"),                             # a shared value: a cycle
    cbor2.dumps({"version": "2.0", "status": 0}),
    cbor2.dumps({"version": "1.0", "status": "0"}),
    cbor2.dumps({"version": "1.0", "status": 0, "documents": [["not", "a", "document"]]}),
    12,
])
def test_garbage_is_refused_as_malformed(anchors, vp_token):
    assert refused(anchors, vp_token) == "malformed"


def test_a_huge_device_response_is_refused_before_decoding(anchors):
    assert refused(anchors, "A" * 100_000) == "too_large"
    assert refused(anchors, bytes(64_001)) == "too_large"


def test_every_tag_cbor2_would_decode_is_one_an_mdoc_uses_or_refused():
    decoded = set()
    for tag in [*range(300), 1004, 43000, 55799]:
        for sample in (0, b"\x01", "x", [1, 2], {}):
            try:
                if not isinstance(cbor2.loads(cbor2.dumps(cbor2.CBORTag(tag, sample))), cbor2.CBORTag):
                    decoded.add(tag)
            except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError):
                decoded.add(tag)
    assert decoded - set(mdoc.REFUSED_TAGS) == {0, 1, 2, 3, 100, 1004, 55799}


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input_is_only_ever_refused(anchors, vp_token):
    with pytest.raises(Refused):
        verify(anchors, vp_token)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_changed_byte_anywhere_is_refused_or_harmless(anchors, pid, data):
    # Harmless: what is accepted was signed so (a changed key can hide `nameSpaces`: fewer claims).
    raw = bytearray(pid_mdoc.device_response(pid_mdoc.present(pid, transcript(), items=NAMES)))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    try:
        presented = verify(anchors, bytes(raw))
    except Refused:
        return
    assert set(presented.claims) <= {PID}
    assert presented.claims.get(PID, {}).items() <= {"given_name": "Erika", "family_name": "Mustermann",
                                                     "birth_date": "1964-08-12"}.items()
