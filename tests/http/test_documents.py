"""The fast path of the documents relying parties poll (codeb.web.documents: discovery, the
JWKS, userinfo) answers what Flask would, header by header, and leaves everything else to Flask."""

import pytest
from werkzeug.test import Client

from codeb.oidc import keys
from codeb.oidc.clients import FIRST_PARTY
from codeb.web.documents import BeforeFlask
from tests.support.oidc import signed_in_code, tokens_for
from tests.support.web import HOST, OTHER_HOST, RP, csrf_of

PATHS = ("/.well-known/openid-configuration", "/jwks.json")


def both(app):
    """A client through the fast path, and one straight to Flask behind it."""
    assert isinstance(app.wsgi_app, BeforeFlask)
    return Client(app), Client(app.wsgi_app.inner)


def answer_of(response):
    return response.status_code, sorted(response.headers.items()), response.get_data()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_fast_path_answers_as_flask_does(app, path, scheme):
    fast, flask = both(app)
    first = fast.get(path, headers={"Host": HOST}, base_url=f"{scheme}://{HOST}")
    assert first.status_code == 200 and first.json
    assert answer_of(first) == answer_of(flask.get(path, headers={"Host": HOST}, base_url=f"{scheme}://{HOST}"))
    etag = first.headers["ETag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', '"other"', "*"):
        asked = {"Host": HOST, "If-None-Match": if_none_match}
        mine = fast.get(path, headers=asked, base_url=f"{scheme}://{HOST}")
        assert answer_of(mine) == answer_of(flask.get(path, headers=asked, base_url=f"{scheme}://{HOST}"))
    assert first.headers["Access-Control-Allow-Origin"] == "*" and "Content-Security-Policy" in first.headers
    assert ("Strict-Transport-Security" in first.headers) == (scheme == "https")


def test_the_fast_path_does_answer_without_flask(app, monkeypatch):
    """Flask is not asked for a plain GET of either document; it is for everything else."""
    asked = []
    inner = app.wsgi_app.inner
    monkeypatch.setattr(app.wsgi_app, "inner", lambda environ, start: asked.append(environ["PATH_INFO"])
                        or inner(environ, start))
    client = app.test_client()
    for path in PATHS:
        assert client.get(path, headers={"Host": HOST}).status_code == 200
    assert asked == []
    assert client.get(PATHS[0] + "?x=1", headers={"Host": HOST}).status_code == 200
    assert client.head(PATHS[1], headers={"Host": HOST}).status_code == 200
    assert client.get(PATHS[0], headers={"Host": "nobody.localhost"}).status_code == 404
    assert client.get("/signin", headers={"Host": HOST}).status_code == 200
    assert asked == [PATHS[0], PATHS[1], PATHS[0], "/signin"]


def test_an_unknown_host_gets_flasks_answer_and_is_looked_up_once(app, tenants, monkeypatch):
    fast, flask = both(app)
    looked = []
    real = type(tenants).for_host
    monkeypatch.setattr(type(tenants), "for_host", lambda self, host: looked.append(host) or real(self, host))
    mine = fast.get(PATHS[1], headers={"Host": "nobody.localhost"})
    assert mine.status_code == 404 and looked == ["nobody.localhost"]
    assert answer_of(mine)[0] == answer_of(flask.get(PATHS[1], headers={"Host": "nobody.localhost"}))[0]


def test_a_key_rotated_by_another_process_is_served_on_the_next_request(app, demo):
    client = app.test_client()
    before = client.get("/jwks.json", headers={"Host": HOST}).json["keys"]
    keys.rotate(demo.store)
    after = client.get("/jwks.json", headers={"Host": HOST}).json["keys"]
    assert len(after) == len(before) + 1 and {k["kid"] for k in before} < {k["kid"] for k in after}


def test_a_failure_of_the_fast_path_is_flasks_to_answer(app, demo, monkeypatch):
    """A broken key file is not the fast path's to explain: Flask logs it and renders its answer."""
    fast, flask = both(app)
    monkeypatch.setattr("codeb.web.documents.key_set", lambda tenant, issuer: 1 / 0)
    monkeypatch.setattr("codeb.web.documents.DOCUMENTS", {"/jwks.json": lambda tenant, issuer: 1 / 0})
    assert answer_of(fast.get("/jwks.json", headers={"Host": HOST}))[0] == \
        answer_of(flask.get("/jwks.json", headers={"Host": HOST}))[0] == 500


def bearer(token, host=HOST):
    return {"Host": host, "Authorization": f"Bearer {token}"}


def flask_asked(app, monkeypatch) -> list:
    asked: list = []
    inner = app.wsgi_app.inner
    monkeypatch.setattr(app.wsgi_app, "inner", lambda environ, start: asked.append(environ["PATH_INFO"])
                        or inner(environ, start))
    return asked


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("scope", ["openid", "openid profile email"])
def test_userinfo_answers_a_relying_partys_server_as_flask_does(app, client, mailbox, rp, monkeypatch, scheme,
                                                                scope):
    access = tokens_for(client, mailbox, rp, scope=scope)["access_token"]
    fast, flask = both(app)
    asked = flask_asked(app, monkeypatch)
    mine = fast.get("/userinfo", headers=bearer(access), base_url=f"{scheme}://{HOST}")
    assert mine.status_code == 200 and mine.json["sub"] and asked == []
    assert set(mine.json) >= ({"email", "name"} if "email" in scope else {"sub", "tenant", "roles"})
    assert answer_of(mine) == answer_of(flask.get("/userinfo", headers=bearer(access),
                                                  base_url=f"{scheme}://{HOST}"))
    assert mine.headers["Cache-Control"] == "no-store" and mine.headers["Access-Control-Allow-Origin"] == "*"


def test_userinfo_a_browser_and_every_other_shape_of_request_is_flasks(app, client, mailbox, rp, monkeypatch):
    """A cookie (a browser, a guest's), a POST, a query, a token in the body or no bearer at all:
    Flask answers, as it did before the fast path."""
    access = tokens_for(client, mailbox, rp)["access_token"]
    asked = flask_asked(app, monkeypatch)
    fast = Client(app)
    assert client.get("/userinfo", headers=bearer(access)).status_code == 200  # the signed-in browser's cookie
    assert fast.post("/userinfo", headers=bearer(access)).status_code == 200
    assert fast.get("/userinfo?x=1", headers=bearer(access)).status_code == 200
    assert fast.post("/userinfo", data={"access_token": access}, headers={"Host": HOST}).status_code == 200
    assert fast.get("/userinfo", headers={"Host": HOST, "Authorization": f"Basic {access}"}).status_code == 401
    assert fast.get("/userinfo", headers={"Host": HOST}).status_code == 401
    assert asked == ["/userinfo"] * 6
    assert fast.get("/userinfo", headers=bearer(access)).status_code == 200 and len(asked) == 6


def _mangled(token):
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{signature[:-6]}AAAAAA"


@pytest.mark.parametrize("refusal", ["tampered", "id_token", "expired", "other_tenant", "disabled", "deleted",
                                     "shell_signed_out", "garbage"])
def test_userinfo_refused_tokens_get_flasks_answer(app, client, mailbox, rp, accounts, clock, refusal):
    """A refused token is not the fast path's to explain: the same RFC 6750 answer as before."""
    shell = refusal == "shell_signed_out"
    tokens = tokens_for(client, mailbox, RP(FIRST_PARTY, None, f"http://{HOST}/office.html") if shell else rp)
    token, host = tokens["access_token"], HOST
    account = accounts.find_by_email("alice@example.com")
    if refusal == "tampered":
        token = _mangled(token)
    elif refusal == "id_token":
        token = tokens["id_token"]
    elif refusal == "expired":
        clock.advance(3600 + 120)
    elif refusal == "other_tenant":
        host = OTHER_HOST
    elif refusal == "disabled":
        with accounts.update(account.login) as doc:
            doc["disabled"] = True
    elif refusal == "deleted":
        accounts.delete(account.login)
    elif refusal == "shell_signed_out":
        assert Client(app).get("/userinfo", headers=bearer(token)).status_code == 200
        page = client.get("/account", headers={"Host": HOST})
        client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    elif refusal == "garbage":
        token = "garbage"
    fast, flask = both(app)
    mine = fast.get("/userinfo", headers=bearer(token, host))
    assert mine.status_code == 401 and 'error="invalid_token"' in mine.headers["WWW-Authenticate"]
    assert answer_of(mine) == answer_of(flask.get("/userinfo", headers=bearer(token, host)))


def token_form(client, rp, code, verifier):
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier}


def post_token(caller, rp, data, secret=None, **kwargs):
    return caller.post("/token", data=data, auth=(rp.client_id, secret or rp.secret), headers={"Host": HOST},
                       **kwargs)


def without_varying(response):
    """Status, headers and the body's names: what two token answers share (tokens differ)."""
    fields = sorted((k, v) for k, v in response.headers.items() if k != "Content-Length")
    return response.status_code, fields, sorted(response.json)


def test_token_answers_a_relying_partys_server_as_flask_does(app, client, mailbox, rp, monkeypatch):
    """A code exchange and a refresh from a relying party's server (no cookie): the same answer
    as Flask gives, and Flask not asked."""
    fast, flask = both(app)
    codes = [signed_in_code(client, mailbox, rp) for _ in range(2)]
    asked = flask_asked(app, monkeypatch)
    mine = post_token(fast, rp, token_form(client, rp, codes[0][0], codes[0][1]))
    assert mine.status_code == 200 and mine.json["id_token"] and asked == []
    theirs = post_token(flask, rp, token_form(client, rp, codes[1][0], codes[1][1]))
    assert without_varying(mine) == without_varying(theirs)
    assert mine.headers["Cache-Control"] == "no-store" and mine.headers["Access-Control-Allow-Origin"] == "*"
    refreshed = post_token(fast, rp, {"grant_type": "refresh_token", "refresh_token": mine.json["refresh_token"]})
    also = post_token(flask, rp, {"grant_type": "refresh_token", "refresh_token": theirs.json["refresh_token"]})
    assert refreshed.status_code == 200 and without_varying(refreshed) == without_varying(also) and asked == []
    replayed = post_token(fast, rp, {"grant_type": "refresh_token", "refresh_token": mine.json["refresh_token"]})
    assert replayed.status_code == 400 and replayed.json["error"] == "invalid_grant"
    assert fast.get("/userinfo", headers=bearer(refreshed.json["access_token"])).status_code == 401  # grant revoked


@pytest.mark.parametrize("case", ["unsupported_grant_type", "invalid_client", "invalid_grant", "no_code",
                                  "invalid_request"])
def test_token_refusals_are_the_same_on_both_paths(app, rp, case):
    fast, flask = both(app)
    data = {"unsupported_grant_type": {"grant_type": "password", "username": "a", "password": "b"},
            "invalid_client": {"grant_type": "refresh_token", "refresh_token": "x"},
            "invalid_grant": {"grant_type": "authorization_code", "code": "nothing", "redirect_uri": rp.redirect_uri,
                              "code_verifier": "v" * 43},
            "no_code": {"grant_type": "authorization_code"},
            "invalid_request": {"grant_type": ["refresh_token", "authorization_code"]}}[case]
    secret = "wrong" if case == "invalid_client" else None
    mine, theirs = post_token(fast, rp, data, secret), post_token(flask, rp, data, secret)
    assert 400 <= mine.status_code < 500 and mine.json["error"]
    assert answer_of(mine) == answer_of(theirs)


def test_token_what_the_endpoint_does_not_answer_as_json_is_flasks_without_running_it_again(app, rp, monkeypatch):
    """A failure inside the endpoint (here the store busy) or a reply that is no JSON goes to
    the Flask view, which answers it as if it had run the endpoint: the endpoint ran once."""
    from codeb.errors import StoreBusy
    from codeb.oidc.provider import Provider
    from codeb.oidc.requests import Reply

    fast, flask = both(app)
    ran = []
    outcomes = iter([StoreBusy(), StoreBusy(), Reply(302, "", [("Location", "https://rp.example/")]),
                     Reply(302, "", [("Location", "https://rp.example/")])])

    def endpoint(self, request):
        ran.append(request.form.get("grant_type"))
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(Provider, "token", endpoint)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    busy = post_token(fast, rp, data)
    assert busy.status_code == 503 and ran == ["refresh_token"]
    assert answer_of(busy)[0] == answer_of(post_token(flask, rp, data))[0] == 503
    moved = post_token(fast, rp, data)
    assert moved.status_code == 302 and len(ran) == 3
    assert answer_of(moved) == answer_of(post_token(flask, rp, data)) and len(ran) == 4


def test_token_a_browser_a_large_or_odd_request_is_flasks(app, client, mailbox, rp, monkeypatch):
    signed_in_code(client, mailbox, rp)  # the browser holds its session cookie
    asked = flask_asked(app, monkeypatch)
    fast = Client(app)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    assert post_token(client, rp, data).status_code == 400  # a cookie
    assert fast.post("/token?x=1", data=data, auth=(rp.client_id, rp.secret), headers={"Host": HOST}).status_code == 400
    assert post_token(fast, rp, {**data, "pad": "p" * 70_000}).status_code == 400  # over MAX_FORM
    assert post_token(fast, rp, None, json=data).status_code == 400  # not a form
    assert fast.options("/token", headers={"Host": HOST}).status_code == 204
    assert asked == ["/token"] * 5
    assert post_token(fast, rp, data).status_code == 400 and len(asked) == 5
