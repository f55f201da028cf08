"""Token introspection (RFC 7662) at /introspect, and its JWT answer (RFC 9701): a client learns
about its own tokens, the tenant's resource servers about any; everything else, and every
token no longer valid, is `{"active": false}` alone."""

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.oidc.clients import Clients
from tests.support import dpop
from tests.support.oidc import tokens_for
from tests.support.web import HOST

JWT_TYPE = "application/token-introspection+jwt"


def introspect(client, caller, token, secret=None, **headers):
    return client.post("/introspect", data={"token": token}, auth=(caller.client_id, secret or caller.secret),
                       headers={"Host": HOST, **headers})


@pytest.fixture
def other(demo):
    made, secret = Clients(demo.store).add(name="Other", redirect_uris=["https://other.example/cb"])
    made.secret = secret
    return made


@pytest.fixture
def resource_server(demo):
    made, secret = Clients(demo.store).add(name="XMPP server", redirect_uris=["https://xmpp.example/cb"])
    Clients(demo.store).configure(made.client_id, resource_server=True)
    made.secret = secret
    return made


def test_an_active_access_token_is_described(client, mailbox, rp, accounts):
    tokens = tokens_for(client, mailbox, rp)
    answer = introspect(client, rp, tokens["access_token"])
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert body["active"] is True and body["client_id"] == rp.client_id and body["token_type"] == "Bearer"
    assert body["username"] == "alice" and body["tenant"] == "demo" and body["roles"] == ["user"]
    assert body["iss"] == f"http://{HOST}" and body["exp"] - body["iat"] == 3600 and "openid" in body["scope"]
    assert body["sub"] == accounts.get("alice").sub


def test_a_refresh_token_is_described_while_current_and_nothing_is_spent(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    answer = introspect(client, rp, tokens["refresh_token"]).json
    assert answer["active"] is True and answer["client_id"] == rp.client_id and answer["username"] == "alice"
    refreshed = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert refreshed.status_code == 200  # introspection spent nothing
    assert introspect(client, rp, tokens["refresh_token"]).json == {"active": False}  # rotated away


def test_an_unauthorised_client_learns_nothing(client, mailbox, rp, other):
    tokens = tokens_for(client, mailbox, rp)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = introspect(client, other, token)
        assert answer.status_code == 200 and answer.json == {"active": False}


def test_a_resource_server_learns_about_any_access_token_but_no_refresh_token(client, mailbox, rp, resource_server):
    tokens = tokens_for(client, mailbox, rp)
    assert introspect(client, resource_server, tokens["access_token"]).json["active"] is True
    assert introspect(client, resource_server, tokens["refresh_token"]).json == {"active": False}


def test_a_token_no_longer_valid_is_inactive(client, mailbox, rp, accounts, clock):
    revoked = tokens_for(client, mailbox, rp)
    client.post("/revoke", data={"token": revoked["refresh_token"]}, auth=(rp.client_id, rp.secret),
                headers={"Host": HOST})
    assert introspect(client, rp, revoked["access_token"]).json == {"active": False}
    live = tokens_for(client, mailbox, rp)
    accounts.set_disabled("alice", True)
    assert introspect(client, rp, live["access_token"]).json == {"active": False}


def test_an_expired_token_is_inactive(client, mailbox, rp, clock):
    tokens = tokens_for(client, mailbox, rp)
    clock.advance(3600 + 120)
    assert introspect(client, rp, tokens["access_token"]).json == {"active": False}


@pytest.mark.parametrize("token", ["nope", "a.b.c", "x" * 64])
def test_garbage_is_inactive(client, rp, token):
    assert introspect(client, rp, token).json == {"active": False}


def test_a_public_client_may_not_introspect(client, mailbox, public_rp):
    tokens = tokens_for(client, mailbox, public_rp)
    answer = client.post("/introspect", data={"token": tokens["access_token"], "client_id": public_rp.client_id},
                         headers={"Host": HOST})
    assert answer.status_code == 401 and answer.json["error"] == "invalid_client"


def test_a_wrong_secret_is_invalid_client(client, rp):
    answer = client.post("/introspect", data={"token": "x"}, auth=(rp.client_id, "wrong"), headers={"Host": HOST})
    assert answer.status_code == 401 and answer.json["error"] == "invalid_client"


@pytest.mark.parametrize("data", [{}, {"token": ""}, {"token": "x" * 9000}, {"token": ["a", "b"]}])
def test_bad_requests_are_invalid_request(client, rp, data):
    answer = client.post("/introspect", data=data, auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert answer.status_code == 400 and answer.json["error"] == "invalid_request"


def test_the_answer_as_a_signed_jwt(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    answer = introspect(client, rp, tokens["access_token"], Accept=JWT_TYPE)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == JWT_TYPE
    assert answer.headers["Cache-Control"] == "no-store"
    keys = KeySet.import_key_set(client.get("/jwks.json", headers={"Host": HOST}).json)
    decoded = jwt.decode(answer.get_data(as_text=True), keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "token-introspection+jwt" and decoded.header["kid"]
    claims = decoded.claims
    assert claims["iss"] == f"http://{HOST}" and claims["aud"] == rp.client_id and claims["iat"]
    assert claims["token_introspection"]["active"] is True and claims["token_introspection"]["username"] == "alice"
    assert "sub" not in claims and "exp" not in claims  # it cannot pass for an access token (RFC 9701 §5)
    refused = introspect(client, rp, tokens["access_token"], Accept=f"{JWT_TYPE};q=0, application/json")
    assert refused.headers["Content-Type"].startswith("application/json")


def test_a_dpop_token_is_described_with_its_key(client, mailbox, rp, clock):
    key = dpop.new_key()
    url = f"http://{HOST}/token"
    first = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                        auth=(rp.client_id, rp.secret),
                        headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", url, now=clock.now)})
    nonce = first.headers["DPoP-Nonce"]
    tokens = tokens_for(client, mailbox, rp)
    bound = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        auth=(rp.client_id, rp.secret),
                        headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", url, now=clock.now, nonce=nonce)})
    assert bound.status_code == 200 and bound.json["token_type"] == "DPoP", bound.text
    answer = introspect(client, rp, bound.json["access_token"]).json
    assert answer["active"] is True and answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.thumbprint()}


def test_a_client_credentials_token_is_described(client, demo, rp, resource_server):
    Clients(demo.store).configure(rp.client_id, grant_types=["client_credentials"], api_scopes=["jobs.run"],
                                  audience=["https://jobs.example"])
    token = client.post("/token", data={"grant_type": "client_credentials"}, auth=(rp.client_id, rp.secret),
                        headers={"Host": HOST}).json["access_token"]
    answer = introspect(client, resource_server, token).json
    assert answer["active"] is True and answer["sub"] == rp.client_id and answer["gty"] == "client_credentials"
    assert answer["scope"] == "jobs.run" and answer["aud"] == ["https://jobs.example"] and "username" not in answer
    Clients(demo.store).configure(rp.client_id, grant_types=["authorization_code"])  # the grant withdrawn
    assert introspect(client, resource_server, token).json == {"active": False}


def introspect_with_hint(client, caller, token, hint):
    return client.post("/introspect", data={"token": token, "token_type_hint": hint},
                       auth=(caller.client_id, caller.secret), headers={"Host": HOST})


@pytest.mark.parametrize("which, hint", [("access_token", "refresh_token"), ("refresh_token", "access_token"),
                                         ("access_token", "id_token"), ("refresh_token", "whatever")])
def test_the_hint_is_only_a_hint(client, mailbox, rp, which, hint):
    """RFC 7662 §2.1: a token not found as the hint says is looked for as every other type;
    a hint the server does not know is no error."""
    tokens = tokens_for(client, mailbox, rp)
    answer = introspect_with_hint(client, rp, tokens[which], hint)
    assert answer.status_code == 200 and answer.json["active"] is True, answer.text


def test_signing_out_everywhere_makes_the_tokens_inactive(client, mailbox, rp, accounts, clock):
    tokens = tokens_for(client, mailbox, rp)
    clock.advance(1)
    accounts.revoke_issued("alice")  # tokens_not_before
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(client, rp, token).json == {"active": False}


def test_the_office_shells_token_is_inactive_once_its_session_ends(client, mailbox, resource_server):
    from codeb.oidc.clients import FIRST_PARTY
    from tests.support.web import RP, csrf_of

    shell = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")
    access = tokens_for(client, mailbox, shell)["access_token"]
    assert introspect(client, resource_server, access).json["active"] is True
    page = client.get("/account", headers={"Host": HOST})
    client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert introspect(client, resource_server, access).json == {"active": False}


def resigned(demo, token, **changes):
    """The same access token with some claims changed, signed again with the tenant's key."""
    from codeb.oidc.keys import load

    keys = load(demo.store)
    claims = {**jwt.decode(token, keys.verifying, algorithms=["RS256"]).claims, **changes}
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": keys.kid}, claims, keys.current,
                      algorithms=["RS256"])


def test_a_client_named_in_the_audience_may_introspect(client, mailbox, rp, other, demo):
    tokens = tokens_for(client, mailbox, rp)
    for_both = resigned(demo, tokens["access_token"], aud=[rp.client_id, other.client_id])
    answer = introspect(client, other, for_both).json
    assert answer["active"] is True and answer["aud"] == [rp.client_id, other.client_id]
    assert introspect(client, other, tokens["access_token"]).json == {"active": False}


def test_another_tenants_token_is_inactive_even_for_a_resource_server(client, mailbox, rp, demo, resource_server):
    tokens = tokens_for(client, mailbox, rp)
    elsewhere = resigned(demo, tokens["access_token"], tenant="acme")
    assert introspect(client, resource_server, elsewhere).json == {"active": False}


def test_an_unauthorised_clients_jwt_answer_holds_only_active_false(client, mailbox, rp, other):
    tokens = tokens_for(client, mailbox, rp)
    answer = introspect(client, other, tokens["access_token"], Accept=JWT_TYPE)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == JWT_TYPE
    keys = KeySet.import_key_set(client.get("/jwks.json", headers={"Host": HOST}).json)
    claims = jwt.decode(answer.get_data(as_text=True), keys, algorithms=["RS256"]).claims
    assert claims["aud"] == other.client_id and claims["token_introspection"] == {"active": False}
    assert set(claims) == {"iss", "aud", "iat", "token_introspection"}


@pytest.mark.parametrize("case", ["control", "not_ascii", "in_the_query", "hint_twice", "two_client_auths"])
def test_more_bad_requests_are_invalid_request(client, mailbox, rp, case):
    tokens = tokens_for(client, mailbox, rp)
    token = tokens["access_token"]
    path, data = "/introspect", {"token": token}
    if case == "control":
        data = {"token": token + "\x07"}
    elif case == "not_ascii":
        data = {"token": "ä" + token}
    elif case == "in_the_query":  # RFC 7662 §2.1: the token is sent in the body
        path, data = f"/introspect?token={token}", {}
    elif case == "hint_twice":
        data["token_type_hint"] = ["access_token", "refresh_token"]
    elif case == "two_client_auths":
        data["client_secret"] = rp.secret
    answer = client.post(path, data=data, auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert answer.status_code == 400 and answer.json["error"] == "invalid_request", answer.text
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_client_that_does_not_authenticate_learns_nothing_of_the_token(client, mailbox, rp):
    """Client authentication comes first (RFC 7662 §2.1): without it, not even `invalid_request`."""
    answer = client.post("/introspect", data={}, headers={"Host": HOST})
    assert answer.status_code == 401 and answer.json["error"] == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("accept, wanted", [
    (JWT_TYPE, True),
    ("application/json", False),
    (None, False),
    (f"application/json;q=0.9, {JWT_TYPE}", True),
    (f"{JWT_TYPE};q=0", False),
    (f"{JWT_TYPE}; q=0.000", False),
    (f"{JWT_TYPE};q=0.5", True),
    (f"{JWT_TYPE};q=nonsense", True),
    ("Application/Token-Introspection+JWT", True),
    ("application/token-introspection+jwtx", False),
    ("*/*", False),  # the JWT is an answer asked for by name, JSON is the default
])
def test_which_accept_header_asks_for_the_jwt(accept, wanted):
    from codeb.oidc.introspection import asks_for_jwt
    from codeb.oidc.requests import ProtocolRequest

    headers = {"Accept": accept} if accept is not None else {}
    request = ProtocolRequest("POST", f"http://{HOST}/introspect", headers, {}, {"token": ["x"]})
    assert asks_for_jwt(request) is wanted
