"""A test Status List Provider: Status List Tokens as a PID provider publishes them, and broken ones.

A PID provider says whether a credential still holds in a Status List Token
(draft-ietf-oauth-status-list): a JWT, `typ` `statuslist+jwt`, signed (ES256) by a signer
certificate of its CA whose chain rides in `x5c`, with the list URI as `sub`, `iat`, `exp`,
`ttl`, and `status_list` `{bits, lst}`, `lst` the base64url of the ZLIB compressed byte array.

`StatusListIssuer.token` builds one from a list of status values; any header parameter or
claim can be replaced (or dropped, with None), which gives the broken variants the
rejection tests need, named by the methods below. Signatures are made with `cryptography`
directly, not with the JOSE library the verifier uses, so the two don't share a mistake
and a header the library would refuse to sign (`alg` `none`) can still be made.
"""

import base64
import json
import time
import zlib
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.pid_ca import PidCA

URI = "https://pid.example/status/1"
HASHES = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pack(statuses: Sequence[int] | Mapping[int, int], *, bits: int, size: int | None = None) -> bytes:
    """The draft's byte array (§4.1): entry i in the `bits`-wide block at position i, each
    byte filled from its least significant bit. A mapping gives the non-zero entries of a
    list of `size` entries."""
    entries = statuses if isinstance(statuses, Mapping) else dict(enumerate(statuses))
    size = len(statuses) if size is None else size
    per_byte = 8 // bits
    data = bytearray(-(-size // per_byte))
    for idx, value in entries.items():
        assert 0 <= value < 1 << bits, f"status {value} does not fit in {bits} bits"
        data[idx // per_byte] |= value << (idx % per_byte * bits)
    return bytes(data)


def lst(data: bytes) -> str:
    """`lst`: the byte array, ZLIB compressed at the highest level (as the draft recommends), base64url."""
    return b64url(zlib.compress(data, 9))


def sign(header: dict, claims: object, key: ec.EllipticCurvePrivateKey | None) -> str:
    """A JWS compact serialization of `claims` (as JSON; bytes as they are); the signature
    is empty for `alg` `none` (or no key)."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    alg = header.get("alg")
    if key is None or not isinstance(alg, str) or alg not in HASHES:
        return signing_input + "."
    r, s = decode_dss_signature(key.sign(signing_input.encode("ascii"), ec.ECDSA(HASHES[alg]())))
    size = (key.curve.key_size + 7) // 8
    return f"{signing_input}.{b64url(r.to_bytes(size, 'big') + s.to_bytes(size, 'big'))}"


def _merged(base: dict, changes: Mapping | None) -> dict:
    merged = {**base, **(changes or {})}
    return {name: value for name, value in merged.items() if value is not None}


class StatusListIssuer:
    """A PID provider's status list service: a signer certificate under `ca`, the list at `uri`."""

    def __init__(self, ca: PidCA | None = None, *, uri: str = URI):
        self.ca = ca or PidCA()
        self.uri = uri
        self.key, self.chain = self.ca.signer("Test Status List Signer")

    def header(self, **changes) -> dict:
        """The JOSE header of this signer's tokens."""
        x5c = [base64.b64encode(der).decode("ascii") for der in self.chain]
        return _merged({"alg": "ES256", "typ": "statuslist+jwt", "x5c": x5c}, changes)

    def token(self, statuses: Sequence[int] | Mapping[int, int] = (0,), *, bits: int = 1, size: int | None = None,
              now: int | None = None, lifetime: int = 3600, ttl: int = 300, status_list: Mapping | None = None,
              header: Mapping | None = None, claims: Mapping | None = None,
              key: ec.EllipticCurvePrivateKey | None = None, chain: Sequence[bytes] | None = None) -> str:
        """A Status List Token for `statuses`; `status_list`, `header` and `claims` replace
        (None: drop) what it would hold, `key` and `chain` sign it as another signer."""
        now = int(time.time()) if now is None else now
        listed = _merged({"bits": bits, "lst": lst(pack(statuses, bits=bits, size=size))}, status_list)
        x5c = [base64.b64encode(der).decode("ascii") for der in (self.chain if chain is None else chain)]
        return sign(_merged(self.header(x5c=x5c), header),
                    _merged({"sub": self.uri, "iat": now, "exp": now + lifetime, "ttl": ttl, "status_list": listed},
                            claims),
                    self.key if key is None else key)

    # The broken variants, one fault each.

    def wrong_typ(self, typ: str | None = "JWT", **kwargs) -> str:
        return self.token(header={"typ": typ}, **kwargs)

    def wrong_sub(self, sub: str = "https://pid.example/status/2", **kwargs) -> str:
        return self.token(claims={"sub": sub}, **kwargs)

    def expired(self, **kwargs) -> str:
        now = int(time.time())
        return self.token(now=now - 7200, lifetime=3600, **kwargs)

    def untrusted(self, **kwargs) -> str:
        """Signed by a signer of another CA, one the verifier does not trust."""
        key, chain = PidCA("Untrusted CA").signer()
        return self.token(key=key, chain=chain, **kwargs)

    def self_signed(self, **kwargs) -> str:
        """Signed by a signer that certified itself."""
        key, chain = PidCA.self_signed_signer()
        return self.token(key=key, chain=chain, **kwargs)

    def unsigned(self, **kwargs) -> str:
        return self.token(header={"alg": "none"}, **kwargs)

    def bad_compression(self, compressed: bytes = b"not zlib at all", **kwargs) -> str:
        """`lst` not a ZLIB stream (by default; give the bytes to put there)."""
        return self.token(status_list={"lst": b64url(compressed)}, **kwargs)
