"""The authorization endpoint: the checks in their order, and the session decision."""

import os
from urllib.parse import urlencode

import pytest

from tests.support.oidc import authorize_params, follow_local, get_authorize, signed_in_code
from tests.support.web import HOST, pkce_pair, query_of


def test_unknown_client_is_a_page_not_a_redirect(client, rp):
    params = authorize_params(rp, pkce_pair()[1], client_id="nosuchclient")
    response = get_authorize(client, params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not registered" in response.text


def test_unregistered_redirect_uri_is_a_page_not_a_redirect(client, rp):
    params = authorize_params(rp, pkce_pair()[1], redirect_uri="https://evil.example/cb")
    response = get_authorize(client, params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "https://evil.example" not in response.text.replace("next", "")  # never a link there
    assert "href=\"https://evil" not in response.text


@pytest.mark.parametrize("variant", [
    "http://127.0.0.1:9999/cb/",        # trailing slash
    "http://127.0.0.1:9999/cb?x=1",     # extra query
    "http://127.0.0.1:9999/CB",         # case
    "http://127.0.0.1:9999/cb#frag",
    "http://127.0.0.1:9999/cb/../cb",
])
def test_redirect_uri_must_match_exactly(client, rp, variant):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], redirect_uri=variant))
    assert response.status_code == 400 and "Location" not in response.headers


def test_missing_redirect_uri_is_a_page(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], redirect_uri=None))
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("override, error", [
    ({"response_type": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "bogus"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"request": "eyJ..."}, "request_not_supported"),
    ({"request_uri": "https://x/r"}, "request_uri_not_supported"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"id_token_hint": "not-a-jwt"}, "invalid_request"),
])
def test_bad_requests_go_back_to_the_client_with_state_and_iss(client, rp, override, error):
    params = authorize_params(rp, pkce_pair()[1], **override)
    response = get_authorize(client, params)
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(response.headers["Location"])
    assert query["error"] == error
    assert query["state"] == "st4te"
    assert query["iss"] == "http://localhost"


def test_repeated_parameter_is_invalid_request(client, rp):
    url = "/authorize?" + "&".join(f"{k}={v}" for k, v in authorize_params(rp, pkce_pair()[1]).items())
    response = client.get(url + "&state=again", headers={"Host": HOST})
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_public_client_must_use_pkce(client, public_rp):
    response = get_authorize(client, authorize_params(public_rp))
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_confidential_client_may_skip_pkce(client, rp):
    response = get_authorize(client, authorize_params(rp))
    assert response.status_code == 303 and "/signin?i=" in response.headers["Location"]


def test_unknown_parameters_are_ignored(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], foo="bar", claims_locales="x"))
    assert response.status_code == 303


def test_prompt_none_without_session_is_login_required(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="none"))
    query = query_of(response.headers["Location"])
    assert query["error"] == "login_required" and query["state"] == "st4te"
    assert query["iss"] == "http://localhost"


def test_signed_in_session_gets_a_code_at_once(client, mailbox, rp):
    signed_in_code(client, mailbox, rp)
    again = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="none"))
    assert again.status_code == 302
    assert "code" in query_of(again.headers["Location"])


def test_prompt_login_asks_again_and_is_satisfied_by_the_new_sign_in(client, mailbox, rp):
    signed_in_code(client, mailbox, rp)
    again = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="login"))
    assert again.status_code == 303 and "/signin?i=" in again.headers["Location"]
    # The old session cannot answer the waiting request by itself.
    iid = query_of(again.headers["Location"])["i"]
    resumed = client.get(f"/authorize/resume?i={iid}", headers={"Host": HOST})
    assert resumed.status_code == 303 and "/signin" in resumed.headers["Location"]


def test_max_age_exceeded_asks_again(client, mailbox, rp, clock):
    signed_in_code(client, mailbox, rp)
    clock.advance(120)
    within = get_authorize(client, authorize_params(rp, pkce_pair()[1], max_age="600"))
    assert within.status_code == 302 and "code" in query_of(within.headers["Location"])
    beyond = get_authorize(client, authorize_params(rp, pkce_pair()[1], max_age="60"))
    assert beyond.status_code == 303 and "/signin?i=" in beyond.headers["Location"]


def test_max_age_exceeded_with_prompt_none_is_login_required(client, mailbox, rp, clock):
    signed_in_code(client, mailbox, rp)
    clock.advance(120)
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="none", max_age="60"))
    assert query_of(response.headers["Location"])["error"] == "login_required"


def test_id_token_hint_for_someone_else_with_prompt_none_is_login_required(client, mailbox, rp, app):
    from tests.support.oidc import exchange
    code, verifier, _ = signed_in_code(client, mailbox, rp, email="alice@example.com")
    alice_id_token = exchange(client, rp, code, verifier).json["id_token"]
    other = app.test_client()
    signed_in_code(other, mailbox, rp, email="bob@example.com")
    response = get_authorize(other, authorize_params(rp, pkce_pair()[1], prompt="none",
                                                     id_token_hint=alice_id_token))
    assert query_of(response.headers["Location"])["error"] == "login_required"
    same = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="none",
                                                  id_token_hint=alice_id_token))
    assert "code" in query_of(same.headers["Location"])


def test_an_access_token_as_id_token_hint_goes_back_as_invalid_request(client, mailbox, rp):
    """Finding 16: at /authorize too, only an ID token is an `id_token_hint`."""
    from tests.support.oidc import exchange
    code, verifier, _ = signed_in_code(client, mailbox, rp)
    tokens = exchange(client, rp, code, verifier).json
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], id_token_hint=tokens["access_token"]))
    assert response.status_code == 302 and response.headers["Location"].startswith(rp.redirect_uri + "?")
    assert query_of(response.headers["Location"])["error"] == "invalid_request"
    same = get_authorize(client, authorize_params(rp, pkce_pair()[1], id_token_hint=tokens["id_token"]))
    assert "code" in query_of(same.headers["Location"])


def test_login_hint_prefills_the_email_field(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], login_hint="carol@example.com"))
    page = follow_local(client, response)
    assert 'value="carol@example.com"' in page.text


def test_ui_locales_selects_the_sign_in_language(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], ui_locales="de en"))
    page = follow_local(client, response)
    assert '<html lang="de">' in page.text and "Anmelden" in page.text


def test_interaction_ids_are_validated(client):
    for bad in ("../../x", "zz", "0" * 31, "A" * 32):
        response = client.get(f"/authorize/resume?i={bad}", headers={"Host": HOST})
        assert response.status_code == 400


def interactions_on_disk(demo):
    folder = os.path.join(demo.store.root, "transient", "interactions")
    return [n for n in os.listdir(folder) if n.endswith(".json")] if os.path.isdir(folder) else []


def test_an_oversize_state_goes_back_as_invalid_request_and_nothing_is_stored(client, rp, demo):
    """Finding 6: one 120,000-character `state` was stored whole for half an hour. Now it is
    `invalid_request` to the proven redirect URI, without the oversize state echoed back, and
    no interaction is written."""
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], state="s" * 120_000))
    assert response.status_code == 302 and response.headers["Location"].startswith(rp.redirect_uri + "?")
    query = query_of(response.headers["Location"])
    assert query["error"] == "invalid_request" and "state" not in query
    assert len(response.headers["Location"]) < 1000
    assert interactions_on_disk(demo) == []


def test_interactions_are_rate_limited_per_client_ip(client, app, rp, demo, clock, monkeypatch):
    """Finding 6: each cookieless request writes an interaction; a client IP may start only so
    many per window (`interactions.PER_CLIENT`). Over the limit: a 429 page with Retry-After in
    the person's language, and nothing written. Another address is not affected."""
    from codeb.signin import interactions

    monkeypatch.setattr(interactions, "PER_CLIENT", (3, 900))
    params = authorize_params(rp, pkce_pair()[1])
    for _ in range(3):
        assert get_authorize(client, params).status_code == 303
    assert len(interactions_on_disk(demo)) == 3
    over = client.get("/authorize?" + urlencode(params),
                      headers={"Host": HOST, "Accept-Language": "de"})
    assert over.status_code == 429 and "Location" not in over.headers
    assert int(over.headers["Retry-After"]) > 0
    assert "zu viele Anmeldeanfragen" in over.text
    assert len(interactions_on_disk(demo)) == 3
    elsewhere = app.test_client().get("/authorize?" + urlencode(params), headers={"Host": HOST},
                                      environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 303
    clock.advance(901)  # a new window
    assert get_authorize(client, params).status_code == 303


def test_the_interaction_limit_is_generous():
    """Finding 6 with finding 14 in mind: an office behind one address signs in at 9 am."""
    from codeb.signin import interactions

    count, window = interactions.PER_CLIENT
    assert count / window * 900 >= 300
