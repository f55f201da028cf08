"""URL rules compile their builders when a URL is first built (codeb.web.urls), and build what Werkzeug's would."""

import pytest
from flask import url_for
from werkzeug.routing import Map
from werkzeug.routing import Rule as WerkzeugRule
from werkzeug.routing.converters import NumberConverter

from codeb.web import urls
from codeb.web.app import create_app
from tests.support.web import HOST


@pytest.fixture
def compiled(monkeypatch):
    """The rules of ours whose builders Werkzeug compiled, one entry per compiled builder."""
    seen: list[str] = []
    compile_builder = WerkzeugRule._compile_builder

    def counting(rule, append_unknown=True):
        if isinstance(rule, urls.Rule):
            seen.append(rule.endpoint)
        return compile_builder(rule, append_unknown)

    monkeypatch.setattr(WerkzeugRule, "_compile_builder", counting)
    return seen


def test_create_app_compiles_no_builder_and_url_for_only_the_one_it_uses(tenants, data_root, compiled):
    app = create_app({"CODEB_DATA": str(data_root), "TESTING": True})
    ours = [rule for rule in app.url_map.iter_rules() if isinstance(rule, urls.Rule)]
    assert len(ours) > 50  # every blueprint's routes are of this kind
    assert compiled == []
    with app.test_request_context("/", headers={"Host": HOST}):
        assert url_for("oidc.jwks") == "/jwks.json"
        assert url_for("oidc.jwks") == "/jwks.json"
        assert url_for("signin.page", i="abc") == "/signin?i=abc"
    assert compiled == ["oidc.jwks", "signin.page"]
    # And a request is matched without compiling any builder.
    assert app.test_client().get("/.well-known/openid-configuration", headers={"Host": HOST}).status_code == 200
    assert compiled == ["oidc.jwks", "signin.page"]


def test_every_route_builds_the_url_werkzeug_builds(app):
    eager, checked = Map(), 0
    for rule in app.url_map.iter_rules():
        if not isinstance(rule, urls.Rule):
            continue
        checked += 1
        twin = WerkzeugRule(rule.rule, endpoint=rule.endpoint, defaults=rule.defaults, methods=rule.methods)
        eager.add(twin)
        # quoting of each part included; a number where the rule's converter takes one
        values = {name: 7 if isinstance(rule._converters.get(name), NumberConverter) else f"a b/{name}ä"
                  for name in rule.arguments}
        for extra in ({}, {"next": "/x?y=1", "lang": "de"}):
            for append_unknown in (True, False):
                assert rule.build({**values, **extra}, append_unknown) == \
                    twin.build({**values, **extra}, append_unknown), rule.rule
    assert checked > 50
