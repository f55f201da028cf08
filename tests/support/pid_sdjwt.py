"""The test wallet's SD-JWT VC side: a PID issued as `dc+sd-jwt`, and presented with key binding.

Built on the IETF reference implementation (`sd_jwt`, the OpenWallet Foundation's
sd-jwt-python). `PidIssuer.issue` is its `SDJWTIssuer` signing the PID of the ARF rulebook
(`PERSON`: every claim selectively disclosable; the address's parts and each nationality
recursively, under the disclosure of `address` and `nationalities`; decoy digests added)
with a `PidCA` document signer, its `x5c` chain in the header, `typ` `dc+sd-jwt`, `vct`
`urn:eudi:pid:1`, `iat`, `exp`, the holder's `cnf.jwk` and, if asked, a `status` list
entry. `Holder.present` is its `SDJWTHolder` picking the disclosures (the library's
selection format: `{"given_name": True, "address": {"locality": True}, "nationalities":
[False, True]}`) and signing the KB-JWT.

Every attack is one call or one argument away, and changes only the thing under test:

- the credential: `issue(..., exp=...)` (expired), `typ=`, `vct=`, `status=`; `PidIssuer(signer=
  ca.expired_signer())`, `PidCA.self_signed_signer()`, or another `PidCA`; `forge` re-signs an
  issuance with a changed header or payload, which the library would never make (`alg` none
  or HS256 keyed with the signer's certificate, `_sd_alg` sha-512, a private `cnf.jwk`...);
- the disclosures, on the `Parts` of `Holder.select`: `inject` (a disclosure no digest
  names), `duplicate`, `tamper` (one disclosure's value changed, its salt kept);
- the key binding, by hand in `Holder.bind` over whatever parts it is given (so `sd_hash`
  stays right unless asked otherwise): `nonce=`, `aud=`, `iat=` (stale, future), `key=`
  (another holder's), `header=` (`typ`, `alg`), `sd_hash=`; `Parts.serialize()` alone is a
  presentation without key binding.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

from tests.support.pid_ca import PidCA

PID_VCT = "urn:eudi:pid:1"
ISSUER = "https://pid-provider.example/de"
DAY = 86_400
PERSON = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1963-08-12",
    "personal_administrative_number": "T22000129",
    "nationalities": ["DE", "FR"],
    "address": {"street_address": "Heidestraße 17", "locality": "Köln", "postal_code": "51147", "country": "DE"},
}
REMOVE = object()  # `forge`: a member set to REMOVE is deleted


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def selectively_disclosable(person: dict) -> dict:
    """`person` marked for the library: every claim disclosable, and inside `address` and
    `nationalities` each part again (recursive disclosures, RFC 9901 §4.2.6)."""
    return {SDObj(name): _parts_disclosable(value) for name, value in person.items()}


def _parts_disclosable(value: object) -> object:
    if isinstance(value, dict):
        return {SDObj(part): inner for part, inner in value.items()}
    if isinstance(value, list):
        return [SDObj(element) for element in value]
    return value


def sign(header: dict, payload: dict, key=None, *, secret: bytes = b"") -> str:
    """A compact JWS made by hand, for what the library will not sign: `alg` ES256 with the
    EC `key`, HS256 with `secret`, `none` with no signature at all."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    alg = header.get("alg")
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    else:
        r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input}.{b64url(signature)}"


def decode(token: str) -> tuple[dict, dict]:
    """A compact JWS's header and payload, unverified."""
    header, payload, _ = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload))


@dataclass(frozen=True)
class Parts:
    """An SD-JWT taken apart: the issuer-signed JWT and the disclosures, as strings."""

    jwt: str
    disclosures: tuple[str, ...]

    @classmethod
    def of(cls, sd_jwt: str) -> "Parts":
        """The parts of an issuance or of a presentation without key binding (ending in `~`)."""
        jwt, *disclosures, last = sd_jwt.split("~")
        assert last == "", "a KB-JWT follows: take the parts of an SD-JWT"
        return cls(jwt, tuple(disclosures))

    def serialize(self) -> str:
        """`<JWT>~<D1>~…~`: the SD-JWT, what `sd_hash` covers; presented as is, it lacks key binding."""
        return "~".join([self.jwt, *self.disclosures, ""])

    def named(self, name: str) -> int:
        """The position of the disclosure of claim `name`."""
        return next(i for i, text in enumerate(self.disclosures) if disclosed(text)[1:2] == [name])


def disclosed(text: str) -> list:
    """A disclosure's content: [salt, name, value] or [salt, value]."""
    return json.loads(unb64url(text))


def disclosure(*content) -> str:
    """A disclosure of `content` (name, value) or (value,), with a fresh salt, spelled as the library does."""
    return b64url(json.dumps([b64url(secrets.token_bytes(16)), *content]).encode())


def inject(parts: Parts, name: str = "given_name", value: object = "Mallory") -> Parts:
    """`parts` and one disclosure more that no digest of the issuer names: the injection attack."""
    return replace(parts, disclosures=(*parts.disclosures, disclosure(name, value)))


def duplicate(parts: Parts, index: int = 0) -> Parts:
    return replace(parts, disclosures=(*parts.disclosures, parts.disclosures[index]))


def tamper(parts: Parts, name: str, value: object) -> Parts:
    """The disclosure of `name` with another `value`, its salt kept: its digest changes with it."""
    index = parts.named(name)
    salt = disclosed(parts.disclosures[index])[0]
    changed = b64url(json.dumps([salt, name, value]).encode())
    return replace(parts, disclosures=tuple(changed if i == index else text
                                            for i, text in enumerate(parts.disclosures)))


class Holder:
    """A wallet's holder key (P-256) and what it presents."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = JWK.from_pyca(self.key)

    def present(self, issuance: str, disclose: dict, *, aud: str, nonce: str) -> str:
        """The reference holder's SD-JWT+KB: the disclosures `disclose` selects, and its KB-JWT."""
        holder = SDJWTHolder(issuance)
        holder.create_presentation(disclose, nonce=nonce, aud=aud, holder_key=self.jwk, sign_alg="ES256")
        return holder.sd_jwt_presentation

    @staticmethod
    def select(issuance: str, disclose: dict) -> Parts:
        """What the reference holder would disclose, before key binding."""
        holder = SDJWTHolder(issuance)
        holder.create_presentation(disclose)
        return Parts.of(holder.sd_jwt_presentation)

    def bind(self, parts: Parts, *, aud: object, nonce: str, iat: object = None, key=None,
             header: dict | None = None, sd_hash: str | None = None, secret: bytes = b"") -> str:
        """`parts` with a KB-JWT made by hand (RFC 9901 §4.3), signed by `key` (this holder's by
        default); `header` adds to or replaces {"alg": "ES256", "typ": "kb+jwt"}; `aud` and `iat`
        may be anything JSON holds, to be wrong."""
        serialized = parts.serialize()
        claims = {"nonce": nonce, "aud": aud, "iat": int(time.time()) if iat is None else iat,
                  "sd_hash": sd_hash or b64url(hashlib.sha256(serialized.encode("ascii")).digest())}
        kb_header = {"alg": "ES256", "typ": "kb+jwt", **(header or {})}
        return serialized + sign(kb_header, claims, key or self.key, secret=secret)


class PidIssuer:
    """A PID provider: a document signer under `ca` (or the `signer` given: key, DER chain leaf first)."""

    def __init__(self, ca: PidCA | None = None, *, signer: tuple | None = None, iss: str = ISSUER):
        self.ca = ca or PidCA()
        self.key, self.chain = signer or (self.ca.signer_key, self.ca.chain)
        self.iss = iss

    @property
    def x5c(self) -> list[str]:
        return [base64.b64encode(der).decode("ascii") for der in self.chain]

    def issue(self, holder: Holder | None, *, person: dict = PERSON, vct: str = PID_VCT, iat: int | None = None,
              exp: int | None = None, status: dict | None = None, typ: str = "dc+sd-jwt",
              header: dict | None = None, decoys: bool = True, alg: str = "ES256") -> str:
        """The issuance `<JWT>~<every disclosure>~`, by the reference issuer: valid 30 days from
        `iat` (now) unless `exp` says otherwise; `status`: {"idx", "uri"} of a status list;
        `alg` the signer key's (EdDSA for an Ed25519 signer)."""
        iat = int(time.time()) if iat is None else iat
        claims: dict = {"iss": self.iss, "vct": vct, "iat": iat, "exp": iat + 30 * DAY if exp is None else exp}
        if status is not None:
            claims["status"] = {"status_list": status}
        claims.update(selectively_disclosable(person))
        issuer = SDJWTIssuer(claims, JWK.from_pyca(self.key), holder.jwk if holder else None, sign_alg=alg,
                             add_decoy_claims=decoys,
                             extra_header_parameters={"typ": typ, "x5c": self.x5c, **(header or {})})
        return issuer.sd_jwt_issuance

    def forge(self, issuance: str, *, header: dict | None = None, payload: dict | None = None, key=None,
              secret: bytes | None = None) -> str:
        """`issuance` re-signed by hand after changing members of its header or payload (REMOVE
        deletes one); signed by `key` (the signer's by default), or for `alg` HS256 keyed with
        `secret`, by default the signer's certificate: the algorithm-confusion attack."""
        parts = Parts.of(issuance)
        old_header, old_payload = decode(parts.jwt)
        new_header, new_payload = _changed(old_header, header), _changed(old_payload, payload)
        jwt = sign(new_header, new_payload, key or self.key, secret=self.chain[0] if secret is None else secret)
        return replace(parts, jwt=jwt).serialize()


def _changed(members: dict, changes: dict | None) -> dict:
    out = dict(members)
    for name, value in (changes or {}).items():
        if value is REMOVE:
            out.pop(name, None)
        else:
            out[name] = value
    return out

