"""Whether an issuer's certificate chain ends at one of the tenant's trust anchors.

A PID provider signs its credentials with a document-signer certificate, issued by its
CA (an IACA for mdoc). The credential carries the chain from the signer up (`x5c` in an
SD-JWT VC's header, `x5chain` in an mdoc's `issuerAuth`), normally without the root: the
tenant's trust list holds the roots (`Anchor`), uploaded by the admin.

`verify_chain` checks what RFC 5280 path validation needs for this use, strictly: every
certificate parses and is valid now; each is signed by the next; every certificate above
the signer is a CA allowed to sign certificates (basic constraints, key usage, path
length); the signer is not a CA, is not self-signed and, if it names its key usage, may
sign (digitalSignature); and the path ends at an anchor, either because the chain's last
certificate is the anchor itself or because an anchor signed it. Chains longer than
MAX_CHAIN are refused before any signature is checked.
"""

import base64
import binascii
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from . import Refused

MAX_CHAIN = 5  # signer, intermediates, (root): PID providers use two or three
# What cryptography raises for a certificate that loads but whose parts do not parse.
CERTIFICATE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion,
                      x509.UnsupportedGeneralNameType)


@dataclass(frozen=True)
class Anchor:
    id: str                      # the trust-list entry
    certificate: x509.Certificate


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER, hex: how an anchor is named and compared."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from DER or PEM bytes; Refused("bad_certificate") if it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
        # cryptography parses names and extensions when they are first read: read them now, so
        # a malformed one is refused here and not met later as another exception.
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        list(certificate.extensions)
    except CERTIFICATE_ERRORS as error:
        raise Refused("bad_certificate", str(error)[:200]) from None
    return certificate


def x5c_chain(header: dict) -> list[bytes]:
    """A JOSE header's `x5c`: the signer's chain, leaf first, standard base64 of DER (RFC 7515
    §4.1.6); Refused("bad_certificate") for anything else. An absent one is an empty chain."""
    chain = header.get("x5c", [])
    if not isinstance(chain, list) or not all(isinstance(item, str) for item in chain):
        raise Refused("bad_certificate", "x5c is not a list of strings")
    try:
        return [base64.b64decode(item, validate=True) for item in chain]
    except (binascii.Error, ValueError):
        raise Refused("bad_certificate", "x5c is not base64") from None


def verify_chain(chain: Sequence[bytes], anchors: Sequence[Anchor], *, now: int) -> tuple[x509.Certificate, Anchor]:
    """The signer certificate (the chain's first, DER) and the anchor its path ends at."""
    if not chain:
        raise Refused("no_certificate", "the issuer's signature names no certificate chain")
    if len(chain) > MAX_CHAIN:
        raise Refused("chain_too_long", f"{len(chain)} certificates")
    if not anchors:
        raise Refused("untrusted_issuer", "the tenant trusts no PID provider yet")
    certificates = [load_certificate(bytes(der)) for der in chain]
    moment = datetime.fromtimestamp(now, UTC)
    for certificate in certificates:
        _valid_at(certificate, moment)
    leaf = certificates[0]
    _may_sign(leaf)
    for below, above in itertools.pairwise(certificates):
        _issued_by(below, above)
    for depth, certificate in enumerate(certificates[1:]):
        _may_issue(certificate, depth)
    top = certificates[-1]
    by_print = {fingerprint(anchor.certificate): anchor for anchor in anchors}
    if (anchor := by_print.get(fingerprint(top))) is not None:
        return leaf, anchor
    for anchor in anchors:
        if anchor.certificate.subject != top.issuer:
            continue
        try:
            _valid_at(anchor.certificate, moment)
            _may_issue(anchor.certificate, len(certificates) - 1)
            _issued_by(top, anchor.certificate)
        except Refused:
            continue
        return leaf, anchor
    raise Refused("untrusted_issuer", top.issuer.rfc4514_string()[:200])


def _extension(certificate: x509.Certificate, kind):
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as error:  # a malformed extension
        raise Refused("bad_certificate", str(error)[:200]) from None


def _valid_at(certificate: x509.Certificate, moment: datetime) -> None:
    if moment < certificate.not_valid_before_utc:
        raise Refused("certificate_not_yet_valid", certificate.subject.rfc4514_string()[:200])
    if moment > certificate.not_valid_after_utc:
        raise Refused("certificate_expired", certificate.subject.rfc4514_string()[:200])


def _self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (*CERTIFICATE_ERRORS, InvalidSignature):
        return False
    return True


def _may_sign(leaf: x509.Certificate) -> None:
    """The signer: not self-signed, not a CA, and allowed to sign if it names its key usage."""
    if _self_signed(leaf):
        raise Refused("self_signed_leaf", leaf.subject.rfc4514_string()[:200])
    if _is_ca(leaf):
        raise Refused("signer_is_ca", leaf.subject.rfc4514_string()[:200])
    usage = _extension(leaf, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        raise Refused("signer_key_usage", "the signer certificate may not sign")


def _is_ca(certificate: x509.Certificate) -> bool:
    constraints = _extension(certificate, x509.BasicConstraints)
    return bool(constraints and constraints.ca)


def _may_issue(certificate: x509.Certificate, below: int) -> None:
    """`certificate` signs certificates, `below` of them CAs under it (RFC 5280 §4.2.1.9)."""
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise Refused("issuer_not_ca", certificate.subject.rfc4514_string()[:200])
    if constraints.path_length is not None and below > constraints.path_length:
        raise Refused("path_too_long", certificate.subject.rfc4514_string()[:200])
    usage = _extension(certificate, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise Refused("issuer_key_usage", certificate.subject.rfc4514_string()[:200])


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (*CERTIFICATE_ERRORS, InvalidSignature):
        raise Refused("bad_chain", f"{certificate.subject.rfc4514_string()[:100]} not signed by "
                                   f"{issuer.subject.rfc4514_string()[:100]}") from None

