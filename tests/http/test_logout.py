"""RP-Initiated Logout 1.0 and signing out from the site itself."""

from urllib.parse import urlencode

from tests.support.oidc import authorize_params, get_authorize, tokens_for
from tests.support.web import HOST, csrf_of, pkce_pair, query_of


def is_signed_in(client, rp):
    response = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="none"))
    return "code" in query_of(response.headers["Location"])


def test_logout_with_id_token_hint_redirects_with_state_and_ends_the_session(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    assert is_signed_in(client, rp)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9999/bye",
              "state": "bye1"}
    response = client.get("/logout?" + urlencode(params), headers={"Host": HOST})
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:9999/bye?state=bye1"
    assert not is_signed_in(client, rp)


def test_unregistered_post_logout_uri_is_never_followed(client, mailbox, rp):
    tokens = tokens_for(client, mailbox, rp)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"}
    response = client.get("/logout?" + urlencode(params), headers={"Host": HOST})
    assert response.status_code == 200 and "Location" not in response.headers
    assert not is_signed_in(client, rp)


def test_logout_without_hint_asks_first(client, mailbox, rp):
    tokens_for(client, mailbox, rp)
    page = client.get("/logout?post_logout_redirect_uri=http://127.0.0.1:9999/bye", headers={"Host": HOST})
    assert page.status_code == 200 and 'id="confirm-signout"' in page.text
    assert is_signed_in(client, rp)  # a GET alone signs nobody out
    forged = client.post("/logout", data={"confirm": "1"}, headers={"Host": HOST})
    assert forged.status_code == 400 and is_signed_in(client, rp)  # no CSRF token
    done = client.post("/logout", data={"confirm": "1", "csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert done.status_code == 200  # no proven RP: no redirect (RP-Initiated Logout §3)
    assert not is_signed_in(client, rp)


def test_sign_out_button_needs_csrf_and_ends_the_session(client, mailbox, rp):
    tokens_for(client, mailbox, rp)
    home = client.get("/account", headers={"Host": HOST})
    assert client.post("/signout", headers={"Host": HOST}).status_code == 400
    assert is_signed_in(client, rp)
    out = client.post("/signout", data={"csrf": csrf_of(home.text)}, headers={"Host": HOST})
    assert out.status_code == 303 and not is_signed_in(client, rp)


def test_an_access_token_as_hint_asks_first_and_never_redirects(client, mailbox, rp):
    """Finding 16: an access token is no ID token (RP-Initiated Logout §2: the OP MUST
    validate the hint as an ID token it issued). Such a hint proves nothing, so the person is
    asked (§6), nobody is signed out by the GET, and no post-logout redirect follows (§4)."""
    tokens = tokens_for(client, mailbox, rp)
    params = {"id_token_hint": tokens["access_token"], "post_logout_redirect_uri": "http://127.0.0.1:9999/bye",
              "state": "bye1"}
    page = client.get("/logout?" + urlencode(params), headers={"Host": HOST})
    assert page.status_code == 200 and 'id="confirm-signout"' in page.text, page.text
    assert "Location" not in page.headers
    assert 'name="id_token_hint"' not in page.text  # the refused hint is not carried on
    assert is_signed_in(client, rp)
    done = client.post("/logout", data={**params, "confirm": "1", "csrf": csrf_of(page.text)},
                       headers={"Host": HOST})
    assert done.status_code == 200 and "Location" not in done.headers
    assert not is_signed_in(client, rp)


def test_a_bad_hint_asks_first_never_signs_out_silently(client, mailbox, rp):
    """Finding 16: a hint that is not a valid ID token of this tenant is treated as no hint:
    the confirmation page, never a silent sign-out, never a redirect."""
    tokens_for(client, mailbox, rp)
    for bad in ("abc.def.ghi", "not-a-jwt"):
        response = client.get("/logout?" + urlencode({"id_token_hint": bad,
                                                     "post_logout_redirect_uri": "http://127.0.0.1:9999/bye"}),
                              headers={"Host": HOST})
        assert response.status_code == 200 and 'id="confirm-signout"' in response.text
        assert "Location" not in response.headers
        assert is_signed_in(client, rp)
