"""The authorization endpoint's checks, one by one, without Flask or a store.

`codeb.oidc.authorize.CHECKS` is the endpoint read top to bottom; each check
takes the request's context and the provider. Here the provider is a stand-in
holding only what the checks ask of it (clients, scopes, keys, issuers), so
every failure is shown to raise exactly its page or its OAuth error.
"""

import types

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from codeb.oidc import authorize
from codeb.oidc.clients import SCOPES, Client
from codeb.oidc.errors import AuthorizePage, OAuth2Error

ISSUER = "https://login.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256"})
CONFIDENTIAL = Client({"client_id": "c1", "redirect_uris": ["https://rp.example/cb"]})
PUBLIC = Client({"client_id": "p1", "public": True, "redirect_uris": ["https://spa.example/cb"]})
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture
def provider():
    clients = {c.client_id: c for c in (CONFIDENTIAL, PUBLIC)}
    return types.SimpleNamespace(
        query_client=clients.get, scopes_supported=list(SCOPES), issuers={ISSUER},
        keys=types.SimpleNamespace(verifying=KeySet([KEY])))


def params(client=CONFIDENTIAL, **extra):
    base = {"client_id": client.client_id, "redirect_uri": client.doc["redirect_uris"][0],
            "response_type": "code", "scope": "openid", "state": "s"}
    if client.public:
        base.update(code_challenge=CHALLENGE, code_challenge_method="S256")
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def run(provider, values, multi=None):
    ctx = authorize.Context(params=values, multi=multi or {k: [v] for k, v in values.items()})
    return authorize.validate(provider, ctx)


def oauth_error(provider, values, multi=None) -> tuple[str, str]:
    with pytest.raises(OAuth2Error) as failure:
        run(provider, values, multi)
    return failure.value.error, failure.value.description


def hint(key=KEY, header=None, **claims):
    return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})},
                      {"iss": ISSUER, "sub": "s-1", "aud": "c1", **claims}, key)


def test_the_endpoint_is_its_list_of_checks_client_and_redirect_first():
    names = [check.__name__ for check in authorize.CHECKS]
    assert names[:2] == ["check_client", "check_redirect_uri"]
    assert len(names) == len(set(names))


def test_a_good_request_passes_and_learns_the_client(provider):
    ctx = run(provider, params(prompt="login", max_age="60"))
    assert ctx.client is CONFIDENTIAL and ctx.redirect_uri == "https://rp.example/cb"
    assert ctx.prompts == {"login"} and ctx.max_age == 60


@pytest.mark.parametrize(("change", "message_id"), [
    ({"client_id": None}, "error.authorize.missing_client"),
    ({"client_id": "nobody"}, "error.authorize.unknown_client"),
    ({"redirect_uri": None}, "error.authorize.missing_redirect_uri"),
    ({"redirect_uri": "https://rp.example/cb/"}, "error.authorize.redirect_uri_mismatch"),
    ({"redirect_uri": "https://evil.example/cb"}, "error.authorize.redirect_uri_mismatch"),
])
def test_an_unproven_client_or_redirect_is_a_page_never_a_redirect(provider, change, message_id):
    values = {**params(), **change}
    with pytest.raises(AuthorizePage) as failure:
        run(provider, {k: v for k, v in values.items() if v is not None})
    assert failure.value.message_id == message_id


def test_a_page_comes_before_any_oauth_error(provider):
    """A bad redirect URI and a bad response type: the redirect URI is never used."""
    with pytest.raises(AuthorizePage):
        run(provider, params(redirect_uri="https://evil.example/cb", response_type="token"))


@pytest.mark.parametrize(("change", "error"), [
    ({"response_type": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"request": "eyJ..."}, "request_not_supported"),
    ({"request_uri": "https://rp.example/r"}, "request_uri_not_supported"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"code_challenge_method": "S256"}, "invalid_request"),           # a method without a challenge
    ({"code_challenge": CHALLENGE, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": CHALLENGE}, "invalid_request"),                # S256 must be said
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"prompt": "always"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "1e3"}, "invalid_request"),
    ({"max_age": "1" * 11}, "invalid_request"),
])
def test_each_bad_parameter_is_its_oauth_error(provider, change, error):
    values = {**params(), **change}
    assert oauth_error(provider, {k: v for k, v in values.items() if v is not None})[0] == error


def test_a_parameter_sent_twice_is_refused(provider):
    values = params()
    multi = {k: [v] for k, v in values.items()}
    multi["scope"] = ["openid", "openid email"]
    assert oauth_error(provider, values, multi) == ("invalid_request", "'scope' appears more than once.")


def test_every_kept_parameter_has_a_length_cap():
    """Finding 6: an interaction stores the kept parameters for half an hour; each has a cap."""
    assert set(authorize.MAX_LENGTH) == set(authorize.KEPT)
    assert authorize.MAX_LENGTH["state"] == authorize.MAX_LENGTH["nonce"] == 512


@pytest.mark.parametrize("name", ["state", "nonce", "scope", "prompt", "login_hint", "ui_locales",
                                  "max_age", "code_challenge", "code_challenge_method", "id_token_hint",
                                  "response_type", "response_mode"])
def test_an_oversize_parameter_is_invalid_request(provider, name):
    """Finding 6: a parameter longer than its cap (a 120,000-character `state`) is refused with
    `invalid_request` once the redirect URI is proven, before anything is stored."""
    limit = authorize.MAX_LENGTH[name]
    error, description = oauth_error(provider, params(**{name: "a" * (limit + 1)}))
    assert error == "invalid_request" and f"'{name}'" in description
    if name in ("state", "nonce", "login_hint"):  # free text: exactly at the cap is fine
        assert run(provider, params(**{name: "a" * limit}))


def test_an_oversize_client_id_or_redirect_uri_is_a_page(provider):
    """Finding 6: before the redirect URI is proven, an oversize one is a page, never a redirect."""
    for change in ({"client_id": "c" * 10_000}, {"redirect_uri": "https://rp.example/cb?" + "x" * 10_000}):
        with pytest.raises(AuthorizePage):
            run(provider, {**params(), **change})


def test_a_public_client_must_use_pkce(provider):
    values = params(PUBLIC, code_challenge=None, code_challenge_method=None)
    assert oauth_error(provider, values) == ("invalid_request", "PKCE ('code_challenge') is required.")
    assert run(provider, params(PUBLIC)).client is PUBLIC


def test_an_id_token_hint_must_be_this_providers(provider):
    assert run(provider, params(id_token_hint=hint(exp=1))).hint_sub == "s-1"  # expired is fine
    for bad in (hint(OTHER_KEY), hint(iss="https://elsewhere.example"), "not.a.jwt", hint(sub="")):
        assert oauth_error(provider, params(id_token_hint=bad))[0] == "invalid_request"


@pytest.mark.parametrize("access_token", [
    hint(header={"typ": "at+jwt"}, client_id="c1", scope="openid"),   # an access token as issued
    hint(header={"typ": "application/at+jwt"}),                        # RFC 9068 §2.1, either spelling
    hint(header={"typ": "JWT"}, client_id="c1"),                       # its claims give it away
    hint(header={"typ": "JWT"}, scope="openid"),
    hint(aud=None),                                                    # no audience: no ID token
])
def test_an_access_token_is_no_id_token_hint(provider, access_token):
    """Finding 16: only an ID token of this provider is a hint of who is signed in; an
    access token (typ `at+jwt`, or a `client_id` or `scope` claim) is `invalid_request`."""
    assert oauth_error(provider, params(id_token_hint=access_token)) == (
        "invalid_request", "'id_token_hint' is not an ID token of this provider.")
    assert run(provider, params(id_token_hint=hint(header={"typ": "JWT"}))).hint_sub == "s-1"


def account(sub="s-1"):
    return types.SimpleNamespace(sub=sub)


@pytest.mark.parametrize(("values", "signed_in", "just", "satisfied"), [
    ({}, None, False, False),
    ({}, (account(), 1000), False, True),
    ({"prompt": "login"}, (account(), 1000), False, False),
    ({"prompt": "login"}, (account(), 1000), True, True),       # this very sign-in was the login
    ({"max_age": "60"}, (account(), 1000 - 61), False, False),
    ({"max_age": "60"}, (account(), 1000 - 60), False, True),
    ({"max_age": "0"}, (account(), 1000 - 1), True, True),
])
def test_when_the_browser_session_answers_at_once(provider, values, signed_in, just, satisfied):
    ctx = run(provider, params(**values))
    assert authorize.session_satisfies(ctx, signed_in, 1000, just_signed_in=just) is satisfied


def test_a_hint_naming_someone_else_needs_a_new_sign_in(provider):
    ctx = run(provider, params(id_token_hint=hint()))
    assert not authorize.session_satisfies(ctx, (account("s-2"), 1000), 1000, just_signed_in=True)
    assert authorize.session_satisfies(ctx, (account("s-1"), 1000), 1000, just_signed_in=False)


def test_an_interaction_keeps_only_the_known_parameters():
    kept = authorize.kept_params({**params(), "nonce": "n", "evil": "x", "ui_locales": "de", "scope": None})
    assert "evil" not in kept and kept["nonce"] == "n" and kept["ui_locales"] == "de" and "scope" not in kept
