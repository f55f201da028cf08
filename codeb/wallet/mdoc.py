"""An ISO/IEC 18013-5 mdoc presented through OpenID4VP 1.0 (`mso_mdoc`): the PID as a `DeviceResponse`.

The wallet answers with a base64url `DeviceResponse` holding one `Document`. Its
`issuerSigned` part is the PID provider's: `issuerAuth`, a COSE_Sign1 by a document
signer whose certificate (`x5chain`) must lead to one of the tenant's anchors
(`trust.verify_chain`), over the Mobile Security Object (MSO); the MSO names the docType,
its validity, the holder's device key and, per namespace, the digest of every data
element the provider signed. The wallet discloses a subset of those elements
(`IssuerSignedItem`s, each salted), and each one counts only if its digest is in the MSO.
Its `deviceSigned` part is the holder's: a COSE_Sign1 by the MSO's device key over
`DeviceAuthentication`, which binds the presentation to this request through the
`SessionTranscript` (OpenID4VP 1.0 Appendix B.2.6: the client id, nonce, the thumbprint of
the response encryption key and the response URI, or the origin for the Digital
Credentials API). A copied presentation, replayed into another request, fails there.

Checked strictly, since every byte of it comes from the wallet: at most `max_bytes`,
one CBOR item with nothing after it, no duplicate map keys, no indefinite lengths,
bounded nesting, and none of the tags cbor2 would turn into objects an mdoc never holds
(shared values could even make cycles). The signatures are ES256/ES384/ES512 only,
checked here with `cryptography` over the COSE Sig_structure; the digests SHA-256/384/512.
A document MAC (`deviceMac`) needs a reader key we never hand out, so it is refused, as
are device-signed data elements (we request none). What passes is returned as a
`Presented`: the claims by namespace and element identifier, dates as ISO strings.
"""

import base64
import binascii
import hashlib
import hmac
import io
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import Presented, Refused
from .trust import Anchor, verify_chain

FORMAT = "mso_mdoc"
SKEW = 60        # seconds of clock difference allowed around the MSO's validity
MAX_DEPTH = 32   # CBOR nesting: a DeviceResponse needs about ten levels
MIN_SALT = 16    # ISO 18013-5 §9.1.2.5: an IssuerSignedItem's `random` has at least 16 bytes

# COSE (RFC 9052/9053/9360): header labels, ES* algorithms, EC2 curves.
ALG, CRIT, X5CHAIN = 1, 2, 33
ALGORITHMS: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    -7: hashes.SHA256, -35: hashes.SHA384, -36: hashes.SHA512}
EC2 = 2
CURVES: dict[int, Callable[[], ec.EllipticCurve]] = {1: ec.SECP256R1, 2: ec.SECP384R1, 3: ec.SECP521R1}
DIGESTS = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}

# Tags cbor2 decodes into objects no mdoc holds: decimal fractions and bigfloats (costly
# exponents), string references and shared values (cycles), rationals, regular
# expressions, MIME messages, UUIDs, sets, IP addresses, complex numbers. Dates (0, 1,
# 100, 1004), bignums (2, 3) and the self-describe tag (55799) remain; any other tag
# stays a CBORTag (24, embedded CBOR, and 18, COSE_Sign1, are read as such).
REFUSED_TAGS = (4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 256, 258, 260, 261, 43000)
# What cryptography raises for a certificate that loads but whose parts do not parse.
CERTIFICATE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion,
                      x509.UnsupportedGeneralNameType)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_ITEM_KEYS = {"digestID", "random", "elementIdentifier", "elementValue"}


def session_transcript(*, client_id: str, nonce: str, jwk_thumbprint: bytes | None, response_uri: str) -> bytes:
    """The SessionTranscript of a request made through redirects (OpenID4VP 1.0 B.2.6.1), as CBOR.
    `jwk_thumbprint`: the RFC 7638 SHA-256 thumbprint of the key the response is encrypted to,
    None if it is not encrypted; `response_uri`: the `response_uri` (or `redirect_uri`)."""
    return _transcript("OpenID4VPHandover", [client_id, nonce, jwk_thumbprint, response_uri])


def dc_api_session_transcript(*, origin: str, nonce: str, jwk_thumbprint: bytes | None) -> bytes:
    """The SessionTranscript of a request made through the Digital Credentials API (B.2.6.2)."""
    return _transcript("OpenID4VPDCAPIHandover", [origin, nonce, jwk_thumbprint])


def _transcript(handover: str, info: list) -> bytes:
    return cbor2.dumps([None, None, [handover, hashlib.sha256(cbor2.dumps(info)).digest()]])


def device_authentication(transcript: bytes, doc_type: str, name_spaces: bytes) -> bytes:
    """DeviceAuthenticationBytes (ISO 18013-5 §9.1.3.4), what the device key signs:
    #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, DocType, DeviceNameSpacesBytes]).
    `transcript` is spliced in as encoded, `name_spaces` is DeviceNameSpaces' CBOR."""
    body = (b"\x84" + cbor2.dumps("DeviceAuthentication") + transcript + cbor2.dumps(doc_type)
            + cbor2.dumps(cbor2.CBORTag(24, name_spaces)))
    return cbor2.dumps(cbor2.CBORTag(24, body))


def verify(device_response: bytes | str, *, anchors: Sequence[Anchor], transcript: bytes, now: int,
           doc_types: Collection[str], max_bytes: int = 64_000) -> Presented:
    """The one document of a DeviceResponse (the vp_token value, base64url, or its bytes),
    verified against the tenant's `anchors` and this request's `transcript`."""
    response = _map(_cbor(_raw(device_response, max_bytes)), "the DeviceResponse")
    document = _document(response, doc_types)
    doc_type = document["docType"]
    issuer_signed = _map(document.get("issuerSigned"), "issuerSigned")
    leaf, anchor, payload = _issuer_auth(issuer_signed.get("issuerAuth"), anchors, now)
    mso = _mso(payload, doc_type)
    valid_until = _validity(mso.get("validityInfo"), now)
    claims = _claims(issuer_signed.get("nameSpaces"), mso)
    _device_signed(document.get("deviceSigned"), _device_key(mso.get("deviceKeyInfo")), transcript, doc_type)
    return Presented(format=FORMAT, credential_type=doc_type, issuer=leaf.subject.rfc4514_string(),
                     anchor=anchor.id, claims=claims, status=_status(mso.get("status")),
                     expires=int(valid_until.timestamp()))


def _raw(device_response: bytes | str, max_bytes: int) -> bytes:
    """The DeviceResponse's bytes: as given, or from base64url (with or without padding)."""
    if isinstance(device_response, str):
        if len(device_response) > max_bytes * 4 // 3 + 4:
            raise Refused("too_large", f"{len(device_response)} characters")
        if not _BASE64URL.fullmatch(device_response):
            raise Refused("malformed", "the vp_token is not base64url")
        unpadded = device_response.rstrip("=")
        try:
            data = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
        except (binascii.Error, ValueError):
            raise Refused("malformed", "the vp_token is not base64url") from None
    elif isinstance(device_response, bytes):
        data = device_response
    else:
        raise Refused("malformed", f"a DeviceResponse is bytes or base64url, not {type(device_response).__name__}")
    if len(data) > max_bytes:
        raise Refused("too_large", f"{len(data)} bytes")
    return data


def _refuse_tag(value: Any, immutable: bool) -> Any:
    raise ValueError("a CBOR tag an mdoc does not use")


_NO_DECODE = dict.fromkeys(REFUSED_TAGS, _refuse_tag)


def _cbor(data: bytes, reason: str = "malformed") -> Any:
    """Exactly one strictly encoded CBOR item (see the module's notes), or Refused(reason)."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream, semantic_decoders=_NO_DECODE, max_depth=MAX_DEPTH,
                                  allow_indefinite=False, allow_duplicate_keys=False).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, LookupError, RecursionError) as error:
        # cbor2 quotes what it found (a duplicate key, say): the detail keeps what precedes it.
        raise Refused(reason, "not well-formed CBOR: " + str(error).split("'")[0][:120]) from None
    if stream.tell() != len(data):
        raise Refused(reason, "bytes after the CBOR item")
    return value


def _map(value: Any, what: str, reason: str = "malformed") -> Mapping:
    if not isinstance(value, Mapping):
        raise Refused(reason, f"{what} is not a map")
    return value


def _text(value: Any, what: str, reason: str = "malformed") -> str:
    if not isinstance(value, str):
        raise Refused(reason, f"{what} is not a text string")
    return value


def _uint(value: Any, what: str, reason: str = "malformed") -> int:
    if type(value) is not int or value < 0:
        raise Refused(reason, f"{what} is not an unsigned integer")
    return value


def _embedded(value: Any, what: str, reason: str = "malformed") -> bytes:
    """The bytes inside #6.24(bstr .cbor ...)."""
    if not isinstance(value, cbor2.CBORTag) or value.tag != 24 or not isinstance(value.value, bytes):
        raise Refused(reason, f"{what} is not embedded CBOR (tag 24)")
    return value.value


def _document(response: Mapping, doc_types: Collection[str]) -> Mapping:
    """The DeviceResponse's one Document, of a docType we asked for (ISO 18013-5 §8.3.2.1.2.2)."""
    if response.get("version") != "1.0":
        raise Refused("malformed", "the DeviceResponse's version is not 1.0")
    status = _uint(response.get("status"), "the DeviceResponse's status")
    if status != 0:
        raise Refused("device_response_status", f"status {status}")
    documents = response.get("documents", [])
    if not isinstance(documents, list):
        raise Refused("malformed", "documents is not an array")
    if not documents:
        raise Refused("no_document", "the DeviceResponse holds no document")
    if len(documents) > 1:
        raise Refused("several_documents", f"{len(documents)} documents, one was asked for")
    document = _map(documents[0], "the document")
    doc_type = _text(document.get("docType"), "docType")
    if doc_type not in doc_types:
        raise Refused("wrong_doc_type", doc_type[:100])
    return document


@dataclass(frozen=True)
class _Sign1:
    """A COSE_Sign1 (RFC 9052 §4.2) whose algorithm is one we accept."""

    protected: bytes          # the protected header as encoded: it is signed as such
    headers: Mapping          # the protected and the unprotected header's parameters
    payload: bytes | None     # None when detached
    signature: bytes
    hash: Callable[[], hashes.HashAlgorithm]

    def verify(self, key: ec.EllipticCurvePublicKey, payload: bytes, reason: str) -> None:
        """ECDSA (raw r || s, RFC 9053 §2.1) over Sig_structure ["Signature1", protected, b"", payload]."""
        size = (key.curve.key_size + 7) // 8
        if len(self.signature) != 2 * size:
            raise Refused(reason, "a signature of the wrong length for its key")
        signature = encode_dss_signature(int.from_bytes(self.signature[:size], "big"),
                                         int.from_bytes(self.signature[size:], "big"))
        signed = cbor2.dumps(["Signature1", self.protected, b"", payload])
        try:
            key.verify(signature, signed, ec.ECDSA(self.hash()))
        except InvalidSignature:
            raise Refused(reason, "the signature does not verify") from None


def _sign1(value: Any, what: str) -> _Sign1:
    """A COSE_Sign1, tagged (18) or not, with ES256/ES384/ES512 in its protected header."""
    if isinstance(value, cbor2.CBORTag) and value.tag == 18:
        value = value.value
    if not isinstance(value, list) or len(value) != 4:
        raise Refused("malformed", f"{what} is not a COSE_Sign1")
    protected, unprotected, payload, signature = value
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping) and isinstance(signature, bytes)
            and (payload is None or isinstance(payload, bytes))):
        raise Refused("malformed", f"{what} is not a COSE_Sign1")
    protected_headers = _map(_cbor(protected), f"{what}'s protected header") if protected else {}
    if set(protected_headers) & set(unprotected) or CRIT in protected_headers:
        raise Refused("malformed", f"{what} repeats a header parameter or marks one critical")
    algorithm = protected_headers.get(ALG)
    if type(algorithm) is not int or algorithm not in ALGORITHMS:
        raise Refused("bad_algorithm", f"{what} is not signed with ES256, ES384 or ES512")
    return _Sign1(protected, {**protected_headers, **unprotected}, payload, signature, ALGORITHMS[algorithm])


def _issuer_auth(value: Any, anchors: Sequence[Anchor], now: int) -> tuple[x509.Certificate, Anchor, bytes]:
    """issuerAuth: the document signer's certificate, the anchor its chain ends at, and the
    payload (the MSO) its signature covers."""
    issuer_auth = _sign1(value, "issuerAuth")
    try:
        leaf, anchor = verify_chain(_x5chain(issuer_auth.headers), anchors, now=now)
        key = leaf.public_key()
    except CERTIFICATE_ERRORS as error:
        # cryptography parses a certificate's names, extensions and key only when they are read
        raise Refused("bad_certificate", f"{type(error).__name__}: {str(error)[:200]}") from None
    if issuer_auth.payload is None:
        raise Refused("bad_mso", "issuerAuth carries no MSO")
    issuer_auth.verify(_public_key(key), issuer_auth.payload, "bad_signature")
    return leaf, anchor, issuer_auth.payload


def _x5chain(headers: Mapping) -> list[bytes]:
    """The signer's chain (RFC 9360 x5chain): one certificate, or several, the signer's first."""
    chain = headers.get(X5CHAIN, [])
    if isinstance(chain, bytes):
        return [chain]
    if not isinstance(chain, list) or not all(isinstance(der, bytes) for der in chain):
        raise Refused("malformed", "x5chain is neither a certificate nor an array of them")
    return chain


def _public_key(key: Any) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or type(key.curve) not in CURVES.values():
        raise Refused("bad_algorithm", "the document signer's key is not on P-256, P-384 or P-521")
    return key


def _mso(payload: bytes, doc_type: str) -> Mapping:
    """The MobileSecurityObject that issuerAuth signs, as #6.24(bstr .cbor MSO) (§9.1.2.4)."""
    mso = _map(_cbor(_embedded(_cbor(payload, "bad_mso"), "the MSO", "bad_mso"), "bad_mso"), "the MSO", "bad_mso")
    if mso.get("version") != "1.0":
        raise Refused("bad_mso", "the MSO's version is not 1.0")
    if mso.get("docType") != doc_type:
        raise Refused("wrong_doc_type", "the MSO is for another docType than the document")
    return mso


def _validity(info: Any, now: int) -> datetime:
    """validUntil, once `now` is within validFrom..validUntil (give or take SKEW)."""
    info = _map(info, "validityInfo", "bad_mso")
    moments = [info.get(name) for name in ("signed", "validFrom", "validUntil")]
    if not all(isinstance(moment, datetime) and moment.tzinfo is not None for moment in moments):
        raise Refused("bad_mso", "validityInfo lacks signed, validFrom or validUntil as a tdate")
    _, valid_from, valid_until = moments
    if now + SKEW < valid_from.timestamp():
        raise Refused("not_yet_valid", f"the MSO is valid from {valid_from.isoformat()}")
    if now - SKEW > valid_until.timestamp():
        raise Refused("expired", f"the MSO was valid until {valid_until.isoformat()}")
    return valid_until


def _value_digests(mso: Mapping) -> tuple[Callable[[bytes], Any], dict[str, dict[int, bytes]]]:
    """The digest algorithm and valueDigests: {namespace: {digestID: digest}}."""
    algorithm = mso.get("digestAlgorithm")
    if not isinstance(algorithm, str) or algorithm not in DIGESTS:
        raise Refused("bad_digest_algorithm", str(algorithm)[:20])
    digest = DIGESTS[algorithm]
    size = digest().digest_size
    found: dict[str, dict[int, bytes]] = {}
    for name_space, digests in _map(mso.get("valueDigests"), "valueDigests", "bad_mso").items():
        _text(name_space, "a valueDigests namespace", "bad_mso")
        found[name_space] = {}
        for digest_id, value in _map(digests, "a namespace's digests", "bad_mso").items():
            if not isinstance(value, bytes) or len(value) != size:
                raise Refused("bad_mso", f"a digest in {name_space[:100]} is not a {algorithm} digest")
            found[name_space][_uint(digest_id, "a digestID", "bad_mso")] = value
    return digest, found


def _claims(name_spaces: Any, mso: Mapping) -> dict:
    """The disclosed IssuerSignedItems as {namespace: {elementIdentifier: value}}, each one
    whose digest over its IssuerSignedItemBytes (tag 24 included, §9.1.2.5; in preferred
    serialization, as cbor2 writes it) the MSO holds."""
    digest, digests = _value_digests(mso)
    claims: dict[str, dict] = {}
    for name_space, items in _map(name_spaces or {}, "nameSpaces").items():
        expected = digests.get(_text(name_space, "a namespace"))
        if expected is None:
            raise Refused("tampered_item", f"the MSO signs nothing in {name_space[:100]}")
        if not isinstance(items, list):
            raise Refused("malformed", f"{name_space[:100]} is not an array of items")
        claims[name_space] = _items(items, expected, digest, name_space)
    return claims


def _items(items: list, expected: dict[int, bytes], digest: Callable[[bytes], Any], name_space: str) -> dict:
    values: dict[str, Any] = {}
    seen: set[int] = set()
    for wrapped in items:
        item = _map(_cbor(_embedded(wrapped, "an IssuerSignedItem")), "an IssuerSignedItem")
        if set(item) != _ITEM_KEYS:
            raise Refused("malformed", "an IssuerSignedItem without exactly digestID, random, elementIdentifier, "
                                       "elementValue")
        digest_id = _uint(item["digestID"], "a digestID")
        identifier = _text(item["elementIdentifier"], "an elementIdentifier")
        if not isinstance(item["random"], bytes) or len(item["random"]) < MIN_SALT:
            raise Refused("malformed", f"{identifier[:100]} has a salt shorter than {MIN_SALT} bytes")
        if digest_id in seen or identifier in values:
            raise Refused("duplicate_item", f"{name_space[:100]} discloses {identifier[:100]} or digest {digest_id} "
                                            f"twice")
        seen.add(digest_id)
        if not hmac.compare_digest(digest(cbor2.dumps(wrapped)).digest(), expected.get(digest_id, b"")):
            raise Refused("tampered_item", f"{name_space[:100]}/{identifier[:100]} is not as the issuer signed it")
        values[identifier] = _plain(item["elementValue"])
    return values


def _plain(value: Any) -> Any:
    """A claim's value with dates as ISO 8601 strings: full-date (tag 1004) as YYYY-MM-DD,
    tdate (tag 0) with its offset, UTC as Z."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _device_key(info: Any) -> ec.EllipticCurvePublicKey:
    """deviceKeyInfo.deviceKey: a COSE_Key, EC2 on P-256, P-384 or P-521, uncompressed."""
    if not isinstance(info, Mapping) or "deviceKey" not in info:
        raise Refused("no_device_key", "the MSO names no device key")
    key = _map(info["deviceKey"], "deviceKey", "bad_device_key")
    curve, x, y = (key.get(label) for label in (-1, -2, -3))
    if key.get(1) != EC2 or type(curve) is not int or curve not in CURVES:
        raise Refused("bad_device_key", "the device key is not an EC2 key on P-256, P-384 or P-521")
    on = CURVES[curve]()
    if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == (on.key_size + 7) // 8):
        raise Refused("bad_device_key", "the device key's coordinates are not of its curve's size")
    try:
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), on).public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise Refused("bad_device_key", "the device key is not a point on its curve") from None


def _device_signed(signed: Any, key: ec.EllipticCurvePublicKey, transcript: bytes, doc_type: str) -> None:
    """deviceSigned: no data elements of its own, and deviceSignature by the MSO's device key
    over DeviceAuthentication for this request's SessionTranscript (§9.1.3)."""
    if not isinstance(signed, Mapping):
        raise Refused("no_device_signature", "the document is not device-signed")
    name_spaces = _embedded(signed.get("nameSpaces"), "deviceSigned nameSpaces")
    if _map(_cbor(name_spaces), "DeviceNameSpaces"):
        raise Refused("device_signed_items", "the device signs data elements of its own; none were asked for")
    auth = _map(signed.get("deviceAuth"), "deviceAuth")
    if "deviceMac" in auth:
        raise Refused("device_mac_unsupported", "deviceMac needs a reader key: only deviceSignature is accepted")
    if "deviceSignature" not in auth:
        raise Refused("no_device_signature", "deviceAuth holds no deviceSignature")
    signature = _sign1(auth["deviceSignature"], "deviceSignature")
    if signature.payload is not None:
        raise Refused("bad_device_signature", "the device signature's payload is not detached")
    signature.verify(key, device_authentication(transcript, doc_type, name_spaces), "bad_device_signature")


def _status(status: Any) -> dict | None:
    """The MSO's Token Status List entry (draft-ietf-oauth-status-list, Referenced Token in COSE)."""
    if status is None:
        return None
    entry = _map(status, "the MSO's status", "bad_status").get("status_list")
    if entry is None:
        return None
    entry = _map(entry, "status_list", "bad_status")
    idx = _uint(entry.get("idx"), "status_list idx", "bad_status")
    uri = _text(entry.get("uri"), "status_list uri", "bad_status")
    if not uri or len(uri) > 2000:
        raise Refused("bad_status", "status_list uri is empty or too long")
    return {"uri": uri, "idx": idx}
