"""The tenant's EU Wallet certificates: whom it trusts, and how it is known to wallets.

Two trust lists, each a folder of one document per certificate (`wallet/<set>/<id>.json`),
kept by the admin (`TrustList`):

- `anchors`: the CAs of the PID providers whose credentials the tenant accepts; a
  credential's issuer chain must end at one of them (`codeb.wallet.trust.verify_chain`);
- `status-signers`: the CAs of whoever may sign a Token Status List a credential points to.

Each entry is one CA certificate, valid when added, named by the first 16 hex digits of its
SHA-256 fingerprint; a set holds at most MAX_CERTIFICATES. A sign-in asks for the parsed
certificates (`TrustList.anchors`), kept per process and revalidated by the folder's and
the documents' stamps, so it parses no PEM while the list is unchanged, and sees at once
what another process changed.

`import_trusted_list` reads an ETSI TS 119 612 trusted list (the XML a member state or the
Commission publishes) and adds the certificates of its services of the PID provider and CA
types (TRUSTED_LIST_SERVICES) that are in a granted status. It does not check the list's
XML signature: the admin chose the file, as they choose a certificate they add by hand.

The verifier (`verifier`, `keys/wallet-verifier.json`): the P-256 key that signs the
tenant's OpenID4VP request objects (ES256, HAIP 1.0) and the certificate chain their `x5c`
carries. Made at first use with a self-signed certificate for the tenant's host, which
test wallets accept and real ones do not: a wallet trusts a relying party by its access
certificate from a registrar. The admin sends the registrar a signing request for the key
(`verifier_csr`) and installs the chain it issues (`install_certificate`); the key never
changes, so neither does anything a wallet may remember of it but the certificate. The
client identifier is `x509_hash:` and the hash of that certificate (OpenID4VP 1.0 §5.9.3).
"""

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from defusedxml import DefusedXmlException, ElementTree

from ..errors import BadInput, Conflict, NotFound
from ..store import layout
from ..store.cache import MISSING, Memo
from ..wallet.trust import MAX_CHAIN, Anchor, fingerprint
from .hosts import normalize_host

SETS = (layout.WALLET_ANCHORS, layout.WALLET_STATUS_SIGNERS)
ID = re.compile(r"[0-9a-f]{16}")
MAX_CERTIFICATES = 50       # per set: a few member states' PID providers, with room
MAX_PEM = 64 * 1024         # an upload: a certificate is a few kB, a chain of MAX_CHAIN + 1 some more
MAX_NAME = 80
MAX_ORGANISATION = 64       # RFC 5280 ub-organization-name
VERIFIER = (layout.KEYS, layout.WALLET_VERIFIER)
VERIFIER_DAYS = 730         # the self-signed test certificate's life
PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,40})-----")
MAX_TRUSTED_LIST = 16 * 1024 * 1024  # a member state's list with every qualified service is a few MB
# Trusted-list services whose certificates `import_trusted_list` adds (the end of their
# ServiceTypeIdentifier): a CA of qualified or other certificates (TS 119 612 §5.5.1.1), and a
# PID provider, as the EUDI pilots' lists name it (`…/Svctype/PID`, `…/Svctype/Provider/PID`, legal persons'
# `…/LPID`); and the statuses that mean "trusted now" (§5.5.4).
TRUSTED_LIST_SERVICES = ("/Svctype/CA/QC", "/Svctype/CA/PKC", "/Svctype/PID", "/Svctype/Provider/PID",
                         "/Svctype/LPID")
TRUSTED_LIST_GRANTED = ("/Svcstatus/granted", "/Svcstatus/recognisedatnationallevel")

# The sets' documents and parsed certificates by folder, revalidated by `TrustList._stamp`; the
# verifier by its file's stamp. Shared: read only.
_sets = Memo(size=256)
_verifiers = Memo(size=256)


@dataclass(frozen=True)
class _Loaded:
    docs: tuple[dict, ...]
    anchors: tuple[Anchor, ...]


class TrustList:
    """One set of certificates the tenant trusts: the PID providers' CAs (WALLET_ANCHORS) or who
    may sign a Token Status List (WALLET_STATUS_SIGNERS)."""

    def __init__(self, store, kind: str = layout.WALLET_ANCHORS):
        if kind not in SETS:
            raise ValueError(f"not a wallet trust list: {kind!r}")
        self.store = store
        self.kind = kind

    def add(self, pem: bytes | str, *, name: str | None = None) -> dict:
        """One CA certificate (PEM, or DER as a .cer file holds it), valid now, not there yet,
        under the cap; its document. BadInput (field `pem` or `name`) or Conflict says why not."""
        certificate = _one_certificate(pem)
        now = self.store.clock()
        _valid_at(certificate, now, field="pem")
        if not _is_ca(certificate, field="pem"):
            raise BadInput("error.wallet.not_a_ca", field="pem")
        print_ = fingerprint(certificate)
        cid = print_[:16]
        name = " ".join(str(name or "").split())
        if len(name) > MAX_NAME:
            raise BadInput("error.wallet.name", field="name", max=MAX_NAME)
        doc = {"id": cid, "name": name or _name_of(certificate) or cid,
               "subject": certificate.subject.rfc4514_string(), "fingerprint": print_,
               "not_before": int(certificate.not_valid_before_utc.timestamp()),
               "not_after": int(certificate.not_valid_after_utc.timestamp()),
               "pem": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"), "added": int(now)}
        with self.store.lock(layout.WALLET, self.kind):  # the cap holds across processes
            self._refuse_duplicate(cid)
            if len(self._names()) >= MAX_CERTIFICATES:
                raise BadInput("error.wallet.trust_list_full", field="pem", max=MAX_CERTIFICATES)
            if not self.store.create(layout.WALLET, self.kind, cid, doc=doc):
                self._refuse_duplicate(cid)
        return doc

    def _refuse_duplicate(self, cid: str) -> None:
        there = self.get(cid)
        if there is not None:
            raise Conflict("error.wallet.already_trusted", field="pem", name=there["name"])

    def all(self) -> list[dict]:
        """Every entry, by name."""
        return [dict(doc) for doc in self._loaded().docs]

    def get(self, cid) -> dict | None:
        if not isinstance(cid, str) or not ID.fullmatch(cid):
            return None
        doc = self.store.read(layout.WALLET, self.kind, cid)
        return None if doc is None else _public(doc)

    def remove(self, cid) -> dict:
        """Stop trusting one certificate; its document as it was. NotFound if the set has none of that id."""
        doc = self.get(cid)
        if doc is None or not self.store.delete(layout.WALLET, self.kind, doc["id"]):
            raise NotFound("error.wallet.unknown_certificate", id=str(cid)[:40])
        return doc

    def anchors(self) -> list[Anchor]:
        """The certificates parsed, for `codeb.wallet.trust.verify_chain` and the status list's check."""
        return list(self._loaded().anchors)

    def import_trusted_list(self, xml: bytes) -> list[dict]:
        """Add the certificates of an ETSI TS 119 612 trusted list's PID provider and CA services
        (those granted now), named by their service; the documents added, until the set is full.
        Certificates already trusted, and those this set refuses (not a CA, expired), are
        skipped; BadInput if the file is no trusted list or names no such certificate."""
        added = []
        for name, der in trusted_list_certificates(xml):
            try:
                added.append(self.add(der, name=name))
            except (BadInput, Conflict) as refused:
                if refused.message_id == "error.wallet.trust_list_full":
                    break
        return added

    # -- the parsed set, per process -----------------------------------------------------

    def _names(self) -> list[str]:
        return [n for n in self.store.list(layout.WALLET, self.kind) if ID.fullmatch(n)]

    def _stamp(self, names: list[str]) -> tuple:
        """What the set is now: the folder's stamp changes when an entry comes or goes, but only
        by the file system's clock tick (two changes in one tick leave it as it was); each
        document's own stamp (with its inode) tells every version apart."""
        return (self.store.folder_stamp(layout.WALLET, self.kind),
                tuple((n, self.store.stamp(layout.WALLET, self.kind, n)) for n in names))

    def _loaded(self) -> _Loaded:
        folder = self.store.folder(layout.WALLET, self.kind)
        names = self._names()
        stamp = self._stamp(names)  # before the reads (codeb.store.cache)
        found = _sets.get(folder, stamp)
        if found is MISSING:
            docs = [_public(doc) for n in names if (doc := self.store.read(layout.WALLET, self.kind, n))]
            docs.sort(key=lambda d: (d["name"].casefold(), d["id"]))
            found = _Loaded(tuple(docs), tuple(
                Anchor(d["id"], x509.load_pem_x509_certificate(d["pem"].encode("ascii"))) for d in docs))
            _sets.put(folder, stamp, found)
        return found


def _public(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "schema"}


def _name_of(certificate: x509.Certificate) -> str:
    """The subject's common name, else its organisation, else the whole subject."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        found = certificate.subject.get_attributes_for_oid(oid)
        if found and str(found[0].value).strip():
            return " ".join(str(found[0].value).split())[:MAX_NAME]
    return certificate.subject.rfc4514_string()[:MAX_NAME]


# -- ETSI TS 119 612 trusted lists --------------------------------------------------------------

def trusted_list_certificates(xml: bytes) -> list[tuple[str, bytes]]:
    """(service name, DER) of every certificate of a trusted list's services of the types
    TRUSTED_LIST_SERVICES in a status of TRUSTED_LIST_GRANTED (TS 119 612 §5.5.1, §5.5.4, §5.5.3).
    A service's history (its earlier keys and statuses) is not read: only what is granted now."""
    if len(xml) > MAX_TRUSTED_LIST:
        raise BadInput("error.wallet.trusted_list", field="xml")
    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException):
        raise BadInput("error.wallet.trusted_list", field="xml") from None
    if root.tag.rsplit("}", 1)[-1] != "TrustServiceStatusList":
        raise BadInput("error.wallet.trusted_list", field="xml")
    found = []
    for service in root.iterfind(".//{*}TSPService/{*}ServiceInformation"):
        kind = (service.findtext("{*}ServiceTypeIdentifier") or "").strip()
        status = (service.findtext("{*}ServiceStatus") or "").strip()
        if not kind.endswith(TRUSTED_LIST_SERVICES) or not status.endswith(TRUSTED_LIST_GRANTED):
            continue
        name = " ".join((service.findtext("{*}ServiceName/{*}Name") or "").split())[:MAX_NAME]
        for element in service.iterfind("{*}ServiceDigitalIdentity/{*}DigitalId/{*}X509Certificate"):
            try:
                found.append((name, base64.b64decode("".join((element.text or "").split()), validate=True)))
            except binascii.Error:
                continue  # not base64: no certificate to consider
    if not found:
        raise BadInput("error.wallet.trusted_list_empty", field="xml")
    return found


# -- reading what the admin gave ---------------------------------------------------------------

def _certificates(given: bytes | str, *, field: str) -> list[x509.Certificate]:
    """Every certificate of an upload: PEM (one or more), or one DER certificate. A private key is
    refused before anything is parsed: it must never be stored, nor be sent where a certificate goes."""
    data = given.encode("utf-8") if isinstance(given, str) else bytes(given)
    if not data.strip():
        raise BadInput("error.wallet.pem_needed", field=field)
    if len(data) > MAX_PEM:
        raise BadInput("error.wallet.too_large", field=field, kb=MAX_PEM // 1024)
    labels = PEM_LABEL.findall(data)
    if any(b"PRIVATE KEY" in label for label in labels):
        raise BadInput("error.wallet.private_key", field=field)
    try:
        if labels:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise BadInput("error.wallet.not_a_certificate", field=field) from None


def _one_certificate(given: bytes | str) -> x509.Certificate:
    found = _certificates(given, field="pem")
    if len(found) > 1:
        raise BadInput("error.wallet.several_certificates", field="pem", count=len(found))
    return found[0]


def _valid_at(certificate: x509.Certificate, now: float, *, field: str) -> None:
    moment = datetime.fromtimestamp(now, UTC)
    subject = certificate.subject.rfc4514_string()[:200]
    if moment < certificate.not_valid_before_utc:
        raise BadInput("error.wallet.certificate_not_yet_valid", field=field, subject=subject,
                       day=certificate.not_valid_before_utc.date().isoformat())
    if moment > certificate.not_valid_after_utc:
        raise BadInput("error.wallet.certificate_expired", field=field, subject=subject,
                       day=certificate.not_valid_after_utc.date().isoformat())


def _extension(certificate: x509.Certificate, kind, *, field: str):
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed or duplicated extension
        raise BadInput("error.wallet.not_a_certificate", field=field) from None


def _is_ca(certificate: x509.Certificate, *, field: str) -> bool:
    constraints = _extension(certificate, x509.BasicConstraints, field=field)
    return bool(constraints and constraints.ca)


# -- the verifier's key and certificate --------------------------------------------------------

@dataclass(frozen=True)
class Verifier:
    key: ec.EllipticCurvePrivateKey   # P-256, signs the OpenID4VP request objects (ES256)
    chain: tuple[bytes, ...]          # DER, leaf first, no root: what x5c carries
    self_signed: bool                 # still the test certificate made at first use

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.chain[0])

    @property
    def x509_hash(self) -> str:
        """The `x509_hash:` client identifier's value: base64url (no padding) of the SHA-256 of
        the leaf certificate's DER (OpenID4VP 1.0 §5.9.3)."""
        return base64.urlsafe_b64encode(hashlib.sha256(self.chain[0]).digest()).rstrip(b"=").decode("ascii")

    @property
    def dns_names(self) -> list[str]:
        """The leaf's SAN dNSName entries (for the `x509_san_dns:` prefix)."""
        try:
            names = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return []
        return [str(name) for name in names.get_values_for_type(x509.DNSName)]


def verifier(store, *, host: str) -> Verifier:
    """The tenant's verifier key and certificate chain, made at first use (a self-signed
    certificate for `host`: see the module's docstring); two processes at once end with one."""
    found = _load(store)
    if found is None:
        store.create(*VERIFIER, doc=_new_verifier(normalize_host(host), store.clock()))  # False: another made it
        found = _load(store)
    if found is None:
        raise Conflict("error.keys_inconsistent")
    return found


def _load(store) -> Verifier | None:
    return store.derived(_verifiers, *VERIFIER, make=_parsed)


def _parsed(doc: dict) -> Verifier:
    key = serialization.load_pem_private_key(doc["key"].encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise Conflict("error.keys_inconsistent")
    chain = tuple(x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(serialization.Encoding.DER)
                  for pem in doc["chain"])
    return Verifier(key=key, chain=chain, self_signed=bool(doc.get("self_signed")))


def _new_verifier(host: str, now: float) -> dict:
    """A P-256 key and a self-signed certificate for `host` (CN and SAN), for digital signatures."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])])
    start = datetime.fromtimestamp(now, UTC) - timedelta(hours=1)  # a wallet's clock a little behind
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=VERIFIER_DAYS))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_signing_usage(), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .sign(key, hashes.SHA256()))
    return {"key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii"),
            "chain": [certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")],
            "self_signed": True, "created": int(now)}


def _signing_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def verifier_csr(store, *, host: str, organisation: str) -> str:
    """A PEM certificate signing request for the verifier key: what the admin sends the registrar
    for a relying-party access certificate (subject CN the host, O the organisation; SAN the host)."""
    organisation = " ".join(str(organisation or "").split())
    if not 0 < len(organisation) <= MAX_ORGANISATION:
        raise BadInput("error.wallet.organisation", field="organisation", max=MAX_ORGANISATION)
    host = normalize_host(host)
    key = verifier(store, host=host).key
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64]),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
               .add_extension(_signing_usage(), critical=True)
               .sign(key, hashes.SHA256()))
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def install_certificate(store, chain_pem: bytes | str) -> Verifier:
    """Install the access certificate the registrar issued for the verifier key, with its
    intermediates (PEM, in any order; the root, if given, is dropped: a wallet has it, and x5c
    must not carry it). The key stays. BadInput (field `chain`) says what is wrong."""
    certificates = _certificates(chain_pem, field="chain")
    if len(certificates) > MAX_CHAIN + 1:
        raise BadInput("error.wallet.chain_too_long", field="chain", count=len(certificates), max=MAX_CHAIN + 1)
    current = _load(store)
    if current is None:  # no key yet: nothing can have been issued for it
        raise BadInput("error.wallet.certificate_key_mismatch", field="chain")
    path = _path(certificates, current.key, store.clock())
    with store.update(*VERIFIER) as doc:  # the key stays as it is: nothing replaces it once made
        doc.update({"chain": [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in path],
                    "self_signed": False, "installed": int(store.clock())})
    found = _load(store)
    if found is None:
        raise Conflict("error.keys_inconsistent")
    return found


def _path(certificates: list[x509.Certificate], key: ec.EllipticCurvePrivateKey, now: float) -> list[x509.Certificate]:
    """The chain from the certificate of `key` up, each signed by the next, without the root; every
    other certificate of the upload must be on that path."""
    mine = _spki(key.public_key())
    leaf = next((c for c in certificates if _spki(c.public_key()) == mine), None)
    if leaf is None:
        raise BadInput("error.wallet.certificate_key_mismatch", field="chain")
    _may_sign(leaf, now)
    path, rest = [leaf], [c for c in certificates if c is not leaf]
    while (above := next((c for c in rest if _issued_by(path[-1], c)), None)) is not None:
        rest.remove(above)
        if _issued_by(above, above):
            break  # the root
        _valid_at(above, now, field="chain")
        path.append(above)
    if rest:
        raise BadInput("error.wallet.chain_extra", field="chain", subject=rest[0].subject.rfc4514_string()[:200])
    return path


def _may_sign(leaf: x509.Certificate, now: float) -> None:
    """An access certificate: issued by someone else, valid now, not a CA, for digital signatures."""
    if _issued_by(leaf, leaf):
        raise BadInput("error.wallet.certificate_self_signed", field="chain")
    _valid_at(leaf, now, field="chain")
    if _is_ca(leaf, field="chain"):
        raise BadInput("error.wallet.certificate_is_ca", field="chain")
    usage = _extension(leaf, x509.KeyUsage, field="chain")
    if usage is not None and not usage.digital_signature:
        raise BadInput("error.wallet.certificate_key_usage", field="chain")


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
