"""The SD-JWT VC verifier's checks (codeb.wallet.sdjwt), one attack or broken wallet each.

PIDs come from the test wallet (tests/support/pid_sdjwt.py): issued by the IETF reference
library (`sd_jwt`) under a test PID provider's CA, presented by its holder with a
key-binding JWT for this request. The digest, the processing of disclosures and the key
binding are first held to RFC 9901's own examples. Each refusal test changes one thing
and names the exact reason; the reference library's own verifier is shown accepting what
ours refuses, which is why verification is ours.
"""

import json
import time
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from codeb.wallet import Refused, sdjwt
from tests.support.pid_ca import PidCA, certificate, der
from tests.support.pid_sdjwt import (
    PERSON,
    PID_VCT,
    REMOVE,
    Holder,
    Parts,
    PidIssuer,
    b64url,
    decode,
    disclosure,
    duplicate,
    inject,
    tamper,
    unb64url,
)

CLIENT_ID = "x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"
NONCE = "n-0S6_WzA2Mj"
NAMES = {"given_name": True, "family_name": True, "birthdate": True}
DAY = 86_400

# RFC 9901 (the text approved as draft-ietf-oauth-selective-disclosure-jwt-22): §4.2.1 and
# §4.2.3, the disclosure of family_name "Möbius" and its digest, and the same content spelled
# otherwise; §4.2.2 and §4.2.4.2, the array element "FR"; draft -07 had the salt
# 6qMQvRL5haj for the same example (quoted by @sd-jwt/utils' test vectors).
RFC_DISCLOSURE = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
RFC_DIGEST = "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
RFC_ESCAPED_DISCLOSURE = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd"
RFC_ELEMENT = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"
RFC_ELEMENT_DIGEST = "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"
DRAFT_DISCLOSURE, DRAFT_DIGEST = ("WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
                                  "uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY")
# RFC 9901 Appendix A.5: the examples' issuer key; §5.2 and A.3: the presentations (SD-JWT+KB),
# their KB-JWT's nonce, aud and iat, and the processed payloads the RFC says they give.
RFC_ISSUER_KEY = {"kty": "EC", "crv": "P-256", "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
                  "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}
RFC_NONCE, RFC_AUDIENCE, RFC_KB_IAT = "1234567890", "https://verifier.example.org", 1748536865
RFC_HOLDER_KEY = {"kty": "EC", "crv": "P-256", "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
                  "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}
RFC_PRESENTATION = (
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBbIkNyUWU3UzVrcUJBSHQtbk1ZWGdjNmJkdDJT"
    "SDVhVFkxc1VfTS1QZ2tqUEkiLCAiSnpZakg0c3ZsaUgwUjNQeUVNZmVadTZKdDY5dTVxZWhabzdGN0VQWWxTRSIsICJQb3JGYnBLdVZ1"
    "Nnh5bUphZ3ZrRnNGWEFiUm9jMkpHbEFVQTJCQTRvN2NJIiwgIlRHZjRvTGJnd2Q1SlFhSHlLVlFaVTlVZEdFMHc1cnREc3JaemZVYW9t"
    "TG8iLCAiWFFfM2tQS3QxWHlYN0tBTmtxVlI2eVoyVmE1TnJQSXZQWWJ5TXZSS0JNTSIsICJYekZyendzY002R242Q0pEYzZ2Vks4QmtN"
    "bmZHOHZPU0tmcFBJWmRBZmRFIiwgImdiT3NJNEVkcTJ4Mkt3LXc1d1BFemFrb2I5aFYxY1JEMEFUTjNvUUw5Sk0iLCAianN1OXlWdWx3"
    "UVFsaEZsTV8zSmx6TWFTRnpnbGhRRzBEcGZheVF3TFVLNCJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUuY29tIiwgImlh"
    "dCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAic3ViIjogInVzZXJfNDIiLCAibmF0aW9uYWxpdGllcyI6IFt7Ii4uLiI6"
    "ICJwRm5kamtaX1ZDem15VGE2VWpsWm8zZGgta284YUlLUWM5RGxHemhhVllvIn0sIHsiLi4uIjogIjdDZjZKa1B1ZHJ5M2xjYndIZ2Va"
    "OGtoQXYxVTFPU2xlclAwVmtCSnJXWjAifV0sICJfc2RfYWxnIjogInNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIs"
    "ICJjcnYiOiAiUC0yNTYiLCAieCI6ICJUQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VHZW1jIiwgInkiOiAiWnhq"
    "aVdXYlpNUUdIVldLVlE0aGJTSWlyc1ZmdWVjQ0U2dDRqVDlGMkhaUSJ9fX0.xJUoRLl1sVRxz57ralck9kBWbzbq0soK6dQ5liBXuge3"
    "IY8vVYq2xi1tywYwvlRTtPIM2A-XDzyta-SaJLhexQ~WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZ"
    "SJd~WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxv"
    "Y2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0~WyIyR0xDNDJzS1F2ZUNmR2Zy"
    "eU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd~WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0~eyJhbGciOiAiRVMyNTY"
    "iLCAidHlwIjogImtiK2p3dCJ9.eyJub25jZSI6ICIxMjM0NTY3ODkwIiwgImF1ZCI6ICJodHRwczovL3ZlcmlmaWVyLmV4YW1wbGUub3"
    "JnIiwgImlhdCI6IDE3NDg1MzY4NjUsICJzZF9oYXNoIjogImZNVjA1dnVNQVJzM3VHMERnMEJZZF83bVFSOUVHQmtSb2YwY1RaeXVxWE"
    "UifQ.76YniH11s4EDLnqNXKzYtIU1yXEBNzY8wfTd1QkpKzcJ0JY_KXbURL8qQBJA7xpZiA8vXYrlpPpd4yfHJTfhQA"
)
RFC_PID_PRESENTATION = (
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImRjK3NkLWp3dCJ9.eyJfc2QiOiBbIjBIWm1uU0lQejMzN2tTV2U3QzM0bC0tODhnekppLWV"
    "CSjJWel9ISndBVGciLCAiMUNybjAzV21VZVJXcDR6d1B2dkNLWGw5WmFRcC1jZFFWX2dIZGFHU1dvdyIsICIycjAwOWR6dkh1VnJXclJ"
    "YVDVrSk1tSG5xRUhIbldlME1MVlp3OFBBVEI4IiwgIjZaTklTRHN0NjJ5bWxyT0FrYWRqZEQ1WnVsVDVBMjk5Sjc4U0xoTV9fT3MiLCA"
    "iNzhqZzc3LUdZQmVYOElRZm9FTFB5TDBEWVBkbWZabzBKZ1ZpVjBfbEtDTSIsICI5MENUOEFhQlBibjVYOG5SWGtlc2p1MWkwQnFoV3F"
    "aM3dxRDRqRi1xREdrIiwgIkkwMGZjRlVvRFhDdWNwNXl5MnVqcVBzc0RWR2FXTmlVbGlOel9hd0QwZ2MiLCAiS2pBWGdBQTlONVdIRUR"
    "0UkloNHU1TW4xWnNXaXhoaFdBaVgtQTRRaXdnQSIsICJMYWk2SVU2ZDdHUWFnWFI3QXZHVHJuWGdTbGQzejhFSWdfZnYzZk9aMVdnIiw"
    "gIkxlemphYlJxaVpPWHpFWW1WWmY4Uk1pOXhBa2QzX00xTFo4VTdFNHMzdTQiLCAiUlR6M3FUbUZOSGJwV3JyT01aUzQxRjQ3NGtGcVJ"
    "2M3ZJUHF0aDZQVWhsTSIsICJXMTRYSGJVZmZ6dVc0SUZNanBTVGIxbWVsV3hVV2Y0Tl9vMmxka2tJcWM4IiwgIldUcEk3UmNNM2d4WnJ"
    "1UnBYemV6U2JrYk9yOTNQVkZ2V3g4d29KM2oxY0UiLCAiX29oSlZJUUlCc1U0dXBkTlM0X3c0S2IxTUhxSjBMOXFMR3NoV3E2SlhRcyI"
    "sICJ5NTBjemMwSVNDaHlfYnNiYTFkTW9VdUFPUTVBTW1PU2ZHb0VlODF2MUZVIl0sICJpc3MiOiAiaHR0cHM6Ly9waWQtaXNzdWVyLmJ"
    "1bmQuZGUuZXhhbXBsZSIsICJpYXQiOiAxNjgzMDAwMDAwLCAiZXhwIjogMTg4MzAwMDAwMCwgInZjdCI6ICJ1cm46ZXVkaTpwaWQ6ZGU"
    "6MSIsICJfc2RfYWxnIjogInNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIsICJjcnYiOiAiUC0yNTYiLCAieCI6ICJ"
    "UQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VHZW1jIiwgInkiOiAiWnhqaVdXYlpNUUdIVldLVlE0aGJTSWlyc1Z"
    "mdWVjQ0U2dDRqVDlGMkhaUSJ9fX0.QAHJq-qxTQxF8x9U_A1PZyvUO401fMQN4ILrSI4RhPo4FasaNYFLkyUJm1J2mm1Vm96CrsROFnK"
    "i4ZOsILOhpQ~WyJlSzVvNXBIZmd1cFBwbHRqMXFoQUp3IiwgImFnZV9lcXVhbF9vcl9vdmVyIiwgeyJfc2QiOiBbIjF0RWl5elBSWU9L"
    "c2Y3U3NZR01nUFpLc09UMWxRWlJ4SFhBMHI1X0J3a2siLCAiQ1ZLbmx5NVA5MHlKczNFd3R4UWlPdFVjemFYQ1lOQTRJY3pSYW9ock1E"
    "ZyIsICJhNDQtZzJHcjhfM0FtSncyWFo4a0kxeTBRel96ZTlpT2NXMlczUkxwWEdnIiwgImdrdnkwRnV2QkJ2ajBoczJaTnd4Y3FPbGY4"
    "bXUyLWtDRTctTmIyUXh1QlUiLCAiaHJZNEhubUY1YjVKd0M5ZVR6YUZDVWNlSVFBYUlkaHJxVVhRTkNXYmZaSSIsICJ5NlNGclZGUnlx"
    "NTBJYlJKdmlUWnFxalFXejB0TGl1Q21NZU8wS3FhekdJIl19XQ~WyJPQktsVFZsdkxnLUFkd3FZR2JQOFpBIiwgIjE4IiwgdHJ1ZV0~W"
    "yJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIm5hdGlvbmFsaXRpZXMiLCBbIkRFIl1d~eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImti"
    "K2p3dCJ9.eyJub25jZSI6ICIxMjM0NTY3ODkwIiwgImF1ZCI6ICJodHRwczovL3ZlcmlmaWVyLmV4YW1wbGUub3JnIiwgImlhdCI6IDE"
    "3NDg1MzY4NjUsICJzZF9oYXNoIjogInRILUZ0Umk1NU9PbnI0VmhkSkY1TEpNbEJfYnZib24tWTdwWWZmWHlZS28ifQ.4-6KSPWIOMcW"
    "IHPRKYTBb3-5QIGqX_4li6GCeIneNDekyBES4mBai7Y2ClmKO_009M-CuFFAtzLJInnZxfpUVQ"
)
RFC_PROCESSED = {
    "iss": "https://issuer.example.com", "iat": 1683000000, "exp": 1883000000, "sub": "user_42",
    "nationalities": ["US"], "cnf": {"jwk": RFC_HOLDER_KEY}, "family_name": "Doe",
    "address": {"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"},
    "given_name": "John",
}
RFC_PID_PROCESSED = {
    "iss": "https://pid-issuer.bund.de.example", "iat": 1683000000, "exp": 1883000000, "vct": "urn:eudi:pid:de:1",
    "cnf": {"jwk": RFC_HOLDER_KEY}, "age_equal_or_over": {"18": True}, "nationalities": ["DE"],
}


@pytest.fixture(scope="module")
def issuer(ca):
    return PidIssuer(ca)


@pytest.fixture(scope="module")
def holder():
    return Holder()


@pytest.fixture(scope="module")
def issuance(issuer, holder):
    return issuer.issue(holder)


def verify(anchors, presentation, **expected):
    return sdjwt.verify(presentation, **{"anchors": anchors, "client_id": CLIENT_ID, "nonce": NONCE,
                                         "now": int(time.time()), "types": [PID_VCT], **expected})


def refused(anchors, presentation, **expected) -> str:
    with pytest.raises(Refused) as refusal:
        verify(anchors, presentation, **expected)
    assert not any(str(value) in refusal.value.detail for value in ("Erika", "Mustermann", "1963-08-12", "Köln"))
    return refusal.value.reason


def present(holder, issuance, disclose=NAMES, *, age: int | None = None, **changes) -> str:
    """The reference holder's presentation, or one made by hand with `changes` to its key binding
    (`age`: its `iat` that many seconds ago, counted when the test runs)."""
    if age is not None:
        changes["iat"] = int(time.time()) - age
    if not changes:
        return holder.present(issuance, disclose, aud=CLIENT_ID, nonce=NONCE)
    return holder.bind(holder.select(issuance, disclose), **{"aud": CLIENT_ID, "nonce": NONCE, **changes})


def bound(holder, parts: Parts) -> str:
    return holder.bind(parts, aud=CLIENT_ID, nonce=NONCE)


def with_disclosures(issuer, holder, issuance, *texts, **payload) -> str:
    """`issuance` re-signed with the digests of `texts` added to its top-level `_sd` (and
    `payload`'s changes), presented with exactly those disclosures."""
    _, claims = decode(Parts.of(issuance).jwt)
    forged = issuer.forge(issuance, payload={"_sd": [*claims["_sd"], *map(sdjwt.digest, texts)], **payload})
    return bound(holder, replace(Parts.of(forged), disclosures=texts))


# The digest and the processing, against RFC 9901's own examples.

def test_the_digest_of_a_disclosure_is_the_rfcs_example():
    assert sdjwt.digest(RFC_DISCLOSURE) == RFC_DIGEST
    assert sdjwt.digest(RFC_ELEMENT) == RFC_ELEMENT_DIGEST
    assert sdjwt.digest(DRAFT_DISCLOSURE) == DRAFT_DIGEST


def test_the_digest_is_over_the_disclosure_as_spelled_not_its_content():
    """RFC 9901 §4.2.1: "Möbius" with its umlaut escaped is the same claim, another digest."""
    assert json.loads(sdjwt._base64url(RFC_ESCAPED_DISCLOSURE)) == json.loads(sdjwt._base64url(RFC_DISCLOSURE))
    assert sdjwt.digest(RFC_ESCAPED_DISCLOSURE) != RFC_DIGEST


@pytest.mark.parametrize(("presentation", "expected"), [(RFC_PRESENTATION, RFC_PROCESSED),
                                                         (RFC_PID_PRESENTATION, RFC_PID_PROCESSED)])
def test_the_rfcs_example_presentations_verify_step_by_step(presentation, expected):
    """§5.2 and A.3: the issuer's signature (A.5's key), the processed payload, the key binding."""
    parts = sdjwt._split(presentation, 64_000)
    issued = sdjwt._decode(parts.issuer_jwt, "malformed")
    sdjwt._verify_signature(issued.token, ECKey.import_key(RFC_ISSUER_KEY), "ES256", "bad_signature")
    processed = sdjwt.process(issued.payload, parts.disclosures)
    assert processed == expected
    sdjwt._check_key_binding(parts, sdjwt._holder_key(processed["cnf"]), client_id=RFC_AUDIENCE, nonce=RFC_NONCE,
                             now=RFC_KB_IAT + 10, window=300, algorithms=sdjwt.ALGORITHMS)


def test_the_rfcs_example_key_binding_is_stale_a_day_later():
    parts = sdjwt._split(RFC_PRESENTATION, 64_000)
    with pytest.raises(Refused) as refusal:
        sdjwt._check_key_binding(parts, sdjwt._holder_key({"jwk": RFC_HOLDER_KEY}), client_id=RFC_AUDIENCE,
                                 nonce=RFC_NONCE, now=RFC_KB_IAT + DAY, window=300, algorithms=sdjwt.ALGORITHMS)
    assert refusal.value.reason == "stale_key_binding"


def test_the_rfcs_pid_example_lacks_the_x5c_haip_requires(anchors):
    """A.3 is an SD-JWT VC (`typ` dc+sd-jwt) whose key comes from elsewhere: HAIP §6.1.1 wants x5c."""
    assert refused(anchors, RFC_PID_PRESENTATION, client_id=RFC_AUDIENCE, nonce=RFC_NONCE, now=RFC_KB_IAT,
                   types=["urn:eudi:pid:de:1"]) == "no_certificate"


def test_the_rfcs_first_example_is_no_sd_jwt_vc(anchors):
    assert refused(anchors, RFC_PRESENTATION) == "wrong_type"  # typ example+sd-jwt


# What a good presentation gives.

def test_the_reference_holders_presentation_gives_exactly_the_disclosed_claims(anchors, issuer, holder, issuance):
    presented = verify(anchors, present(holder, issuance))
    assert presented.format == "dc+sd-jwt" == sdjwt.FORMAT
    assert presented.credential_type == PID_VCT
    assert presented.issuer == issuer.iss
    assert presented.anchor == "pid-de"
    assert presented.claims == {"given_name": "Erika", "family_name": "Mustermann", "birthdate": "1963-08-12"}
    assert presented.status is None
    assert presented.expires == decode(Parts.of(issuance).jwt)[1]["exp"]


def test_a_nested_address_claim_is_disclosed_alone(anchors, holder, issuance):
    presented = verify(anchors, present(holder, issuance, {"address": {"locality": True}}))
    assert presented.claims == {"address": {"locality": "Köln"}}


def test_one_nationality_of_two_is_disclosed_alone(anchors, holder, issuance):
    presented = verify(anchors, present(holder, issuance, {"nationalities": [False, True]}))
    assert presented.claims == {"nationalities": ["FR"]}


def test_everything_disclosed_is_the_whole_pid(anchors, holder, issuance):
    everything = {name: (dict.fromkeys(value, True) if isinstance(value, dict) else
                         [True] * len(value) if isinstance(value, list) else True) for name, value in PERSON.items()}
    assert verify(anchors, present(holder, issuance, everything)).claims == PERSON


def test_nothing_disclosed_is_no_claims(anchors, holder, issuance):
    assert verify(anchors, present(holder, issuance, {})).claims == {}


def test_the_status_list_entry_is_returned(anchors, issuer, holder):
    issued = issuer.issue(holder, status={"idx": 412, "uri": "https://pid.example/status/7"})
    assert verify(anchors, present(holder, issued)).status == {"uri": "https://pid.example/status/7", "idx": 412}


def test_a_signer_under_an_intermediate_is_trusted(ca, anchors, holder):
    issued = PidIssuer(ca, signer=ca.signer(via_intermediate=True)).issue(holder)
    assert verify(anchors, present(holder, issued)).anchor == "pid-de"


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")  # joserfc's, of the polymorphic name
def test_an_eddsa_signer_is_trusted(ca, anchors, holder):
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test PID Signer (Ed25519)")])
    leaf = certificate(name, key, issuer=ca.name, issuer_key=ca.key, ca=False)
    issued = PidIssuer(ca, signer=(key, [der(leaf)])).issue(holder, alg="EdDSA")
    assert verify(anchors, present(holder, issued)).claims["given_name"] == "Erika"
    assert refused(anchors, present(holder, issued), algorithms=("ES256",)) == "bad_algorithm"


def test_the_dc_api_audience_is_whatever_the_caller_expects(anchors, holder, issuance):
    """OpenID4VP 1.0 §A.4: over the Digital Credentials API, `aud` is `origin:` and the Origin."""
    origin = "origin:https://login.acme.example"
    presented = verify(anchors, present(holder, issuance, aud=origin), client_id=origin)
    assert presented.claims["given_name"] == "Erika"


@pytest.mark.parametrize("age", [0, 300 + sdjwt.SKEW - 5, -sdjwt.SKEW + 5])
def test_a_key_binding_within_its_window_and_the_skew_is_taken(anchors, holder, issuance, age):
    assert verify(anchors, present(holder, issuance, age=age)).claims["birthdate"] == "1963-08-12"


def test_a_credential_just_expired_within_the_skew_is_taken(anchors, issuer, holder):
    issued = issuer.issue(holder, iat=int(time.time()) - DAY, exp=int(time.time()) - sdjwt.SKEW // 2)
    assert verify(anchors, present(holder, issued)).claims["family_name"] == "Mustermann"


# The key binding.

@pytest.mark.parametrize(("changes", "reason"), [
    ({"nonce": "another request's nonce"}, "wrong_nonce"),
    ({"aud": "x509_hash:another-verifier"}, "wrong_audience"),
    ({"aud": CLIENT_ID.removeprefix("x509_hash:")}, "wrong_audience"),  # OpenID4VP: the full client id
    ({"aud": [CLIENT_ID]}, "wrong_audience"),                           # RFC 9901 §4.3: a single string
    ({"age": 300 + sdjwt.SKEW + 5}, "stale_key_binding"),
    ({"age": -sdjwt.SKEW - 60}, "stale_key_binding"),
    ({"iat": "yesterday"}, "bad_key_binding"),
    ({"key": Holder().key}, "bad_key_binding"),
    ({"header": {"typ": "JWT"}}, "bad_key_binding"),
    ({"header": {"alg": "none"}}, "bad_key_binding"),
    ({"header": {"alg": "HS256"}, "secret": b"the holder's public key"}, "bad_key_binding"),
    ({"header": {"crit": ["b64"], "b64": False}}, "bad_key_binding"),
    ({"sd_hash": sdjwt.digest("another presentation~")}, "wrong_sd_hash"),
])
def test_a_wrong_key_binding_is_refused(anchors, holder, issuance, changes, reason):
    assert refused(anchors, present(holder, issuance, **changes)) == reason


def test_a_missing_key_binding_is_refused(anchors, holder, issuance):
    assert refused(anchors, holder.select(issuance, NAMES).serialize()) == "no_key_binding"


def test_a_disclosure_dropped_after_binding_breaks_the_sd_hash(anchors, holder, issuance):
    jwt, _dropped, *rest = present(holder, issuance).split("~")
    assert refused(anchors, "~".join([jwt, *rest])) == "wrong_sd_hash"


def test_a_key_binding_is_checked_against_the_window_given(anchors, holder, issuance):
    presentation = present(holder, issuance, age=120)
    assert refused(anchors, presentation, key_binding_window=30) == "stale_key_binding"


# The disclosures.

def test_an_injected_disclosure_is_refused(anchors, holder, issuance):
    assert refused(anchors, bound(holder, inject(holder.select(issuance, NAMES)))) == "unreferenced_disclosure"


def test_an_injected_claim_the_pid_does_not_have_is_refused(anchors, holder, issuance):
    parts = inject(holder.select(issuance, NAMES), "age_over_18", True)
    assert refused(anchors, bound(holder, parts)) == "unreferenced_disclosure"


def test_a_duplicated_disclosure_is_refused(anchors, holder, issuance):
    assert refused(anchors, bound(holder, duplicate(holder.select(issuance, NAMES)))) == "duplicate_disclosure"


def test_a_tampered_disclosure_is_refused(anchors, holder, issuance):
    parts = tamper(holder.select(issuance, NAMES), "birthdate", "2001-01-01")
    assert refused(anchors, bound(holder, parts)) == "unreferenced_disclosure"


def test_a_nested_disclosure_without_its_parent_is_refused(anchors, holder, issuance):
    """RFC 9901 §4.2.6: the locality connects to the payload only through the address's disclosure."""
    parts = holder.select(issuance, {"address": {"locality": True}})
    orphan = replace(parts, disclosures=tuple(text for i, text in enumerate(parts.disclosures)
                                              if i != parts.named("address")))
    assert refused(anchors, bound(holder, orphan)) == "unreferenced_disclosure"


@pytest.mark.parametrize("disclosed", [True, False])
def test_a_digest_twice_in_the_payload_is_refused(anchors, issuer, holder, issuance, disclosed):
    """RFC 9901 §7.1 step 4: the digest of a disclosure presented once, or a decoy's."""
    parts = holder.select(issuance, NAMES)
    twice = sdjwt.digest(parts.disclosures[0]) if disclosed else sdjwt.digest("a decoy")
    _, claims = decode(parts.jwt)
    forged = Parts.of(issuer.forge(issuance, payload={"_sd": [*claims["_sd"], twice, twice]}))
    assert refused(anchors, bound(holder, replace(parts, jwt=forged.jwt))) == "duplicate_digest"


@pytest.mark.parametrize("text", [
    disclosure("_sd", ["x"]),                       # RFC 9901 §7.1 step 3.3.2.2: reserved names
    disclosure("...", "x"),
    disclosure("DE"),                               # an array element's disclosure in an _sd
    disclosure("salt-is-not-enough")[:-2] + "xx",   # not JSON
    "not base64url!",
    sdjwt.digest("x"),                              # base64url of no UTF-8
    disclosure(1, 2),                               # a claim name that is no string
    disclosure("name", "value", "one too many"),
    b64url(json.dumps({"salt": "s", "name": "n"}).encode()),
], ids=["reserved-sd", "reserved-dots", "array-element", "not-json", "not-base64url", "not-utf8", "name-not-string",
        "four-members", "an-object"])  # the salts are random: ids of their own, the same in every xdist worker
def test_a_bad_disclosure_is_refused(anchors, issuer, holder, issuance, text):
    assert refused(anchors, with_disclosures(issuer, holder, issuance, text)) == "bad_disclosure"


@pytest.mark.parametrize(("name", "value"), [
    ("exp", int(time.time()) + DAY), ("iss", "https://pid-provider.example/de"), ("vct", PID_VCT),
    ("cnf", {"jwk": {"kty": "EC"}}), ("status", {"status_list": {"idx": 1, "uri": "https://pid.example/s"}}),
], ids=["exp", "iss", "vct", "cnf", "status"])
def test_a_validity_claim_selectively_disclosed_is_refused(anchors, issuer, holder, issuance, name, value):
    """SD-JWT VC §3.2.2.2: these MUST NOT be disclosures; a verifier reading only plain ones would miss them."""
    presentation = with_disclosures(issuer, holder, issuance, disclosure(name, value), **{name: REMOVE})
    assert refused(anchors, presentation) == "bad_disclosure"


def test_a_disclosure_of_a_claim_already_present_is_refused(anchors, issuer, holder, issuance):
    """§7.1 step 3.3.2.3: a disclosed given_name next to a plain one."""
    presentation = with_disclosures(issuer, holder, issuance, disclosure("given_name", "Eve"), given_name="Erika")
    assert refused(anchors, presentation) == "bad_disclosure"


def test_an_empty_disclosure_is_refused(anchors, holder, issuance):
    parts = holder.select(issuance, NAMES)
    assert refused(anchors, bound(holder, replace(parts, disclosures=(*parts.disclosures, "")))) == "bad_disclosure"


def test_an_array_element_with_more_than_its_digest_is_refused(anchors, issuer, holder, issuance):
    presentation = with_disclosures(issuer, holder, issuance, nationalities=[{"...": sdjwt.digest("x"), "y": 1}])
    assert refused(anchors, presentation) == "malformed"


def test_a_payload_nested_too_deep_is_refused(anchors, issuer, holder, issuance):
    deep: object = "bottom"
    for _ in range(sdjwt.MAX_DEPTH + 1):
        deep = [deep]
    assert refused(anchors, with_disclosures(issuer, holder, issuance, deep=deep)) == "malformed"


# The credential.

def test_an_expired_credential_is_refused(anchors, issuer, holder):
    issued = issuer.issue(holder, iat=int(time.time()) - 40 * DAY, exp=int(time.time()) - DAY)
    assert refused(anchors, present(holder, issued)) == "expired"


def test_a_credential_issued_in_the_future_is_refused(anchors, issuer, holder):
    assert refused(anchors, present(holder, issuer.issue(holder, iat=int(time.time()) + 3600))) == "not_yet_valid"


@pytest.mark.parametrize(("payload", "reason"), [
    ({"exp": REMOVE}, "no_expiry"),
    ({"exp": "2030-01-01"}, "malformed"),
    ({"exp": True}, "malformed"),
    ({"exp": 1e999}, "malformed"),                 # json.dumps writes Infinity: not JSON
    ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
    ({"vct": "urn:eudi:pid:de:1"}, "wrong_credential_type"),
    ({"vct": [PID_VCT]}, "wrong_credential_type"),
    ({"iss": REMOVE}, "no_issuer"),
    ({"iss": 42}, "no_issuer"),
    ({"_sd_alg": "sha-512"}, "bad_digest_algorithm"),
    ({"_sd_alg": "SHA-256"}, "bad_digest_algorithm"),
    ({"cnf": REMOVE}, "no_holder_key"),
    ({"cnf": {"kid": "holder-1"}}, "no_holder_key"),
    ({"cnf": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}}, "bad_holder_key"),
    ({"cnf": {"jwk": {"kty": "EC", "crv": "P-256"}}}, "bad_holder_key"),
    ({"status": {"status_list": {"idx": 1, "uri": "http://pid.example/status"}}}, "bad_status_reference"),
    ({"status": {"status_list": {"idx": -1, "uri": "https://pid.example/status"}}}, "bad_status_reference"),
    ({"status": "revoked"}, "bad_status_reference"),
])
def test_a_credential_with_a_bad_claim_is_refused(anchors, issuer, holder, issuance, payload, reason):
    assert refused(anchors, present(holder, issuer.forge(issuance, payload=payload))) == reason


def test_a_time_that_overflows_to_infinity_is_refused():
    with pytest.raises(Refused) as refusal:
        sdjwt._time(json.loads('{"exp": 1e999}'), "exp", "malformed")
    assert refusal.value.reason == "malformed"


def test_a_private_holder_key_is_refused(anchors, issuer, holder, issuance):
    private = holder.jwk.export_private(as_dict=True)
    assert refused(anchors, present(holder, issuer.forge(issuance, payload={"cnf": {"jwk": private}}))) \
        == "bad_holder_key"


@pytest.mark.parametrize("typ", ["vc+sd-jwt", "example+sd-jwt", "JWT", "DC+SD-JWT", None])
def test_a_wrong_typ_is_refused(anchors, issuer, holder, issuance, typ):
    forged = issuer.forge(issuance, header={"typ": REMOVE if typ is None else typ})
    assert refused(anchors, present(holder, forged)) == "wrong_type"


def test_the_typ_is_checked_on_what_the_reference_issuer_signs(anchors, issuer, holder):
    assert refused(anchors, present(holder, issuer.issue(holder, typ="vc+sd-jwt"))) == "wrong_type"


@pytest.mark.parametrize(("header", "allowed"), [
    ({"alg": "none"}, sdjwt.ALGORITHMS),
    ({"alg": "HS256"}, sdjwt.ALGORITHMS),        # keyed with the signer's certificate: alg confusion
    ({"alg": "HS256"}, ("ES256", "HS256")),      # never a MAC, whatever the caller allows
    ({"alg": "ES384"}, ("ES256",)),
    ({"alg": ["ES256"]}, sdjwt.ALGORITHMS),
    ({"alg": REMOVE}, sdjwt.ALGORITHMS),
])
def test_an_issuer_signature_without_an_allowed_algorithm_is_refused(anchors, issuer, holder, issuance, header,
                                                                      allowed):
    forged = issuer.forge(issuance, header=header)
    assert refused(anchors, present(holder, forged), algorithms=allowed) == "bad_algorithm"


def test_an_issuer_signature_by_another_key_is_refused(anchors, issuer, holder, issuance):
    forged = issuer.forge(issuance, key=Holder().key)
    assert refused(anchors, present(holder, forged)) == "bad_signature"


def test_a_payload_changed_after_signing_is_refused(anchors, issuer, holder, issuance):
    signed = Parts.of(issuance)
    other = Parts.of(issuer.issue(holder, vct="urn:eudi:pid:de:1"))
    header, _, signature = signed.jwt.split(".")
    swapped = replace(signed, jwt=f"{header}.{other.jwt.split('.')[1]}.{signature}")
    assert refused(anchors, bound(holder, replace(swapped, disclosures=()))) == "bad_signature"


def test_extension_headers_are_refused(anchors, issuer, holder, issuance):
    forged = issuer.forge(issuance, header={"crit": ["exp"], "exp": 1})
    assert refused(anchors, present(holder, forged)) == "malformed"


# The issuer's certificate chain (codeb.wallet.trust, through the SD-JWT's x5c).

def test_a_signer_from_another_ca_is_refused(anchors, holder):
    assert refused(anchors, present(holder, PidIssuer(PidCA("Other PID CA")).issue(holder))) == "untrusted_issuer"


def test_a_self_signed_signer_is_refused(anchors, holder):
    issued = PidIssuer(signer=PidCA.self_signed_signer()).issue(holder)
    assert refused(anchors, present(holder, issued)) == "self_signed_leaf"


def test_an_expired_signer_certificate_is_refused(ca, anchors, holder):
    issued = PidIssuer(ca, signer=ca.expired_signer()).issue(holder)
    assert refused(anchors, present(holder, issued)) == "certificate_expired"


def test_a_signer_certificate_of_another_key_is_refused(ca, anchors, holder):
    _, chain = ca.signer()
    issued = PidIssuer(ca, signer=(ca.signer_key, chain)).issue(holder)
    assert refused(anchors, present(holder, issued)) == "bad_signature"


@pytest.mark.parametrize(("x5c", "reason"), [
    (REMOVE, "no_certificate"),
    ([], "no_certificate"),
    (["not base64!"], "bad_certificate"),
    ("MIIB", "bad_certificate"),
    (["bm90IGEgY2VydGlmaWNhdGU="], "bad_certificate"),
])
def test_a_bad_x5c_is_refused(anchors, issuer, holder, issuance, x5c, reason):
    assert refused(anchors, present(holder, issuer.forge(issuance, header={"x5c": x5c}))) == reason


def test_no_anchor_trusts_no_issuer(holder, issuance):
    assert refused([], present(holder, issuance)) == "untrusted_issuer"


def test_a_root_certificate_as_the_signer_is_refused(ca, anchors, holder):
    issued = PidIssuer(ca, signer=(ca.key, [der(ca.root)])).issue(holder)
    assert refused(anchors, present(holder, issued)) == "self_signed_leaf"


# Anything else.

@pytest.mark.parametrize("presentation", [
    "", "abc", "a.b.c", "a.b.c~d", "Zm9v~e30.e30.", "~e30.e30.", "e30.e30~e30.e30.", "W10.e30.~e30.e30.",
    "e30.W10.~e30.e30.", "e30.e30.!~e30.e30.", "ä.b.c~d.e.f", None, 42, b"a.b.c~d.e.f", ["a.b.c~"],
])
def test_garbage_is_refused_as_malformed(anchors, presentation):
    assert refused(anchors, presentation) == "malformed"


@pytest.mark.parametrize("presentation", ["~", "~~", "a.b.c~", "e30.e30.~e30.e30.~"])
def test_garbage_ending_in_a_tilde_lacks_key_binding(anchors, presentation):
    assert refused(anchors, presentation) == "no_key_binding"


def test_a_header_with_a_member_twice_is_refused(anchors, holder, issuance):
    """RFC 7515 §4: a JOSE header naming a parameter twice may be rejected, and is: JSON readers
    disagree on which of the two counts."""
    parts = Parts.of(issuance)
    header, payload, signature = parts.jwt.split(".")
    twice = json.dumps({"typ": "vc+sd-jwt"})[:-1] + ", " + unb64url(header).decode()[1:]
    forged = replace(parts, jwt=f"{b64url(twice.encode())}.{payload}.{signature}")
    assert refused(anchors, present(holder, forged.serialize())) == "malformed"


def test_a_huge_presentation_is_refused_before_decoding(anchors):
    assert refused(anchors, "a" * 64_001 + "~b") == "too_large"


def test_the_size_limit_is_the_callers(anchors, holder, issuance):
    presentation = present(holder, issuance)
    assert refused(anchors, presentation, max_bytes=len(presentation) - 1) == "too_large"


# Why the reference library's verifier is not ours: it accepts each of these.

def reference_verifier(issuer, presentation) -> dict:
    """`sd_jwt`'s SDJWTVerifier, given the signer's key as our chain check would find it."""
    leaf = JWK.from_pyca(x509.load_der_x509_certificate(issuer.chain[0]).public_key())
    verifier = SDJWTVerifier(presentation, lambda iss, header: leaf, expected_aud=CLIENT_ID, expected_nonce=NONCE)
    return verifier.get_verified_payload()


def expired(issuer, holder):
    issued = issuer.issue(holder, iat=int(time.time()) - 40 * DAY, exp=int(time.time()) - DAY)
    return present(holder, issued)


def injected(issuer, holder):
    return bound(holder, inject(holder.select(issuer.issue(holder), NAMES)))


def mistyped(issuer, holder):
    return present(holder, issuer.issue(holder, typ="JWT"))


def stale(issuer, holder):
    return present(holder, issuer.issue(holder), age=30 * DAY)


@pytest.mark.parametrize(("attack", "reason"), [(expired, "expired"), (injected, "unreferenced_disclosure"),
                                                (mistyped, "wrong_type"), (stale, "stale_key_binding")])
def test_the_reference_verifier_accepts_what_ours_refuses(anchors, issuer, holder, attack, reason):
    presentation = attack(issuer, holder)
    assert reference_verifier(issuer, presentation)["given_name"] == "Erika"
    assert refused(anchors, presentation) == reason


# Whatever comes in, the answer is a Refused or a verified presentation.

@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.text(alphabet="abcXYZ019-_.~", max_size=300)))
def test_random_input_is_only_ever_refused(anchors, presentation):
    with pytest.raises(Refused):
        verify(anchors, presentation)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_changed_character_anywhere_is_refused_or_harmless(anchors, holder, issuance, data):
    presentation = present(holder, issuance)
    at = data.draw(st.integers(0, len(presentation) - 1))
    changed = presentation[:at] + data.draw(st.sampled_from("A_-~.=x0")) + presentation[at + 1:]
    try:
        presented = verify(anchors, changed)
    except Refused:
        return
    assert presented.claims == verify(anchors, presentation).claims
