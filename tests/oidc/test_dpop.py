"""DPoP (RFC 9449): sender-constrained access and refresh tokens with server nonces, and the
attacks: a replayed proof, one for another URL or method, a wrong `ath`, another key, a bound
token sent as a bearer token, a stale nonce, a forged or malformed proof."""

import base64
import json

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet, OctKey

from codeb.oidc import dpop as dpop_module
from codeb.oidc.clients import Clients
from tests.support import dpop
from tests.support.oidc import authorize_params, exchange, follow_local, get_authorize, signed_in_code
from tests.support.web import HOST, pkce_pair, query_of, sign_in

TOKEN_URL = f"http://{HOST}/token"
USERINFO_URL = f"http://{HOST}/userinfo"


def claims_of(client, token):
    keys = KeySet.import_key_set(client.get("/jwks.json", headers={"Host": HOST}).json)
    return jwt.decode(token, keys, algorithms=["RS256"]).claims


def nonce_from(client, clock, key, rp):
    """The server's nonce, the way a client learns it: its first proof is refused with one."""
    refused = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                          headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", TOKEN_URL, now=clock.now)},
                          auth=(rp.client_id, rp.secret) if rp.secret else None)
    assert refused.status_code == 400 and refused.json["error"] == "use_dpop_nonce"
    return refused.headers["DPoP-Nonce"]


def dpop_tokens(client, mailbox, rp, key, clock):
    nonce = nonce_from(client, clock, key, rp)
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = client.post(
        "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
                        "code_verifier": verifier, **({} if rp.secret else {"client_id": rp.client_id})},
        auth=(rp.client_id, rp.secret) if rp.secret else None,
        headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce)})
    assert response.status_code == 200, response.text
    return response, nonce


def userinfo(client, token, proof=None, scheme="DPoP"):
    headers = {"Host": HOST, "Authorization": f"{scheme} {token}"}
    if proof:
        headers["DPoP"] = proof
    return client.get("/userinfo", headers=headers)


def test_a_dpop_token_is_bound_to_the_client_s_key(client, mailbox, rp, clock):
    key = dpop.new_key()
    response, nonce = dpop_tokens(client, mailbox, rp, key, clock)
    body = response.json
    assert body["token_type"] == "DPoP"
    assert claims_of(client, body["access_token"])["cnf"] == {"jkt": key.thumbprint()}
    assert response.headers["DPoP-Nonce"]  # the nonce for the next proof (§8.2)
    token = body["access_token"]
    ok = userinfo(client, token, dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce, access_token=token))
    assert ok.status_code == 200 and ok.json["sub"]


def test_the_nonce_is_asked_for_and_handed_out(client, demo, rp, clock):
    nonce = nonce_from(client, clock, dpop.new_key(), rp)
    assert dpop_module.nonce_ok(demo.store, nonce, clock.now)
    assert dpop_module.nonce_ok(demo.store, nonce, clock.now + dpop_module.NONCE_SLOT)  # good in the next slot
    assert not dpop_module.nonce_ok(demo.store, nonce, clock.now + 2 * dpop_module.NONCE_SLOT)
    assert not dpop_module.nonce_ok(demo.store, nonce[:-1] + ("A" if nonce[-1] != "A" else "B"), clock.now)


@pytest.fixture
def bound(client, mailbox, rp, clock):
    key = dpop.new_key()
    response, nonce = dpop_tokens(client, mailbox, rp, key, clock)
    return key, response.json["access_token"], nonce


def test_a_bound_token_is_refused_as_a_bearer_token(client, bound):
    _, token, _ = bound
    refused = userinfo(client, token, scheme="Bearer")
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    without_proof = userinfo(client, token)
    assert without_proof.status_code == 401 and "DPoP" in without_proof.headers["WWW-Authenticate"]


@pytest.mark.parametrize("case", ["other_url", "other_method", "wrong_ath", "other_key", "old", "no_ath"])
def test_a_proof_that_does_not_fit_the_request_is_refused(client, bound, clock, case):
    key, token, nonce = bound
    made = {
        "other_url": lambda: dpop.proof(key, "GET", f"http://{HOST}/token", now=clock.now, nonce=nonce,
                                        access_token=token),
        "other_method": lambda: dpop.proof(key, "POST", USERINFO_URL, now=clock.now, nonce=nonce, access_token=token),
        "wrong_ath": lambda: dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce, access_token=token + "x"),
        "other_key": lambda: dpop.proof(dpop.new_key(), "GET", USERINFO_URL, now=clock.now, nonce=nonce,
                                        access_token=token),
        "old": lambda: dpop.proof(key, "GET", USERINFO_URL, now=clock.now - 600, nonce=nonce, access_token=token),
        "no_ath": lambda: dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce),
    }[case]()
    refused = userinfo(client, token, made)
    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"].startswith("DPoP ") or 'error="invalid_token"' in \
        refused.headers["WWW-Authenticate"]


def test_a_replayed_proof_is_refused(client, bound, clock):
    key, token, nonce = bound
    made = dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce, access_token=token)
    assert userinfo(client, token, made).status_code == 200
    replay = userinfo(client, token, made)
    assert replay.status_code == 401 and 'error="invalid_dpop_proof"' in replay.headers["WWW-Authenticate"]


def test_a_stale_nonce_is_refused_with_a_fresh_one(client, bound, clock):
    key, token, nonce = bound
    clock.advance(3 * dpop_module.NONCE_SLOT)
    refused = userinfo(client, token, dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce,
                                                  access_token=token))
    assert refused.status_code == 401 and 'error="use_dpop_nonce"' in refused.headers["WWW-Authenticate"]
    fresh = refused.headers["DPoP-Nonce"]
    assert fresh != nonce


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("case", ["typ", "alg_none", "hmac", "private_jwk", "not_a_jwt", "two_headers",
                                  "broken_ipv6_htu", "nested_header", "nested_claims"])
def test_a_malformed_proof_at_the_token_endpoint_is_invalid_dpop_proof(client, rp, clock, case):
    key = dpop.new_key()
    nonce = nonce_from(client, clock, key, rp)
    claims = {"jti": "j" * 16, "htm": "POST", "htu": TOKEN_URL, "iat": int(clock.now), "nonce": nonce}
    made = {
        "typ": lambda: dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce, typ="JWT"),
        "alg_none": lambda: _b64({"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}) + "."
        + _b64(claims) + ".",
        "hmac": lambda: jwt.encode({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
                                   claims, OctKey.import_key(b"a shared secret of 32 bytes, ok!"),
                                   algorithms=["HS256"]),
        "private_jwk": lambda: dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce,
                                          jwk=key.as_dict(private=True)),
        "not_a_jwt": lambda: "nope",
        "two_headers": lambda: None,
        # urlsplit raises ValueError on a broken IPv6 literal: a 400, never a 500.
        "broken_ipv6_htu": lambda: dpop.proof(key, "POST", "http://[abc/token", now=clock.now, nonce=nonce),
        # JSON nested thousands deep makes the parser raise RecursionError.
        "nested_header": lambda: base64.urlsafe_b64encode(b"[" * 2900).decode().rstrip("=") + "."
        + _b64(claims) + ".c2ln",
        "nested_claims": lambda: jws.serialize_compact(
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}, b"[" * 3000, key,
            algorithms=["ES256"]),
    }[case]()
    headers = [("Host", HOST)]
    if case == "two_headers":
        one = dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce)
        headers += [("DPoP", one), ("DPoP", one)]
    else:
        headers.append(("DPoP", made))
    refused = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=(rp.client_id, rp.secret), headers=headers)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_dpop_proof", refused.text


def test_a_public_client_s_refresh_chain_is_bound_to_its_key(client, mailbox, demo, public_rp, clock):
    Clients(demo.store).configure(public_rp.client_id, grant_types=["authorization_code", "refresh_token"])
    key = dpop.new_key()
    response, nonce = dpop_tokens(client, mailbox, public_rp, key, clock)
    refresh = response.json["refresh_token"]

    def refreshed(proof_key):
        headers = {"Host": HOST}
        if proof_key is not None:
            headers["DPoP"] = dpop.proof(proof_key, "POST", TOKEN_URL, now=clock.now, nonce=nonce)
        return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                           "client_id": public_rp.client_id}, headers=headers)

    assert refreshed(None).json["error"] == "invalid_grant"  # stolen, without the key
    assert refreshed(dpop.new_key()).json["error"] == "invalid_grant"  # with another key
    rotated = refreshed(key)  # nothing was spent by the refusals
    assert rotated.status_code == 200 and rotated.json["token_type"] == "DPoP", rotated.text
    assert claims_of(client, rotated.json["access_token"])["cnf"]["jkt"] == key.thumbprint()


def test_a_client_that_must_use_dpop_gets_no_bearer_token_and_keeps_its_code(client, mailbox, demo, rp, clock):
    Clients(demo.store).configure(rp.client_id, require_dpop=True)
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    refused = exchange(client, rp, code, verifier)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_dpop_proof"
    key = dpop.new_key()
    nonce = nonce_from(client, clock, key, rp)
    done = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": rp.redirect_uri, "code_verifier": verifier},
                       auth=(rp.client_id, rp.secret),
                       headers={"Host": HOST, "DPoP": dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce)})
    assert done.status_code == 200 and done.json["token_type"] == "DPoP", done.text


def test_a_bearer_client_is_unchanged(client, mailbox, rp):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = exchange(client, rp, code, verifier)
    assert response.json["token_type"] == "Bearer" and "DPoP-Nonce" not in response.headers
    assert "cnf" not in claims_of(client, response.json["access_token"])


# -- the code bound to the client's key (§10) ----------------------------------------------

PAR_URL = f"http://{HOST}/par"


def exchange_with_proof(client, rp, code, verifier, key, clock):
    proof = dpop.proof(key, "POST", TOKEN_URL, now=clock.now, nonce=nonce_from(client, clock, key, rp))
    return exchange_with_header(client, rp, code, verifier, {"DPoP": proof})


def exchange_with_header(client, rp, code, verifier, headers):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, **({} if rp.secret else {"client_id": rp.client_id})}
    return client.post("/token", data=data, auth=(rp.client_id, rp.secret) if rp.secret else None,
                       headers={"Host": HOST, **headers})


@pytest.mark.parametrize("which", ["rp", "public_rp"])
def test_a_code_requested_for_a_key_is_spent_only_with_that_key(client, mailbox, request, clock, which):
    rp = request.getfixturevalue(which)
    key = dpop.new_key()
    code, verifier, _ = signed_in_code(client, mailbox, rp, dpop_jkt=key.thumbprint())
    done = exchange_with_proof(client, rp, code, verifier, key, clock)
    assert done.status_code == 200 and done.json["token_type"] == "DPoP", done.text
    assert claims_of(client, done.json["access_token"])["cnf"] == {"jkt": key.thumbprint()}


@pytest.mark.parametrize("proof", ["another key", "none"])
def test_a_bound_code_is_refused_without_a_proof_of_its_key(client, mailbox, rp, clock, proof):
    """A stolen code is of no use without the client's private key, and is spent by the try."""
    key = dpop.new_key()
    code, verifier, _ = signed_in_code(client, mailbox, rp, dpop_jkt=key.thumbprint())
    if proof == "another key":
        refused = exchange_with_proof(client, rp, code, verifier, dpop.new_key(), clock)
    else:
        refused = exchange(client, rp, code, verifier)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant", refused.text
    assert "key" in refused.json["error_description"]
    again = exchange_with_proof(client, rp, code, verifier, key, clock)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


@pytest.mark.parametrize("jkt", ["short", "x" * 44, "a" * 42 + "+"])
def test_a_malformed_dpop_jkt_is_invalid_request(client, rp, jkt):
    answer = get_authorize(client, authorize_params(rp, pkce_pair()[1], dpop_jkt=jkt))
    assert answer.status_code == 302, answer.text
    back = query_of(answer.headers["Location"])
    assert back["error"] == "invalid_request" and "dpop_jkt" in back["error_description"]


def push_with(client, rp, challenge, headers=None, **extra):
    return client.post("/par", data=authorize_params(rp, challenge, **extra), auth=(rp.client_id, rp.secret),
                       headers={"Host": HOST, **(headers or {})})


def signed_in_through(client, mailbox, rp, request_uri) -> str:
    first = get_authorize(client, {"client_id": rp.client_id, "request_uri": request_uri})
    if first.status_code == 302:  # this browser is signed in already
        return query_of(first.headers["Location"])["code"]
    assert first.status_code == 303, first.text
    done = sign_in(client, mailbox, "alice@example.com", interaction=query_of(first.headers["Location"])["i"])
    return query_of(follow_local(client, done).headers["Location"])["code"]


def test_a_proof_sent_with_the_push_binds_the_code_to_its_key(client, mailbox, rp, clock):
    key = dpop.new_key()
    verifier, challenge = pkce_pair()
    first = push_with(client, rp, challenge, {"DPoP": dpop.proof(key, "POST", PAR_URL, now=clock.now)})
    assert first.status_code == 400 and first.json["error"] == "use_dpop_nonce"  # the nonce as at /token
    nonce = first.headers["DPoP-Nonce"]
    pushed = push_with(client, rp, challenge, {"DPoP": dpop.proof(key, "POST", PAR_URL, now=clock.now, nonce=nonce)})
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["DPoP-Nonce"]  # §8.2: every answer to a proof carries the next nonce
    code = signed_in_through(client, mailbox, rp, pushed.json["request_uri"])
    refused = exchange_with_proof(client, rp, code, verifier, dpop.new_key(), clock)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"

    verifier, challenge = pkce_pair()
    nonce = nonce_from(client, clock, key, rp)
    pushed = push_with(client, rp, challenge, {"DPoP": dpop.proof(key, "POST", PAR_URL, now=clock.now, nonce=nonce)})
    code = signed_in_through(client, mailbox, rp, pushed.json["request_uri"])
    done = exchange_with_proof(client, rp, code, verifier, key, clock)
    assert done.status_code == 200 and done.json["token_type"] == "DPoP", done.text


def test_a_pushed_dpop_jkt_binds_the_code_and_must_match_the_proof(client, mailbox, rp, clock):
    key, other = dpop.new_key(), dpop.new_key()
    verifier, challenge = pkce_pair()
    nonce = nonce_from(client, clock, key, rp)
    mismatch = push_with(client, rp, challenge, {"DPoP": dpop.proof(key, "POST", PAR_URL, now=clock.now, nonce=nonce)},
                         dpop_jkt=other.thumbprint())
    assert mismatch.status_code == 400 and mismatch.json["error"] == "invalid_request", mismatch.text  # §10.1
    alone = push_with(client, rp, challenge, dpop_jkt=key.thumbprint())
    assert alone.status_code == 201, alone.text
    code = signed_in_through(client, mailbox, rp, alone.json["request_uri"])
    done = exchange_with_proof(client, rp, code, verifier, key, clock)
    assert done.status_code == 200 and done.json["token_type"] == "DPoP", done.text


@pytest.mark.parametrize("case", ["for /token", "replayed", "GET"])
def test_a_proof_at_the_push_that_does_not_fit_is_refused(client, rp, clock, case):
    key = dpop.new_key()
    nonce = nonce_from(client, clock, key, rp)
    url, method = (TOKEN_URL, "POST") if case == "for /token" else (PAR_URL, "GET" if case == "GET" else "POST")
    proof = dpop.proof(key, method, url, now=clock.now, nonce=nonce)
    if case == "replayed":
        assert push_with(client, rp, pkce_pair()[1], {"DPoP": proof}).status_code == 201
    refused = push_with(client, rp, pkce_pair()[1], {"DPoP": proof})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_dpop_proof", refused.text


def test_the_htu_is_compared_as_rfc_3986_normalises_it(client, mailbox, rp, clock):
    """RFC 9449 §4.3 and RFC 3986 §6: the scheme's default port and the case of scheme and host do
    not make another URL."""
    key = dpop.new_key()
    nonce = nonce_from(client, clock, key, rp)
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    proof = dpop.proof(key, "POST", f"HTTP://{HOST.upper()}:80/token", now=clock.now, nonce=nonce)
    done = exchange_with_header(client, rp, code, verifier, {"DPoP": proof})
    assert done.status_code == 200 and done.json["token_type"] == "DPoP", done.text
    # A fractional `iat` is a NumericDate too (RFC 7519 §2).
    fractional = dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce,
                            access_token=done.json["access_token"], iat=clock.now + 0.5)
    assert userinfo(client, done.json["access_token"], fractional).status_code == 200


def test_a_dpop_request_with_a_token_that_is_not_good_gets_a_dpop_challenge(client, mailbox, rp, clock):
    """RFC 9449 §7.1: an unbound token presented with the DPoP scheme and a valid proof."""
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    token = exchange(client, rp, code, verifier).json["access_token"]  # a bearer token
    key = dpop.new_key()
    nonce = nonce_from(client, clock, key, rp)
    refused = userinfo(client, token, dpop.proof(key, "GET", USERINFO_URL, now=clock.now, nonce=nonce,
                                                 access_token=token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"'), refused.headers
