"""The public documents' fast path (codeb.web.documents) answers what Flask would, header
by header, and leaves everything else to Flask."""

import pytest
from werkzeug.test import Client

from codeb.oidc import keys
from codeb.web.documents import PublicDocuments
from tests.support.web import HOST

PATHS = ("/.well-known/openid-configuration", "/jwks.json")


def both(app):
    """A client through the fast path, and one straight to Flask behind it."""
    assert isinstance(app.wsgi_app, PublicDocuments)
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
