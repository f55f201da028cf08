"""private_key_jwt client authentication (RFC 7523 §2.2, §3) at /token, with the client's
registered JWKS or its jwks_uri, and the attacks on it: a replayed `jti`, a wrong audience,
another key, a long-lived assertion, `none`, a symmetric algorithm, two methods at once."""

import base64
import json
import secrets
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from codeb.oidc import client_assertion
from codeb.oidc.clients import Clients
from codeb.store import layout
from tests.support import loopback_http
from tests.support.oidc import signed_in_code
from tests.support.web import HOST

ISSUER = f"http://{HOST}"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def key():
    return ECKey.generate_key("P-256", parameters={"kid": "k1"})


@pytest.fixture
def jwt_rp(demo, rp, key):
    """The test RP, set to authenticate with private_key_jwt and its registered public key."""
    Clients(demo.store).configure(rp.client_id, jwks={"keys": [key.as_dict(private=False)]},
                                  token_endpoint_auth_method="private_key_jwt")
    return rp


def assertion(client_id, key, *, alg="ES256", aud=ISSUER, lifetime=60, now, **extra):
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": int(now), "exp": int(now) + lifetime,
              "jti": secrets.token_urlsafe(16), **extra}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def exchange_with(client, rp, code, verifier, client_assertion_value, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion_value, **extra}
    return client.post("/token", data=data, headers={"Host": HOST})


def test_a_signed_assertion_gets_the_tokens(client, mailbox, jwt_rp, key, clock):
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    response = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, now=clock.now))
    assert response.status_code == 200, response.text
    assert response.json["id_token"] and response.json["refresh_token"]


@pytest.mark.parametrize("aud", [ISSUER, ISSUER + "/token", [ISSUER + "/token", "https://elsewhere"]])
def test_the_audience_may_be_the_issuer_or_the_endpoint(client, mailbox, jwt_rp, key, clock, aud):
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    response = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, aud=aud, now=clock.now))
    assert response.status_code == 200, response.text


def test_a_replayed_assertion_is_refused(client, mailbox, jwt_rp, key, clock):
    used = assertion(jwt_rp.client_id, key, now=clock.now)
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    assert exchange_with(client, jwt_rp, code, verifier, used).status_code == 200
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    replay = exchange_with(client, jwt_rp, code, verifier, used)
    assert replay.status_code == 401 and replay.json["error"] == "invalid_client"
    # the code was not spent by the refused request: a fresh assertion still redeems it
    fresh = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, now=clock.now))
    assert fresh.status_code == 200, fresh.text


@pytest.mark.parametrize("case", ["wrong_audience", "other_key", "too_long", "expired", "iss_is_not_sub",
                                  "no_jti", "hmac_with_the_public_key", "alg_none", "unknown_client", "garbage"])
def test_bad_assertions_are_invalid_client(client, mailbox, jwt_rp, key, clock, case):
    now = clock.now
    made = {
        "wrong_audience": lambda: assertion(jwt_rp.client_id, key, aud="https://another.example", now=now),
        "other_key": lambda: assertion(jwt_rp.client_id, ECKey.generate_key("P-256", parameters={"kid": "k1"}),
                                       now=now),
        "too_long": lambda: assertion(jwt_rp.client_id, key, lifetime=3600, now=now),
        "expired": lambda: assertion(jwt_rp.client_id, key, lifetime=60, now=now - 600),
        "iss_is_not_sub": lambda: assertion(jwt_rp.client_id, key, iss="someone-else", now=now),
        "no_jti": lambda: jwt.encode({"alg": "ES256", "kid": "k1"},
                                     {"iss": jwt_rp.client_id, "sub": jwt_rp.client_id, "aud": ISSUER,
                                      "exp": int(now) + 60}, key, algorithms=["ES256"]),
        "hmac_with_the_public_key": lambda: jwt.encode(
            {"alg": "HS256", "kid": "k1"},
            {"iss": jwt_rp.client_id, "sub": jwt_rp.client_id, "aud": ISSUER, "exp": int(now) + 60, "jti": "j" * 16},
            OctKey.import_key(json.dumps(key.as_dict(private=False)).encode()), algorithms=["HS256"]),
        "alg_none": lambda: ".".join(_b64(x) for x in (
            {"alg": "none"}, {"iss": jwt_rp.client_id, "sub": jwt_rp.client_id, "aud": ISSUER,
                              "exp": int(now) + 60, "jti": "j" * 16})) + ".",
        "unknown_client": lambda: assertion("a" * 32, key, now=now),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    response = exchange_with(client, jwt_rp, code, verifier, made)
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client", response.text
    assert response.headers["Cache-Control"] == "no-store"


def _b64(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_jwt_client_cannot_use_its_old_secret(client, mailbox, jwt_rp):
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    response = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": jwt_rp.redirect_uri, "code_verifier": verifier},
                           auth=(jwt_rp.client_id, jwt_rp.secret), headers={"Host": HOST})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_secret_client_cannot_use_an_assertion(client, mailbox, demo, rp, key, clock):
    Clients(demo.store).configure(rp.client_id, jwks={"keys": [key.as_dict(private=False)]})  # keys, still secret auth
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = exchange_with(client, rp, code, verifier, assertion(rp.client_id, key, now=clock.now))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_an_assertion_beside_a_secret_is_two_methods(client, mailbox, jwt_rp, key, clock):
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    response = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, now=clock.now),
                             client_secret=jwt_rp.secret)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    wrong_type = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, now=clock.now),
                               client_assertion_type="urn:example:saml")
    assert wrong_type.status_code == 401 and wrong_type.json["error"] == "invalid_client"


def test_the_jti_record_is_not_fsynced_and_lives_as_long_as_the_assertion(demo, jwt_rp, key):
    assert not layout.durable(layout.CLIENT_ASSERTIONS)


class _Keys(loopback_http.Handler):
    keys: dict = {}
    served = 0

    def do_GET(self):
        type(self).served += 1
        self.answer(200, json.dumps(type(self).keys).encode(), "application/jwk-set+json")


@pytest.fixture
def jwks_server():
    client_assertion._fetched.clear()
    with loopback_http.serving(_Keys) as server:
        yield server
    client_assertion._fetched.clear()


def test_keys_from_the_jwks_uri_and_a_rotation_is_fetched_again(client, mailbox, demo, rp, clock, jwks_server,
                                                                 monkeypatch):
    monkeypatch.setattr(client_assertion, "MIN_REFETCH", 0)  # no pause between the fetches here
    first = RSAKey.generate_key(2048, parameters={"kid": "r1"})
    _Keys.keys = {"keys": [first.as_dict(private=False)]}
    _Keys.served = 0
    uri = loopback_http.url(jwks_server, "/jwks")
    Clients(demo.store).configure(rp.client_id, jwks_uri=uri, token_endpoint_auth_method="private_key_jwt")
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    made = assertion(rp.client_id, first, alg="PS256", now=clock.now)
    assert exchange_with(client, rp, code, verifier, made).status_code == 200
    # The client rotates: the new kid is not in the cached set, so it is fetched again at once.
    second = RSAKey.generate_key(2048, parameters={"kid": "r2"})
    _Keys.keys = {"keys": [second.as_dict(private=False)]}
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    made = assertion(rp.client_id, second, alg="RS256", now=clock.now)
    assert exchange_with(client, rp, code, verifier, made).status_code == 200
    assert _Keys.served == 2
    # The retired key no longer works once the set no longer holds it.
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    old = exchange_with(client, rp, code, verifier, assertion(rp.client_id, first, alg="PS256", now=clock.now))
    assert old.status_code == 401 and old.json["error"] == "invalid_client"


def test_an_unreachable_jwks_uri_is_invalid_client_not_a_500(client, mailbox, demo, rp, key, clock):
    Clients(demo.store).configure(rp.client_id, jwks_uri="http://127.0.0.1:9/jwks",
                                  token_endpoint_auth_method="private_key_jwt")
    client_assertion._fetched.clear()
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = exchange_with(client, rp, code, verifier, assertion(rp.client_id, key, now=clock.now))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def _b64_bytes(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("where", ["/token", "/par", "/revoke", "/introspect"])
def test_an_assertion_nested_thousands_deep_is_invalid_client_not_a_500(client, jwt_rp, where):
    """JSON nested deeper than the parser recurses raises RecursionError, which is no ValueError."""
    nested = _b64_bytes(b'{"alg":"ES256","kid":"k1"}') + "." + _b64_bytes(b"[" * 3000) + ".c2ln"
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": nested, "token": "x",
            "grant_type": "client_credentials", "response_type": "code", "redirect_uri": jwt_rp.redirect_uri}
    response = client.post(where, data=data, headers={"Host": HOST})
    assert response.status_code == 401 and response.json["error"] == "invalid_client", response.text


class _Broken(loopback_http.Handler):
    """A jwks_uri that answers badly: `kind` says how."""

    kind = "gzip"

    def do_GET(self):
        if self.kind == "gzip":  # a body that says gzip and is not
            self.answer(200, b"not gzip at all", "application/json", Content_Encoding="gzip")
        elif self.kind == "short":  # fewer bytes than it promised, then the connection ends
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"keys": [')
            self.close_connection = True
        elif self.kind == "drip":  # a byte now and then, for longer than the whole fetch may take
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            for _ in range(8):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1)


@pytest.mark.parametrize("kind", ["gzip", "short", "drip"])
def test_a_jwks_uri_that_answers_badly_is_invalid_client_not_a_500(client, mailbox, demo, rp, key, clock, kind,
                                                                      monkeypatch):
    monkeypatch.setattr(client_assertion, "JWKS_TIMEOUT", 2)  # the whole answer's deadline, shortened here
    _Broken.kind = kind
    client_assertion._fetched.clear()
    with loopback_http.serving(_Broken) as server:
        Clients(demo.store).configure(rp.client_id, jwks_uri=loopback_http.url(server, "/jwks"),
                                      token_endpoint_auth_method="private_key_jwt")
        code, verifier, _ = signed_in_code(client, mailbox, rp)
        started = time.monotonic()
        response = exchange_with(client, rp, code, verifier, assertion(rp.client_id, key, now=clock.now))
        assert response.status_code == 401 and response.json["error"] == "invalid_client", response.text
        assert time.monotonic() - started < 6  # the deadline is for the whole answer, not for each read
    client_assertion._fetched.clear()


def test_a_client_id_beside_the_assertion_must_name_its_client(client, mailbox, jwt_rp, public_rp, key, clock):
    """RFC 7521 §4.2: the client_id, if sent, identifies the client the assertion authenticates."""
    code, verifier, _ = signed_in_code(client, mailbox, jwt_rp)
    made = assertion(jwt_rp.client_id, key, now=clock.now)
    other = exchange_with(client, jwt_rp, code, verifier, made, client_id=public_rp.client_id)
    assert other.status_code == 401 and other.json["error"] == "invalid_client", other.text
    same = exchange_with(client, jwt_rp, code, verifier, assertion(jwt_rp.client_id, key, now=clock.now),
                         client_id=jwt_rp.client_id)
    assert same.status_code == 200, same.text
