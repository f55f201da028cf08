"""Whether a presented credential is still valid: its entry in the issuer's Token Status List.

A PID credential may name a status list entry (draft-ietf-oauth-status-list: the `status`
claim's `status_list` `{"idx", "uri"}`, in an SD-JWT VC's payload or an mdoc's MSO). The list
is a Status List Token the PID provider publishes at `uri`: a JWT (`typ` `statuslist+jwt`)
whose `status_list` claim holds `bits` (1, 2, 4 or 8 per credential) and `lst`, the
base64url of the ZLIB (RFC 1950) compressed byte array. Entry `idx` is the `bits`-wide
block at that position, packed from the least significant bit of each byte up; 0 is
VALID, 1 INVALID (revoked), 2 SUSPENDED, and any other value is refused as unknown.

The caller fetches the token (bounded, over HTTPS) and caches the list `cache_for` says;
this module only verifies bytes, as strictly as the draft's validation rules ask:

- the header: `typ` exactly `statuslist+jwt`; `alg` ES256, ES384 or ES512 (never what
  `none` or a MAC would allow: the list comes from a third party); no `crit` (we
  understand no extension); the signer's `x5c` chain ends at one of `signers`
  (`codeb.wallet.trust.verify_chain`) and its key fits `alg`; the signature (joserfc);
- the claims: `sub` exactly the credential's `uri` (a list signed for another URI says
  nothing of this one), `iat` present, `exp` (if present) not passed, `nbf` (if present)
  passed, `ttl` (if present) a positive integer;
- the list: `bits` one of 1, 2, 4, 8, `lst` strict base64url of one complete ZLIB stream,
  decompressed to at most MAX_LIST bytes (a few kilobytes of DEFLATE can expand a
  thousandfold: the cap is enforced while decompressing, never after), and an index
  past its end refused: no statement about the credential can be made.

Refusal details never name the list's URI or the index: together they identify a credential.
"""

import base64
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey

from . import Refused
from .trust import Anchor, verify_chain, x5c_chain

VALID, INVALID, SUSPENDED = 0, 1, 2
TYP = "statuslist+jwt"
CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}  # alg: the signer key's curve
BITS = (1, 2, 4, 8)
MAX_LIST = 8 * 1024 * 1024  # decompressed bytes: 2^26 one-bit entries; the draft's examples hold 2^20
MAX_INDEX = MAX_LIST * 8    # no list this module accepts reaches further
MAX_URI = 2048
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
URI_CHARACTERS = re.compile(r"[!-~]+")  # printable ASCII, no space (RFC 3986 §2)


def reference(status_claim: object) -> dict | None:
    """The credential's status list entry, {"uri", "idx"}, from its `status` claim; None
    when the claim (or its `status_list`) is absent: the credential names no list."""
    if status_claim is None:
        return None
    if not isinstance(status_claim, Mapping):
        raise Refused("bad_status_reference", "the status claim is not an object")
    entry = status_claim.get("status_list")
    if entry is None:
        return None
    if not isinstance(entry, Mapping):
        raise Refused("bad_status_reference", "status_list is not an object")
    uri, idx = entry.get("uri"), entry.get("idx")
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < MAX_INDEX:
        raise Refused("bad_status_reference", "idx is not an index a status list can hold")
    if not isinstance(uri, str) or not _https_url(uri):
        raise Refused("bad_status_reference", "uri is not an https URL")
    return {"uri": uri, "idx": idx}


def _https_url(uri: str) -> bool:
    if len(uri) > MAX_URI or not URI_CHARACTERS.fullmatch(uri):
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc


@dataclass(frozen=True)
class StatusList:
    """A verified status list: `bits` per entry, the decompressed bytes, and the token's
    `exp` and `ttl` for the caller's cache."""

    bits: int
    data: bytes
    expires: int | None
    ttl: int | None

    def value(self, idx: int) -> int:
        """The status at `idx`: the `bits`-wide block at that position, counted from each
        byte's least significant bit (draft §4.1, step 3)."""
        per_byte = 8 // self.bits
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(self.data) * per_byte:
            raise Refused("status_index_out_of_range", f"the list holds {len(self.data) * per_byte} entries")
        byte = self.data[idx // per_byte]
        return (byte >> (idx % per_byte * self.bits)) & ((1 << self.bits) - 1)


def check(status_list: StatusList, idx: int) -> None:
    """Refused unless the credential at `idx` is VALID."""
    value = status_list.value(idx)
    if value == INVALID:
        raise Refused("revoked", "the issuer revoked the credential")
    if value == SUSPENDED:
        raise Refused("suspended", "the issuer suspended the credential")
    if value != VALID:
        raise Refused("status_unknown", f"status type {value}")


def cache_for(status_list: StatusList, *, now: int, default: int = 300, ceiling: int = 86_400) -> int:
    """Seconds the caller may keep the list before fetching it again: the token's `ttl`,
    else `default`, never more than `ceiling` nor past the token's `exp`."""
    seconds = min(status_list.ttl or default, ceiling)
    if status_list.expires is not None:
        seconds = min(seconds, status_list.expires - now)
    return max(seconds, 0)


def read_token(token: str | bytes, *, uri: str, signers: Sequence[Anchor], now: int,
               max_bytes: int = 1_000_000) -> StatusList:
    """The status list of the Status List Token `token` (JWS compact, as fetched from `uri`),
    its signature checked against a chain to one of `signers`."""
    compact = _compact(token, max_bytes)
    header = _header(compact)
    alg = header["alg"]
    leaf, _ = verify_chain(x5c_chain(header), signers, now=now)
    public_key = leaf.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != CURVES[alg]:
        raise Refused("bad_algorithm", f"the signer's key is not one for {alg}")
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = registry.max_payload_length = max_bytes
    try:
        verified = jws.deserialize_compact(compact, ECKey.import_key(public_key), registry=registry)
    except BadSignatureError:
        raise Refused("bad_signature", "the status list token's signature does not verify") from None
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise Refused("malformed", type(error).__name__) from None
    claims = _json_object(verified.payload, "payload")
    return _status_list(claims, uri=uri, now=now)


def _compact(token: object, max_bytes: int) -> bytes:
    if isinstance(token, str):
        if not token.isascii():
            raise Refused("malformed", "not a compact JWS")
        token = token.encode("ascii")
    if not isinstance(token, bytes):
        raise Refused("malformed", "not a compact JWS")
    if len(token) > max_bytes:
        raise Refused("too_large", f"more than {max_bytes} bytes")
    token = token.strip()
    if token.count(b".") != 2:
        raise Refused("malformed", "not a compact JWS")
    return token


def _b64url(segment: bytes | str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); ValueError for anything else."""
    text = segment.decode("ascii") if isinstance(segment, bytes) else segment
    if not BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object(data: bytes, part: str) -> dict:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("malformed", f"the {part} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused("malformed", f"the {part} is not an object")
    return value


def _header(compact: bytes) -> dict:
    try:
        data = _b64url(compact.split(b".", 1)[0])
    except (ValueError, UnicodeDecodeError):
        raise Refused("malformed", "the header is not base64url") from None
    header = _json_object(data, "header")
    if header.get("typ") != TYP:
        raise Refused("wrong_type", f"typ is not {TYP}")
    if not isinstance(header.get("alg"), str) or header["alg"] not in CURVES:
        raise Refused("bad_algorithm", f"alg is not one of {', '.join(CURVES)}")
    if "crit" in header:
        raise Refused("malformed", "the header names critical extensions")
    return header


def _status_list(claims: dict, *, uri: str, now: int) -> StatusList:
    if not isinstance(claims.get("sub"), str):
        raise Refused("malformed", "the token names no subject")
    if claims["sub"] != uri:
        raise Refused("wrong_subject", "the token is the status list of another URI")
    if _time(claims, "iat") is None:
        raise Refused("malformed", "the token has no iat")
    expires = _time(claims, "exp")
    if expires is not None and now >= expires:
        raise Refused("expired", "the status list token has expired")
    not_before = _time(claims, "nbf")
    if not_before is not None and now < not_before:
        raise Refused("not_yet_valid", "the status list token is not valid yet")
    ttl = claims.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0):
        raise Refused("malformed", "ttl is not a positive integer")
    bits, data = _decoded(claims.get("status_list"))
    return StatusList(bits=bits, data=data, expires=expires, ttl=ttl)


def _time(claims: dict, name: str) -> int | None:
    """A NumericDate claim (RFC 7519 §2), whole seconds; None when absent."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return math.floor(value)
    raise Refused("malformed", f"{name} is not a NumericDate")


def _decoded(status_list: object) -> tuple[int, bytes]:
    """`bits` and the decompressed byte array of the `status_list` claim."""
    if not isinstance(status_list, dict):
        raise Refused("bad_status_list", "the token has no status_list object")
    bits, lst = status_list.get("bits"), status_list.get("lst")
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in BITS:
        raise Refused("bad_status_list", "bits is not 1, 2, 4 or 8")
    if not isinstance(lst, str):
        raise Refused("bad_status_list", "lst is not a string")
    try:
        compressed = _b64url(lst)
    except ValueError:
        raise Refused("bad_status_list", "lst is not base64url") from None
    return bits, _inflate(compressed)


def _inflate(compressed: bytes) -> bytes:
    """One complete ZLIB stream, decompressed to at most MAX_LIST bytes."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_LIST + 1)
    except zlib.error:
        raise Refused("bad_status_list", "lst is not ZLIB data") from None
    if len(data) > MAX_LIST:
        raise Refused("too_large", f"the status list expands past {MAX_LIST} bytes")
    if not inflater.eof or inflater.unused_data:
        raise Refused("bad_status_list", "lst is not one complete ZLIB stream")
    return data
