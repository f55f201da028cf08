"""A relying party built on Authlib's client against the served provider.

Authlib's `OAuth2Session` (requests) does discovery-driven authorization code
with PKCE S256, the token exchange, userinfo and the refresh grant; the ID
token is checked with `authlib.oidc.core.CodeIDToken` over joserfc against the
JWKS the discovery document names. Nothing here reuses provider code.
"""

import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc import discovery, rpinitiated
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.web import query_of

SCOPE = "openid profile email"
LEEWAY = 30


def discover(issuer: str) -> discovery.OpenIDProviderMetadata:
    r = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    meta = discovery.OpenIDProviderMetadata(r.json())
    # OIDC Discovery 1.0 + RFC 8414 + RP-Initiated Logout §2.1, as Authlib reads them.
    meta.validate(metadata_classes=[rpinitiated.OpenIDProviderMetadata])
    assert meta["issuer"] == issuer  # OIDC Discovery §4.3: exactly the issuer asked for
    assert "S256" in meta["code_challenge_methods_supported"]
    assert meta.get("authorization_response_iss_parameter_supported") is True
    assert meta.get("end_session_endpoint")
    return meta


def jwks_of(meta) -> KeySet:
    r = requests.get(meta["jwks_uri"], timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["keys"] and all("d" not in k for k in doc["keys"]), "JWKS must hold public keys only"
    return KeySet.import_key_set(doc)


def validate_id_token(id_token: str, *, meta, keys: KeySet, client_id: str, nonce: str,
                      access_token: str) -> CodeIDToken:
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header.get("kid") in {k.kid for k in keys.keys}, token.header
    claims = CodeIDToken(
        token.claims, token.header,
        options={
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
            "auth_time": {"essential": True},
        },
        params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(now=int(time.time()), leeway=LEEWAY)
    # DESIGN invariant 4: one hour of life, and the claims every token carries.
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["tenant"] == "demo"
    assert isinstance(claims["roles"], list)
    assert isinstance(claims["amr"], list) and claims["amr"], claims.get("amr")
    assert abs(claims["auth_time"] - time.time()) < 120
    return claims


def validate_access_token(access_token: str, *, meta, keys: KeySet, client_id: str, sub: str) -> dict:
    """RFC 9068: a JWT with `typ` at+jwt, signed with a key from the JWKS."""
    token = jwt.decode(access_token, keys, algorithms=["RS256"])
    assert token.header.get("typ", "").lower() in ("at+jwt", "application/at+jwt"), token.header
    assert token.header.get("kid") in {k.kid for k in keys.keys}
    jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": meta["issuer"]},
        aud={"essential": True, "value": client_id},
        sub={"essential": True, "value": sub},
        client_id={"essential": True, "value": client_id},
        exp={"essential": True}, iat={"essential": True}, jti={"essential": True},
    ).validate(token.claims)
    assert token.claims["tenant"] == "demo"
    assert "openid" in token.claims["scope"].split()
    return token.claims


def authorize_url(meta, client_id, redirect_uri, **params) -> str:
    return meta["authorization_endpoint"] + "?" + urlencode(
        {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
         "scope": SCOPE, **params})


def run_relying_party(served, user_agent, client_id, secret, redirect_uri, auth_method, email):
    """Everything up to logout; returns what the logout part needs."""
    meta = discover(served)
    keys = jwks_of(meta)
    session = OAuth2Session(
        client_id, secret, scope=SCOPE, redirect_uri=redirect_uri,
        code_challenge_method="S256", token_endpoint_auth_method=auth_method)
    token_responses = []
    for hook in ("access_token_response", "refresh_token_response"):
        session.register_compliance_hook(hook, lambda resp: token_responses.append(resp) or resp)

    # Authorization request: PKCE S256, state and nonce.
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    sent = query_of(url)
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"] and sent["state"] == state

    callback = user_agent.sign_in(url, email)
    assert callback.split("?")[0] == redirect_uri, callback
    answer = query_of(callback)
    assert answer["state"] == state
    assert answer["iss"] == meta["issuer"]  # RFC 9207 §2.4: the RP checks the issuer
    assert "error" not in answer, answer

    token = session.fetch_token(meta["token_endpoint"], authorization_response=callback,
                                state=state, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 3600
    assert {"access_token", "id_token", "refresh_token"} <= set(token)
    assert token_responses[-1].headers.get("Cache-Control") == "no-store"  # RFC 6749 §5.1

    claims = validate_id_token(token["id_token"], meta=meta, keys=keys, client_id=client_id,
                               nonce=nonce, access_token=token["access_token"])
    at = validate_access_token(token["access_token"], meta=meta, keys=keys, client_id=client_id,
                               sub=claims["sub"])
    assert at["amr"] == claims["amr"] and at["auth_time"] == claims["auth_time"]
    assert at["roles"] == claims["roles"]

    # Userinfo with the bearer token of the session.
    session.token = token
    info = session.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200, info.text
    userinfo = info.json()
    assert userinfo["sub"] == claims["sub"]  # OIDC Core §5.3.2
    assert userinfo["email"] == email
    assert userinfo["tenant"] == "demo"

    # Refresh with rotation (RFC 9700 §4.14.2).
    old_refresh = token["refresh_token"]
    new = session.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert new["refresh_token"] != old_refresh
    assert new["access_token"] != token["access_token"]
    assert token_responses[-1].headers.get("Cache-Control") == "no-store"
    validate_access_token(new["access_token"], meta=meta, keys=keys, client_id=client_id,
                          sub=claims["sub"])
    if "id_token" in new:  # OIDC Core §12.2: if one is returned, it is about the same person
        again = jwt.decode(new["id_token"], keys, algorithms=["RS256"]).claims
        assert again["sub"] == claims["sub"] and again["iss"] == claims["iss"]
    info = session.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"], info.text

    # The rotated-out refresh token is refused ...
    with pytest.raises(OAuthError) as reused:
        session.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert reused.value.error == "invalid_grant"
    # ... and its reuse ends the whole grant: the fresh tokens stop working too.
    with pytest.raises(OAuthError) as after:
        session.refresh_token(meta["token_endpoint"], refresh_token=new["refresh_token"])
    assert after.value.error == "invalid_grant"
    revoked = requests.get(meta["userinfo_endpoint"], timeout=10,
                           headers={"Authorization": "Bearer " + new["access_token"]})
    assert revoked.status_code == 401, revoked.text
    assert 'error="invalid_token"' in revoked.headers.get("WWW-Authenticate", "")

    session.close()
    return meta, token, claims


def silent_authorize(user_agent, meta, client_id, redirect_uri, verifier=None):
    """`prompt=none`: answered from the browser session alone (OIDC Core §3.1.2.1)."""
    state = generate_token(16)
    challenge = create_s256_code_challenge(verifier or generate_token(64))
    r = user_agent.get(authorize_url(meta, client_id, redirect_uri, prompt="none", state=state,
                                     nonce=generate_token(16), code_challenge=challenge,
                                     code_challenge_method="S256"))
    assert r.status_code == 302, (r.status_code, r.text[:300])
    location = r.headers["Location"]
    assert location.split("?")[0] == redirect_uri, location
    answer = query_of(location)
    assert answer["state"] == state and answer["iss"] == meta["issuer"], answer
    return answer


def check_code_replay(user_agent, meta, client_id, secret, redirect_uri, auth_method):
    """A second grant, from the live session: its code is spent once, and spending it
    again revokes the tokens it bought (RFC 6749 §4.1.2)."""
    verifier = generate_token(64)
    answer = silent_authorize(user_agent, meta, client_id, redirect_uri, verifier)
    assert "code" in answer, answer
    session = OAuth2Session(client_id, secret, scope=SCOPE, redirect_uri=redirect_uri,
                            code_challenge_method="S256", token_endpoint_auth_method=auth_method)
    token = session.fetch_token(meta["token_endpoint"], code=answer["code"], code_verifier=verifier)
    ok = session.get(meta["userinfo_endpoint"], timeout=10)
    assert ok.status_code == 200, ok.text
    with pytest.raises(OAuthError) as replayed:
        session.fetch_token(meta["token_endpoint"], code=answer["code"], code_verifier=verifier)
    assert replayed.value.error == "invalid_grant"
    gone = requests.get(meta["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": "Bearer " + token["access_token"]})
    assert gone.status_code == 401, gone.text
    session.close()


def logout_url(meta, **params) -> str:
    return meta["end_session_endpoint"] + "?" + urlencode(params)


def test_confidential_client(served, user_agent, rp):
    meta, token, claims = run_relying_party(
        served, user_agent, rp.client_id, rp.secret, rp.redirect_uri,
        "client_secret_basic", "alice@example.com")

    # The browser session is live: a silent request is answered with a code.
    check_code_replay(user_agent, meta, rp.client_id, rp.secret, rp.redirect_uri, "client_secret_basic")

    # RP-initiated logout with a proven RP: straight back to the registered URI, with state.
    state = generate_token(16)
    r = user_agent.get(logout_url(meta, id_token_hint=token["id_token"],
                                  post_logout_redirect_uri="http://127.0.0.1:9999/bye", state=state))
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"] == "http://127.0.0.1:9999/bye?" + urlencode({"state": state})

    # The browser session is gone.
    answer = silent_authorize(user_agent, meta, rp.client_id, rp.redirect_uri)
    assert answer.get("error") == "login_required", answer
    assert "code" not in answer


def test_public_client(served, user_agent, public_rp):
    meta = discover(served)
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    # A public client without PKCE is refused, back at its redirect URI (RFC 9700 §2.1.1).
    state = generate_token(16)
    r = user_agent.get(authorize_url(meta, public_rp.client_id, public_rp.redirect_uri, state=state))
    assert r.status_code == 302, (r.status_code, r.text[:300])
    answer = query_of(r.headers["Location"])
    assert answer["error"] == "invalid_request" and answer["state"] == state, answer

    meta, token, claims = run_relying_party(
        served, user_agent, public_rp.client_id, None, public_rp.redirect_uri,
        "none", "bob@example.com")
    assert claims["aud"] == public_rp.client_id or claims["aud"] == [public_rp.client_id]
    check_code_replay(user_agent, meta, public_rp.client_id, None, public_rp.redirect_uri, "none")

    # A public client's code without its verifier buys nothing.
    answer = silent_authorize(user_agent, meta, public_rp.client_id, public_rp.redirect_uri)
    exchange = requests.post(meta["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": public_rp.redirect_uri, "client_id": public_rp.client_id})
    assert exchange.status_code == 400, exchange.text
    assert exchange.json()["error"] in ("invalid_request", "invalid_grant")

    # This client registered no post-logout URI: the session still ends, but the
    # OP must not redirect anywhere (RP-Initiated Logout §3) and shows its own page.
    r = user_agent.get(logout_url(meta, id_token_hint=token["id_token"],
                                  post_logout_redirect_uri=public_rp.redirect_uri,
                                  state=generate_token(16)))
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert "Location" not in r.headers
    assert urlsplit(public_rp.redirect_uri).netloc not in r.text

    answer = silent_authorize(user_agent, meta, public_rp.client_id, public_rp.redirect_uri)
    assert answer.get("error") == "login_required", answer
