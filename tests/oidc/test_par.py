"""Pushed authorization requests (RFC 9126) at /par, redeemed at /authorize, and FAPI 2.0's
authorization-endpoint half: the whole path to tokens, single use, expiry, the client that
pushed, `require_par`, client authentication, the pushed parameters' checks, and the query
beside a `request_uri` ignored."""

import os
import secrets

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from codeb.oidc import authorize
from codeb.oidc.clients import Clients
from codeb.store import secret_id
from tests.support import dpop
from tests.support.oidc import authorize_params, exchange, follow_local, get_authorize, signed_in_code
from tests.support.web import HOST, pkce_pair, query_of, sign_in

ISSUER = f"http://{HOST}"
PREFIX = "urn:ietf:params:oauth:request_uri:"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_URL = f"{ISSUER}/token"
EXPIRED_EN = "has expired or has already been used"
EXPIRED_DE = "ist abgelaufen oder wurde bereits verwendet"


def push(client, rp, params, *, method="auto", query=""):
    """POST /par as `rp` would: Basic for a confidential client, `client_id` alone for a public
    one; `method="post"` sends the secret in the body, `method=None` no credentials at all."""
    data, auth = dict(params), None
    if method == "auto":
        method = "basic" if rp.secret else "none"
    if method == "basic":
        auth = (rp.client_id, rp.secret)
    elif method == "post":
        data.update(client_id=rp.client_id, client_secret=rp.secret)
    elif method == "none":
        data["client_id"] = rp.client_id
    return client.post("/par" + query, data=data, auth=auth, headers={"Host": HOST})


def pushed(client, rp, challenge=None, **extra) -> str:
    response = push(client, rp, authorize_params(rp, challenge or pkce_pair()[1], **extra))
    assert response.status_code == 201, response.text
    return response.json["request_uri"]


def redeem(client, client_id, request_uri, **query):
    return get_authorize(client, {"client_id": client_id, "request_uri": request_uri, **query})


def the_page_says_expired(response, text=EXPIRED_EN):
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers
    assert text in response.text


def pushed_on_disk(demo) -> list[str]:
    folder = os.path.join(demo.store.root, "transient", "pushed-requests")
    return sorted(n for n in os.listdir(folder) if n.endswith(".json")) if os.path.isdir(folder) else []


# -- the whole path ---------------------------------------------------------------

@pytest.mark.parametrize("which", ["rp", "public_rp"])
def test_push_then_authorize_then_sign_in_then_tokens(client, mailbox, request, demo, which):
    rp = request.getfixturevalue(which)
    verifier, challenge = pkce_pair()
    response = push(client, rp, authorize_params(rp, challenge, state="pushed-state", nonce="pushed-nonce"))
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"request_uri", "expires_in"} and body["expires_in"] == 60
    assert body["request_uri"].startswith(PREFIX)
    random = body["request_uri"][len(PREFIX):]
    assert len(random) >= 43
    # Only the hash of the random part names the record (DESIGN invariant 3).
    assert pushed_on_disk(demo) == [secret_id(random) + ".json"]
    assert all(random not in open(os.path.join(demo.store.root, "transient", "pushed-requests", n)).read()
               for n in pushed_on_disk(demo))

    first = redeem(client, rp.client_id, body["request_uri"])
    assert first.status_code == 303 and "/signin?i=" in first.headers["Location"], first.text
    assert pushed_on_disk(demo) == []  # spent at first sight, carried on in the interaction
    done = sign_in(client, mailbox, "alice@example.com", interaction=query_of(first.headers["Location"])["i"])
    answer = follow_local(client, done)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri + "?"), answer.text
    query = query_of(answer.headers["Location"])
    assert query["state"] == "pushed-state" and query["iss"] == ISSUER

    tokens = exchange(client, rp, query["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    claims = jwt.decode(tokens.json["id_token"], demo_key(demo)).claims
    assert claims["nonce"] == "pushed-nonce" and claims["aud"] in (rp.client_id, [rp.client_id])


def demo_key(demo):
    from codeb.oidc.keys import load

    return load(demo.store).verifying


def test_client_secret_post_pushes_too(client, mailbox, rp):
    signed_in_code(client, mailbox, rp)
    response = push(client, rp, authorize_params(rp, pkce_pair()[1]), method="post")
    assert response.status_code == 201, response.text
    answer = redeem(client, rp.client_id, response.json["request_uri"])
    assert answer.status_code == 302 and "code" in query_of(answer.headers["Location"])


def test_the_client_id_may_be_left_out_with_basic(client, mailbox, rp):
    params = authorize_params(rp, pkce_pair()[1])
    del params["client_id"]
    response = push(client, rp, params)
    assert response.status_code == 201, response.text
    signed_in_code(client, mailbox, rp)
    assert "code" in query_of(redeem(client, rp.client_id, response.json["request_uri"]).headers["Location"])


# -- one use, one minute, one client --------------------------------------------------

def test_a_request_uri_works_once(client, mailbox, rp):
    signed_in_code(client, mailbox, rp)
    request_uri = pushed(client, rp)
    first = redeem(client, rp.client_id, request_uri)
    assert first.status_code == 302 and "code" in query_of(first.headers["Location"])
    the_page_says_expired(redeem(client, rp.client_id, request_uri))


def test_a_request_uri_spent_before_the_sign_in_is_not_good_again(client, mailbox, rp):
    request_uri = pushed(client, rp)
    assert redeem(client, rp.client_id, request_uri).status_code == 303
    the_page_says_expired(redeem(client, rp.client_id, request_uri))


def test_an_expired_request_uri_is_refused(client, mailbox, rp, clock):
    signed_in_code(client, mailbox, rp)
    request_uri = pushed(client, rp)
    clock.advance(61)
    the_page_says_expired(redeem(client, rp.client_id, request_uri))


def test_the_page_speaks_german(client, rp):
    response = client.get("/authorize?client_id=" + rp.client_id + "&request_uri=" + PREFIX + "x" * 43,
                          headers={"Host": HOST, "Accept-Language": "de"})
    the_page_says_expired(response, EXPIRED_DE)


def test_another_clients_request_uri_is_refused_and_spent(client, mailbox, rp, public_rp):
    signed_in_code(client, mailbox, rp)
    request_uri = pushed(client, rp)
    the_page_says_expired(redeem(client, public_rp.client_id, request_uri))
    the_page_says_expired(redeem(client, rp.client_id, request_uri))  # shown to the wrong client: gone


@pytest.mark.parametrize("request_uri", [PREFIX, PREFIX + "short", PREFIX + "a" * 43, PREFIX + "../" + "a" * 40])
def test_an_unknown_request_uri_is_a_page(client, rp, request_uri):
    the_page_says_expired(redeem(client, rp.client_id, request_uri))


@pytest.mark.parametrize("client_id, message", [(None, "did not say who it is"), ("nosuch", "not registered")])
def test_a_request_uri_needs_its_client(client, rp, client_id, message):
    request_uri = pushed(client, rp)
    response = get_authorize(client, {k: v for k, v in {"client_id": client_id, "request_uri": request_uri}.items()
                                      if v is not None})
    assert response.status_code == 400 and "Location" not in response.headers
    assert message in response.text


def test_a_request_uri_that_is_no_par_urn_is_not_supported(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], request_uri="https://rp.example/r"))
    assert query_of(response.headers["Location"])["error"] == "request_uri_not_supported"


# -- the query beside a request_uri ------------------------------------------------

def test_the_query_beside_the_request_uri_is_ignored(client, mailbox, rp, public_rp):
    signed_in_code(client, mailbox, rp)
    request_uri = pushed(client, rp, state="pushed-state", scope="openid")
    answer = redeem(client, rp.client_id, request_uri, redirect_uri="https://evil.example/cb",
                    state="query-state", scope="openid profile email", response_type="token",
                    prompt="bogus", code_challenge_method="plain")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri + "?"), answer.text
    query = query_of(answer.headers["Location"])
    assert query["state"] == "pushed-state" and "code" in query and "error" not in query


def test_repeated_request_uri_or_client_id_at_authorize_is_a_page(client, rp):
    request_uri = pushed(client, rp)
    for extra in (f"&request_uri={request_uri}", f"&client_id={rp.client_id}"):
        response = client.get(f"/authorize?client_id={rp.client_id}&request_uri={request_uri}{extra}",
                              headers={"Host": HOST})
        assert response.status_code == 400 and "Location" not in response.headers


# -- require_par and FAPI 2.0 at the authorization endpoint -------------------------

def test_a_require_par_client_is_refused_a_plain_request(client, demo, rp):
    Clients(demo.store).configure(rp.client_id, require_par=True)
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1]))
    assert response.status_code == 302 and response.headers["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(response.headers["Location"])
    assert query["error"] == "invalid_request" and query["state"] == "st4te" and query["iss"] == ISSUER


def test_the_pushed_note_of_a_plain_query_is_not_believed(client, demo, rp):
    Clients(demo.store).configure(rp.client_id, require_par=True)
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], pushed="yes"))
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_a_require_par_client_signs_in_through_a_pushed_request(client, mailbox, demo, rp):
    """The interaction carries the note that the request was pushed, through the sign-in."""
    Clients(demo.store).configure(rp.client_id, require_par=True)
    verifier, challenge = pkce_pair()
    first = redeem(client, rp.client_id, pushed(client, rp, challenge))
    assert first.status_code == 303, first.text
    done = sign_in(client, mailbox, "alice@example.com", interaction=query_of(first.headers["Location"])["i"])
    answer = follow_local(client, done)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["Location"])
    assert "code" in query, query
    assert exchange(client, rp, query["code"], verifier).status_code == 200


# -- /par's own answers --------------------------------------------------------------

@pytest.mark.parametrize("case", ["wrong_basic", "wrong_post", "none_for_confidential", "unknown_client",
                                  "nothing", "malformed_basic"])
def test_bad_client_authentication_is_401(client, rp, case):
    params = authorize_params(rp, pkce_pair()[1])
    headers = {"Host": HOST}
    if case == "wrong_basic":
        response = client.post("/par", data=params, auth=(rp.client_id, "wrong"), headers=headers)
    elif case == "wrong_post":
        response = client.post("/par", data={**params, "client_secret": "wrong"}, headers=headers)
    elif case == "none_for_confidential":
        response = client.post("/par", data=params, headers=headers)
    elif case == "unknown_client":
        response = client.post("/par", data={**params, "client_id": "nosuch"}, headers=headers)
    elif case == "nothing":
        response = client.post("/par", data={k: v for k, v in params.items() if k != "client_id"}, headers=headers)
    else:
        response = client.post("/par", data=params, headers={**headers, "Authorization": "Basic %%%"})
    assert response.status_code == 401, response.text
    assert response.json["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store" and "Location" not in response.headers


@pytest.mark.parametrize("which, override, error", [
    ("rp", {"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
    ("rp", {"redirect_uri": None}, "invalid_request"),
    ("rp", {"response_type": "token"}, "unsupported_response_type"),
    ("rp", {"response_type": None}, "invalid_request"),
    ("rp", {"response_mode": "fragment"}, "invalid_request"),
    ("rp", {"scope": "openid admin"}, "invalid_scope"),
    ("rp", {"prompt": "bogus"}, "invalid_request"),
    ("rp", {"max_age": "soon"}, "invalid_request"),
    ("rp", {"code_challenge_method": "plain"}, "invalid_request"),
    ("rp", {"code_challenge": "short"}, "invalid_request"),
    ("rp", {"id_token_hint": "not-a-jwt"}, "invalid_request"),
    ("rp", {"state": "s" * 600}, "invalid_request"),
    ("rp", {"request_uri": PREFIX + "a" * 43}, "invalid_request"),
    ("rp", {"request": "eyJ..."}, "request_not_supported"),
    ("public_rp", {"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
])
def test_bad_pushed_parameters_are_400_with_their_error(client, request, demo, which, override, error):
    rp = request.getfixturevalue(which)
    response = push(client, rp, authorize_params(rp, pkce_pair()[1], **override))
    assert response.status_code == 400, response.text
    assert response.json["error"] == error
    assert "Location" not in response.headers and response.headers["Cache-Control"] == "no-store"
    assert pushed_on_disk(demo) == []


def test_the_client_id_must_be_the_authenticated_clients(client, rp, public_rp):
    response = push(client, rp, authorize_params(rp, pkce_pair()[1], client_id=public_rp.client_id))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_parameters_in_the_url_are_refused(client, rp):
    response = push(client, rp, authorize_params(rp, pkce_pair()[1]), query="?scope=openid")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["state", "scope", "redirect_uri", "client_id", "foo"])
def test_repeated_parameters_are_refused(client, rp, name):
    body = "&".join(f"{k}={v}" for k, v in authorize_params(rp, pkce_pair()[1], foo="bar").items())
    response = client.post("/par", data=body + f"&{name}=again", auth=(rp.client_id, rp.secret),
                           content_type="application/x-www-form-urlencoded", headers={"Host": HOST})
    assert response.status_code == 400, response.text
    assert response.json["error"] == "invalid_request"


def test_only_post(client, rp):
    assert client.get("/par", headers={"Host": HOST}).status_code == 405


def test_the_pushed_record_keeps_only_the_known_parameters(client, demo, rp, clock):
    request_uri = pushed(client, rp, foo="bar")
    record = demo.store.transient("pushed-requests").get(secret_id(request_uri[len(PREFIX):]))
    assert record["client_id"] == rp.client_id and "foo" not in record["params"]
    # It lives 60 seconds from the push, on the app's clock (the test's, which stands still here).
    assert "client_secret" not in record["params"] and record["expires"] == int(clock.now + 60)


def test_redeem_hands_a_request_to_one_caller(demo, rp):
    import types

    provider = types.SimpleNamespace(store=demo.store)
    request_uri = authorize.push(provider, {"client_id": rp.client_id, "scope": "openid"})
    assert authorize.redeem(provider, request_uri, rp.client_id) == {"client_id": rp.client_id, "scope": "openid"}
    assert authorize.redeem(provider, request_uri, rp.client_id) is None


# -- FAPI 2.0 (private_key_jwt at /par, PAR and S256 at /authorize) ---------------------

@pytest.fixture
def key():
    return ECKey.generate_key("P-256", parameters={"kid": "k1"})


@pytest.fixture
def fapi_rp(demo, rp, key):
    Clients(demo.store).configure(rp.client_id, jwks={"keys": [key.as_dict(private=False)]}, fapi=True)
    return rp


def assertion(client_id, key, now, aud=ISSUER):
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": int(now), "exp": int(now) + 60,
              "jti": secrets.token_urlsafe(16)}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])


def push_signed(client, rp, key, now, params, aud=ISSUER):
    data = {**params, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(rp.client_id, key, now, aud)}
    return client.post("/par", data=data, headers={"Host": HOST})


def fapi_token_request(client, rp, key, clock, data, proof_key=None, alg="ES256"):
    """/token as a FAPI 2.0 client asks: private_key_jwt and a DPoP proof with the server's nonce
    (its first proof is refused with one, RFC 9449 §8)."""
    body = {**data, "client_assertion_type": ASSERTION_TYPE}
    proof_key = proof_key or dpop.new_key()
    first = client.post("/token", data={**body, "client_assertion": assertion(rp.client_id, key, clock.now)},
                        headers={"Host": HOST, "DPoP": dpop.proof(proof_key, "POST", TOKEN_URL, now=clock.now,
                                                                  alg=alg)})
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce", first.text
    nonce = first.headers["DPoP-Nonce"]
    return client.post("/token", data={**body, "client_assertion": assertion(rp.client_id, key, clock.now)},
                       headers={"Host": HOST, "DPoP": dpop.proof(proof_key, "POST", TOKEN_URL, now=clock.now,
                                                                 nonce=nonce, alg=alg)})


def test_fapi_client_pushes_with_private_key_jwt_and_gets_tokens(client, mailbox, fapi_rp, key, clock):
    verifier, challenge = pkce_pair()
    response = push_signed(client, fapi_rp, key, clock.now, authorize_params(fapi_rp, challenge))
    assert response.status_code == 201, response.text
    first = redeem(client, fapi_rp.client_id, response.json["request_uri"])
    assert first.status_code == 303, first.text
    done = sign_in(client, mailbox, "alice@example.com", interaction=query_of(first.headers["Location"])["i"])
    answer = follow_local(client, done)
    query = query_of(answer.headers["Location"])
    assert "code" in query and query["iss"] == ISSUER, query
    tokens = fapi_token_request(client, fapi_rp, key, clock, {
        "grant_type": "authorization_code", "code": query["code"], "redirect_uri": fapi_rp.redirect_uri,
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    assert tokens.json["token_type"] == "DPoP"
    # FAPI 2.0 §5.3.2.1, 10.: no rotation; a refresh whose answer was lost is simply made again.
    for _ in range(2):
        refreshed = fapi_token_request(client, fapi_rp, key, clock, {
            "grant_type": "refresh_token", "refresh_token": tokens.json["refresh_token"]})
        assert refreshed.status_code == 200 and refreshed.json["token_type"] == "DPoP", refreshed.text
        assert "refresh_token" not in refreshed.json


@pytest.mark.parametrize("aud", [ISSUER + "/par", ISSUER + "/token", [ISSUER], [ISSUER, "https://elsewhere.example"]])
def test_a_fapi_clients_assertion_names_the_issuer_alone(client, fapi_rp, key, clock, aud):
    """FAPI 2.0 §5.3.2.1: the issuer as a string, never an endpoint or a list (audience injection)."""
    response = push_signed(client, fapi_rp, key, clock.now, authorize_params(fapi_rp, pkce_pair()[1]), aud)
    assert response.status_code == 401 and response.json["error"] == "invalid_client", response.text
    assert "issuer alone" in response.json["error_description"]


def test_a_fapi_client_signs_with_ps256_es256_or_eddsa(client, mailbox, demo, fapi_rp, clock):
    """FAPI 2.0 §5.4.1: RS256 is refused for a FAPI client's assertion and DPoP proof."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa"})
    Clients(demo.store).configure(fapi_rp.client_id, jwks={"keys": [rsa.as_dict(private=False)]})
    claims = {"iss": fapi_rp.client_id, "sub": fapi_rp.client_id, "aud": ISSUER, "iat": int(clock.now),
              "exp": int(clock.now) + 60}
    params = authorize_params(fapi_rp, pkce_pair()[1])
    for alg, status in (("RS256", 401), ("PS256", 201)):
        made = jwt.encode({"alg": alg, "kid": "rsa"}, {**claims, "jti": secrets.token_urlsafe(16)}, rsa,
                          algorithms=[alg])
        response = client.post("/par", data={**params, "client_assertion_type": ASSERTION_TYPE,
                                              "client_assertion": made}, headers={"Host": HOST})
        assert response.status_code == status, (alg, response.text)


def test_a_fapi_clients_dpop_proof_in_rs256_is_refused(client, mailbox, fapi_rp, key, clock):
    verifier, challenge = pkce_pair()
    response = push_signed(client, fapi_rp, key, clock.now, authorize_params(fapi_rp, challenge))
    first = redeem(client, fapi_rp.client_id, response.json["request_uri"])
    done = sign_in(client, mailbox, "alice@example.com", interaction=query_of(first.headers["Location"])["i"])
    query = query_of(follow_local(client, done).headers["Location"])
    refused = fapi_token_request(client, fapi_rp, key, clock, {
        "grant_type": "authorization_code", "code": query["code"], "redirect_uri": fapi_rp.redirect_uri,
        "code_verifier": verifier}, proof_key=RSAKey.generate_key(2048), alg="RS256")
    assert refused.status_code == 400 and refused.json["error"] == "invalid_dpop_proof", refused.text
    assert "PS256" in refused.json["error_description"]


def test_fapi_requires_pkce(client, fapi_rp, key, clock):
    response = push_signed(client, fapi_rp, key, clock.now, authorize_params(fapi_rp))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_fapi_requires_par(client, fapi_rp):
    response = get_authorize(client, authorize_params(fapi_rp, pkce_pair()[1]))
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_fapi_client_may_not_push_with_its_old_secret(client, fapi_rp):
    response = push(client, fapi_rp, authorize_params(fapi_rp, pkce_pair()[1]))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"
