"""The token endpoint: codes, PKCE, client authentication, refresh rotation, replays."""

import base64
import json
import multiprocessing
import os

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.oidc.tokens import CODE_LIFETIME
from codeb.web.app import create_app
from tests.support.oidc import exchange, signed_in_code, tokens_for
from tests.support.web import HOST


def jwks(client):
    return KeySet.import_key_set(client.get("/jwks.json", headers={"Host": HOST}).json)


def header_of(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def test_tokens_are_rs256_jwts_with_kid_sub_tenant_roles(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    keys = jwks(client)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    id_token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    access = jwt.decode(tokens["access_token"], keys, algorithms=["RS256"])
    assert header_of(tokens["access_token"])["typ"] == "at+jwt"       # RFC 9068 §2.1
    for token in (id_token, access):
        assert token.header["alg"] == "RS256" and token.header["kid"]
        claims = token.claims
        assert claims["iss"] == "http://localhost"
        assert claims["tenant"] == "demo" and claims["roles"] == ["user"]
        assert claims["exp"] - claims["iat"] == 3600
        assert claims["amr"] == ["otp"] and claims["auth_time"] <= claims["iat"]
    assert id_token.claims["sub"] == access.claims["sub"]
    assert id_token.claims["aud"] == rp.client_id and id_token.claims["nonce"] == "n0nce"
    assert "at_hash" in id_token.claims
    assert access.claims["client_id"] == rp.client_id and "openid" in access.claims["scope"]


def test_sub_is_opaque_and_stable(client, app, mailbox, rp, accounts):
    first = jwt.decode(tokens_for(client, mailbox, rp)["id_token"], jwks(client)).claims["sub"]
    another_browser = app.test_client()
    second = jwt.decode(tokens_for(another_browser, mailbox, rp)["id_token"], jwks(client)).claims["sub"]
    assert first == second
    assert "alice" not in first and "@" not in first and len(first) >= 32
    assert accounts.find_by_sub(first).email == "alice@example.com"


def test_code_works_once_and_a_replay_revokes_its_tokens(client, mailbox, rp):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    first = exchange(client, rp, code, verifier)
    assert first.status_code == 200
    access = first.json["access_token"]
    assert client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"}).status_code == 200
    replay = exchange(client, rp, code, verifier)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens issued from the code are revoked.
    revoked = client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"})
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    refresh = client.post("/token", data={"grant_type": "refresh_token",
                                          "refresh_token": first.json["refresh_token"]},
                          auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_invalid_grant(client, mailbox, rp):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = exchange(client, rp, code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"))
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_missing_pkce_verifier_is_invalid_request(client, mailbox, rp):
    code, _, _ = signed_in_code(client, mailbox, rp)
    response = exchange(client, rp, code, None)
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_expired_code_is_invalid_grant(client, mailbox, rp, clock):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    clock.advance(CODE_LIFETIME + 1)
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_a_code_replayed_after_its_lifetime_still_revokes_its_grant(client, mailbox, rp, clock):
    """The spent code's record is its own replay marker, kept for a day, not the code's minute."""
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    first = exchange(client, rp, code, verifier)
    assert first.status_code == 200
    clock.advance(CODE_LIFETIME * 10)
    replay = exchange(client, rp, code, verifier)
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    refresh = client.post("/token", data={"grant_type": "refresh_token",
                                          "refresh_token": first.json["refresh_token"]},
                          auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant"


def test_an_expired_code_is_refused_without_becoming_a_replay_marker(client, mailbox, rp, clock, demo):
    from codeb.store import layout, secret_id

    code, verifier, _ = signed_in_code(client, mailbox, rp)
    clock.advance(CODE_LIFETIME + 1)
    assert exchange(client, rp, code, verifier).status_code == 400
    assert demo.store.transient(layout.SPENT_CODES).get(secret_id(code)) is None


def test_code_is_bound_to_its_redirect_uri_and_client(client, mailbox, rp, demo):
    from codeb.oidc.clients import Clients

    code, verifier, _ = signed_in_code(client, mailbox, rp)
    other, secret = Clients(demo.store).add(name="Other", redirect_uris=[rp.redirect_uri])
    stolen = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                         "redirect_uri": rp.redirect_uri, "code_verifier": verifier},
                         auth=(other.client_id, secret), headers={"Host": HOST})
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"

    code, verifier, _ = signed_in_code(client, mailbox, rp)
    wrong_uri = exchange(client, rp, code, verifier, redirect_uri="http://127.0.0.1:9999/other")
    assert wrong_uri.status_code == 400 and wrong_uri.json["error"] == "invalid_grant"


@pytest.mark.parametrize("how", ["wrong_secret", "no_auth", "unknown_client"])
def test_client_authentication_failures_are_invalid_client(client, mailbox, rp, how):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}
    auth = {"wrong_secret": (rp.client_id, "nope"), "no_auth": None,
            "unknown_client": ("ffffffffffffffffffffffffffffffff", "x")}[how]
    if how == "no_auth":
        data["client_id"] = rp.client_id
    response = client.post("/token", data=data, auth=auth, headers={"Host": HOST})
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert "Traceback" not in response.text


def test_client_secret_post_is_accepted(client, mailbox, rp):
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier, "client_id": rp.client_id, "client_secret": rp.secret},
        headers={"Host": HOST})
    assert response.status_code == 200 and "id_token" in response.json


def test_public_client_with_pkce(client, mailbox, public_rp):
    tokens = tokens_for(client, mailbox, public_rp)
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens)


def test_refresh_rotates_and_reuse_revokes_the_family(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)

    def refresh(token):
        return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           auth=(rp.client_id, rp.secret), headers={"Host": HOST})

    second = refresh(tokens["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json["refresh_token"] != tokens["refresh_token"]
    claims = jwt.decode(second.json["access_token"], jwks(client)).claims
    assert claims["tenant"] == "demo" and claims["amr"] == ["otp"]
    # Reusing the rotated token is a replay (RFC 9700 §4.14.2): the family dies.
    reuse = refresh(tokens["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    assert refresh(second.json["refresh_token"]).json["error"] == "invalid_grant"
    me = client.get("/userinfo", headers={"Host": HOST,
                                          "Authorization": "Bearer " + second.json["access_token"]})
    assert me.status_code == 401


def test_refresh_cannot_widen_scope(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp, scope="openid")
    response = client.post("/token", data={"grant_type": "refresh_token",
                                           "refresh_token": tokens["refresh_token"],
                                           "scope": "openid email"},
                           auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


@pytest.mark.parametrize("data, error", [
    ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, "unauthorized_client"),  # RFC 6749 §5.2: not this client's grant
    ({"grant_type": "authorization_code"}, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "x" * 5000}, "invalid_grant"),
    ({}, "unsupported_grant_type"),
])
def test_malformed_token_requests(client, rp, data, error):
    response = client.post("/token", data=data, auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert response.status_code in (400, 401)
    assert response.json["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_token_endpoint_rejects_get(client):
    response = client.get("/token", headers={"Host": HOST})
    assert response.status_code == 405


# -- issue 9: what the token endpoint must refuse ------------------------------------


def post_token(client, data, headers=None, query=""):
    return client.post("/token" + query, data=data, headers={"Host": HOST, **(headers or {})})


def basic(client_id, secret):
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.mark.parametrize("name", ["code", "grant_type", "client_id", "redirect_uri", "code_verifier"])
def test_a_parameter_sent_twice_is_invalid_request(client, mailbox, public_rp, name):
    """Finding 19: RFC 6749 §3.1 and §3.2, parameters "MUST NOT be included more than once",
    whether twice in the body or once in the body and once in the query."""
    code, verifier, _ = signed_in_code(client, mailbox, public_rp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": public_rp.redirect_uri,
            "code_verifier": verifier, "client_id": public_rp.client_id}
    pairs = list(data.items()) + [(name, data[name])]
    twice = client.post("/token", data=pairs_body(pairs), headers={"Host": HOST},
                        content_type="application/x-www-form-urlencoded")
    assert twice.status_code == 400 and twice.json["error"] == "invalid_request", twice.text
    assert name in twice.json["error_description"]
    in_query = post_token(client, data, query=f"?{name}={data[name]}")
    assert in_query.status_code == 400 and in_query.json["error"] == "invalid_request"
    # Nothing was spent: the code still works, once.
    assert exchange(client, public_rp, code, verifier).status_code == 200


def pairs_body(pairs):
    from urllib.parse import urlencode
    return urlencode(pairs)


@pytest.mark.parametrize("body", ["same", "other", "secret_only"])
def test_basic_and_body_credentials_together_are_invalid_request(client, mailbox, rp, demo, body):
    """Finding 19: RFC 6749 §2.3 "MUST NOT use more than one authentication method in each
    request", and §5.2 names the error: `invalid_request` ("utilizes more than one mechanism
    for authenticating the client"), whatever the client ids say."""
    from codeb.oidc.clients import Clients

    other, other_secret = Clients(demo.store).add(name="Other", redirect_uris=[rp.redirect_uri])
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}
    data.update({"same": {"client_id": rp.client_id, "client_secret": rp.secret},
                 "other": {"client_id": other.client_id, "client_secret": other_secret},
                 "secret_only": {"client_secret": rp.secret}}[body])
    response = post_token(client, data, headers=basic(rp.client_id, rp.secret))
    assert response.status_code == 400 and response.json["error"] == "invalid_request", response.text
    assert exchange(client, rp, code, verifier).status_code == 200  # the code was not spent


def test_basic_with_another_client_id_in_the_body_is_invalid_request(client, mailbox, rp, demo):
    """Finding 19: Basic names one client and the body another: which one is asking? Refused;
    the same client_id in the body beside Basic (which some libraries send) is accepted."""
    from codeb.oidc.clients import Clients

    other, _ = Clients(demo.store).add(name="Other", redirect_uris=[rp.redirect_uri])
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier, "client_id": other.client_id}
    refused = post_token(client, data, headers=basic(rp.client_id, rp.secret))
    assert refused.status_code == 400 and refused.json["error"] == "invalid_request", refused.text
    same = post_token(client, {**data, "client_id": rp.client_id}, headers=basic(rp.client_id, rp.secret))
    assert same.status_code == 200, same.text


def test_a_code_presented_by_another_client_is_not_spent(client, mailbox, rp, demo):
    """Finding 19: RFC 6749 §4.1.3, the code is checked against the authenticated client
    before it is spent: another client's attempt fails and the rightful client redeems it."""
    from codeb.oidc.clients import Clients

    code, verifier, _ = signed_in_code(client, mailbox, rp)
    other, secret = Clients(demo.store).add(name="Other", redirect_uris=[rp.redirect_uri])
    stolen = post_token(client, {"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": rp.redirect_uri, "code_verifier": verifier},
                        headers=basic(other.client_id, secret))
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    rightful = exchange(client, rp, code, verifier)
    assert rightful.status_code == 200, rightful.text
    access = rightful.json["access_token"]
    assert client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"}).status_code == 200


def test_a_refresh_token_presented_by_another_client_is_not_spent(client, mailbox, rp, demo):
    """Finding 19, the same mechanism for refresh tokens: another client's attempt neither
    spends the token nor makes the rightful client's next use look like a replay."""
    from codeb.oidc.clients import Clients

    tokens = tokens_for(client, mailbox, rp)
    other, secret = Clients(demo.store).add(name="Other", redirect_uris=[rp.redirect_uri])
    stolen = post_token(client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        headers=basic(other.client_id, secret))
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    rightful = post_token(client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          headers=basic(rp.client_id, rp.secret))
    assert rightful.status_code == 200, rightful.text
    access = rightful.json["access_token"]
    assert client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"}).status_code == 200


@pytest.mark.parametrize("header", [
    "Basic //79:",                                            # not UTF-8 once decoded
    "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
    "Basic not base64!",                                      # not base64
    "Basic " + base64.b64encode(b"client-without-colon").decode(),
    "Basic " + base64.b64encode(b"%ZZ:%E0%A4").decode(),       # bad percent-encoding
    "Basic " + base64.b64encode(b"%ff%fe:x").decode(),         # percent-decodes to non-UTF-8
    "Basic ",
    "Basic",
])
def test_a_malformed_basic_header_is_invalid_client_401(client, rp, header):
    """Finding 13: `Authorization: Basic //79:` gave 500. Any Basic header that does not
    decode (RFC 7617 §2; RFC 6749 §2.3.1: form-urlencoded id and secret) is `invalid_client`,
    401, with a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2)."""
    response = post_token(client, {"grant_type": "authorization_code", "code": "x",
                                   "redirect_uri": rp.redirect_uri}, headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["Cache-Control"] == "no-store"


def test_basic_credentials_are_form_urlencoded(client, mailbox, demo):
    """RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encodes them."""
    from codeb.oidc.clients import Clients
    from tests.support.web import RP

    registered, secret = Clients(demo.store).add(name="Encoded", redirect_uris=["http://127.0.0.1:9999/cb"])
    rp = RP(registered.client_id, secret, "http://127.0.0.1:9999/cb")
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    encoded = "".join(f"%{b:02X}" for b in secret.encode())  # every byte percent-encoded
    response = post_token(client, {"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": rp.redirect_uri, "code_verifier": verifier},
                          headers=basic(rp.client_id, encoded))
    assert response.status_code == 200, response.text


def test_a_refresh_token_from_before_chains_is_spent_once_and_continues_as_a_chain(client, mailbox, rp, demo):
    from codeb.oidc.grants import RefreshChain
    from codeb.store import layout, secret_id

    tokens = tokens_for(client, mailbox, rp)
    gid = RefreshChain.grant_of(tokens["refresh_token"])
    chain = demo.store.transient(layout.REFRESH_CHAINS).get(gid)
    legacy = "legacy-opaque-refresh-token-without-a-grant-id"
    record = {k: v for k, v in chain.items() if k not in ("current", "spent", "expires", "schema")}
    demo.store.transient(layout.REFRESH_TOKENS).put(secret_id(legacy), record, ttl=3600)

    def refresh(token):
        return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           auth=(rp.client_id, rp.secret), headers={"Host": HOST})

    first = refresh(legacy)
    assert first.status_code == 200, first.text
    assert RefreshChain.grant_of(first.json["refresh_token"]) == gid
    assert refresh(legacy).json["error"] == "invalid_grant"  # its replay revokes the grant
    assert refresh(first.json["refresh_token"]).json["error"] == "invalid_grant"


def test_a_made_up_refresh_token_naming_a_grant_changes_nothing(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    gid = tokens["refresh_token"].split(".")[0]

    def refresh(token):
        return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           auth=(rp.client_id, rp.secret), headers={"Host": HOST})

    assert refresh(gid + ".guessed").json["error"] == "invalid_grant"
    assert refresh(tokens["refresh_token"]).status_code == 200


def _refresh_in_a_process(data_root, clock, rp, token, start, answers):
    """One IIS worker process presenting `token` when every other is ready too."""
    client = create_app({"CODEB_DATA": data_root, "TESTING": True, "CODEB_CLOCK": clock,
                         "CODEB_PORT": 80}).test_client()
    start.wait(timeout=60)
    answer = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                         auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    answers.put((answer.status_code, answer.json))


def test_two_processes_racing_one_refresh_token_one_wins_and_the_loser_revokes_the_grant(
        client, mailbox, rp, data_root, clock):
    """RFC 9700 §4.14.2: whichever order the two take the chain's lock in, one rotates and
    the other presents a spent token, which revokes the grant, the winner's new token with it."""
    token = tokens_for(client, mailbox, rp)["refresh_token"]
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    start, answers = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_refresh_in_a_process,
                              args=(str(data_root), clock, rp, token, start, answers)) for _ in range(2)]
    for racer in racers:
        racer.start()
    results = sorted([answers.get(timeout=120) for _ in racers], key=lambda r: r[0])
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    (won, tokens), (lost, error) = results
    assert (won, lost) == (200, 400) and error["error"] == "invalid_grant"
    after = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert after.status_code == 400 and after.json["error"] == "invalid_grant"  # the grant is revoked
