"""The Token Status List check (codeb.wallet.status): the draft's test vectors, and one fault each.

The vectors are draft-ietf-oauth-status-list's own (§4.1 examples, Appendix "Test vectors
for Status List encoding"), carried in a token from the test status list issuer
(tests/support/status_list.py) so they go through the whole verification; each rejection
test changes one thing of an otherwise valid token and names the exact reason.
"""

import base64
import random
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeb.wallet import Refused, status
from codeb.wallet.trust import Anchor
from tests.support.pid_ca import PidCA
from tests.support.status_list import URI, StatusListIssuer, b64url, lst, pack, sign

NOW = int(time.time())

# §4.1: 16 entries of 1 bit, and 12 of 2 bits, with their byte arrays and `lst`.
DRAFT_1BIT = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
DRAFT_1BIT_BYTES = bytes([0xB9, 0xA3])
DRAFT_1BIT_ZLIB = "78dadbb918000217015d"
DRAFT_1BIT_LST = "eNrbuRgAAhcBXQ"
DRAFT_2BIT = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
DRAFT_2BIT_BYTES = bytes([0xC9, 0x44, 0xF9])
DRAFT_2BIT_ZLIB = "78da3be9f2130003df0207"
DRAFT_2BIT_LST = "eNo76fITAAPfAgc"

# Appendix: lists of 2^20 entries, all VALID but these.
LONG_SIZE = 2**20
LONG = {
    1: ({0: 1, 1993: 1, 25460: 1, 159495: 1, 495669: 1, 554353: 1, 645645: 1, 723232: 1, 854545: 1, 934534: 1,
         1000345: 1},
        "eNrt3AENwCAMAEGogklACtKQPg9LugC9k_ACvreiogEAAKkeCQAAAAAAAAAAAAAAAAAAAIBylgQAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAXG9IAAAAAAAAAPwsJAAAAAAAAAAAAAAAvhsSAAAAAAAAAAAA7KpLAAAAAAAAAAAAAAAAAAAA"
        "AJsLCQAAAAAAAAAAADjelAAAAAAAAAAAKjDMAQAAAACAZC8L2AEb"),
    2: ({0: 1, 1993: 2, 25460: 1, 159495: 3, 495669: 1, 554353: 1, 645645: 2, 723232: 1, 854545: 1, 934534: 2,
         1000345: 3},
        "eNrt2zENACEQAEEuoaBABP5VIO01fCjIHTMStt9ovGVIAAAAAABAbiEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEB5"
        "WwIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAID0ugQAAAAAAAAAAAAAAAAAQG12SgAAAAAAAAAAAAAAAAAAAAAAAAAAAOCSIQEAAAAAAAAAAAAAAAAAAAAAAAD8ExIA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwJEuAQAAAAAAAAAAAAAAAAAAAAAAAMB9SwIAAAAAAAAAAAAAAAAAAACoYUoA"
        "AAAAAAAAAAAAAEBqH81gAQw"),
    4: ({0: 1, 1993: 2, 35460: 3, 459495: 4, 595669: 5, 754353: 6, 845645: 7, 923232: 8, 924445: 9, 934534: 10,
         1004534: 11, 1000345: 12, 1030203: 13, 1030204: 14, 1030205: 15},
        "eNrt0EENgDAQADAIHwImkIIEJEwCUpCEBBQRHOy35Li1EjoOQGabAgAAAAAAAAAAAAAAAAAAACC1SQEAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABADrsCAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADoxaEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIIoCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAACArpwKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGhqVkAzlwIAAAAAiGVRAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAABx3AoAgLpVAQAAAAAAAAAAAAAAwM89rwMAAAAAAAAAAAjsA9xMBMA"),
}

# §8.2's example response: the draft's Status List Token, signed by a key it names only by `kid`.
DRAFT_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEyIiwidHlwIjoic3RhdHVzbGlzdCtqd3QifQ.eyJleHAiOjIyOTE3MjAxNzAsImlhdCI6MTY4NjkyMD"
    "E3MCwiaXNzIjoiaHR0cHM6Ly9leGFtcGxlLmNvbSIsInN0YXR1c19saXN0Ijp7ImJpdHMiOjEsImxzdCI6ImVOcmJ1UmdBQWhjQlhRIn0sInN1"
    "YiI6Imh0dHBzOi8vZXhhbXBsZS5jb20vc3RhdHVzbGlzdHMvMSIsInR0bCI6NDMyMDB9.2lKUUNG503R9htu4aHAYi7vjmr3sgApbfoDvPrl65N"
    "3URUO1EYqqQl45Jfzd-Av4QzlKa3oVALpLwOEUOq-U_g"
)


@pytest.fixture(scope="module")
def issuer():
    return StatusListIssuer()


@pytest.fixture(scope="module")
def anchors(issuer):
    return [Anchor("pid-ca", issuer.ca.root)]


def read(token, anchors, *, uri=URI, now=NOW, **kwargs):
    return status.read_token(token, uri=uri, signers=anchors, now=now, **kwargs)


def refused(token, anchors, **kwargs) -> str:
    with pytest.raises(Refused) as failure:
        read(token, anchors, **kwargs)
    return failure.value.reason


def reason_of(call, *args, **kwargs) -> str:
    with pytest.raises(Refused) as failure:
        call(*args, **kwargs)
    return failure.value.reason


# The draft's vectors.

@pytest.mark.parametrize(("statuses", "bits", "array", "compressed", "encoded"), [
    (DRAFT_1BIT, 1, DRAFT_1BIT_BYTES, DRAFT_1BIT_ZLIB, DRAFT_1BIT_LST),
    (DRAFT_2BIT, 2, DRAFT_2BIT_BYTES, DRAFT_2BIT_ZLIB, DRAFT_2BIT_LST),
])
def test_the_drafts_examples_decode_to_its_statuses(issuer, anchors, statuses, bits, array, compressed, encoded):
    assert base64.urlsafe_b64decode(encoded + "==") == bytes.fromhex(compressed)  # the draft agrees with itself
    assert pack(statuses, bits=bits) == array  # and with the test issuer
    found = read(issuer.token(bits=bits, status_list={"lst": encoded}), anchors)
    assert found.bits == bits
    assert found.data == array
    assert [found.value(idx) for idx in range(len(statuses))] == statuses


@pytest.mark.parametrize("bits", sorted(LONG))
def test_the_drafts_test_vectors_decode_to_its_statuses(issuer, anchors, bits):
    entries, encoded = LONG[bits]
    found = read(issuer.token(bits=bits, status_list={"lst": encoded}), anchors)
    assert found.data == pack(entries, bits=bits, size=LONG_SIZE)  # every other entry VALID
    assert {idx: found.value(idx) for idx in entries} == entries
    after = [idx + 1 for idx in entries if idx + 1 not in entries]
    assert [found.value(idx) for idx in after] == [0] * len(after)
    assert found.value(LONG_SIZE - 1) == 0
    assert reason_of(found.value, LONG_SIZE) == "status_index_out_of_range"


def test_the_drafts_own_token_names_no_certificate_chain(anchors):
    """The draft's example names its key by `kid` only: nothing a PID trust list can check."""
    assert refused(DRAFT_TOKEN, anchors, uri="https://example.com/statuslists/1") == "no_certificate"


# A valid list.

def test_a_token_from_the_issuer_is_read(issuer, anchors):
    statuses = [0, 1, 2, 0, 3, 0, 0, 1, 2]
    found = read(issuer.token(statuses, bits=2, now=NOW, lifetime=600, ttl=120), anchors)
    assert (found.bits, found.expires, found.ttl) == (2, NOW + 600, 120)
    assert [found.value(idx) for idx in range(len(statuses))] == statuses
    assert found.value(11) == 0  # the padding of the last byte reads VALID
    assert reason_of(found.value, 12) == "status_index_out_of_range"
    assert reason_of(found.value, -1) == "status_index_out_of_range"


def test_bytes_with_a_trailing_newline_are_read(issuer, anchors):
    assert read(issuer.token([1, 0]).encode() + b"\r\n", anchors).value(0) == 1


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_every_width_reads_back_what_was_written(issuer, anchors, bits):
    statuses = [(idx * 7) % (1 << bits) for idx in range(40)]
    found = read(issuer.token(statuses, bits=bits), anchors)
    assert [found.value(idx) for idx in range(40)] == statuses


def test_a_signer_through_an_intermediate_is_trusted(issuer, anchors):
    key, chain = issuer.ca.signer("Status Signer", via_intermediate=True)
    assert read(issuer.token([1], key=key, chain=chain), anchors).value(0) == 1


def test_a_token_without_exp_or_ttl_is_read(issuer, anchors):
    found = read(issuer.token([0], claims={"exp": None, "ttl": None}), anchors)
    assert (found.expires, found.ttl) == (None, None)


# `check`: the status types (draft §7).

def test_check_accepts_valid_and_refuses_the_others(issuer, anchors):
    found = read(issuer.token([status.VALID, status.INVALID, status.SUSPENDED, 3, 0], bits=2), anchors)
    status.check(found, 0)
    status.check(found, 4)
    assert reason_of(status.check, found, 1) == "revoked"
    assert reason_of(status.check, found, 2) == "suspended"
    assert reason_of(status.check, found, 3) == "status_unknown"
    assert reason_of(status.check, found, 8) == "status_index_out_of_range"


def test_check_refuses_an_application_specific_status(issuer, anchors):
    found = read(issuer.token({5: 0x0C}, bits=4, size=8), anchors)
    status.check(found, 4)
    assert reason_of(status.check, found, 5) == "status_unknown"


# The header.

@pytest.mark.parametrize("typ", ["JWT", "application/statuslist+jwt", "STATUSLIST+JWT", "dc+sd-jwt", None])
def test_a_token_of_another_type_is_refused(issuer, anchors, typ):
    assert refused(issuer.wrong_typ(typ), anchors) == "wrong_type"


def test_an_unsigned_token_is_refused(issuer, anchors):
    assert refused(issuer.unsigned(), anchors) == "bad_algorithm"


@pytest.mark.parametrize("alg", ["HS256", "RS256", "EdDSA", "es256", ["ES256"], None])
def test_an_algorithm_outside_es256_es384_es512_is_refused(issuer, anchors, alg):
    assert refused(issuer.token(header={"alg": alg}), anchors) == "bad_algorithm"


def test_an_alg_that_does_not_fit_the_signers_key_is_refused(issuer, anchors):
    assert refused(issuer.token(header={"alg": "ES384"}), anchors) == "bad_algorithm"  # a P-256 signer


def test_critical_extensions_are_refused(issuer, anchors):
    assert refused(issuer.token(header={"crit": ["b64"], "b64": False}), anchors) == "malformed"


# The signer.

def test_a_signer_of_an_untrusted_ca_is_refused(issuer, anchors):
    assert refused(issuer.untrusted(), anchors) == "untrusted_issuer"


def test_a_self_signed_signer_is_refused(issuer, anchors):
    assert refused(issuer.self_signed(), anchors) == "self_signed_leaf"


def test_an_expired_signer_is_refused(issuer, anchors):
    key, chain = issuer.ca.expired_signer()
    assert refused(issuer.token(key=key, chain=chain), anchors) == "certificate_expired"


def test_a_token_without_x5c_is_refused(issuer, anchors):
    assert refused(issuer.token(header={"x5c": None}), anchors) == "no_certificate"


@pytest.mark.parametrize("x5c", ["MIIB", ["not base64!"], [1]])
def test_a_broken_x5c_is_refused(issuer, anchors, x5c):
    assert refused(issuer.token(header={"x5c": x5c}), anchors) == "bad_certificate"


def test_no_anchors_trust_nothing(issuer):
    assert refused(issuer.token(), []) == "untrusted_issuer"


def test_a_trusted_chain_with_another_key_signature_is_refused(issuer, anchors):
    other, _ = PidCA().signer()
    assert refused(issuer.token(key=other), anchors) == "bad_signature"


def test_a_changed_payload_is_refused(issuer, anchors):
    header, _, signature = issuer.token([0]).split(".")
    _, payload, _ = issuer.token([1]).split(".")
    assert refused(f"{header}.{payload}.{signature}", anchors) == "bad_signature"


def test_a_cut_signature_is_refused(issuer, anchors):
    assert refused(issuer.token()[:-4], anchors) == "bad_signature"


# The claims.

def test_a_token_for_another_uri_is_refused(issuer, anchors):
    assert refused(issuer.wrong_sub(), anchors) == "wrong_subject"
    assert refused(issuer.token(), anchors, uri=URI + "/") == "wrong_subject"


def test_a_token_without_sub_is_refused(issuer, anchors):
    assert refused(issuer.token(claims={"sub": None}), anchors) == "malformed"


def test_an_expired_token_is_refused(issuer, anchors):
    assert refused(issuer.expired(), anchors) == "expired"
    assert refused(issuer.token(now=NOW - 60, lifetime=60), anchors) == "expired"  # exp is now


def test_a_token_not_yet_valid_is_refused(issuer, anchors):
    assert refused(issuer.token(claims={"nbf": NOW + 600}), anchors) == "not_yet_valid"


@pytest.mark.parametrize("claims", [{"iat": None}, {"iat": "yesterday"}, {"exp": "later"}, {"exp": True},
                                    {"ttl": 0}, {"ttl": -300}, {"ttl": "300"}, {"ttl": 1.5}])
def test_missing_or_mistyped_claims_are_refused(issuer, anchors, claims):
    assert refused(issuer.token(claims=claims), anchors) == "malformed"


# The list.

@pytest.mark.parametrize("bits", [0, 3, 16, "1", True, 1.0, None])
def test_bits_other_than_1_2_4_8_are_refused(issuer, anchors, bits):
    assert refused(issuer.token(status_list={"bits": bits}), anchors) == "bad_status_list"


def test_a_missing_status_list_is_refused(issuer, anchors):
    assert refused(issuer.token(claims={"status_list": None}), anchors) == "bad_status_list"
    assert refused(issuer.token(claims={"status_list": "eNrbuRgAAhcBXQ"}), anchors) == "bad_status_list"


@pytest.mark.parametrize("encoded", ["eNrbuRgAAhcBXQ==", "eNrbuRgAAhcBXQ!", "eNr+uRgAAhcBXQ", "eNrbu", 42, None])
def test_lst_that_is_not_base64url_is_refused(issuer, anchors, encoded):
    assert refused(issuer.token(status_list={"lst": encoded}), anchors) == "bad_status_list"


@pytest.mark.parametrize("compressed", [
    b"not zlib at all",
    zlib.compress(DRAFT_1BIT_BYTES)[:-3],                      # cut short
    zlib.compress(DRAFT_1BIT_BYTES) + b"\x00",                 # something after the stream
    zlib.compress(DRAFT_1BIT_BYTES)[2:-4],                     # raw DEFLATE, no ZLIB header
    bytes.fromhex("1f8b08000000000000ff") + zlib.compress(DRAFT_1BIT_BYTES)[2:],  # a gzip header
])
def test_lst_that_is_not_one_zlib_stream_is_refused(issuer, anchors, compressed):
    assert refused(issuer.bad_compression(compressed), anchors) == "bad_status_list"


def test_a_zip_bomb_is_refused_while_it_expands(issuer, anchors):
    bomb = zlib.compress(bytes(status.MAX_LIST + 1), 9)
    assert len(bomb) < 20_000
    assert refused(issuer.token(status_list={"lst": b64url(bomb)}), anchors) == "too_large"


def test_a_list_of_the_largest_size_is_read(issuer, anchors):
    found = read(issuer.token(status_list={"lst": lst(bytes(status.MAX_LIST))}), anchors)
    assert found.value(status.MAX_INDEX - 1) == 0


# The token as bytes.

def test_a_token_over_max_bytes_is_refused(issuer, anchors):
    token = issuer.token()
    assert refused(token, anchors, max_bytes=len(token) - 1) == "too_large"
    assert read(token, anchors, max_bytes=len(token)).value(0) == 0


def test_a_list_larger_than_the_jose_librarys_default_limits_is_read(issuer, anchors):
    """joserfc refuses payloads over 128 kB by default; a status list may be larger."""
    noisy = random.Random(7).randbytes(300_000)  # does not compress
    token = issuer.token(status_list={"bits": 8, "lst": lst(noisy)})
    assert len(token) > 300_000
    assert read(token, anchors).value(257) == noisy[257]


@pytest.mark.parametrize("token", [
    "", "abc", "a.b", "a.b.c.d", "!!!.e30.", "W10.e30.", "bnVsbA.e30.", "ImFsZyI.e30.", "ey.e30.",
    "é.e30.", None, 42, ["a.b.c"], b"\xff\xfe.a.b",
])
def test_what_is_no_compact_jws_is_refused(anchors, token):
    assert refused(token, anchors) == "malformed"


@pytest.mark.parametrize("payload", [b"not json", b"\xff", b"[1]", b'"sub"', b"[" * 100_000, {"k": 1}])
def test_a_signed_payload_that_is_no_status_list_token_is_refused(issuer, anchors, payload):
    assert refused(sign(issuer.header(), payload, issuer.key), anchors) == "malformed"


# `reference`: the credential's `status` claim (draft §6.2, §6.3).

def test_the_drafts_reference_is_read():
    claim = {"status_list": {"idx": 0, "uri": "https://example.com/statuslists/1"}}
    assert status.reference(claim) == {"uri": "https://example.com/statuslists/1", "idx": 0}


def test_a_reference_keeps_only_uri_and_idx():
    claim = {"status_list": {"idx": 7, "uri": URI, "extra": True}, "other_mechanism": {}}
    assert status.reference(claim) == {"uri": URI, "idx": 7}


@pytest.mark.parametrize("claim", [None, {}, {"status_assertion": {"x": 1}}, {"status_list": None}])
def test_no_status_list_is_no_reference(claim):
    assert status.reference(claim) is None


@pytest.mark.parametrize("claim", [
    "https://pid.example/status/1", [1], 0,
    {"status_list": "https://pid.example/status/1"},
    {"status_list": {"uri": URI}},
    {"status_list": {"idx": 0}},
    {"status_list": {"idx": -1, "uri": URI}},
    {"status_list": {"idx": "0", "uri": URI}},
    {"status_list": {"idx": 1.0, "uri": URI}},
    {"status_list": {"idx": True, "uri": URI}},
    {"status_list": {"idx": status.MAX_INDEX, "uri": URI}},
    {"status_list": {"idx": 10**100, "uri": URI}},
    {"status_list": {"idx": 0, "uri": "http://pid.example/status/1"}},
    {"status_list": {"idx": 0, "uri": "pid.example/status/1"}},
    {"status_list": {"idx": 0, "uri": "https://"}},
    {"status_list": {"idx": 0, "uri": "https:///status"}},
    {"status_list": {"idx": 0, "uri": "https://user:secret@pid.example/status/1"}},
    {"status_list": {"idx": 0, "uri": "https://pid.example:port/status/1"}},
    {"status_list": {"idx": 0, "uri": "https://pid.example/status list"}},
    {"status_list": {"idx": 0, "uri": "https://pid.example/" + "a" * 3000}},
    {"status_list": {"idx": 0, "uri": "https://pïd.example/status/1"}},
    {"status_list": {"idx": 0, "uri": ["https://pid.example/status/1"]}},
])
def test_a_malformed_reference_is_refused(claim):
    assert reason_of(status.reference, claim) == "bad_status_reference"


def test_the_largest_index_is_a_reference():
    claim = {"status_list": {"idx": status.MAX_INDEX - 1, "uri": URI}}
    assert status.reference(claim) == {"uri": URI, "idx": status.MAX_INDEX - 1}


# `cache_for`: ttl, bounded (draft §12.8, §11.5).

def cached(*, ttl=None, expires=None, **kwargs) -> int:
    return status.cache_for(status.StatusList(bits=1, data=b"\0", expires=expires, ttl=ttl), now=NOW, **kwargs)


def test_cache_for_follows_ttl_within_bounds():
    assert cached(ttl=120) == 120
    assert cached() == 300
    assert cached(default=60) == 60
    assert cached(ttl=10**9) == 86_400
    assert cached(ttl=3600, ceiling=600) == 600
    assert cached(ttl=3600, expires=NOW + 90) == 90
    assert cached(expires=NOW + 30) == 30
    assert cached(ttl=3600, expires=NOW - 5) == 0


# Anything at all: Refused or a result, never another exception.

def _claims_strategy():
    scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
    return st.fixed_dictionaries({}, optional={
        "sub": st.just(URI) | values, "iat": st.just(NOW) | values, "exp": st.just(NOW + 60) | values,
        "nbf": values, "ttl": st.just(60) | values,
        "status_list": st.fixed_dictionaries({}, optional={
            "bits": st.sampled_from([1, 2, 4, 8]) | values,
            "lst": st.just(DRAFT_1BIT_LST) | st.binary(max_size=64).map(b64url) | values}) | values,
    })


@settings(max_examples=150, deadline=None)
@given(claims=_claims_strategy())
def test_any_signed_claims_are_read_or_refused(issuer, anchors, claims):
    try:
        found = read(sign(issuer.header(), claims, issuer.key), anchors)
    except Refused as error:
        assert error.reason in {"malformed", "wrong_subject", "expired", "not_yet_valid", "bad_status_list",
                                "too_large"}
    else:
        assert found.bits in (1, 2, 4, 8)


@settings(max_examples=300, deadline=None)
@given(token=st.binary(max_size=300) | st.text(max_size=300)
       | st.lists(st.text("eyJ0AaZz09_-.", max_size=60), min_size=3, max_size=3).map(".".join))
def test_any_bytes_are_refused(anchors, token):
    with pytest.raises(Refused):
        read(token, anchors)


@settings(max_examples=300, deadline=None)
@given(claim=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["status_list", "idx", "uri", "x"]), inner, max_size=3),
                          max_leaves=10))
def test_any_status_claim_is_a_reference_none_or_refused(claim):
    try:
        found = status.reference(claim)
    except Refused as error:
        assert error.reason == "bad_status_reference"
    else:
        assert found is None or set(found) == {"uri", "idx"}
