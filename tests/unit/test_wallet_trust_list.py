"""The tenant's EU Wallet certificates (codeb.tenants.wallet): the two trust lists the admin
keeps, and the verifier key with its certificate chain.

Certificates come from a test PID provider (tests/support/pid_ca.py), made with
`cryptography` as a real provider's are; each refusal test changes one thing.
"""

import base64
import datetime as dt
import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from codeb.errors import BadInput, Conflict, NotFound
from codeb.store import Store, layout
from codeb.tenants import wallet
from codeb.tenants.wallet import TrustList, install_certificate, verifier, verifier_csr
from tests.support.pid_ca import DAY, PidCA, certificate, der, pem
from tests.support.pid_ca import _name as subject_name

ROOT = Path(__file__).resolve().parents[2]
HOST = "login.acme.example"


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "tenant"))


@pytest.fixture(scope="module")
def ca():
    return PidCA()


def new_ca(common: str = "Another PID CA", **kwargs) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return certificate(subject_name(common), key, ca=True, **kwargs)


def private_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


# -- the trust lists ---------------------------------------------------------------------------

def test_an_anchor_is_added_listed_found_and_removed(store, ca):
    trust = TrustList(store)
    doc = trust.add(ca.root_pem)
    print_ = hashlib.sha256(der(ca.root)).hexdigest()
    assert doc["id"] == print_[:16] and doc["fingerprint"] == print_
    assert doc["name"] == "Test PID CA" and doc["subject"] == ca.root.subject.rfc4514_string()
    assert doc["not_after"] == int(ca.root.not_valid_after_utc.timestamp())
    assert doc["not_before"] == int(ca.root.not_valid_before_utc.timestamp())
    assert x509.load_pem_x509_certificate(doc["pem"].encode()) == ca.root and isinstance(doc["added"], int)
    assert store.exists(layout.WALLET, layout.WALLET_ANCHORS, doc["id"])
    assert trust.all() == [doc] and trust.get(doc["id"]) == doc
    assert trust.remove(doc["id"]) == doc
    assert trust.all() == [] and trust.get(doc["id"]) is None
    with pytest.raises(NotFound) as gone:
        trust.remove(doc["id"])
    assert gone.value.message_id == "error.wallet.unknown_certificate"


def test_the_list_is_sorted_by_name_and_a_given_name_wins(store, ca):
    trust = TrustList(store)
    trust.add(pem(new_ca("Zeta CA")))
    trust.add(ca.root_pem, name="  Bundesdruckerei   PID  ")
    trust.add(der(new_ca("alpha CA")), name="  ")  # DER, as a .cer file holds it; no name: its CN
    assert [d["name"] for d in trust.all()] == ["alpha CA", "Bundesdruckerei PID", "Zeta CA"]


@pytest.mark.parametrize("cid", ["../../keys/signing", "ABCDEF0123456789", "0123", "0123456789abcdef0", None, 7])
def test_an_id_is_checked_before_it_becomes_a_path(store, cid):
    assert TrustList(store).get(cid) is None
    with pytest.raises(NotFound):
        TrustList(store).remove(cid)


def refusal(store, given, **kwargs) -> BadInput:
    with pytest.raises(BadInput) as refused:
        TrustList(store).add(given, **kwargs)
    assert TrustList(store).all() == []
    return refused.value


NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("given, message_id", [
    (lambda ca: pem(x509.load_der_x509_certificate(ca.chain[0])), "error.wallet.not_a_ca"),
    (lambda ca: pem(new_ca(not_before=NOW - 30 * DAY, not_after=NOW - DAY)), "error.wallet.certificate_expired"),
    (lambda ca: pem(new_ca(not_before=NOW + DAY, not_after=NOW + 30 * DAY)),
     "error.wallet.certificate_not_yet_valid"),
    (lambda ca: b"hello, I am a certificate", "error.wallet.not_a_certificate"),
    (lambda ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "error.wallet.not_a_certificate"),
    (lambda ca: ca.root_pem.replace(b"CERTIFICATE", b"X509 CRL"), "error.wallet.not_a_certificate"),
    (lambda ca: private_key_pem(), "error.wallet.private_key"),
    (lambda ca: ca.root_pem + private_key_pem(), "error.wallet.private_key"),
    (lambda ca: ca.root_pem + pem(new_ca()), "error.wallet.several_certificates"),
    (lambda ca: "  \n", "error.wallet.pem_needed"),
    (lambda ca: b"-" * (wallet.MAX_PEM + 1), "error.wallet.too_large"),
])
def test_what_is_not_one_valid_ca_certificate_is_refused(store, ca, given, message_id):
    refused = refusal(store, given(ca))
    assert (refused.message_id, refused.field) == (message_id, "pem")


def test_a_refusal_names_the_certificate_and_the_day(store):
    expired = new_ca("Old CA", not_before=NOW - 30 * DAY, not_after=NOW - 2 * DAY)
    refused = refusal(store, pem(expired))
    assert refused.params == {"subject": expired.subject.rfc4514_string(),
                              "day": expired.not_valid_after_utc.date().isoformat()}
    assert refusal(store, pem(new_ca()) * 3).params == {"count": 3}


def test_a_name_too_long_is_refused_beside_its_field(store, ca):
    refused = refusal(store, ca.root_pem, name="x" * 81)
    assert (refused.message_id, refused.field, refused.params) == ("error.wallet.name", "name", {"max": 80})


def test_a_certificate_already_there_is_a_conflict(store, ca):
    TrustList(store).add(ca.root_pem, name="German PID")
    with pytest.raises(Conflict) as again:
        TrustList(store).add(der(ca.root))
    assert (again.value.message_id, again.value.field, again.value.params) == (
        "error.wallet.already_trusted", "pem", {"name": "German PID"})


def test_a_set_holds_at_most_fifty(store):
    trust = TrustList(store)
    for n in range(wallet.MAX_CERTIFICATES):
        trust.add(pem(new_ca(f"CA {n:02d}")))
    with pytest.raises(BadInput) as refused:
        trust.add(pem(new_ca("One too many")))
    assert wallet.MAX_CERTIFICATES == 50 and len(trust.all()) == 50
    assert (refused.value.message_id, refused.value.params) == ("error.wallet.trust_list_full", {"max": 50})
    assert TrustList(store, layout.WALLET_STATUS_SIGNERS).add(pem(new_ca("Status CA")))["name"] == "Status CA"


def test_the_two_sets_are_apart(store, ca):
    signers = TrustList(store, layout.WALLET_STATUS_SIGNERS)
    signers.add(ca.root_pem)
    assert TrustList(store).all() == [] and TrustList(store).anchors() == []
    assert [a.certificate for a in signers.anchors()] == [ca.root]
    with pytest.raises(ValueError):
        TrustList(store, "../keys")


# -- the parsed anchors, per process ------------------------------------------------------------

def test_anchors_are_parsed_once_and_follow_every_change(store, ca):
    trust = TrustList(store)
    first = trust.add(ca.root_pem)
    [anchor] = trust.anchors()
    assert anchor.id == first["id"] and anchor.certificate == ca.root
    assert trust.anchors()[0] is anchor  # unchanged: not parsed again
    other = TrustList(Store(store.root))  # another request's store on the same folder
    second = other.add(pem(new_ca("Second CA")))
    assert {a.id for a in trust.anchors()} == {first["id"], second["id"]}
    other.remove(first["id"])
    assert [a.id for a in trust.anchors()] == [second["id"]]


def test_two_changes_in_one_clock_tick_are_both_seen(store):
    trust = TrustList(store)
    made = [new_ca(f"Quick {n}") for n in range(4)]
    for cert in made:
        trust.add(pem(cert))
        assert trust.anchors()[-1].certificate in made
    assert len(trust.anchors()) == 4
    cid = trust.all()[0]["id"]
    pem_of = trust.get(cid)["pem"]
    trust.remove(cid)
    trust.add(pem_of, name="Renamed at once")
    assert "Renamed at once" in [d["name"] for d in trust.all()]


def test_a_change_by_another_process_is_seen(store, ca):
    trust = TrustList(store)
    first = trust.add(ca.root_pem)["id"]
    assert [a.id for a in trust.anchors()] == [first]
    added = another_process(store, "print(trust.add(sys.argv[2])['id'])", pem(new_ca("From another process")))
    assert sorted(a.id for a in trust.anchors()) == sorted([first, added])
    another_process(store, "trust.remove(sys.argv[2])", first.encode())
    assert [a.id for a in trust.anchors()] == [added]


def another_process(store, statement: str, argument: bytes) -> str:
    script = ("import sys; from codeb.store import Store; from codeb.tenants.wallet import TrustList\n"
              "trust = TrustList(Store(sys.argv[1]))\n" + statement)
    return subprocess.run([sys.executable, "-c", script, store.root, argument.decode()], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()


# -- the verifier --------------------------------------------------------------------------------

def test_the_verifier_is_made_once_with_a_self_signed_certificate_for_the_host(store):
    made = verifier(store, host=HOST)
    again = verifier(Store(store.root), host="elsewhere.example")
    assert again.chain == made.chain and again.key.private_numbers() == made.key.private_numbers()
    assert made.self_signed is True and isinstance(made.key.curve, ec.SECP256R1) and len(made.chain) == 1
    leaf = made.leaf
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HOST and leaf.issuer == leaf.subject
    assert made.dns_names == [HOST]
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc) == dt.timedelta(days=730)
    assert _spki(leaf.public_key()) == _spki(made.key.public_key())
    stored = store.read(layout.KEYS, layout.WALLET_VERIFIER)
    assert stored["self_signed"] is True and "PRIVATE KEY" in stored["key"]


def test_processes_at_once_end_with_one_key(store):
    found, threads = [], [threading.Thread(target=lambda: found.append(verifier(Store(store.root), host=HOST)))
                          for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len({v.x509_hash for v in found}) == 1


def test_the_client_id_hash_is_base64url_of_the_leafs_sha256(store):
    made = verifier(store, host=HOST)
    expected = base64.urlsafe_b64encode(hashlib.sha256(der(made.leaf)).digest()).decode().rstrip("=")
    assert made.x509_hash == expected and len(expected) == 43 and "=" not in made.x509_hash


def test_the_signing_request_is_signed_by_the_verifier_key(store):
    request = x509.load_pem_x509_csr(verifier_csr(store, host=HOST, organisation=" Acme  GmbH ").encode())
    assert request.is_signature_valid
    assert _spki(request.public_key()) == _spki(verifier(store, host=HOST).key.public_key())
    assert request.subject.rfc4514_string() == f"O=Acme GmbH,CN={HOST}"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [HOST]


@pytest.mark.parametrize("organisation", ["", "   ", "x" * 65])
def test_a_signing_request_needs_the_organisation(store, organisation):
    with pytest.raises(BadInput) as refused:
        verifier_csr(store, host=HOST, organisation=organisation)
    assert (refused.value.message_id, refused.value.field) == ("error.wallet.organisation", "organisation")


def access_certificate(key, by: PidCA, **kwargs) -> x509.Certificate:
    """What a registrar issues for the verifier's key: signed by its CA, for digital signatures."""
    return certificate(subject_name(HOST), key, issuer=by.name, issuer_key=by.key, **{"ca": False, **kwargs})


def test_an_access_certificate_from_a_ca_replaces_the_self_signed_one(store, ca):
    before = verifier(store, host=HOST)
    issued = access_certificate(before.key, ca)
    installed = install_certificate(store, pem(ca.root) + pem(issued))  # any order; the root is dropped
    assert installed.chain == (der(issued),) and installed.self_signed is False
    assert installed.key.private_numbers() == before.key.private_numbers()
    assert installed.x509_hash != before.x509_hash
    assert verifier(store, host=HOST) == installed
    assert store.read(layout.KEYS, layout.WALLET_VERIFIER)["self_signed"] is False


def test_a_chain_through_an_intermediate_is_sorted_leaf_first(store, ca):
    key = verifier(store, host=HOST).key
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle_name = subject_name("Registrar Intermediate")
    middle = certificate(middle_name, middle_key, issuer=ca.name, issuer_key=ca.key, ca=True, path_length=0)
    issued = certificate(subject_name(HOST), key, issuer=middle_name, issuer_key=middle_key, ca=False)
    installed = install_certificate(store, (pem(middle) + pem(ca.root) + pem(issued)).decode())
    assert installed.chain == (der(issued), der(middle))


@pytest.mark.parametrize("upload, message_id", [
    (lambda key, ca: pem(access_certificate(ec.generate_private_key(ec.SECP256R1()), ca)),
     "error.wallet.certificate_key_mismatch"),
    (lambda key, ca: pem(access_certificate(key, ca, not_before=NOW - 30 * DAY, not_after=NOW - DAY)),
     "error.wallet.certificate_expired"),
    (lambda key, ca: pem(access_certificate(key, ca, ca=True)), "error.wallet.certificate_is_ca"),
    (lambda key, ca: pem(access_certificate(key, ca, key_usage="none")), "error.wallet.certificate_key_usage"),
    (lambda key, ca: pem(certificate(subject_name(HOST), key, ca=False)), "error.wallet.certificate_self_signed"),
    (lambda key, ca: pem(access_certificate(key, ca)) + pem(new_ca("Unrelated CA")), "error.wallet.chain_extra"),
    (lambda key, ca: pem(access_certificate(key, ca)) + private_key_pem(), "error.wallet.private_key"),
    (lambda key, ca: pem(ca.root) * 7, "error.wallet.chain_too_long"),
    (lambda key, ca: b"not a chain", "error.wallet.not_a_certificate"),
])
def test_what_is_no_access_certificate_for_the_key_is_refused(store, ca, upload, message_id):
    before = verifier(store, host=HOST)
    with pytest.raises(BadInput) as refused:
        install_certificate(store, upload(before.key, ca))
    assert (refused.value.message_id, refused.value.field) == (message_id, "chain")
    assert verifier(store, host=HOST) == before


def test_nothing_is_installed_before_there_is_a_key(store, ca):
    issued = access_certificate(ec.generate_private_key(ec.SECP256R1()), ca)
    with pytest.raises(BadInput) as refused:
        install_certificate(store, pem(issued))
    assert refused.value.message_id == "error.wallet.certificate_key_mismatch"
    assert not store.exists(layout.KEYS, layout.WALLET_VERIFIER)


# -- ETSI TS 119 612 trusted lists ---------------------------------------------------------------

TSL_NS = "http://uri.etsi.org/02231/v2#"
SVC = "http://uri.etsi.org/TrstSvc/Svctype/"
STATUS = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/"


def trusted_list(*services) -> bytes:
    """A trusted list with one provider offering `services`: (type, status, name, certificate)."""
    body = "".join(
        f"<TSPService><ServiceInformation><ServiceTypeIdentifier>{kind}</ServiceTypeIdentifier>"
        f'<ServiceName><Name xml:lang="en">{name}</Name></ServiceName>'
        f"<ServiceDigitalIdentity><DigitalId><X509Certificate>{base64.b64encode(der(cert)).decode()}"
        f"</X509Certificate></DigitalId></ServiceDigitalIdentity>"
        f"<ServiceStatus>{status}</ServiceStatus></ServiceInformation></TSPService>"
        for kind, status, name, cert in services)
    return (f'<?xml version="1.0" encoding="UTF-8"?><TrustServiceStatusList xmlns="{TSL_NS}" '
            f'TSLTag="http://uri.etsi.org/19612/TSLTag"><TrustServiceProviderList><TrustServiceProvider>'
            f"<TSPServices>{body}</TSPServices></TrustServiceProvider></TrustServiceProviderList>"
            f"</TrustServiceStatusList>").encode()


def test_a_trusted_list_adds_its_granted_pid_and_ca_services(store, ca):
    pid, qualified, withdrawn, timestamps = ca.root, new_ca("QC CA"), new_ca("Withdrawn CA"), new_ca("TSA")
    added = TrustList(store).import_trusted_list(trusted_list(
        ("https://ewc-consortium.github.io/ewc-trust-list/TrstSvc/Svctype/PID", STATUS + "granted", "PID Service", pid),
        (SVC + "CA/QC", STATUS + "granted", "Qualified CA", qualified),
        (SVC + "CA/QC", STATUS + "withdrawn", "Old CA", withdrawn),
        (SVC + "TSA/QTST", STATUS + "granted", "Time stamps", timestamps)))
    assert sorted(d["name"] for d in added) == ["PID Service", "Qualified CA"]
    again = TrustList(store).import_trusted_list(trusted_list((SVC + "CA/QC", STATUS + "granted", "QC", qualified)))
    assert again == [] and len(TrustList(store).all()) == 2


@pytest.mark.parametrize("xml, message_id", [
    (b"<not-xml", "error.wallet.trusted_list"),
    (b"<html><body>nope</body></html>", "error.wallet.trusted_list"),
    (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     b'<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#">&b;</TrustServiceStatusList>',
     "error.wallet.trusted_list"),
    (trusted_list(), "error.wallet.trusted_list_empty"),
])
def test_what_is_no_trusted_list_is_refused(store, xml, message_id):
    with pytest.raises(BadInput) as refused:
        TrustList(store).import_trusted_list(xml)
    assert refused.value.message_id == message_id


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_documents_are_json_without_their_schema(store, ca):
    doc = TrustList(store).add(ca.root_pem)
    assert "schema" not in doc and json.loads(json.dumps(doc)) == doc
