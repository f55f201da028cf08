"""The EU Digital Identity Wallet: a verifier of OpenID4VP 1.0 presentations (HAIP 1.0).

Pure code, no Flask and no store: what a request object says (`request`), how the
wallet's answer is opened (`response`), and one verifier per credential format,
each a function of the presentation and keyword-only expectations that returns a
`Presented` or raises `Refused` with a stable reason:

- `sdjwt`: an SD-JWT VC (`dc+sd-jwt`) with its disclosures and key-binding JWT;
- `mdoc`: an ISO 18013-5 `DeviceResponse` (`mso_mdoc`) with its device signature over
  the OpenID4VP `SessionTranscript`;
- `status`: the Token Status List a credential may point to;
- `trust`: the issuer's `x5c` chain to one of the tenant's anchors.

The caller (`codeb.signin.wallet`) keeps what must outlive a request (the transaction,
the trust list) through the store, and nothing of a presentation: a verifier returns
only what the sign-in needs, and the caller drops it when the sign-in completes.
"""

from dataclasses import dataclass, field


class Refused(Exception):
    """A presentation (or a part of it) that must not be accepted. `reason` is a short,
    stable code (the audit log and the tests name it); `detail` says more, in English,
    for the operator's log, never a claim value."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Presented:
    """A verified credential presentation: what a sign-in may use of it."""

    format: str               # "dc+sd-jwt" or "mso_mdoc"
    credential_type: str      # the SD-JWT VC's `vct`, the mdoc's docType
    issuer: str               # the SD-JWT VC's `iss`; for an mdoc its signer certificate's subject
    anchor: str               # the id of the trust-list anchor the issuer's chain ends at
    claims: dict = field(default_factory=dict)  # the disclosed claims, by their names in the format
    status: dict | None = None  # {"uri", "idx"}: the Token Status List entry the credential names
    expires: int | None = None  # when the credential expires (epoch seconds)
