"""The test wallet's mdoc side: a PID issued as an ISO 18013-5 mdoc, and presented.

`issue` has pymdoccbor (`MdocCborIssuer`, the EUDI reference issuer's library) sign a PID
in namespace `eu.europa.ec.eudi.pid.1` with a document signer of a `PidCA`, and a fresh
P-256 device key in the MSO. pymdoccbor has no device side, and it dates an MSO from
its own clock: `present` builds the Document with `deviceSigned` by hand (ISO 18013-5
§8.3.2.1.2.2, §9.1.3: a COSE_Sign1 by the device key, made with pycose, over the
detached DeviceAuthentication), and `issue` re-signs the MSO with cbor2 + pycose when a
test changes what pymdoccbor does not offer (validity, docType, digest algorithm...).

Each attack is one argument: `tamper` changes an item's value after signing, `device_key`
signs with another key than the MSO's, `doc_type` relabels the document, `device_mac`
answers with a MAC; a wrong transcript is just another `transcript`, a foreign, expired
or self-signed signer another `signer`, a bad DeviceResponse status `device_response(...,
status=10)`, several documents `device_response(a, b)`.
"""

import base64
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.algorithms import Es256
from pycose.headers import Algorithm
from pycose.keys import CoseKey
from pycose.keys.keyparam import KpAlg
from pycose.messages import Sign1Message
from pymdoccbor.mdoc.issuer import MdocCborIssuer
from pymdoccbor.tools import thaw_cbor

from tests.support.pid_ca import PidCA

PID = "eu.europa.ec.eudi.pid.1"
CLAIMS = {"given_name": "Erika", "family_name": "Mustermann", "birth_date": "1964-08-12",
          "personal_administrative_number": "T22000129", "nationality": ["DE"], "issuing_country": "DE",
          "age_over_18": True}


@dataclass
class Mdoc:
    """An issued mdoc as the wallet keeps it: the issuer-signed document and its device key."""

    doc_type: str
    issuer_signed: dict           # {"nameSpaces": {ns: [#6.24(item)]}, "issuerAuth": COSE_Sign1 array}
    device_key: ec.EllipticCurvePrivateKey

    @property
    def mso(self) -> dict:
        return cbor2.loads(cbor2.loads(self.issuer_signed["issuerAuth"][2]).value)


def issue(ca: PidCA, *, claims: dict | None = None, doc_type: str = PID, signer=None,
          device_key: ec.EllipticCurvePrivateKey | None = None, status: dict | None = None,
          valid_days: int = 30, edit_mso: Callable[[dict], None] | None = None) -> Mdoc:
    """A PID mdoc signed by `signer` ((key, chain) as PidCA.signer() gives; the CA's own
    signer by default), valid from now for `valid_days`. `status`: the MSO's
    {"status_list": {"idx", "uri"}}. `edit_mso` changes the MSO (a dict) before it is re-signed."""
    signer_key, chain = signer or (ca.signer_key, ca.chain)
    device_key = device_key or ec.generate_private_key(ec.SECP256R1())
    today = dt.datetime.now(dt.UTC).date()
    issuer = MdocCborIssuer(private_key=CoseKey._from_cryptography_key(signer_key, {KpAlg: Es256}), alg="ES256")
    signed = issuer.new(data={PID: dict(claims or CLAIMS)}, doctype=doc_type,
                        validity={"issuance_date": today.isoformat(),
                                  "expiry_date": (today + dt.timedelta(days=valid_days)).isoformat()},
                        devicekeyinfo=cose_key(device_key.public_key()), x509_chain=chain, revocation=status)
    mdoc = Mdoc(doc_type, signed["documents"][0]["issuerSigned"], device_key)
    if edit_mso:
        mso = mdoc.mso
        edit_mso(mso)
        mdoc.issuer_signed["issuerAuth"] = sign_mso(mso, signer_key, chain)
    return mdoc


def validity(valid_from: dt.datetime, valid_until: dt.datetime) -> Callable[[dict], None]:
    """An `edit_mso` that dates the MSO (tdate, whole seconds)."""
    def edit(mso: dict) -> None:
        mso["validityInfo"] = {"signed": _tdate(valid_from), "validFrom": _tdate(valid_from),
                               "validUntil": _tdate(valid_until)}
    return edit


def _tdate(moment: dt.datetime) -> cbor2.CBORTag:
    return cbor2.CBORTag(0, moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def sign_mso(mso: dict, key: ec.EllipticCurvePrivateKey, chain: list[bytes]) -> list:
    """issuerAuth over `mso`, as pymdoccbor makes it: ES256, x5chain unprotected, untagged."""
    message = Sign1Message(phdr={Algorithm: Es256}, uhdr={33: chain[0] if len(chain) == 1 else chain},
                           payload=cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso, canonical=True))))
    message.key = CoseKey._from_cryptography_key(key)
    return thaw_cbor(cbor2.loads(message.encode(tag=False)))


def cose_key(public_key: ec.EllipticCurvePublicKey) -> dict:
    """The COSE_Key (EC2) of a public key, as the MSO's deviceKeyInfo carries it."""
    key = CoseKey._from_cryptography_key(public_key)
    return {1: 2, -1: key.crv.identifier, -2: key.x, -3: key.y}


def present(mdoc: Mdoc, transcript: bytes, *, items: Iterable[str] | None = None, tamper: dict | None = None,
            device_key: ec.EllipticCurvePrivateKey | None = None, doc_type: str | None = None,
            device_mac: bool = False, device_items: dict | None = None) -> dict:
    """The Document the wallet answers with: the `items` disclosed (all by default), and the
    device signature over DeviceAuthentication for `transcript` (the SessionTranscript's CBOR).
    `tamper`: {elementIdentifier: value} changed after signing."""
    doc_type = doc_type or mdoc.doc_type
    wanted = None if items is None else set(items)
    name_spaces = {name_space: [_tampered(item, tamper or {}) for item in disclosed
                                if wanted is None or _item(item)["elementIdentifier"] in wanted]
                   for name_space, disclosed in mdoc.issuer_signed["nameSpaces"].items()}
    device_name_spaces = cbor2.dumps(device_items or {})
    if device_mac:
        auth = {"deviceMac": [cbor2.dumps({1: 5}), {}, None, bytes(32)]}  # HMAC 256/256
    else:
        auth = {"deviceSignature": device_signature(device_key or mdoc.device_key, transcript, doc_type,
                                                    device_name_spaces)}
    return {"docType": doc_type,
            "issuerSigned": {"nameSpaces": name_spaces, "issuerAuth": mdoc.issuer_signed["issuerAuth"]},
            "deviceSigned": {"nameSpaces": cbor2.CBORTag(24, device_name_spaces), "deviceAuth": auth}}


def _item(wrapped: cbor2.CBORTag) -> dict:
    return cbor2.loads(wrapped.value)


def _tampered(wrapped: cbor2.CBORTag, tamper: dict) -> cbor2.CBORTag:
    item = _item(wrapped)
    if item["elementIdentifier"] not in tamper:
        return wrapped
    item["elementValue"] = tamper[item["elementIdentifier"]]
    return cbor2.CBORTag(24, cbor2.dumps(item, canonical=True))


def device_signature(key: ec.EllipticCurvePrivateKey, transcript: bytes, doc_type: str, name_spaces: bytes) -> list:
    """The COSE_Sign1 (ES256, detached payload) over DeviceAuthenticationBytes, built from the
    decoded transcript (the verifier splices the encoded one: the two must agree)."""
    authentication = ["DeviceAuthentication", cbor2.loads(transcript), doc_type, cbor2.CBORTag(24, name_spaces)]
    payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(authentication)))
    message = Sign1Message(phdr={Algorithm: Es256}, uhdr={}, payload=None)
    message.key = CoseKey._from_cryptography_key(key)
    return thaw_cbor(cbor2.loads(message.encode(tag=False, detached_payload=payload)))


def device_response(*documents: dict, status: int = 0, version: str = "1.0") -> bytes:
    """The DeviceResponse's CBOR."""
    response: dict = {"version": version, "status": status}
    if documents:
        response["documents"] = list(documents)
    return cbor2.dumps(response)


def vp_token(*documents: dict, status: int = 0) -> str:
    """The vp_token value of an mso_mdoc presentation: the DeviceResponse, base64url without padding."""
    return base64.urlsafe_b64encode(device_response(*documents, status=status)).rstrip(b"=").decode()
