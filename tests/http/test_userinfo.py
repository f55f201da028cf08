"""The userinfo endpoint: bearer in header or body, and every way a token can be wrong."""

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from codeb.oidc.clients import FIRST_PARTY
from codeb.store import layout
from tests.support.oidc import tokens_for
from tests.support.web import HOST, OTHER_HOST, RP, csrf_of


def bearer(token):
    return {"Host": HOST, "Authorization": f"Bearer {token}"}


def test_userinfo_get_and_post_header_and_body(client, mailbox, rp):
    access = tokens_for(client, mailbox, rp)["access_token"]
    by_get = client.get("/userinfo", headers=bearer(access))
    by_post = client.post("/userinfo", headers=bearer(access))
    by_body = client.post("/userinfo", data={"access_token": access}, headers={"Host": HOST})
    for response in (by_get, by_post, by_body):
        assert response.status_code == 200, response.text
        assert response.json["email"] == "alice@example.com"
        assert response.json["tenant"] == "demo" and response.json["roles"] == ["user"]
        assert response.json["email_verified"] is True
        assert response.headers["Cache-Control"] == "no-store"


def test_token_in_header_and_body_is_invalid_request(client, mailbox, rp):
    access = tokens_for(client, mailbox, rp)["access_token"]
    response = client.post("/userinfo", data={"access_token": access}, headers=bearer(access))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_no_token_is_401_with_a_bearer_challenge(client):
    response = client.get("/userinfo", headers={"Host": HOST})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_scope_limits_claims(client, mailbox, rp):
    access = tokens_for(client, mailbox, rp, scope="openid")["access_token"]
    claims = client.get("/userinfo", headers=bearer(access)).json
    assert set(claims) == {"sub", "tenant", "roles"}


def _tamper_payload(token):
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["user", "admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _resign_with_foreign_key(token):
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    key = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "attacker"}, claims, key)


def _alg_none(token):
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}."


@pytest.mark.parametrize("mangle", [_tamper_payload, _resign_with_foreign_key, _alg_none,
                                    lambda t: t[:-4], lambda t: "garbage", lambda t: t + "." + t])
def test_tampered_tokens_are_invalid_token(client, mailbox, rp, mangle):
    access = tokens_for(client, mailbox, rp)["access_token"]
    response = client.get("/userinfo", headers=bearer(mangle(access)))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_id_token_is_not_an_access_token(client, mailbox, rp):
    id_token = tokens_for(client, mailbox, rp)["id_token"]
    response = client.get("/userinfo", headers=bearer(id_token))
    assert response.status_code == 401


def test_expired_token_is_invalid(client, mailbox, rp, clock):
    access = tokens_for(client, mailbox, rp)["access_token"]
    clock.advance(3600 + 120)
    assert client.get("/userinfo", headers=bearer(access)).status_code == 401


def test_foreign_tenant_token_is_refused(client, mailbox, rp, tenants):
    """A token of tenant `demo` means nothing at tenant `acme`: other keys, other issuer."""
    from codeb.oidc.clients import Clients

    access = tokens_for(client, mailbox, rp)["access_token"]
    response = client.get("/userinfo", headers={"Host": OTHER_HOST, "Authorization": f"Bearer {access}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # Clients are per tenant too.
    assert Clients(tenants.get("acme").store).get(rp.client_id) is None


def test_deleted_or_disabled_account_token_is_refused(client, mailbox, rp, accounts):
    access = tokens_for(client, mailbox, rp)["access_token"]
    account = accounts.find_by_email("alice@example.com")
    with accounts.update(account.login) as doc:
        doc["disabled"] = True
    assert client.get("/userinfo", headers=bearer(access)).status_code == 401
    with accounts.update(account.login) as doc:
        doc["disabled"] = False
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200
    accounts.delete(account.login)
    assert client.get("/userinfo", headers=bearer(access)).status_code == 401


def test_the_office_shells_token_ends_with_its_browser_session_here_too(client, mailbox):
    """The provider's rule, not the shell API's: signing out in the browser ends the shell's
    token at /userinfo as well as at /api/me."""
    shell = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")
    access = tokens_for(client, mailbox, shell)["access_token"]
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200
    assert client.get("/api/me", headers=bearer(access)).status_code == 200
    page = client.get("/account", headers={"Host": HOST})
    client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    for path in ("/userinfo", "/api/me"):
        refused = client.get(path, headers=bearer(access))
        assert refused.status_code == 401, path
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_the_office_shells_token_without_its_grants_note_is_refused(client, mailbox, demo):
    """A grant's note is written without fsync (layout.NOT_DURABLE): one a power cut took
    leaves the shell's token unprovable, refused, never a token of nobody's session."""
    shell = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")
    access = tokens_for(client, mailbox, shell)["access_token"]
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200
    gid = json.loads(base64.urlsafe_b64decode(access.split(".")[1] + "=="))["gid"]
    assert demo.store.transient(layout.GRANTS).take(gid) is not None
    for path in ("/userinfo", "/api/me"):
        refused = client.get(path, headers=bearer(access))
        assert refused.status_code == 401, path


def test_a_relying_partys_token_outlives_the_browser_session(client, mailbox, rp):
    """Only the first-party shell is bound to the browser: a relying party's token lives its hour."""
    access = tokens_for(client, mailbox, rp)["access_token"]
    page = client.get("/account", headers={"Host": HOST})
    client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200
