"""The wallet's answer to an OpenID4VP request: opened, and its one presentation picked out.

With `direct_post.jwt` (and `dc_api.jwt`) the answer is one `response` parameter, a JWE
(OpenID4VP §8.3): `alg` ECDH-ES to the P-256 key made for this request (its `kid`),
`enc` one of those the request offered, the payload the response parameters as a JSON
object. Nothing else opens it: the key lives only as long as the request.

`vp_token` is then a JSON object keyed by the DCQL credential query ids (§8.1), each an
array of presentations; the PID query accepts exactly one presentation of exactly one of
its formats, and anything else in the answer is refused rather than ignored.
"""

import base64
import json
import secrets
from collections.abc import Collection, Mapping

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from . import Refused

MAX_RESPONSE = 256_000  # bytes of one posted answer: a PID presentation is a few kilobytes


def new_key() -> tuple[dict, dict]:
    """A fresh ECDH-ES P-256 key for one request: (private JWK, public JWK with `kid`, `use`, `alg`)."""
    key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_urlsafe(12), "use": "enc", "alg": "ECDH-ES"})
    return key.as_dict(private=True), key.as_dict(private=False)


def thumbprint(public_key: Mapping) -> bytes:
    """The RFC 7638 SHA-256 thumbprint of the response key: part of an mdoc's session transcript."""
    value = ECKey.import_key(dict(public_key)).thumbprint()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def open_response(token, *, private_key: Mapping, enc_values: Collection[str]) -> dict:
    """The response parameters inside an encrypted answer."""
    if not isinstance(token, str) or not token or len(token) > MAX_RESPONSE:
        raise Refused("malformed", "no encrypted response")
    key = ECKey.import_key(dict(private_key))
    try:
        found = jwe.decrypt_compact(token, key, algorithms=["ECDH-ES", *enc_values])
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise Refused("undecryptable", type(error).__name__) from None
    header = found.protected
    if header.get("alg") != "ECDH-ES" or header.get("enc") not in enc_values:
        raise Refused("undecryptable", "unexpected algorithms")
    if "kid" in header and header["kid"] != private_key.get("kid"):
        raise Refused("undecryptable", "another request's key")
    try:
        payload = json.loads(found.plaintext or b"")
    except (ValueError, UnicodeDecodeError):
        raise Refused("malformed", "the encrypted payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused("malformed", "the encrypted payload is not an object")
    return payload


def presentation(params: Mapping, *, queries: Mapping[str, str]) -> tuple[str, str]:
    """(format, presentation) of the one credential the answer presents; `queries`: the
    request's DCQL credential query ids and the format of each."""
    token = params.get("vp_token")
    if isinstance(token, str):  # direct_post: a JSON-encoded object in a form field
        try:
            token = json.loads(token)
        except ValueError:
            raise Refused("malformed", "vp_token is not JSON") from None
    if not isinstance(token, dict) or not token:
        raise Refused("no_presentation", "the answer has no vp_token")
    if set(token) - set(queries) or len(token) != 1:
        raise Refused("unexpected_presentation", "vp_token answers other queries, or several")
    (query, presented), = token.items()
    if not isinstance(presented, list) or len(presented) != 1 or not isinstance(presented[0], str):
        raise Refused("unexpected_presentation", "one presentation, as a string, is expected")
    return queries[query], presented[0]
