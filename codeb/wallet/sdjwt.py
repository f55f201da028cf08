"""An SD-JWT VC presented through OpenID4VP 1.0 (`dc+sd-jwt`): the PID as `<JWT>~<disclosure>~…~<KB-JWT>`.

The wallet answers with an SD-JWT+KB (RFC 9901 §4): the PID provider's issuer-signed JWT,
the disclosures the holder chose to reveal, and a key-binding JWT by the holder's key.
Everything is verified here in the order of RFC 9901 §7.1 and §7.3, by hand, because the
IETF reference library's verifier (`sd_jwt`, used by the tests as the wallet) checks
neither `exp`, nor `typ`, nor the key binding's `iat`, and silently drops a disclosure no
digest names where the RFC says to reject (tests/unit/test_wallet_sdjwt.py shows it).
SD-JWT VC sections are those of draft -13, the one HAIP 1.0 cites.

- the issuer-signed JWT: `typ` exactly `dc+sd-jwt` (SD-JWT VC §3.2.1, HAIP 1.0 §5.3.2). The
  legacy `vc+sd-jwt` is refused: SD-JWT VC draft -13, the one HAIP cites, only RECOMMENDED
  accepting it for a transitional period, the current draft dropped even that, and HAIP
  names `dc+sd-jwt` alone. `alg` one of `algorithms` and never `none` nor a MAC
  (ASYMMETRIC, whatever the caller passes); no `crit` or `b64` (we understand no
  extension); the `x5c` chain ends at one of the tenant's anchors (`trust.verify_chain`,
  HAIP §6.1.1) and its leaf's key verifies the signature (joserfc);
- the processed payload: `_sd_alg` absent or `sha-256`, the one digest we compute (HAIP §8);
  `iss` a string (SD-JWT VC makes it optional beside `x5c`; `Presented.issuer` is it);
  `vct` one of `types`; `exp` present and not passed, `nbf` and `iat` not in the future,
  each within SKEW; `cnf.jwk` a public key; `status`, if present, a Token Status List
  reference (`status.reference`);
- the disclosures (RFC 9901 §7.1 steps 3-5): each one strict base64url of a JSON array
  (salt, name, value) or (salt, value); none presented twice; every digest met at most
  once, in the payload or inside a disclosed value (recursive disclosures, §4.2.6); every
  disclosure named by a digest where it fits (a property in an `_sd`, an element behind
  `{"...": digest}`), so an injected one is refused; no name `_sd`, `...`, or one already
  present at its level; none of the claims SD-JWT VC §3.2.2.2 forbids disclosing
  (NOT_DISCLOSABLE) at the top level. Decoy digests pass;
- the key binding (§7.3, step 5): `typ` `kb+jwt`, an allowed `alg`, signed by `cnf.jwk`;
  `aud` exactly the full client identifier, prefix included (OpenID4VP 1.0 §B.3.6; over
  the DC API `origin:<Origin>`, §A.4, which the caller passes as `client_id`), `nonce` this
  request's, `iat` within `key_binding_window` seconds (and SKEW), `sd_hash` the digest of
  the presentation up to its last `~` (§4.3.1).

Every byte comes from the wallet: at most `max_bytes`, ASCII only, JSON without duplicate
member names, NaN or infinities, nesting at most MAX_DEPTH. Refusal details name parts and
claims, never a claim's value.
"""

import base64
import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey

from . import Presented, Refused
from .status import reference
from .trust import Anchor, verify_chain, x5c_chain

FORMAT = "dc+sd-jwt"
TYP = "dc+sd-jwt"
KB_TYP = "kb+jwt"
DIGEST = "sha-256"  # RFC 9901 §4.1.1: the default `_sd_alg`, and the one HAIP 1.0 §8 requires
SKEW = 60           # seconds of clock difference allowed, wherever a time is compared
MAX_DEPTH = 32      # nesting of objects and arrays, disclosed values included: a PID needs four
ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA")
# What `alg` may ever be, whatever a caller allows: signatures only, never `none` or a MAC
# (RFC 9901 §7.1 step 2.1, RFC 8725 §3.1), so a key can only be used as the public key it is.
ASYMMETRIC = frozenset({"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "Ed448"})
# SD-JWT VC §3.2.2.2 (and `aka_vcts` of later drafts): claims an issuer MUST NOT make disclosable.
NOT_DISCLOSABLE = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "aka_vcts", "status"})
NOT_CLAIMS = NOT_DISCLOSABLE | {"iat"}  # about the credential, not the person: left out of `Presented.claims`
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})  # RFC 7518 §6: a JWK's secret parts
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# What cryptography raises for a certificate that loads but whose names, extensions or key do not parse.
CERTIFICATE_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension, x509.InvalidVersion,
                      x509.UnsupportedGeneralNameType)
JOSE_ERRORS = (JoseError, ValueError, TypeError, KeyError)  # what joserfc raises for a key or token it refuses


@dataclass(frozen=True)
class _Parts:
    issuer_jwt: str
    disclosures: list[str]
    key_binding: str
    bound: str  # `<Issuer-signed JWT>~<Disclosure 1>~…~`: what `sd_hash` covers (RFC 9901 §4.3.1)


@dataclass(frozen=True)
class _Jwt:
    token: str
    header: dict
    payload: dict


@dataclass(frozen=True)
class _Disclosure:
    name: str | None  # None for an array element
    value: Any


def verify(presentation: str, *, anchors: Sequence[Anchor], client_id: str, nonce: str, now: int,
           types: Collection[str], algorithms: Collection[str] = ALGORITHMS, key_binding_window: int = 300,
           max_bytes: int = 64_000) -> Presented:
    """The SD-JWT VC in `presentation` (the vp_token value), verified against the tenant's
    `anchors` and this request's `client_id` (the KB-JWT's `aud`) and `nonce`."""
    parts = _split(presentation, max_bytes)
    issued = _decode(parts.issuer_jwt, "malformed")
    if issued.header.get("typ") != TYP:
        raise Refused("wrong_type", f"typ is not {TYP}")
    alg = _algorithm(issued.header, algorithms, "bad_algorithm")
    key, anchor = _signer(issued.header, anchors, now)
    _verify_signature(issued.token, key, alg, "bad_signature")
    claims = process(issued.payload, parts.disclosures)
    holder_key = _check_credential(claims, types=types, now=now)
    found_status = reference(claims.get("status"))
    _check_key_binding(parts, holder_key, client_id=client_id, nonce=nonce, now=now, window=key_binding_window,
                       algorithms=algorithms)
    return Presented(format=FORMAT, credential_type=claims["vct"], issuer=claims["iss"], anchor=anchor.id,
                     claims={name: value for name, value in claims.items() if name not in NOT_CLAIMS},
                     status=found_status, expires=int(claims["exp"]))


def digest(text: str) -> str:
    """The base64url SHA-256 of `text`'s US-ASCII bytes: a disclosure's digest (RFC 9901 §4.2.3),
    taken over the disclosure as presented, and the KB-JWT's `sd_hash` (§4.3.1)."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def process(payload: Mapping, disclosures: Sequence[str]) -> dict:
    """The processed SD-JWT payload (RFC 9901 §7.1 steps 3-5): `payload` with each disclosure
    put where its digest stands, undisclosed digests and `_sd_alg` removed."""
    _digest_algorithm(payload)
    found: dict[str, _Disclosure] = {}
    for text in disclosures:
        key = digest(text)
        if key in found:
            raise Refused("duplicate_disclosure", "a disclosure is presented twice")
        found[key] = _disclosure(text)
    unpacker = _Unpacker(found)
    top = {name: value for name, value in payload.items() if name != "_sd_alg"}
    processed = unpacker.object(top, 0)
    if len(unpacker.used) != len(found):
        raise Refused("unreferenced_disclosure", f"{len(found) - len(unpacker.used)} disclosures no digest names")
    return processed


def _split(presentation: object, max_bytes: int) -> _Parts:
    """The parts of an SD-JWT+KB (RFC 9901 §4): what comes after the last `~` is the KB-JWT."""
    if not isinstance(presentation, str) or not presentation:
        raise Refused("malformed", "the presentation is not a string")
    if len(presentation) > max_bytes:
        raise Refused("too_large", f"{len(presentation)} characters")
    if not presentation.isascii():
        raise Refused("malformed", "the presentation is not ASCII")
    if "~" not in presentation:
        raise Refused("malformed", "not an SD-JWT: no ~")
    before, _, key_binding = presentation.rpartition("~")
    if not key_binding:
        raise Refused("no_key_binding", "the presentation ends without a key-binding JWT")
    issuer_jwt, *disclosures = before.split("~")
    return _Parts(issuer_jwt, disclosures, key_binding, before + "~")


def _decode(token: str, reason: str) -> _Jwt:
    """A compact JWS's header and payload, both JSON objects; its signature left to `_verify_signature`."""
    segments = token.split(".")
    if len(segments) != 3:
        raise Refused(reason, "not a compact JWS")
    try:
        header, payload = (_json(_base64url(segment)) for segment in segments[:2])
        _base64url(segments[2])
    except ValueError as error:
        raise Refused(reason, f"the JWS does not decode: {error}") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Refused(reason, "the JWS header or payload is not an object")
    if "crit" in header or "b64" in header:
        raise Refused(reason, "the JWS asks for an extension (crit, b64)")
    return _Jwt(token, header, payload)


def _base64url(segment: str) -> bytes:
    if not BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(data: bytes) -> Any:
    """JSON, strictly: UTF-8, no member name twice (a second one would win unseen), no NaN or infinity."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_object, parse_constant=_no_constant)
    except (UnicodeDecodeError, RecursionError) as error:
        raise ValueError(type(error).__name__) from None
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a member name appears twice")
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _algorithm(header: dict, algorithms: Collection[str], reason: str) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC or alg not in algorithms:
        shown = alg[:20] if isinstance(alg, str) else type(alg).__name__
        raise Refused(reason, f"alg {shown} is not allowed")
    return alg


def _signer(header: dict, anchors: Sequence[Anchor], now: int) -> tuple[ECKey | OKPKey, Anchor]:
    """The document signer's key, and the anchor its `x5c` chain ends at."""
    try:
        leaf, anchor = verify_chain(x5c_chain(header), anchors, now=now)
        key = leaf.public_key()
    except CERTIFICATE_ERRORS as error:
        # cryptography parses a certificate's names, extensions and key only when they are read
        raise Refused("bad_certificate", f"{type(error).__name__}: {str(error)[:200]}") from None
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            return ECKey.import_key(key), anchor
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            return OKPKey.import_key(key), anchor
    except JOSE_ERRORS as error:
        raise Refused("bad_algorithm", f"the signer's key does not import ({type(error).__name__})") from None
    raise Refused("bad_algorithm", f"the signer's key ({type(key).__name__}) signs with no allowed algorithm")


def _verify_signature(token: str, key: Key, alg: str, reason: str) -> None:
    """The JWS signature by `key` under `alg` (joserfc checks the key fits it: type, curve)."""
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = registry.max_payload_length = len(token)  # joserfc's 512-byte header fits no x5c
    try:
        jws.deserialize_compact(token, key, registry=registry)
    except JOSE_ERRORS as error:
        raise Refused(reason, f"the signature does not verify ({type(error).__name__})") from None


def _digest_algorithm(payload: Mapping) -> None:
    if payload.get("_sd_alg", DIGEST) != DIGEST:
        raise Refused("bad_digest_algorithm", f"_sd_alg is not {DIGEST}")


def _disclosure(text: str) -> _Disclosure:
    """A disclosure's content (RFC 9901 §4.2.1, §4.2.2): [salt, name, value] or [salt, value]."""
    try:
        content = _json(_base64url(text))
    except ValueError as error:
        raise Refused("bad_disclosure", f"a disclosure does not decode: {error}") from None
    if not isinstance(content, list) or len(content) not in (2, 3) or not isinstance(content[0], str):
        raise Refused("bad_disclosure", "a disclosure is not [salt, name, value] or [salt, value]")
    if len(content) == 2:
        return _Disclosure(None, content[1])
    if not isinstance(content[1], str):
        raise Refused("bad_disclosure", "a disclosure's claim name is not a string")
    return _Disclosure(content[1], content[2])


class _Unpacker:
    """One walk over the payload and what it discloses (RFC 9901 §7.1 step 3): each digest met
    is remembered, so one met twice, anywhere, is refused (step 4), and each disclosure a
    digest names is marked used, so the caller can refuse any left over (step 5)."""

    def __init__(self, disclosures: Mapping[str, _Disclosure]):
        self.disclosures = disclosures
        self.seen: set[str] = set()
        self.used: set[str] = set()

    def value(self, node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Refused("malformed", f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            return self.object(node, depth)
        if isinstance(node, list):
            return self.array(node, depth)
        return node

    def object(self, node: dict, depth: int) -> dict:
        if "..." in node or "_sd_alg" in node:
            raise Refused("malformed", "'...' or _sd_alg where they have no place")
        out = {name: self.value(value, depth + 1) for name, value in node.items() if name != "_sd"}
        digests = node.get("_sd", [])
        if not isinstance(digests, list) or not all(isinstance(item, str) for item in digests):
            raise Refused("malformed", "an _sd that is not a list of digests")
        for item in digests:
            disclosure = self.take(item)
            if disclosure is None:
                continue  # a decoy, or a claim the holder keeps to itself
            name = disclosure.name
            if name is None:
                raise Refused("bad_disclosure", "an array element's disclosure named by an _sd")
            if name in ("_sd", "...") or name in out:
                raise Refused("bad_disclosure", f"a disclosure of {name!r:.40} where it is reserved or present")
            if depth == 0 and name in NOT_DISCLOSABLE:
                raise Refused("bad_disclosure", f"{name} is selectively disclosed")
            out[name] = self.value(disclosure.value, depth + 1)
        return out

    def array(self, node: list, depth: int) -> list:
        out = []
        for element in node:
            if not (isinstance(element, dict) and "..." in element):
                out.append(self.value(element, depth + 1))
                continue
            if len(element) != 1 or not isinstance(element["..."], str):
                raise Refused("malformed", "an array element with '...' that is not {'...': digest}")
            disclosure = self.take(element["..."])
            if disclosure is None:
                continue
            if disclosure.name is not None:
                raise Refused("bad_disclosure", "a property's disclosure named by an array element")
            out.append(self.value(disclosure.value, depth + 1))
        return out

    def take(self, item: str) -> _Disclosure | None:
        if item in self.seen:
            raise Refused("duplicate_digest", "a digest appears twice in the SD-JWT")
        self.seen.add(item)
        disclosure = self.disclosures.get(item)
        if disclosure is not None:
            self.used.add(item)
        return disclosure


def _check_credential(claims: dict, *, types: Collection[str], now: int) -> Key:
    """The processed payload's own claims (SD-JWT VC §3.2.2): who issued it, what it is, when
    it holds, and the holder's key (returned, as joserfc imported it)."""
    if not isinstance(claims.get("iss"), str) or not claims["iss"]:
        raise Refused("no_issuer", "iss is missing or not a string")
    vct = claims.get("vct")
    if not isinstance(vct, str) or vct not in types:
        raise Refused("wrong_credential_type", "vct is not a type this sign-in asks for")
    if "exp" not in claims:
        raise Refused("no_expiry", "the credential has no exp")
    if now >= _time(claims, "exp", "malformed") + SKEW:
        raise Refused("expired", "exp has passed")
    for name in ("nbf", "iat"):
        if name in claims and _time(claims, name, "malformed") > now + SKEW:
            raise Refused("not_yet_valid", f"{name} is in the future")
    return _holder_key(claims.get("cnf"))


def _time(claims: Mapping, name: str, reason: str) -> float:
    """A NumericDate (RFC 7519 §2): a finite number, not a boolean."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Refused(reason, f"{name} is not a NumericDate")
    return value


def _holder_key(cnf: object) -> Key:
    """The holder's public key, `cnf.jwk` (RFC 7800 §3.2): a private or symmetric one is refused."""
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise Refused("no_holder_key", "no cnf.jwk")
    if PRIVATE_MEMBERS & jwk.keys() or jwk.get("kty") == "oct":
        raise Refused("bad_holder_key", "cnf.jwk is a private or symmetric key")
    try:
        return JWKRegistry.import_key(jwk)
    except JOSE_ERRORS as error:
        raise Refused("bad_holder_key", f"cnf.jwk does not import ({type(error).__name__})") from None


def _check_key_binding(parts: _Parts, holder_key: Key, *, client_id: str, nonce: str, now: int, window: int,
                       algorithms: Collection[str]) -> None:
    """The KB-JWT (RFC 9901 §7.3 step 5; OpenID4VP 1.0 §B.3.6 for `aud` and `nonce`)."""
    bound = _decode(parts.key_binding, "bad_key_binding")
    if bound.header.get("typ") != KB_TYP:
        raise Refused("bad_key_binding", f"typ is not {KB_TYP}")
    alg = _algorithm(bound.header, algorithms, "bad_key_binding")
    _verify_signature(bound.token, holder_key, alg, "bad_key_binding")
    claims = bound.payload
    if not isinstance(claims.get("aud"), str) or claims["aud"] != client_id:
        raise Refused("wrong_audience", "aud is not this verifier's client identifier")
    if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
        raise Refused("wrong_nonce", "nonce is not this request's")
    issued = _time(claims, "iat", "bad_key_binding")
    if issued > now + SKEW:
        raise Refused("stale_key_binding", "iat is in the future")
    if issued < now - window - SKEW:
        raise Refused("stale_key_binding", f"made {int(now - issued)} s ago, more than {window} s")
    if claims.get("sd_hash") != digest(parts.bound):
        raise Refused("wrong_sd_hash", "sd_hash is not the digest of this presentation")
