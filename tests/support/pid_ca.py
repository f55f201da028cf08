"""A test PID provider's certificates: a root CA the tenant trusts, and document signers.

A real PID provider (a member state's) signs credentials with a document-signer key whose
certificate its CA issued; wallets present the signer's chain without the root, and the
verifier trusts the root (`codeb.wallet.trust`). `PidCA` makes such a hierarchy with
`cryptography`, and the broken variants the rejection tests need: an expired signer, a
self-signed signer, a signer from a CA nobody trusts, a chain through an intermediate.
"""

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = dt.timedelta(days=1)


def _name(common: str, country: str = "DE") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PID Provider"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def certificate(subject: x509.Name, key, *, issuer: x509.Name | None = None, issuer_key=None, ca: bool,
                not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                path_length: int | None = None, key_usage: str | None = None) -> x509.Certificate:
    """One certificate; self-signed unless `issuer`/`issuer_key` are given. `key_usage`:
    "sign" (digitalSignature), "ca" (keyCertSign, cRLSign), "none" (keyAgreement only)."""
    now = dt.datetime.now(dt.UTC)
    usage = key_usage or ("ca" if ca else "sign")
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer or subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now - DAY).not_valid_after(not_after or now + 365 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=usage == "sign", content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=usage == "none", key_cert_sign=usage == "ca",
                   crl_sign=usage == "ca", encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class PidCA:
    """A root CA and one valid document signer under it (`signer_key`, `chain`: the signer's
    certificate first, no root, DER, as `x5c` carries it)."""

    def __init__(self, name: str = "Test PID CA", country: str = "DE"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(name, country)
        self.root = certificate(self.name, self.key, ca=True, path_length=1)
        self.signer_key, self.chain = self.signer()

    @property
    def root_pem(self) -> bytes:
        return pem(self.root)

    def signer(self, common: str = "Test PID Signer", *, not_before=None, not_after=None,
               key_usage: str | None = None, ca: bool = False, via_intermediate: bool = False):
        """A new document signer under this CA: (its private key, its chain as DER, leaf first)."""
        key = ec.generate_private_key(ec.SECP256R1())
        issuer, issuer_key, above = self.name, self.key, []
        if via_intermediate:
            issuer_key = ec.generate_private_key(ec.SECP256R1())
            issuer = _name("Test PID Intermediate")
            above = [certificate(issuer, issuer_key, issuer=self.name, issuer_key=self.key, ca=True, path_length=0)]
        leaf = certificate(_name(common), key, issuer=issuer, issuer_key=issuer_key, ca=ca,
                           not_before=not_before, not_after=not_after, key_usage=key_usage)
        return key, [der(leaf)] + [der(c) for c in above]

    def expired_signer(self):
        now = dt.datetime.now(dt.UTC)
        return self.signer("Expired Signer", not_before=now - 30 * DAY, not_after=now - DAY)

    @staticmethod
    def self_signed_signer():
        """A signer certificate that signed itself: what a forger without the CA's key makes."""
        key = ec.generate_private_key(ec.SECP256R1())
        return key, [der(certificate(_name("Self-signed Signer"), key, ca=False))]
