"""Revocation (RFC 7009) and introspection (RFC 7662) with Authlib's own client against the
served provider: `OAuth2Session.revoke_token` and `.introspect_token`, reading the endpoints
from discovery, as an app and as one of the tenant's resource servers would."""

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.oidc.clients import Clients

SCOPE = "openid profile email"


def signed_in_session(served, user_agent, rp, email=None):
    """A grant through Authlib's client: the person signs in as `email`, or, without one, the
    person already signed in in `user_agent` gives a second grant from the live browser session."""
    meta = requests.get(served + "/.well-known/openid-configuration", timeout=10).json()
    session = OAuth2Session(rp.client_id, rp.secret, scope=SCOPE, redirect_uri=rp.redirect_uri,
                            code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic" if rp.secret else "none")
    verifier = generate_token(64)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=generate_token(24))
    if email:
        callback = user_agent.sign_in(url, email)
    else:
        answer = user_agent.get(url)
        assert answer.status_code == 302, answer.text[:300]
        callback = answer.headers["Location"]
    session.fetch_token(meta["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier)
    return meta, session


def test_an_app_introspects_then_revokes_its_tokens(served, user_agent, rp, demo):
    meta, session = signed_in_session(served, user_agent, rp, "ivan@example.com")
    access, refresh = session.token["access_token"], session.token["refresh_token"]

    seen = session.introspect_token(meta["introspection_endpoint"], token=access)
    assert seen.status_code == 200 and seen.json()["active"] is True and seen.json()["username"] == "ivan"
    assert seen.json()["client_id"] == rp.client_id

    # A resource server registered by the tenant (an XMPP server) checks the same token.
    server, secret = Clients(demo.store).add(name="XMPP", redirect_uris=["https://xmpp.example/cb"])
    Clients(demo.store).configure(server.client_id, resource_server=True)
    xmpp = OAuth2Session(server.client_id, secret, token_endpoint_auth_method="client_secret_post")
    checked = xmpp.introspect_token(meta["introspection_endpoint"], token=access, token_type_hint="access_token")
    assert checked.json()["active"] is True and checked.json()["sub"] == seen.json()["sub"]

    revoked = session.revoke_token(meta["revocation_endpoint"], token=refresh, token_type_hint="refresh_token")
    assert revoked.status_code == 200
    assert session.introspect_token(meta["introspection_endpoint"], token=access).json() == {"active": False}
    assert xmpp.introspect_token(meta["introspection_endpoint"], token=access).json() == {"active": False}
    userinfo = requests.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"}, timeout=10)
    assert userinfo.status_code == 401


def test_revoking_an_access_token_with_authlib_ends_its_refresh_token(served, user_agent, rp):
    meta, session = signed_in_session(served, user_agent, rp, "judy@example.com")
    refresh = session.token["refresh_token"]
    assert session.revoke_token(meta["revocation_endpoint"], token=session.token["access_token"]).status_code == 200
    answer = requests.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": refresh},
                           auth=(rp.client_id, rp.secret), timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def refreshes(meta, rp, refresh_token):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if not rp.secret:
        data["client_id"] = rp.client_id
    return requests.post(meta["token_endpoint"], data=data, auth=(rp.client_id, rp.secret) if rp.secret else None,
                         timeout=10)


def test_a_revoked_refresh_token_is_refused_and_the_persons_other_grant_goes_on(served, user_agent, rp):
    meta, first = signed_in_session(served, user_agent, rp, "kim@example.com")
    _, second = signed_in_session(served, user_agent, rp)
    assert first.revoke_token(meta["revocation_endpoint"], token=first.token["refresh_token"],
                              token_type_hint="refresh_token").status_code == 200
    refused = refreshes(meta, rp, first.token["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    renewed = refreshes(meta, rp, second.token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    seen = second.introspect_token(meta["introspection_endpoint"], token=renewed.json()["access_token"])
    assert seen.json()["active"] is True


def test_another_client_revokes_nothing_and_learns_nothing(served, user_agent, rp, demo):
    meta, session = signed_in_session(served, user_agent, rp, "lou@example.com")
    made, secret = Clients(demo.store).add(name="Stranger", redirect_uris=["https://stranger.example/cb"])
    stranger = OAuth2Session(made.client_id, secret, token_endpoint_auth_method="client_secret_basic",
                             revocation_endpoint_auth_method="client_secret_basic")
    for token in (session.token["access_token"], session.token["refresh_token"]):
        assert stranger.revoke_token(meta["revocation_endpoint"], token=token).status_code == 200
        assert stranger.introspect_token(meta["introspection_endpoint"], token=token).json() == {"active": False}
    assert session.introspect_token(meta["introspection_endpoint"],
                                    token=session.token["access_token"]).json()["active"] is True
    assert refreshes(meta, rp, session.token["refresh_token"]).status_code == 200


def test_a_public_client_revokes_with_its_client_id_alone(served, user_agent, public_rp):
    meta, session = signed_in_session(served, user_agent, public_rp, "max@example.com")
    spa = OAuth2Session(public_rp.client_id, None, revocation_endpoint_auth_method="none")
    assert "none" in meta["revocation_endpoint_auth_methods_supported"]
    assert spa.revoke_token(meta["revocation_endpoint"], token=session.token["refresh_token"]).status_code == 200
    refused = refreshes(meta, public_rp, session.token["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # Introspection is for confidential clients only (RFC 7662 §2.1).
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
    asked = spa.introspect_token(meta["introspection_endpoint"], token=session.token["access_token"],
                                 auth=spa.client_auth("none"))
    assert asked.status_code == 401 and asked.json()["error"] == "invalid_client"


def test_the_jwt_answer_validates_against_the_published_keys(served, user_agent, rp):
    """RFC 9701 §5: signed with a key of the provider's JWKS, `typ` token-introspection+jwt, issued
    by the provider, for the asking client."""
    meta, session = signed_in_session(served, user_agent, rp, "nia@example.com")
    answer = session.introspect_token(meta["introspection_endpoint"], token=session.token["access_token"],
                                      headers={"Accept": "application/token-introspection+jwt"})
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/token-introspection+jwt"
    assert answer.headers["Cache-Control"] == "no-store"
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(answer.text, keys, algorithms=meta["introspection_signing_alg_values_supported"])
    assert decoded.header["typ"] == "token-introspection+jwt" and decoded.header["kid"] in {k.kid for k in keys}
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                          aud={"essential": True, "value": rp.client_id},
                          iat={"essential": True}).validate(decoded.claims)
    described = decoded.claims["token_introspection"]
    plain = session.introspect_token(meta["introspection_endpoint"], token=session.token["access_token"]).json()
    assert described == plain and described["active"] is True and described["username"] == "nia"
