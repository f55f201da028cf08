"""A software WebAuthn authenticator (P-256, attestation `none`) for HTTP tests and the bench.

It builds what a browser hands back from navigator.credentials.create()/get()
(WebAuthn L3 §5.2.1/§5.2.2, authenticator data §6.1) in the JSON form of
`PublicKeyCredential.toJSON()`. The browser tests use Chromium's own virtual
authenticator instead; this one lets the protocol be exercised without a browser.
"""

import hashlib
import json
import secrets
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.encode_cbor import encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


class SoftAuthenticator:
    def __init__(self, origin: str, *, aaguid: bytes = bytes(16), user_verified: bool = True,
                 backup_eligible: bool = False):
        self.origin = origin
        self.aaguid = aaguid
        self.user_verified = user_verified
        self.backup_eligible = backup_eligible
        self.credentials: dict[bytes, dict] = {}

    def _flags(self, *extra: int) -> int:
        flags = UP | (UV if self.user_verified else 0)
        if self.backup_eligible:
            flags |= BE | BS
        for bit in extra:
            flags |= bit
        return flags

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                           "crossOrigin": False}, separators=(",", ":")).encode()

    def create(self, options: dict) -> dict:
        """The registration response for PublicKeyCredentialCreationOptions JSON."""
        excluded = {d["id"] for d in options.get("excludeCredentials", [])}
        if any(bytes_to_base64url(cid) in excluded for cid in self.credentials):
            raise ValueError("InvalidStateError: already registered on this authenticator")
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        credential_id = secrets.token_bytes(32)
        rp_id = options["rp"]["id"]
        self.credentials[credential_id] = {"key": key, "rp_id": rp_id, "count": 0,
                                           "user": base64url_to_bytes(options["user"]["id"])}
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags(AT)])
                     + struct.pack(">I", 0) + self.aaguid + struct.pack(">H", len(credential_id))
                     + credential_id + cose)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], self.origin)
        cid = bytes_to_base64url(credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": bytes_to_base64url(client_data),
                             "attestationObject": bytes_to_base64url(attestation),
                             "transports": ["internal"]}}

    def get(self, options: dict, *, credential_id: bytes | None = None, origin: str | None = None,
            count: int | None = None) -> dict:
        """The assertion for PublicKeyCredentialRequestOptions JSON (first credential by default)."""
        credential_id = credential_id or next(iter(self.credentials))
        credential = self.credentials[credential_id]
        credential["count"] = credential["count"] + 1 if count is None else count
        rp_id = options.get("rpId", credential["rp_id"])
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags()])
                     + struct.pack(">I", credential["count"]))
        client_data = self._client_data("webauthn.get", options["challenge"], origin or self.origin)
        signature = credential["key"].sign(auth_data + hashlib.sha256(client_data).digest(),
                                           ec.ECDSA(hashes.SHA256()))
        cid = bytes_to_base64url(credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": bytes_to_base64url(client_data),
                             "authenticatorData": bytes_to_base64url(auth_data),
                             "signature": bytes_to_base64url(signature),
                             "userHandle": bytes_to_base64url(credential["user"])}}
