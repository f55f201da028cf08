"""openid-client (npm, v6) pushing its authorization request (RFC 9126) to the served provider.

`tests/node/rp-par.mjs` builds the authorization URL with `buildAuthorizationUrlWithPAR`
(the library pushes the parameters to the discovered `/par`, checks the 201 answer and
puts only `client_id` and `request_uri` in the URL), then does the code grant with its own
checks (state, RFC 9207 `iss`, PKCE, the ID token) and userinfo. This test plays the
person's browser in between, as `test_openid_client.py` does, with the same JSON-lines
driver (`NodeRP`, given the PAR script).
"""

import os

import pytest
from joserfc.jwk import ECKey

from codeb.oidc.clients import Clients
from codeb.store import layout, secret_id
from tests.rp import test_openid_client as plain
from tests.support.web import query_of

SCRIPT = os.path.join(plain.NODE_DIR, "rp-par.mjs")
PREFIX = "urn:ietf:params:oauth:request_uri:"


@pytest.fixture
def par_rp():
    with plain.node_rps(SCRIPT) as start:
        yield start


def run(par_rp, user_agent, demo, *, issuer, client_id, redirect_uri, email, secret=None, private_jwk=None,
        dpop=False):
    rp = par_rp(issuer=issuer, client_id=client_id, client_secret=secret, private_jwk=private_jwk, dpop=dpop,
                redirect_uri=redirect_uri, scope="openid profile email")
    start = rp.read("authorize")
    assert start["par_endpoint"] == issuer + "/par"
    sent = query_of(start["url"])
    # RFC 9126 §4: the front channel carries the client and the reference, nothing else.
    assert start["url"].startswith(issuer + "/authorize?")
    assert set(sent) == {"client_id", "request_uri"} and sent["client_id"] == client_id
    assert sent["request_uri"].startswith(PREFIX)

    callback = user_agent.sign_in(start["url"], email)
    assert callback.split("?")[0] == redirect_uri, callback
    back = query_of(callback)
    assert back["state"] == start["state"] and back["iss"] == issuer
    # RFC 9449 §10.1: the library sent its DPoP proof with the push, so the code is bound to its key.
    code = demo.store.transient(layout.CODES).get(secret_id(back["code"]))
    assert bool(code["dpop_jkt"]) == dpop, code
    rp.send({"callback": callback})

    tokens = rp.read("tokens")
    assert tokens["token_type"].lower() == ("dpop" if dpop else "bearer")
    claims = tokens["claims"]
    assert claims["iss"] == issuer and claims["aud"] in (client_id, [client_id])
    assert claims["nonce"] == start["nonce"] and claims["tenant"] == "demo"
    userinfo = rp.read("userinfo")["userinfo"]
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == email
    refreshed = rp.read("refresh")
    # FAPI 2.0 §5.3.2.1, 10.: a FAPI client's refresh token is not rotated; every other one is.
    assert refreshed["rotated"] is (not private_jwk) and refreshed["userinfo_sub"] == claims["sub"]
    assert refreshed["token_type"].lower() == ("dpop" if dpop else "bearer")
    if dpop:
        assert rp.read("bearer_replay")["refused"], "a DPoP-bound token was accepted as a bearer token"
    assert rp.close() == 0, "".join(rp.stderr)[-2000:]

    # RFC 9126 §4: the request_uri was spent by its first use; the signed-in browser sent back
    # to the same URL gets a page, not a second code.
    again = user_agent.get(start["url"])
    assert again.status_code == 400 and "Location" not in again.headers, (again.status_code, again.headers)


def test_confidential_client_that_must_push(served, user_agent, rp, demo, par_rp):
    Clients(demo.store).configure(rp.client_id, require_par=True)
    run(par_rp, user_agent, demo, issuer=served, client_id=rp.client_id, secret=rp.secret,
        redirect_uri=rp.redirect_uri, email="erin@example.com")


def test_public_client(served, user_agent, public_rp, demo, par_rp):
    run(par_rp, user_agent, demo, issuer=served, client_id=public_rp.client_id,
        redirect_uri=public_rp.redirect_uri, email="frank@example.com")


def test_public_client_with_dpop(served, user_agent, public_rp, demo, par_rp):
    """A browser app's tokens bound to its key, its refresh chain too (RFC 9449 §5), with the nonces."""
    run(par_rp, user_agent, demo, issuer=served, client_id=public_rp.client_id, dpop=True,
        redirect_uri=public_rp.redirect_uri, email="heidi@example.com")


def test_fapi_client_with_private_key_jwt_and_dpop(served, user_agent, rp, demo, par_rp):
    """FAPI 2.0 mode: PAR, PKCE S256, private_key_jwt, DPoP-bound tokens, all as the library does them."""
    key = ECKey.generate_key("P-256", parameters={"kid": "rp-key"})
    Clients(demo.store).configure(rp.client_id, jwks={"keys": [key.as_dict(private=False)]}, fapi=True)
    run(par_rp, user_agent, demo, issuer=served, client_id=rp.client_id, private_jwk=key.as_dict(private=True),
        dpop=True, redirect_uri=rp.redirect_uri, email="grace@example.com")
