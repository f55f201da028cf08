"""/help/oidc, the integrators' page: every endpoint discovery names, and each capability's
section with the provider's own figures, so the page says what the provider does."""

from codeb.oidc import authorize, client_assertion, discovery
from tests.support.web import HOST


def test_the_page_lists_every_endpoint_and_each_capability(client, demo):
    page = client.get("/help/oidc", headers={"Host": HOST})
    assert page.status_code == 200
    for name in discovery.PATHS:
        assert f"<code>http://{HOST}{discovery.PATHS[name]}</code>" in page.text, name
    for section in ("revocation", "private-key-jwt", "client-credentials", "par", "dpop", "backchannel", "fapi"):
        assert f'id="{section}"' in page.text, section
    assert f"at most {client_assertion.MAX_LIFETIME} seconds" in page.text
    assert f"once and for {authorize.PUSHED_LIFETIME} seconds" in page.text
    assert "client set demo CLIENT_ID" in page.text and "--fapi on" in page.text
    for alg in discovery.DPOP_ALGORITHMS:
        assert alg in page.text


def test_the_page_in_german(client):
    page = client.get("/help/oidc", headers={"Host": HOST, "Accept-Language": "de"})
    assert "Backchannel-Logout" in page.text and "FAPI-2.0-Sicherheitsprofil" in page.text
