"""Token revocation (RFC 7009) at /revoke: a token's grant ends, and nothing else does."""

import base64
import json

import pytest

from codeb import audit
from codeb.oidc.clients import Clients
from tests.support.oidc import signed_in_code, tokens_for
from tests.support.web import HOST


def revoke(client, rp, token, *, auth=None, **extra):
    data = {"token": token, **extra}
    if auth is None and rp.secret:
        auth = (rp.client_id, rp.secret)
    if auth is None:
        data["client_id"] = rp.client_id
    return client.post("/revoke", data={k: v for k, v in data.items() if v is not None},
                       auth=auth or None, headers={"Host": HOST})


def refresh(client, rp, refresh_token):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if not rp.secret:
        data["client_id"] = rp.client_id
    return client.post("/token", data=data, auth=(rp.client_id, rp.secret) if rp.secret else None,
                       headers={"Host": HOST})


def userinfo(client, access):
    return client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"})


def works(client, rp, tokens) -> bool:
    """Whether a grant's access token is accepted (checked first: refreshing rotates)."""
    return userinfo(client, tokens["access_token"]).status_code == 200


def gid_of(access):
    return json.loads(base64.urlsafe_b64decode(access.split(".")[1] + "=="))["gid"]


def revocations(demo):
    return [e for e in audit.read_all(demo.store) if e["event"] == "token.revoked"]


def two_grants(client, mailbox, rp):
    """Two grants of the same person for the same client (a second code from the live session)."""
    return tokens_for(client, mailbox, rp), tokens_for(client, mailbox, rp)


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_either_token_ends_its_grant_and_no_other(client, mailbox, rp, demo, which):
    first, second = two_grants(client, mailbox, rp)
    answer = revoke(client, rp, first[which])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    # The whole grant: its access token and its refresh chain.
    assert userinfo(client, first["access_token"]).status_code == 401
    refused = refresh(client, rp, first["refresh_token"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    # The same person's other grant with the same client goes on: its token and its refresh.
    assert works(client, rp, second)
    renewed = refresh(client, rp, second["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert userinfo(client, renewed.json["access_token"]).status_code == 200


def test_a_revocation_is_audited_without_the_token(client, mailbox, rp, demo, accounts):
    tokens = tokens_for(client, mailbox, rp)
    assert revoke(client, rp, tokens["refresh_token"]).status_code == 200
    [line] = revocations(demo)
    alice = accounts.find_by_email("alice@example.com")
    assert line["client_id"] == rp.client_id and line["gid"] == gid_of(tokens["access_token"])
    assert line["login"] == alice.login and line["sub"] == alice.sub
    assert line["token_type"] == "refresh_token"
    text = json.dumps(line)
    assert tokens["refresh_token"] not in text and tokens["access_token"] not in text
    assert audit.sentence(line)[0] == "audit.s.token.revoked"


def test_revoking_again_changes_nothing_and_writes_nothing(client, mailbox, rp, demo):
    tokens = tokens_for(client, mailbox, rp)
    assert revoke(client, rp, tokens["access_token"]).status_code == 200
    again = revoke(client, rp, tokens["access_token"])
    assert again.status_code == 200
    assert len(revocations(demo)) == 1


@pytest.mark.parametrize("which, hint", [
    ("refresh_token", "access_token"),   # RFC 7009 §2.1: a wrong hint only changes where to look first
    ("access_token", "refresh_token"),
    ("refresh_token", "id_token"),       # a hint the server does not know is no error
    ("access_token", "nonsense"),
    ("refresh_token", ""),
])
def test_the_hint_is_only_a_hint(client, mailbox, rp, which, hint):
    tokens = tokens_for(client, mailbox, rp)
    answer = revoke(client, rp, tokens[which], token_type_hint=hint)
    assert answer.status_code == 200, answer.text
    assert userinfo(client, tokens["access_token"]).status_code == 401
    assert refresh(client, rp, tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_another_clients_token_is_answered_200_and_left_alone(client, mailbox, rp, demo):
    tokens = tokens_for(client, mailbox, rp)
    other, secret = Clients(demo.store).add(name="Other", redirect_uris=["http://127.0.0.1:9999/o"])
    for which in ("access_token", "refresh_token"):
        answer = revoke(client, rp, tokens[which], auth=(other.client_id, secret))
        assert answer.status_code == 200, answer.text
    assert works(client, rp, tokens)
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200
    assert revocations(demo) == []


def test_a_public_client_revokes_its_own_tokens_with_its_client_id(client, mailbox, public_rp, rp):
    theirs = tokens_for(client, mailbox, rp)
    tokens = tokens_for(client, mailbox, public_rp)
    # Another client's token, presented by the public client: nothing happens.
    assert revoke(client, public_rp, theirs["refresh_token"]).status_code == 200
    assert works(client, rp, theirs)
    answer = revoke(client, public_rp, tokens["refresh_token"])
    assert answer.status_code == 200, answer.text
    assert userinfo(client, tokens["access_token"]).status_code == 401
    assert refresh(client, public_rp, tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_a_rotated_out_refresh_token_revokes_nothing(client, mailbox, rp, demo):
    """Only the chain's current token stands for the grant here; a spent one is an invalid
    token (RFC 7009 §2.2), and revocation never spends or rotates anything."""
    tokens = tokens_for(client, mailbox, rp)
    renewed = refresh(client, rp, tokens["refresh_token"]).json
    assert revoke(client, rp, tokens["refresh_token"]).status_code == 200
    assert works(client, rp, renewed) and revocations(demo) == []
    assert refresh(client, rp, renewed["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", [
    "garbage",
    "a.b.c",
    "0" * 32 + ".unknown-secret",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # an unsigned JWT
    "x" * 8192,
])
def test_an_unknown_token_is_answered_200(client, mailbox, rp, demo, token):
    tokens = tokens_for(client, mailbox, rp)
    answer = revoke(client, rp, token)
    assert answer.status_code == 200, answer.text
    assert works(client, rp, tokens) and revocations(demo) == []


def test_an_id_token_is_no_token_to_revoke(client, mailbox, rp, demo):
    tokens = tokens_for(client, mailbox, rp)
    assert revoke(client, rp, tokens["id_token"]).status_code == 200
    assert works(client, rp, tokens) and revocations(demo) == []


@pytest.mark.parametrize("how", ["wrong_secret", "unknown_client", "no_auth", "id_without_secret",
                                 "secret_in_body_wrong"])
def test_a_client_that_does_not_authenticate_is_invalid_client_401(client, mailbox, rp, demo, how):
    tokens = tokens_for(client, mailbox, rp)
    data = {"token": tokens["refresh_token"]}
    auth = None
    if how == "wrong_secret":
        auth = (rp.client_id, "nope")
    elif how == "unknown_client":
        auth = ("0123456789abcdef", "nope")
    elif how == "id_without_secret":  # a confidential client may not use `none`
        data["client_id"] = rp.client_id
    elif how == "secret_in_body_wrong":
        data.update(client_id=rp.client_id, client_secret="nope")
    answer = client.post("/revoke", data=data, auth=auth, headers={"Host": HOST})
    assert answer.status_code == 401, answer.text
    assert answer.json["error"] == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.headers["Cache-Control"] == "no-store"
    assert works(client, rp, tokens) and revocations(demo) == []


def test_the_secret_in_the_body_authenticates_too(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    answer = client.post("/revoke", data={"token": tokens["access_token"], "client_id": rp.client_id,
                                          "client_secret": rp.secret}, headers={"Host": HOST})
    assert answer.status_code == 200, answer.text
    assert userinfo(client, tokens["access_token"]).status_code == 401


@pytest.mark.parametrize("case", ["missing", "empty", "twice", "too_long", "control", "not_ascii",
                                  "in_the_query", "two_client_auths"])
def test_a_bad_request_is_invalid_request(client, mailbox, rp, demo, case):
    tokens = tokens_for(client, mailbox, rp)
    token = tokens["refresh_token"]
    path, data = "/revoke", {"token": token}
    if case == "missing":
        data = {}
    elif case == "empty":
        data = {"token": ""}
    elif case == "twice":
        data = {"token": [token, token]}
    elif case == "too_long":
        data = {"token": "x" * 8193}
    elif case == "control":
        data = {"token": token + "\x00"}
    elif case == "not_ascii":
        data = {"token": token + "ä"}
    elif case == "in_the_query":  # RFC 7009 §2.1: in the body; a token has no place in a URL
        path, data = f"/revoke?token={token}", {}
    elif case == "two_client_auths":
        data["client_secret"] = rp.secret
    answer = client.post(path, data=data, auth=(rp.client_id, rp.secret), headers={"Host": HOST})
    assert answer.status_code == 400, answer.text
    assert answer.json["error"] == "invalid_request"
    assert answer.headers["Cache-Control"] == "no-store"
    assert works(client, rp, tokens) and revocations(demo) == []


def test_the_token_of_a_disabled_account_is_already_void(client, mailbox, rp, demo, accounts):
    tokens = tokens_for(client, mailbox, rp)
    accounts.set_disabled(accounts.find_by_email("alice@example.com").login, True)
    assert revoke(client, rp, tokens["refresh_token"]).status_code == 200
    assert revocations(demo) == []


def test_a_grant_not_yet_exchanged_is_untouched(client, mailbox, rp):
    """Revoking one grant's tokens leaves a code of the same person's next grant usable."""
    from tests.support.oidc import exchange

    tokens = tokens_for(client, mailbox, rp)
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    assert revoke(client, rp, tokens["refresh_token"]).status_code == 200
    fresh = exchange(client, rp, code, verifier)
    assert fresh.status_code == 200, fresh.text
    assert userinfo(client, fresh.json["access_token"]).status_code == 200
