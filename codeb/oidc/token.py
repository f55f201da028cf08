"""The token endpoint's own checks, before Authlib's grants see the request.

Authlib answers `/token` (RFC 6749 §3.2) with its grants; what it leaves open is
checked here, as an ordered list like `authorize.CHECKS`: every parameter once,
a Basic header that decodes, and one way of authenticating the client. The one
parser of Basic credentials (`basic_credentials`) also authenticates
`client_secret_basic`, so what is checked is what is used.
"""

import base64
import binascii
import json
from urllib.parse import unquote_plus

from .errors import InvalidClientError, InvalidRequestError, quoted
from .requests import ProtocolRequest

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 §2.2
MALFORMED_BASIC = "Malformed HTTP Basic credentials."


def basic_credentials(request: ProtocolRequest) -> tuple[str, str] | None:
    """(client_id, secret) from `Authorization: Basic`, None without one; a header that does
    not decode is `invalid_client` 401 with a Basic challenge (RFC 6749 §5.2)."""
    value = request.headers.get("Authorization") or ""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:  # RFC 7617 §2: base64 of "id:secret"; RFC 6749 §2.3.1: each form-urlencoded, UTF-8
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        client_id, secret = unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise InvalidClientError(status_code=401, description=MALFORMED_BASIC) from None
    if not colon or not client_id:
        raise InvalidClientError(status_code=401, description=MALFORMED_BASIC)
    return client_id, secret


def check_single_values(request: ProtocolRequest) -> None:
    # RFC 6749 §3.1, §3.2: "parameters MUST NOT be included more than once".
    for name, values in request.payload.datalist.items():
        if len(values) > 1:
            raise InvalidRequestError(f"{quoted(name)} appears more than once.")


def check_basic_header(request: ProtocolRequest) -> None:
    basic_credentials(request)


def check_one_client_authentication(request: ProtocolRequest) -> None:
    # RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request";
    # §5.2 names the error `invalid_request`. A body client_id naming the Basic client is
    # no second method (some libraries send both); one naming another client contradicts it.
    basic = basic_credentials(request)
    body = request.payload.datalist
    if "client_assertion" in body or "client_assertion_type" in body:
        if basic is not None or "client_secret" in body:
            raise InvalidRequestError("The client authenticated in more than one way.")
        if request.payload.data.get("client_assertion_type") != ASSERTION_TYPE or not body.get("client_assertion"):
            raise InvalidClientError(status_code=401, description="Unknown client assertion type.")
        named = request.payload.data.get("client_id")
        if named and named != assertion_subject(request.payload.data.get("client_assertion")):
            # RFC 7521 §4.2: a client_id beside an assertion must identify the same client.
            raise InvalidClientError(status_code=401, description="'client_id' names another client than the "
                                                                  "client assertion.")
    if basic is None:
        return
    if "client_secret" in body:
        raise InvalidRequestError("The client authenticated in more than one way.")
    if request.payload.data.get("client_id", basic[0]) != basic[0]:
        raise InvalidRequestError("'client_id' names another client than the Basic credentials.")


def claimed_client_id(request: ProtocolRequest) -> str | None:
    """The client a token request says it is (Basic, the body, or a client assertion's `sub`),
    unverified: only for refusing early what that client may never do."""
    basic = basic_credentials(request)
    if basic:
        return basic[0]
    data = request.payload.data
    if data.get("client_id"):
        return data["client_id"]
    return assertion_subject(data.get("client_assertion"))


def assertion_subject(assertion) -> str | None:
    """The `sub` a client assertion names, unverified (Authlib verifies it for that client)."""
    if not isinstance(assertion, str) or assertion.count(".") != 2:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


CHECKS = [
    check_single_values,
    check_basic_header,
    check_one_client_authentication,
]


def validate(request: ProtocolRequest) -> None:
    """Run every check in order; raise an OAuth2Error on the first failure."""
    for check in CHECKS:
        check(request)


def authenticate_client_secret_basic(query_client, request: ProtocolRequest):
    """Authlib's `client_secret_basic` method, reading the credentials with the parser above."""
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    client_id, secret = credentials
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    return client if client.check_client_secret(secret) else None
