"""The SAML service provider's checks (codeb.upstreams.saml), one attack or broken IdP each.

Responses come from a forging IdP (tests/support/saml_idp.py) that signs with xmlsec1 as a
real IdP does, so each test changes one thing. Where the issue says plain pysaml2 is not
enough (a wrong Recipient, a missing Destination, a replay), the test shows pysaml2's own
parse accepting what ours refuses.
"""

import base64
import time

import pytest

from codeb.store import Store
from codeb.upstreams import saml
from codeb.upstreams.checks import UpstreamError
from tests.support.saml_idp import ForgingIdP, Pysaml2IdP, encode, metadata_of

ACS = "https://login.acme.example/signin/saml/acs"
UID = "abcdefabcdef"
ENTITY = f"https://login.acme.example/signin/saml/metadata/{UID}"


@pytest.fixture
def idp(tmp_path):
    return ForgingIdP(tmp_path)


@pytest.fixture
def upstream(idp):
    found = saml.read_metadata(idp.metadata())
    return {"id": UID, "idp_metadata": idp.metadata(), "idp_entity_id": found["entity_id"]}


@pytest.fixture
def sp(tmp_path, upstream):
    return saml.client(Store(str(tmp_path / "tenant")), upstream, entity_id=ENTITY, acs_url=ACS)


@pytest.fixture
def request_id(sp, upstream):
    request_id, _ = saml.authn_request(sp, upstream, relay_state="r")
    return request_id


def verify(sp, upstream, xml, request_id):
    return saml.verify_response(sp, upstream, encode(xml), request_id=request_id, acs_url=ACS, now=time.time())


def refused(sp, upstream, xml, request_id) -> str:
    with pytest.raises(UpstreamError) as failure:
        verify(sp, upstream, xml, request_id)
    assert failure.value.message_id.startswith("error.upstream.")
    return failure.value.reason


def plain_pysaml2(sp, xml, request_id):
    """pysaml2's own parse with the same configuration, nothing of ours around it."""
    return sp.parse_authn_request_response(encode(xml), "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                                           outstanding={request_id: "codeb"})


def good(idp, request_id, **changes):
    return idp.response(request_id=request_id, acs=ACS, audience=ENTITY, **changes)


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_a_signed_response_gives_its_name_id_attributes_and_methods(sp, upstream, idp, request_id, sign):
    identity = verify(sp, upstream, good(idp, request_id, sign=sign), request_id)
    assert identity["name_id"] == "alice@corp.example"
    assert identity["attributes"]["displayName"] == ["Alice Example"]
    assert identity["attributes"]["groups"] == ["staff"]
    assert identity["amr"] == ["pwd"]
    assert identity["expires"] > time.time()
    assert saml.attribute(identity, "email", "email") == ["alice@corp.example"]


def test_an_unsigned_response_is_refused(sp, upstream, idp, request_id):
    assert "signed" in refused(sp, upstream, good(idp, request_id, sign=None), request_id)


def test_a_signature_by_another_key_is_refused_even_with_its_certificate_inside(sp, upstream, tmp_path, request_id):
    # The attacker's IdP has the same entity id; its response carries its own certificate in KeyInfo.
    (tmp_path / "attacker").mkdir()
    attacker = ForgingIdP(tmp_path / "attacker")
    xml = good(attacker, request_id)
    assert attacker.cert_body in "".join(xml.split())
    refused(sp, upstream, xml, request_id)


def test_a_changed_name_id_breaks_the_signature(sp, upstream, idp, request_id):
    xml = good(idp, request_id).replace(">alice@corp.example<", ">mallory@corp.example<", 1)
    refused(sp, upstream, xml, request_id)


def test_a_wrong_recipient_is_refused_though_plain_pysaml2_accepts_it(sp, upstream, idp, request_id):
    xml = good(idp, request_id, recipient="https://other-sp.example/acs")
    assert plain_pysaml2(sp, xml, request_id) is not None  # the library alone lets it through
    assert "Recipient" in refused(sp, upstream, xml, request_id)


def test_a_missing_destination_is_refused_though_plain_pysaml2_accepts_it(sp, upstream, idp, request_id):
    xml = good(idp, request_id, sign="both", destination=False)
    assert plain_pysaml2(sp, xml, request_id) is not None
    assert "Destination" in refused(sp, upstream, xml, request_id)


def test_a_response_for_another_destination_is_refused(sp, upstream, idp, request_id):
    refused(sp, upstream, good(idp, request_id, destination="https://other-sp.example/acs"), request_id)


def test_a_response_for_another_audience_is_refused(sp, upstream, idp, request_id):
    assert "Audience" in refused(sp, upstream, idp.response(request_id=request_id, acs=ACS,
                                                            audience="https://other-sp.example"), request_id)


@pytest.mark.parametrize("times", [
    {"not_on_or_after": -120, "confirmation_end": -120},  # expired
    {"confirmation_end": -120},                            # its bearer confirmation expired
    {"not_before": 600},                                   # not valid yet
])
def test_a_response_outside_its_time_is_refused(sp, upstream, idp, request_id, times):
    refused(sp, upstream, good(idp, request_id, **times), request_id)


def test_small_clock_differences_are_allowed(sp, upstream, idp, request_id):
    assert verify(sp, upstream, good(idp, request_id, not_before=30), request_id)["name_id"]


def test_an_answer_to_another_request_is_refused(sp, upstream, idp, request_id):
    refused(sp, upstream, good(idp, "id-another-request"), request_id)


def test_an_unsolicited_response_is_refused(sp, upstream, idp, request_id):
    refused(sp, upstream, good(idp, None), request_id)


def test_a_confirmation_for_another_request_is_refused(sp, upstream, idp, request_id):
    # The Response names our request, the signed assertion inside another one.
    assertion, _ = idp.signed_assertion(request_id="id-another-request", acs=ACS, audience=ENTITY)
    refused(sp, upstream, good(idp, request_id, assertion_xml=assertion), request_id)


def test_an_assertion_of_another_issuer_is_refused(sp, upstream, idp, request_id):
    refused(sp, upstream, good(idp, request_id, issuer="https://other-idp.example"), request_id)


def test_the_same_response_twice_is_accepted_by_the_parse_alone(sp, upstream, idp, request_id):
    """Replay: neither pysaml2 nor `verify_response` remembers assertions, so the caller
    spends each assertion id (codeb.signin.upstream_saml; tests/signin/test_upstream_saml.py)."""
    xml = good(idp, request_id)
    first, second = verify(sp, upstream, xml, request_id), verify(sp, upstream, xml, request_id)
    assert first["assertion_id"] == second["assertion_id"] and first["expires"] == second["expires"]
    assert plain_pysaml2(sp, xml, request_id) is not None


# -- XML signature wrapping -------------------------------------------------------------

def forged_assertion(idp, request_id, name_id="mallory@corp.example", **changes) -> str:
    xml, _ = idp.unsigned_assertion(request_id=request_id, acs=ACS, audience=ENTITY, name_id=name_id, **changes)
    return xml


def test_a_forged_assertion_beside_the_signed_one_is_refused(sp, upstream, idp, request_id):
    signed, _ = idp.signed_assertion(request_id=request_id, acs=ACS, audience=ENTITY)
    xml = good(idp, request_id, assertion_xml=forged_assertion(idp, request_id) + signed)
    assert "2 assertions" in refused(sp, upstream, xml, request_id)


def test_the_signed_assertion_wrapped_inside_a_forged_one_is_refused(sp, upstream, idp, request_id):
    signed, aid = idp.signed_assertion(request_id=request_id, acs=ACS, audience=ENTITY)
    forged = forged_assertion(idp, request_id, assertion_id=aid)  # the signed one's ID, so the reference "matches"
    wrapped = forged.replace("</saml:Subject>", f"</saml:Subject><saml:Advice>{signed}</saml:Advice>", 1)
    refused(sp, upstream, good(idp, request_id, assertion_xml=wrapped), request_id)


def test_a_signed_response_with_its_assertion_swapped_is_refused(sp, upstream, idp, request_id):
    xml = good(idp, request_id, sign="response")
    start, end = xml.index("<saml:Assertion"), xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    swapped = xml[:start] + forged_assertion(idp, request_id) + xml[end:]
    refused(sp, upstream, swapped, request_id)


def test_an_element_id_twice_is_refused(sp, upstream, idp, request_id):
    signed, aid = idp.signed_assertion(request_id=request_id, acs=ACS, audience=ENTITY)
    xml = good(idp, request_id, assertion_xml=signed)
    doubled = xml.replace("<samlp:Status>", f'<samlp:Extensions><x ID="{aid}"/></samlp:Extensions><samlp:Status>', 1)
    assert "twice" in refused(sp, upstream, doubled, request_id)


def test_a_comment_in_the_name_id_does_not_cut_it_short(sp, upstream, idp, request_id):
    """The 2018 class of bugs: a signature is computed without comments, so an attacker who
    holds alice@corp.example.evil.example may add one after alice@corp.example; a parser that
    takes the text before the comment would sign in the wrong person."""
    xml = good(idp, request_id, name_id="alice@corp.example.evil.example")
    commented = xml.replace(">alice@corp.example.evil.example<", ">alice@corp.example<!---->.evil.example<", 1)
    assert commented != xml
    identity = verify(sp, upstream, commented, request_id)
    assert identity["name_id"] == "alice@corp.example.evil.example"


def test_a_document_type_or_entity_is_refused(sp, upstream, idp, request_id):
    xml = good(idp, request_id)
    with_dtd = '<!DOCTYPE r [<!ENTITY e "alice@corp.example">]>' + xml.split("?>", 1)[-1]
    assert "XML" in refused(sp, upstream, with_dtd, request_id)


@pytest.mark.parametrize("encoded", [None, "", "not base64 !", encode("<not-a-response/>"), "A" * 400_000,
                                     encode("<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>")])
def test_what_is_no_response_at_all_is_refused_with_a_message(sp, upstream, request_id, encoded):
    with pytest.raises(UpstreamError) as failure:
        saml.verify_response(sp, upstream, encoded, request_id=request_id, acs_url=ACS, now=time.time())
    assert failure.value.message_id == "error.upstream.bad_token"


# -- metadata -----------------------------------------------------------------------------

def test_the_metadata_gives_entity_sign_on_url_and_certificates(idp):
    found = saml.read_metadata(idp.metadata())
    assert found["entity_id"] == idp.entity_id and found["sso_url"] == idp.sso_url
    assert len(found["certs"]) == 1 and found["certs"][0]["not_after"] > time.time()
    assert len(found["certs"][0]["sha256"].split(":")) == 32


def test_an_aggregate_needs_the_entity_id_of_one(idp, tmp_path):
    (tmp_path / "other").mkdir()
    other = ForgingIdP(tmp_path / "other", entity_id="https://other.example/idp", sso_url="https://other.example/sso")
    body = "".join(m.split("?>", 1)[1] for m in (idp.metadata(), other.metadata()))
    aggregate = f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{body}</md:EntitiesDescriptor>'
    with pytest.raises(UpstreamError, match="2 identity providers"):
        saml.read_metadata(aggregate)
    assert saml.read_metadata(aggregate, "https://other.example/idp")["sso_url"] == "https://other.example/sso"


@pytest.mark.parametrize("broken", [
    "", "not xml", "<x/>",
    '<!DOCTYPE m [<!ENTITY e "x">]><m/>',
    metadata_of("https://idp.example", "http://idp.example/sso", "MIIB"),   # plain http, not loopback
])
def test_unusable_metadata_is_refused(broken):
    with pytest.raises(UpstreamError) as failure:
        saml.read_metadata(broken)
    assert failure.value.message_id == "error.upstream.saml_metadata" or "not https" in failure.value.reason


def test_metadata_without_a_signing_certificate_is_refused(idp):
    without = idp.metadata().replace(idp.cert_body, "")
    with pytest.raises(UpstreamError):
        saml.read_metadata(without)


def test_the_sp_metadata_is_signed_and_names_our_endpoints(sp, tmp_path):
    xml = saml.sp_metadata(sp)
    assert ENTITY in xml and ACS in xml and "SignatureValue" in xml
    assert 'AuthnRequestsSigned="true"' in xml and 'WantAssertionsSigned' in xml


def test_an_assertion_encrypted_to_the_tenants_key_is_read(tmp_path, idp):
    """Entra ID and ADFS may encrypt the assertion to the certificate of the SP metadata: pysaml2's
    IdP does so here, and the SP decrypts it with the tenant's key before every check."""
    store = Store(str(tmp_path / "tenant"))
    first = {"id": UID, "idp_metadata": idp.metadata(), "idp_entity_id": idp.entity_id}
    metadata = saml.sp_metadata(saml.client(store, first, entity_id=ENTITY, acs_url=ACS))
    assert 'use="encryption"' in metadata
    real = Pysaml2IdP(tmp_path, metadata)
    upstream = {"id": UID, "idp_metadata": real.metadata(), "idp_entity_id": real.entity_id}
    sp = saml.client(store, upstream, entity_id=ENTITY, acs_url=ACS)
    request_id, url = saml.authn_request(sp, upstream, relay_state="r")
    cert = "".join(saml.sp_keys(store)["cert"].splitlines()[1:-1])
    answer = real.answer(url, email="ada@corp.example", encrypt_for=cert)
    assert b"EncryptedAssertion" in base64.b64decode(answer["SAMLResponse"])
    identity = saml.verify_response(sp, upstream, answer["SAMLResponse"], request_id=request_id, acs_url=ACS,
                                    now=time.time())
    assert identity["name_id"] == "ada@corp.example" and identity["attributes"]["displayName"] == ["Alice Example"]
