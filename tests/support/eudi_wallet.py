"""A test EU Digital Identity Wallet that answers CodeB over HTTP like a real one.

It does what OpenID4VP 1.0 asks of a wallet, written here from the specification and not
from CodeB's code: it reads the request URL (`client_id`, `request_uri`), fetches the
request object (POST with a `wallet_nonce`, §5.10), checks it (`typ`
`oauth-authz-req+jwt`, the `x5c` leaf's SHA-256 is the `x509_hash:` client id, the
signature by that leaf, the `client_id` and `wallet_nonce` repeated), picks the DCQL query
of the format it holds, presents its PID with only the requested claims (SD-JWT VC with
a key-binding JWT through the IETF reference library, `tests.support.pid_sdjwt`; an mdoc
through pymdoccbor and pycose, `tests.support.pid_mdoc`, over the session transcript it
computes itself), encrypts the answer to the request's key (ECDH-ES, the first `enc`
offered) and posts it to the `response_uri`. Every step can be bent for an attack.
"""

import base64
import hashlib
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field

import cbor2
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwe
from joserfc.jwk import ECKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Request:
    """A request object the wallet fetched and checked."""

    url: str
    client_id: str
    claims: dict
    header: dict
    leaf: x509.Certificate
    wallet_nonce: str | None = None

    @property
    def dcql(self) -> dict:
        return self.claims["dcql_query"]

    def query(self, fmt: str) -> dict:
        return next(c for c in self.dcql["credentials"] if c["format"] == fmt)

    @property
    def encryption_key(self) -> dict | None:
        keys = (self.claims.get("client_metadata") or {}).get("jwks", {}).get("keys", [])
        return next((k for k in keys if k.get("use", "enc") == "enc"), None)


def check_request_object(token: str, *, client_id: str | None, wallet_nonce: str | None = None) -> Request:
    """The wallet's checks of a signed request object (OpenID4VP §5, §5.9.3, §5.10)."""
    head, body, signature = token.split(".")
    header = json.loads(unb64url(head))
    claims = json.loads(unb64url(body))
    assert header["typ"] == "oauth-authz-req+jwt", header
    assert header["alg"] == "ES256", header
    chain = [base64.b64decode(c) for c in header["x5c"]]
    leaf = x509.load_der_x509_certificate(chain[0])
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    prefix, _, value = claims["client_id"].partition(":")
    if prefix == "x509_hash":
        assert value == b64url(hashlib.sha256(chain[0]).digest()), "x509_hash does not match the leaf"
    elif prefix == "x509_san_dns":
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert value in names.get_values_for_type(x509.DNSName)
    else:
        raise AssertionError(f"unexpected client id prefix {prefix}")
    if client_id is not None:
        assert claims["client_id"] == client_id, "client_id differs from the request URL's"
    if wallet_nonce is not None:
        assert claims.get("wallet_nonce") == wallet_nonce, "wallet_nonce not repeated"
    assert claims["response_type"] == "vp_token"
    return Request(url="", client_id=claims["client_id"], claims=claims, header=header, leaf=leaf,
                   wallet_nonce=wallet_nonce)


def session_transcript(*, client_id: str, nonce: str, jwk: dict | None, response_uri: str) -> bytes:
    """OpenID4VP 1.0 Appendix B.2.6.1, computed here on its own."""
    thumbprint = unb64url(ECKey.import_key(jwk).thumbprint()) if jwk else None
    info = cbor2.dumps([client_id, nonce, thumbprint, response_uri])
    return cbor2.dumps([None, None, ["OpenID4VPHandover", hashlib.sha256(info).digest()]])


def dc_api_transcript(*, origin: str, nonce: str, jwk: dict | None) -> bytes:
    """OpenID4VP 1.0 Appendix B.2.6.2 (the Digital Credentials API)."""
    thumbprint = unb64url(ECKey.import_key(jwk).thumbprint()) if jwk else None
    info = cbor2.dumps([origin, nonce, thumbprint])
    return cbor2.dumps([None, None, ["OpenID4VPDCAPIHandover", hashlib.sha256(info).digest()]])


def encrypt(payload: dict, jwk: dict, enc: str = "A128GCM") -> str:
    header = {"alg": "ECDH-ES", "enc": enc, "kid": jwk["kid"]}
    return jwe.encrypt_compact(header, json.dumps(payload).encode(), ECKey.import_key(jwk),
                               algorithms=["ECDH-ES", enc])


@dataclass
class Wallet:
    """A wallet holding one PID: `present(request, *, audience, nonce, transcript)` → the
    presentation string of the format `fmt` ("dc+sd-jwt" or "mso_mdoc")."""

    fmt: str
    present: object
    http: requests.Session = field(default_factory=requests.Session)
    enc: str | None = None  # the content encryption to use: the first offered by default

    def open(self, url: str, *, method: str | None = None) -> Request:
        """Follow a request URL (a link's href, a QR code's text): fetch and check the request."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        client_id, request_uri = query["client_id"], query["request_uri"]
        method = method or query.get("request_uri_method", "get")
        wallet_nonce = None
        if method == "post":
            wallet_nonce = secrets.token_urlsafe(16)
            answer = self.http.post(request_uri, data={"wallet_nonce": wallet_nonce},
                                    headers={"Accept": "application/oauth-authz-req+jwt"}, allow_redirects=False)
        else:
            answer = self.http.get(request_uri, allow_redirects=False)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        assert answer.headers["Content-Type"].startswith("application/oauth-authz-req+jwt")
        found = check_request_object(answer.text, client_id=client_id, wallet_nonce=wallet_nonce)
        found.url = url
        return found

    def presentation(self, request: Request, *, audience: str | None = None, nonce: str | None = None,
                     transcript: bytes | None = None) -> tuple[str, str]:
        """(query id, presentation) answering the request's query of this wallet's format."""
        query = request.query(self.fmt)
        nonce = nonce or request.claims["nonce"]
        if transcript is None and self.fmt == "mso_mdoc":
            transcript = session_transcript(client_id=request.client_id, nonce=nonce, jwk=request.encryption_key,
                                            response_uri=request.claims["response_uri"])
        return query["id"], self.present(query, audience=audience or request.client_id, nonce=nonce,
                                         transcript=transcript)

    def answer(self, request: Request, *, payload: dict | None = None, encrypted: bool = True,
               **present) -> requests.Response:
        """Post the answer to the request's response URI (direct_post.jwt, or direct_post)."""
        if payload is None:
            qid, presented = self.presentation(request, **present)
            payload = {"vp_token": {qid: [presented]}, "state": request.claims.get("state")}
        key = request.encryption_key
        if encrypted and key is not None:
            enc = self.enc or (request.claims["client_metadata"].get("encrypted_response_enc_values_supported")
                               or ["A128GCM"])[0]
            form = {"response": encrypt(payload, key, enc)}
        else:
            form = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in payload.items() if v is not None}
        return self.http.post(request.claims["response_uri"], data=form, allow_redirects=False)

    def decline(self, request: Request) -> requests.Response:
        return self.http.post(request.claims["response_uri"],
                              data={"error": "access_denied", "state": request.claims.get("state")},
                              allow_redirects=False)
