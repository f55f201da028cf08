"""Whether an issuer's chain ends at a tenant's anchor (codeb.wallet.trust), one broken chain each.

Chains come from a test PID provider's CA (tests/support/pid_ca.py), leaf first and DER
as an `x5c` or `x5chain` carries them; the broken ones are built with its `certificate`
helper, so each test changes one thing and names the exact reason.
"""

import datetime as dt
import hashlib
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codeb.wallet import Refused
from codeb.wallet.trust import MAX_CHAIN, Anchor, fingerprint, load_certificate, verify_chain
from tests.support.pid_ca import DAY, PidCA, certificate, der, pem


def refused(chain, anchors, *, now=None) -> str:
    with pytest.raises(Refused) as refusal:
        verify_chain(chain, anchors, now=int(now or time.time()))
    return refusal.value.reason


def named(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PID Provider"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def intermediate(ca, *, path_length=0, key_usage=None, is_ca=True, under=None):
    """A CA certificate under `under` (key, certificate), by default the root: (its key, the certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key, issuer = under or (ca.key, ca.root)
    cert = certificate(named("Test PID Intermediate"), key, issuer=issuer.subject, issuer_key=issuer_key, ca=is_ca,
                       path_length=path_length, key_usage=key_usage)
    return key, cert


def leaf_under(issuer_key, issuer_cert, **options):
    key = ec.generate_private_key(ec.SECP256R1())
    return certificate(named("Test PID Signer"), key, issuer=issuer_cert.subject, issuer_key=issuer_key, ca=False,
                       **options)


# Chains that end at an anchor.

def test_a_signer_issued_by_the_anchor_is_trusted(ca, anchors):
    leaf, anchor = verify_chain(ca.chain, anchors, now=int(time.time()))
    assert leaf.subject.rfc4514_string() == "CN=Test PID Signer,O=Test PID Provider,C=DE"
    assert anchor.id == "pid-de"


def test_a_signer_under_an_intermediate_is_trusted(ca, anchors):
    _, chain = ca.signer(via_intermediate=True)
    leaf, anchor = verify_chain(chain, anchors, now=int(time.time()))
    assert der(leaf) == chain[0]
    assert anchor.id == "pid-de"


def test_a_chain_that_includes_the_root_is_trusted(ca, anchors):
    _, chain = ca.signer(via_intermediate=True)
    _, anchor = verify_chain([*chain, der(ca.root)], anchors, now=int(time.time()))
    assert anchor.id == "pid-de"


def test_the_anchor_found_is_the_one_that_signed(ca):
    other = PidCA("Other PID CA", country="AT")
    anchors = [Anchor(id="pid-at", certificate=other.root), Anchor(id="pid-de", certificate=ca.root)]
    assert verify_chain(other.chain, anchors, now=int(time.time()))[1].id == "pid-at"
    assert verify_chain(ca.chain, anchors, now=int(time.time()))[1].id == "pid-de"


# Chains that do not.

def test_an_expired_signer_is_refused(ca, anchors):
    assert refused(ca.expired_signer()[1], anchors) == "certificate_expired"


def test_a_signer_not_yet_valid_is_refused(ca, anchors):
    now = dt.datetime.now(dt.UTC)
    _, chain = ca.signer(not_before=now + DAY, not_after=now + 30 * DAY)
    assert refused(chain, anchors) == "certificate_not_yet_valid"


def test_validity_is_judged_at_the_time_given(ca, anchors):
    assert refused(ca.chain, anchors, now=time.time() + 400 * DAY.total_seconds()) == "certificate_expired"


def test_an_expired_root_in_the_chain_is_refused(ca, anchors):
    assert refused([*ca.chain, der(ca.root)], anchors, now=time.time() + 400 * DAY.total_seconds()) \
        == "certificate_expired"


def test_a_self_signed_signer_is_refused(anchors):
    assert refused(PidCA.self_signed_signer()[1], anchors) == "self_signed_leaf"


def test_the_root_itself_as_signer_is_refused(ca, anchors):
    assert refused([der(ca.root)], anchors) == "self_signed_leaf"


def test_a_signer_that_is_a_ca_is_refused(ca, anchors):
    assert refused(ca.signer(ca=True)[1], anchors) == "signer_is_ca"


def test_a_signer_whose_key_may_not_sign_is_refused(ca, anchors):
    assert refused(ca.signer(key_usage="none")[1], anchors) == "signer_key_usage"


def test_an_intermediate_that_is_no_ca_is_refused(ca, anchors):
    key, middle = intermediate(ca, is_ca=False, key_usage="sign")
    assert refused([der(leaf_under(key, middle)), der(middle)], anchors) == "issuer_not_ca"


def test_an_intermediate_that_may_not_sign_certificates_is_refused(ca, anchors):
    key, middle = intermediate(ca, key_usage="sign")
    assert refused([der(leaf_under(key, middle)), der(middle)], anchors) == "issuer_key_usage"


def test_an_intermediate_beyond_its_path_length_is_refused(ca, anchors):
    upper_key, upper = intermediate(ca, path_length=0)
    lower_key, lower = intermediate(ca, path_length=None, under=(upper_key, upper))
    assert refused([der(leaf_under(lower_key, lower)), der(lower), der(upper)], anchors) == "path_too_long"


def test_a_chain_deeper_than_the_roots_path_length_is_untrusted(ca, anchors):
    """The root allows one CA below it: two intermediates find no anchor to end at."""
    upper_key, upper = intermediate(ca, path_length=None)
    lower_key, lower = intermediate(ca, path_length=None, under=(upper_key, upper))
    assert refused([der(leaf_under(lower_key, lower)), der(lower), der(upper)], anchors) == "untrusted_issuer"


def test_a_signer_from_another_ca_is_refused(anchors):
    assert refused(PidCA("Other PID CA").chain, anchors) == "untrusted_issuer"


def test_no_anchors_trust_no_one(ca):
    assert refused(ca.chain, []) == "untrusted_issuer"


def test_a_chain_in_the_wrong_order_is_refused(ca, anchors):
    _, chain = ca.signer(via_intermediate=True)
    assert refused(list(reversed(chain)), anchors) == "signer_is_ca"


def test_a_chain_whose_next_certificate_did_not_sign_is_refused(ca, anchors):
    _, chain = ca.signer(via_intermediate=True)
    _, stranger = ca.signer(via_intermediate=True)
    assert refused([chain[0], stranger[1]], anchors) == "bad_chain"


def test_a_signer_with_a_broken_signature_is_refused(ca, anchors):
    _, chain = ca.signer(via_intermediate=True)
    broken = chain[0][:-8] + bytes(8)
    assert refused([broken, chain[1]], anchors) == "bad_chain"


def test_a_signer_claiming_the_anchor_without_its_signature_is_untrusted(ca, anchors):
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = certificate(named("Test PID Signer"), ec.generate_private_key(ec.SECP256R1()), issuer=ca.root.subject,
                         issuer_key=forger, ca=False)
    assert refused([der(forged)], anchors) == "untrusted_issuer"


def test_a_chain_too_long_is_refused_before_any_check(ca, anchors):
    assert refused([b"not even DER"] * (MAX_CHAIN + 1), anchors) == "chain_too_long"


@pytest.mark.parametrize("chain", [[b""], [b"\x30\x03\x02\x01\x00"], [b"garbage"], [pem(PidCA().root)[:40]]])
def test_garbage_der_is_refused(anchors, chain):
    assert refused(chain, anchors) == "bad_certificate"


def test_an_empty_chain_is_refused(anchors):
    assert refused([], anchors) == "no_certificate"


# Loading anchors.

def test_a_certificate_loads_from_der_and_pem(ca):
    assert load_certificate(der(ca.root)) == load_certificate(pem(ca.root)) == ca.root


@pytest.mark.parametrize("data", [b"", b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n", b"\x00" * 64])
def test_garbage_is_no_certificate(data):
    with pytest.raises(Refused) as refusal:
        load_certificate(data)
    assert refusal.value.reason == "bad_certificate"


def test_an_anchor_is_named_by_the_sha256_of_its_der(ca):
    assert fingerprint(ca.root) == hashlib.sha256(der(ca.root)).hexdigest()
