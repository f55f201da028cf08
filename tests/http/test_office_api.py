"""The office shell's API (`/api/me`): only the shell's own tokens, and only while its
browser session lives."""

from urllib.parse import urlencode

import pytest

from codeb.oidc.clients import FIRST_PARTY
from tests.support.oidc import tokens_for
from tests.support.web import HOST, RP, csrf_of

SHELL = RP(FIRST_PARTY, None, f"http://{HOST}/office.html")


def bearer(token, **extra):
    return {"Host": HOST, "Authorization": f"Bearer {token}", **extra}


def test_the_shells_token_reads_and_changes_the_account(client, mailbox):
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    me = client.get("/api/me", headers=bearer(access))
    assert me.status_code == 200 and me.json["email"] == "alice@example.com"
    changed = client.patch("/api/me", json={"language": "de"}, headers=bearer(access))
    assert changed.status_code == 200 and changed.json["language"] == "de"


def test_a_relying_partys_token_is_refused_at_the_shells_api(client, mailbox, rp, accounts):
    """Finding 2: a token a third-party app got (even with only `openid`) neither reads the
    account's email, SIP address and extension nor changes its language: RFC 9068 §4, the
    token's audience is that app, not this API (`invalid_token`, RFC 6750 §3.1)."""
    access = tokens_for(client, mailbox, rp, scope="openid")["access_token"]
    for method in ("GET", "PATCH"):
        response = client.open("/api/me", method=method, json={"language": "de"}, headers=bearer(access))
        assert response.status_code == 401, (method, response.text)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert "alice" not in response.text
    assert accounts.find_by_email("alice@example.com").language != "de"
    # The same token is still good where it belongs.
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200


@pytest.mark.parametrize("body", [[1], "de", 7, None, {"language": ["de"]}, {"language": {"x": 1}},
                                  {"language": 5}, {}])
def test_a_patch_that_is_not_a_language_object_is_a_clear_400(client, mailbox, accounts, body):
    """Finding 13: `PATCH /api/me` with `[1]` (or any body that is not an object naming a
    language) is a 400 that says what to send, never a 500, and changes nothing."""
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    response = client.patch("/api/me", json=body, headers=bearer(access))
    assert response.status_code == 400, response.text
    assert response.json["error"] == "invalid_request"
    assert "language" in response.json["error_description"]
    assert accounts.find_by_email("alice@example.com").language in (None, "en")


def test_a_patch_that_is_not_json_is_a_clear_400(client, mailbox):
    """Finding 13: a body that is not JSON at all is refused the same way."""
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    response = client.patch("/api/me", data="language=de", headers=bearer(access))
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def sign_out_like_the_shell(client, id_token):
    """What static/js/office/oidc.js `signOut` does: RP-initiated logout with its ID token."""
    params = {"post_logout_redirect_uri": f"http://{HOST}/", "id_token_hint": id_token}
    return client.get("/logout?" + urlencode(params), headers={"Host": HOST})


def test_the_shells_sign_out_ends_its_token(client, mailbox):
    """Finding 17: the shell signs out at /logout (its ID token as the hint): its access
    token then fails at /userinfo and at /api/me."""
    tokens = tokens_for(client, mailbox, SHELL)
    access = tokens["access_token"]
    assert client.get("/api/me", headers=bearer(access)).status_code == 200
    out = sign_out_like_the_shell(client, tokens["id_token"])
    assert out.status_code == 302 and out.headers["Location"] == f"http://{HOST}/"
    for path in ("/userinfo", "/api/me"):
        refused = client.get(path, headers=bearer(access))
        assert refused.status_code == 401, path
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_a_request_in_flight_during_the_sign_out_does_not_bring_the_session_back(client, app, mailbox):
    """Finding 17: IIS answers a browser's requests in parallel processes. A request that
    loaded the session before the shell signed out and saves it afterwards (here: a page that
    changed the session's language) must not recreate it, or the shell's token lives on."""
    tokens = tokens_for(client, mailbox, SHELL)
    access = tokens["access_token"]
    cookie = client.get_cookie("codeb", domain=HOST).value
    with app.test_request_context("/", headers={"Host": HOST, "Cookie": f"codeb={cookie}"}):
        app.preprocess_request()  # the request in flight: its session is loaded now
        from flask import g
        in_flight = g.session
        assert in_flight is not None and in_flight.login
        sign_out_like_the_shell(client, tokens["id_token"])  # meanwhile, the shell signs out
        in_flight.set("lang", "de")
        g.sessions.save(in_flight)  # ...and the request in flight finishes
        assert not g.sessions.alive(in_flight.listed_id, g.account)
    elsewhere = app.test_client()
    for path in ("/userinfo", "/api/me"):
        assert elsewhere.get(path, headers=bearer(access)).status_code == 401, path


def test_ending_every_session_ends_the_shells_token_even_one_not_listed(client, app, mailbox, accounts):
    """Finding 17: the shell's token lives as long as its browser session *is valid*, by the
    same rules that load it (account there and enabled, not older than "sign out everywhere"),
    not merely while a session record happens to be on disk."""
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    login = accounts.find_by_email("alice@example.com").login
    with accounts.update(login) as doc:
        doc["sessions"] = []  # the session fell off the listed ones (the account lists 20)
    page = client.get("/account", headers={"Host": HOST})
    assert page.status_code == 200
    accounts.revoke_issued(login)  # what "sign out everywhere" records for every process
    elsewhere = app.test_client()  # the API is called with the token alone, no cookie
    for path in ("/userinfo", "/api/me"):
        assert elsewhere.get(path, headers=bearer(access)).status_code == 401, path
    assert client.get("/account", headers={"Host": HOST}).status_code in (302, 303)


def test_the_sign_out_button_ends_the_shells_token(client, mailbox):
    """The "lives no longer than its browser session" rule, at /userinfo as at /api/me."""
    access = tokens_for(client, mailbox, SHELL)["access_token"]
    page = client.get("/account", headers={"Host": HOST})
    client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    for path in ("/userinfo", "/api/me"):
        assert client.get(path, headers=bearer(access)).status_code == 401, path
