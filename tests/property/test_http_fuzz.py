"""Arbitrary requests through Flask's test client: whatever the form fields, query and
headers, the answer is never a 5xx (DESIGN: 4xx never 500)."""

from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.strategies import field_text
from tests.support.web import HOST, OTHER_HOST

# Header values travel as Latin-1 (RFC 9110 §5.5); a test client cannot send more.
latin1 = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
NAMES = st.sampled_from(["client_id", "redirect_uri", "response_type", "scope", "state", "prompt", "max_age",
                         "code_challenge", "code_challenge_method", "id_token_hint", "grant_type", "code",
                         "code_verifier", "refresh_token", "client_secret", "post_logout_redirect_uri",
                         "email", "csrf", "i", "ui_locales", "login_hint"]) | st.text(max_size=8)
fields = st.lists(st.tuples(NAMES, field_text | st.text(max_size=80)), max_size=8)
headers = st.fixed_dictionaries({"Host": st.sampled_from([HOST, OTHER_HOST]) | latin1}, optional={
    "Authorization": st.sampled_from(["Basic ", "Bearer ", "Basic Og==", "Bearer a.b.c"]).flatmap(
        lambda prefix: latin1.map(lambda rest: prefix + rest)) | latin1,
    "Accept-Language": latin1, "Origin": latin1, "Cookie": latin1, "Content-Type": latin1,
    "Accept": st.sampled_from(["application/json", "text/html", "*/*"]) | latin1,
})
ENDPOINTS = st.sampled_from([("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/token"),
                             ("GET", "/userinfo"), ("POST", "/userinfo"), ("GET", "/logout"),
                             ("POST", "/logout"), ("GET", "/signin"), ("POST", "/signin/magic-link/begin"),
                             ("POST", "/signin/password/complete"), ("POST", "/signup"), ("GET", "/authorize/resume"),
                             ("GET", "/.well-known/openid-configuration"), ("GET", "/jwks.json"),
                             ("POST", "/signin/continue"), ("POST", "/signin/continue-as"), ("POST", "/signin/back"),
                             ("POST", "/signin/another"), ("GET", "/authorize/consent"),
                             ("POST", "/authorize/consent")])


@settings(max_examples=50)
@given(ENDPOINTS, fields, fields, headers)
def test_no_request_gets_a_server_error(client, endpoint, query, form, sent):
    method, path = endpoint
    url = path + ("?" + urlencode(query) if query else "")
    if method == "GET":
        response = client.get(url, headers=sent)
    else:
        content_type = sent.get("Content-Type", "application/x-www-form-urlencoded")
        response = client.post(url, data=urlencode(form), headers={**sent, "Content-Type": content_type})
    assert response.status_code < 500, (method, url, form, sent, response.text[:300])


@settings(max_examples=25)
@given(st.sampled_from(["/signin/passkey/begin", "/signin/passkey/complete", "/api/me"]),
       st.binary(max_size=200) | st.integers(1, 50_000).map(lambda n: b"[" * n), headers)
def test_no_json_body_gets_a_server_error(client, path, body, sent):
    response = client.post(path, data=body, headers={**sent, "Content-Type": "application/json"})
    assert response.status_code < 500, (path, body[:100], sent, response.text[:300])
