"""Form and query fields of /authorize and /token, and the token endpoint's Basic header:
whatever the parameters, the checks answer an error page, an OAuth error, or pass."""

import base64
import types
from urllib.parse import quote_plus

from hypothesis import example, given, settings
from hypothesis import strategies as st
from joserfc.jwk import KeySet, RSAKey

from codeb.oidc import authorize, token
from codeb.oidc.clients import SCOPES, Client
from codeb.oidc.errors import AuthorizePage, InvalidClientError, OAuth2Error
from codeb.oidc.requests import ProtocolRequest
from tests.property.strategies import field_text

ISSUER = "https://login.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
CONFIDENTIAL = Client({"client_id": "c1", "redirect_uris": ["https://rp.example/cb"]})
PUBLIC = Client({"client_id": "p1", "public": True, "redirect_uris": ["https://spa.example/cb"]})
CLIENTS = {c.client_id: c for c in (CONFIDENTIAL, PUBLIC)}
PROVIDER = types.SimpleNamespace(query_client=CLIENTS.get, scopes_supported=list(SCOPES), issuers={ISSUER},
                                 keys=types.SimpleNamespace(verifying=KeySet([KEY])))

# Parameter names the checks read, and others; values near the real ones and any text.
NAMES = st.sampled_from([*authorize.KEPT, "request", "request_uri", "client_secret", "grant_type",
                         "code", "code_verifier", "refresh_token"]) | st.text(max_size=12)
VALUES = (st.sampled_from(["c1", "p1", "https://rp.example/cb", "https://spa.example/cb", "code", "query",
                           "openid", "openid profile", "none", "login consent", "S256", "0", "60",
                           "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "a.b.c", ""])
          | field_text | st.text(max_size=3000))
datalists = st.dictionaries(NAMES, st.lists(VALUES, max_size=3), max_size=10)


def known_client(datalist: dict) -> dict:
    """Most examples name a client and its redirect URI, so the checks after them run too."""
    return {"client_id": ["c1"], "redirect_uri": ["https://rp.example/cb"], **datalist}


@settings(max_examples=150)
@given(datalists, st.booleans())
@example({"client_id": ["c1"], "redirect_uri": ["https://rp.example/cb"], "response_type": ["code"],
          "max_age": ["²"]}, False)  # a digit to str.isdigit, not to int()
@example({"client_id": ["c1"], "redirect_uri": ["https://rp.example/cb"], "response_type": ["code"],
          "id_token_hint": ["a.b.c"]}, False)
@example({"client_id": ["c1"], "redirect_uri": ["https://rp.example/cb"], "response_type": ["code"],
          "scope": ['openid "ü\\']}, False)  # named in the error description: ASCII only there
def test_authorize_checks_answer_a_page_an_oauth_error_or_pass(datalist, as_given):
    datalist = datalist if as_given else known_client(datalist)
    request = ProtocolRequest("GET", "https://login.example/authorize", {}, datalist)
    ctx = authorize.Context(params=request.payload.data, multi=request.payload.datalist)
    try:
        authorize.validate(PROVIDER, ctx)
    except (AuthorizePage, OAuth2Error):
        return
    # What passed is what the endpoint keeps: a known client, its own redirect URI, bounded values.
    assert ctx.client is not None and ctx.client.check_redirect_uri(ctx.redirect_uri)
    assert ctx.max_age is None or 0 <= ctx.max_age < 10**10
    assert all(len(v) <= authorize.MAX_LENGTH[k] for k, v in authorize.kept_params(ctx.params).items())


@settings(max_examples=120)
@given(datalists, st.one_of(st.none(), field_text, st.text(max_size=40).map(lambda t: "Basic " + t),
                            st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode())))
@example({"ü": ["a", "b"]}, None)  # a repeated name, named in the error description
@example({}, "Basic " + base64.b64encode(b"\xff:x").decode())  # not UTF-8
@example({}, "Basic " + base64.b64encode(b"c1:%zz%").decode())
def test_token_checks_answer_an_oauth_error_or_pass(datalist, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    request = ProtocolRequest("POST", "https://login.example/token", headers, {}, datalist)
    try:
        token.validate(request)
    except OAuth2Error:
        return
    assert all(len(values) <= 1 for values in datalist.values())


@settings(max_examples=120)
@given(field_text | st.text(max_size=60))
@example("Basic")
@example("basic    ")
@example("Basic ====")
def test_any_authorization_header_is_credentials_none_or_invalid_client(value):
    request = ProtocolRequest("POST", "https://login.example/token", {"Authorization": value}, {})
    try:
        credentials = token.basic_credentials(request)
    except InvalidClientError as error:
        assert error.status_code == 401
        return
    assert credentials is None or (credentials[0] and isinstance(credentials[1], str))


@settings(max_examples=120)
@given(st.text(min_size=1, max_size=40), st.text(max_size=40))
def test_basic_credentials_round_trip(client_id, secret):
    # RFC 6749 §2.3.1: each part form-urlencoded, then RFC 7617 base64 of "id:secret".
    encoded = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()
    request = ProtocolRequest("POST", "https://login.example/token", {"Authorization": f"Basic {encoded}"}, {})
    assert token.basic_credentials(request) == (client_id, secret)
