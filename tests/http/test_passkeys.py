"""Passkeys over HTTP with a software authenticator: the JSON calls, sessions, and tokens."""

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from codeb.accounts.passkeys import Passkeys
from tests.support.authenticator import SoftAuthenticator
from tests.support.oidc import authorize_params, exchange, follow_local, get_authorize
from tests.support.web import (
    HOST,
    LINK_STEP,
    confirm_first_profile,
    csrf_of,
    field_error,
    pkce_pair,
    query_of,
    sign_in,
)

ORIGIN = "http://localhost"


def token_of(client, path="/signin"):
    return csrf_of(client.get(path, headers={"Host": HOST}).text)


def post(client, path, body, token):
    return client.post(path, json=body, headers={"Host": HOST, "X-CSRF-Token": token})


def enroll(client, mailbox, email="alice@example.com", authenticator=None, name="Laptop"):
    """Sign up by magic link: the profile step, then create a passkey in the passkey step."""
    done = sign_in(client, mailbox, email, confirm_profile=False)
    assert done.headers["Location"].endswith("/welcome")
    assert confirm_first_profile(client, passkey_step=None).headers["Location"] == "/welcome/passkey"
    token = csrf_of(client.get("/welcome/passkey", headers={"Host": HOST}).text)
    authenticator = authenticator or SoftAuthenticator(ORIGIN)
    options = post(client, "/account/passkeys/options", {"name": name}, token)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json["publicKey"])
    added = post(client, "/account/passkeys/verify", {"challenge_id": options.json["challenge_id"],
                                                      "credential": credential, "name": name}, token)
    assert added.status_code == 200, added.text
    assert added.json["redirect"] == "/office.html"  # the steps are done: on to where the sign-in was going
    return authenticator, added


def passkey_sign_in(client, authenticator, **kw):
    token = token_of(client)
    options = post(client, "/signin/passkey/begin", {}, token)
    assert options.status_code == 200, options.text
    assertion = authenticator.get(options.json["publicKey"], **kw)
    return post(client, "/signin/passkey/complete", {"challenge_id": options.json["challenge_id"],
                                            "credential": assertion}, token)


def test_options_are_usernameless_with_the_tenants_rp_id_and_uv_policy(client):
    options = post(client, "/signin/passkey/begin", {}, token_of(client)).json["publicKey"]
    assert options["rpId"] == "localhost"
    assert options.get("allowCredentials", []) == []
    assert options["userVerification"] == "required"


def test_enroll_then_sign_in_with_the_passkey(client, app, mailbox, accounts):
    authenticator, added = enroll(client, mailbox)
    assert added.json["passkey"]["name"] == "Laptop"
    account = accounts.find_by_email("alice@example.com")
    [passkey] = account.doc["passkeys"]
    assert passkey["name"] == "Laptop" and passkey["public_key"] and "private" not in str(passkey)
    other_browser = app.test_client()
    result = passkey_sign_in(other_browser, authenticator)
    assert result.status_code == 200, result.text
    assert result.json["redirect"] == "/office.html"
    assert other_browser.get("/account", headers={"Host": HOST}).status_code == 200


def amr_of_a_passkey_sign_in(app, rp, authenticator):
    """Authorize at the RP, sign in with the passkey, exchange the code; the ID token's amr."""
    browser = app.test_client()
    verifier, challenge = pkce_pair()
    first = get_authorize(browser, authorize_params(rp, challenge))
    iid = query_of(first.headers["Location"])["i"]
    token = csrf_of(follow_local(browser, first).text)
    options = post(browser, "/signin/passkey/begin", {}, token)
    assertion = authenticator.get(options.json["publicKey"])
    done = post(browser, "/signin/passkey/complete", {"challenge_id": options.json["challenge_id"],
                                             "credential": assertion, "i": iid}, token)
    assert done.json["redirect"] == f"/authorize/resume?i={iid}"
    answer = browser.get(done.json["redirect"], headers={"Host": HOST})
    code = query_of(answer.headers["Location"])["code"]
    tokens = exchange(browser, rp, code, verifier).json
    keys = KeySet.import_key_set(browser.get("/jwks.json", headers={"Host": HOST}).json)
    return jwt.decode(tokens["id_token"], keys).claims["amr"]


def test_passkey_sign_in_resumes_the_authorization_and_amr_says_how(client, app, mailbox, rp):
    authenticator, _ = enroll(client, mailbox)
    assert amr_of_a_passkey_sign_in(app, rp, authenticator) == ["hwk", "user", "mfa"]


def test_synced_passkey_is_a_software_key_in_amr(client, app, mailbox, rp, demo):
    authenticator, _ = enroll(client, mailbox, authenticator=SoftAuthenticator(ORIGIN, backup_eligible=True))
    assert amr_of_a_passkey_sign_in(app, rp, authenticator) == ["swk", "user", "mfa"]
    with demo.store.update("tenant") as doc:
        doc["passkeys"]["user_verification"] = "preferred"
    authenticator.user_verified = False
    assert amr_of_a_passkey_sign_in(app, rp, authenticator) == ["swk", "user"]


def test_json_calls_need_the_csrf_header(client):
    client.get("/signin", headers={"Host": HOST})
    response = client.post("/signin/passkey/begin", json={}, headers={"Host": HOST})
    assert response.status_code == 400


def test_registration_needs_a_signed_in_account(client):
    response = post(client, "/account/passkeys/options", {}, token_of(client))
    assert response.status_code == 400 and response.json["error"] == "error.signin_required"


def test_challenge_is_bound_to_the_browser_and_single_use(client, app, mailbox):
    authenticator, _ = enroll(client, mailbox)
    victim, attacker = app.test_client(), app.test_client()
    options = post(victim, "/signin/passkey/begin", {}, token_of(victim))
    assertion = authenticator.get(options.json["publicKey"])
    stolen = post(attacker, "/signin/passkey/complete", {"challenge_id": options.json["challenge_id"],
                                                "credential": assertion}, token_of(attacker))
    assert stolen.status_code == 400 and stolen.json["error"] == "error.passkey_challenge"
    # The id's MAC names the victim's browser: the attacker's attempt spent nothing, the
    # victim signs in with it, and once only.
    mine = post(victim, "/signin/passkey/complete", {"challenge_id": options.json["challenge_id"],
                                            "credential": assertion}, token_of(victim))
    assert mine.status_code == 200, mine.json
    again = post(victim, "/signin/passkey/complete", {"challenge_id": options.json["challenge_id"],
                                             "credential": assertion}, token_of(victim))
    assert again.status_code == 400 and again.json["error"] == "error.passkey_challenge"


def test_wrong_origin_is_refused(client, app, mailbox):
    authenticator, _ = enroll(client, mailbox)
    result = passkey_sign_in(app.test_client(), authenticator, origin="http://evil.localhost")
    assert result.status_code == 400 and result.json["error"] == "error.passkey_wrong_site"
    assert "different site" in result.json["message"]


def test_credential_of_another_tenant_is_unknown_here(client, app, mailbox):
    authenticator, _ = enroll(client, mailbox)
    acme = app.test_client()
    token = csrf_of(acme.get("/signin", headers={"Host": "acme.localhost"}).text)
    options = acme.post("/signin/passkey/begin", json={}, headers={"Host": "acme.localhost", "X-CSRF-Token": token})
    assertion = authenticator.get(options.json["publicKey"], origin="http://acme.localhost")
    result = acme.post("/signin/passkey/complete", json={"challenge_id": options.json["challenge_id"],
                                                "credential": assertion},
                       headers={"Host": "acme.localhost", "X-CSRF-Token": token})
    assert result.status_code == 400 and result.json["error"] == "error.passkey_unknown"


def test_uv_required_refuses_an_unverified_assertion(client, app, mailbox, accounts):
    authenticator, _ = enroll(client, mailbox)
    authenticator.user_verified = False
    result = passkey_sign_in(app.test_client(), authenticator)
    assert result.json["error"] == "error.passkey_uv_required"


def test_german_error_messages(client, app, mailbox):
    authenticator, _ = enroll(client, mailbox)
    browser = app.test_client()
    token = csrf_of(browser.get("/signin", headers={"Host": HOST, "Accept-Language": "de"}).text)
    options = browser.post("/signin/passkey/begin", json={}, headers={"Host": HOST, "X-CSRF-Token": token})
    assertion = authenticator.get(options.json["publicKey"], origin="http://evil.localhost")
    result = browser.post("/signin/passkey/complete", json={"challenge_id": options.json["challenge_id"],
                                                   "credential": assertion},
                          headers={"Host": HOST, "X-CSRF-Token": token, "Accept-Language": "de"})
    assert result.json["message"] == "Dieser Passkey gehört zu einer anderen Seite."


@pytest.mark.parametrize("body", [[], "x", {"credential": "x"}, {"challenge_id": "0" * 32, "credential": {}},
                                  {"challenge_id": "../../x", "credential": {"id": "a"}}])
def test_malformed_verify_requests_get_a_clear_json_error(client, body):
    response = post(client, "/signin/passkey/complete", body, token_of(client))
    assert response.status_code == 400 and response.json["message"]


def test_account_page_renames_and_removes(client, mailbox, accounts, demo):
    authenticator, _ = enroll(client, mailbox)
    page = client.get("/account/sign-in", headers={"Host": HOST})
    assert "Laptop" in page.text and "Stored in" in page.text
    credential_id = accounts.find_by_email("alice@example.com").doc["passkeys"][0]["id"]
    renamed = client.post("/account/passkeys/rename", data={"csrf": csrf_of(page.text), "id": credential_id,
                                                            "name": "Work\x00 laptop"}, headers={"Host": HOST})
    assert renamed.status_code == 303
    assert "Work laptop" in client.get("/account/sign-in", headers={"Host": HOST}).text
    # With the magic link off, the only passkey is the last way in: refused.
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["passkey"]
    refused = client.post("/account/passkeys/remove", data={"csrf": csrf_of(page.text), "id": credential_id},
                          headers={"Host": HOST})
    assert refused.status_code == 409 and "last way to sign in" in refused.text
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["magic_link", "passkey"]
    removed = client.post("/account/passkeys/remove", data={"csrf": csrf_of(page.text), "id": credential_id},
                          headers={"Host": HOST})
    assert removed.status_code == 303
    assert Passkeys(demo, accounts).owner(credential_id) is None
    assert demo.store.index("credential").get(credential_id) is None


def test_first_sign_in_confirms_the_profile_then_continues_to_the_client(client, mailbox, rp):
    verifier, challenge = pkce_pair()
    first = get_authorize(client, authorize_params(rp, challenge))
    iid = query_of(first.headers["Location"])["i"]
    done = sign_in(client, mailbox, "new@example.com", interaction=iid, confirm_profile=False)
    assert done.headers["Location"].endswith("/welcome")
    # Nothing else is reachable before the profile is confirmed: the request waits.
    confirmed = confirm_first_profile(client, display_name="New Person")
    assert confirmed.headers["Location"] == f"/authorize/resume?i={iid}"


def test_passkey_requested_from_the_email_field_is_offered_after_the_link(client, app, mailbox):
    sign_in(client, mailbox, "alice@example.com")  # an account with a confirmed profile
    browser = app.test_client()
    page = browser.get("/signin", headers={"Host": HOST})
    browser.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "alice@example.com",
                                            "then": "passkey"}, headers={"Host": HOST})
    from urllib.parse import urlsplit
    path = urlsplit(mailbox.last_link(to="alice@example.com")).path
    link_page = browser.get(path, headers={"Host": HOST})
    done = browser.post(LINK_STEP, data={"csrf": csrf_of(link_page.text), "link": path[6:]}, headers={"Host": HOST})
    assert done.headers["Location"] == "/welcome/passkey"
    skipped = browser.get("/welcome/continue", headers={"Host": HOST})
    assert skipped.headers["Location"] == "/office.html"


DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize("path, signed_in", [("/signin/passkey/complete", False), ("/signin/passkey/begin", False),
                                             ("/account/passkeys/verify", True)])
def test_deeply_nested_json_is_a_400_not_a_500(app, client, mailbox, path, signed_in):
    """Finding 13: 50,000-deep JSON made the parser raise RecursionError, which no JSON view
    caught (500); the app's one JSON loader turns it into the bad-request answer."""
    if signed_in:
        sign_in(client, mailbox, "alice@example.com")
    token = token_of(client, "/account" if signed_in else "/signin")
    response = client.post(path, data=DEEP, content_type="application/json",
                           headers={"Host": HOST, "X-CSRF-Token": token})
    assert response.status_code == 400, response.text
    assert response.json["error"] == "error.bad_request" and response.json["message"]
    with app.test_request_context(data=DEEP, content_type="application/json"):
        from flask import request
        assert request.get_json(silent=True) is None  # what every other JSON body (/api/me) gets


def test_the_expected_origin_is_the_configured_one_not_the_host_headers(client, app, mailbox):
    """Finding 11: the WebAuthn origin a sign-in expects followed the raw Host port; an
    assertion made for `http://localhost:9999` was accepted when the request said port 9999."""
    authenticator, _ = enroll(client, mailbox)
    app.config["CODEB_PORT"] = 8000
    steered = {"Host": "localhost:9999"}

    def attempt(origin):
        browser = app.test_client()
        token = csrf_of(browser.get("/signin", headers=steered).text)
        options = browser.post("/signin/passkey/begin", json={}, headers={**steered, "X-CSRF-Token": token})
        assertion = authenticator.get(options.json["publicKey"], origin=origin)
        return browser.post("/signin/passkey/complete", json={"challenge_id": options.json["challenge_id"],
                                                              "credential": assertion},
                            headers={**steered, "X-CSRF-Token": token})
    refused = attempt("http://localhost:9999")
    assert refused.status_code == 400 and refused.json["error"] == "error.passkey_wrong_site"
    assert attempt("http://localhost:8000").status_code == 200


def test_too_many_passkey_challenges_from_one_client_is_a_429_json_error(app, monkeypatch):
    """Finding 6: past the per-client limit on challenge creation the sign-in page's script
    gets a 429 with a message id and Retry-After, and nothing more is stored."""
    import codeb.accounts.passkeys
    monkeypatch.setattr(codeb.accounts.passkeys, "CHALLENGES_PER_CLIENT", ((3, 60),))
    answers = []
    for _ in range(4):
        browser = app.test_client()  # a fresh browser each time: the per-browser cap is no help
        answers.append(post(browser, "/signin/passkey/begin", {}, token_of(browser)))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json["error"] == "error.passkey_rate_limited" and "wait" in answers[-1].json["message"]
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_credential_changes_need_a_recent_sign_in(client, mailbox, accounts, clock):
    """Finding 15: any session, however old, could add or remove a passkey. Now registration and
    removal need a sign-in within the last ten minutes; an older session is sent to confirm it is
    the person (nothing changes), and after signing in again it is back on the account page."""
    authenticator, _ = enroll(client, mailbox)
    login = accounts.find_by_email("alice@example.com").login
    before = accounts.get(login).doc["passkeys"]
    clock.advance(11 * 60)
    page = client.get("/account", headers={"Host": HOST})
    token = csrf_of(page.text)
    options = post(client, "/account/passkeys/options", {}, token)
    assert options.status_code == 403 and options.json["error"] == "error.reauth_required"
    assert options.json["reauth"] == "/account/confirm" and "sign in again" in options.json["message"]
    assert post(client, "/account/passkeys/verify", {"challenge_id": "x", "credential": {}}, token).status_code == 403
    removed = client.post("/account/passkeys/remove", data={"csrf": token, "id": before[0]["id"]},
                          headers={"Host": HOST})
    assert removed.status_code == 303 and removed.headers["Location"] == "/account/confirm"
    assert accounts.get(login).doc["passkeys"] == before
    with accounts.update(login) as doc:
        doc["language"] = "de"
    confirm = client.get("/account/confirm", headers={"Host": HOST})
    assert confirm.status_code == 200 and "Bestätigen Sie, dass Sie es sind" in confirm.text
    again = passkey_sign_in(client, authenticator)  # re-authenticate with an existing method
    assert again.status_code == 200 and again.json["redirect"] == "/account/sign-in"
    token = csrf_of(client.get("/account/sign-in", headers={"Host": HOST}).text)
    assert post(client, "/account/passkeys/options", {}, token).status_code == 200
    removed = client.post("/account/passkeys/remove", data={"csrf": token, "id": before[0]["id"]},
                          headers={"Host": HOST})
    assert removed.status_code == 303 and accounts.get(login).doc["passkeys"] == []


def test_a_refused_rename_marks_that_passkeys_name_field(client, mailbox, accounts):
    """Finding 22: a refused passkey name is shown beside that passkey's name field, with what was typed."""
    enroll(client, mailbox)
    page = client.get("/account/sign-in", headers={"Host": HOST})
    credential_id = accounts.find_by_email("alice@example.com").doc["passkeys"][0]["id"]
    refused = client.post("/account/passkeys/rename", data={"csrf": csrf_of(page.text), "id": credential_id,
                                                            "name": "x" * 61}, headers={"Host": HOST})
    assert refused.status_code == 400 and field_error(refused.text, "name-1")
    assert 'value="' + "x" * 61 + '"' in refused.text


def test_the_first_sign_in_screen_marks_its_field(client, mailbox):
    """Finding 22: the first-sign-in profile screen uses the same field errors as the account page."""
    sign_in(client, mailbox, "newbie@example.com", confirm_profile=False)
    refused = confirm_first_profile(client, nickname="<script>")
    assert refused.status_code == 400 and "up to 15" in field_error(refused.text, "nickname")
    assert 'id="welcome-error"' not in refused.text
