"""Error pages: a title per family of failure, and a reference the admin finds in the logs."""

import html
import logging
import re

import pytest

from codeb import audit, i18n
from codeb.errors import AccountDisabled, CodebError, InteractionExpired, RateLimited, StorageFull, StoreBusy, TooEarly
from codeb.web import errors
from tests.support.web import HOST, csrf_of, sign_in

REFERENCE = re.compile(r'<code class="reference-id">([2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4})</code>')
RAISED = {
    "expired-link": (CodebError("error.link_expired"), "error.title.link_expired"),
    "used-link": (CodebError("error.link_used"), "error.title.link_expired"),
    "expired-signin": (InteractionExpired(), "error.title.signin_expired"),
    "disabled": (AccountDisabled(), "error.title.account_disabled"),
    "rate-limited": (RateLimited(120), "error.title.too_many"),
    "too-early": (TooEarly(30, "error.magic.resend_too_early"), "error.title.too_many"),
    "busy": (StoreBusy(), "error.title.unavailable"),
    "full": (StorageFull(), "error.title.unavailable"),
    "app": (CodebError("error.authorize.unknown_client"), "error.title.app_request"),
    "bug": (ZeroDivisionError("a bug"), "error.title.server"),
}


@pytest.fixture
def raising(app):
    """A route that raises what the test names, as a view deep in the domain would."""
    def boom(kind):
        raise RAISED[kind][0]
    app.add_url_rule("/test-raise/<kind>", "test_raise", boom)
    return app.test_client()


def title_of(page):
    return html.unescape(re.search(r"<h1>([^<]*)</h1>", page).group(1))


def reference_of(html):
    found = REFERENCE.findall(html)
    assert len(found) == 1, "an error page shows one reference"
    return found[0]


@pytest.mark.parametrize("lang", i18n.SHIPPED)
@pytest.mark.parametrize("kind", sorted(RAISED))
def test_each_family_of_error_has_its_own_title(raising, kind, lang):
    error, title_id = RAISED[kind]
    response = raising.get(f"/test-raise/{kind}", headers={"Host": HOST, "Accept-Language": lang})
    assert response.status_code == getattr(error, "status", 500)
    assert response.mimetype == "text/html"
    assert title_of(response.text) == i18n.translate(lang, title_id)
    assert title_id != "error.title"  # not "Something went wrong" for all
    assert 'class="alert alert-' in response.text
    assert "a bug" not in response.text and "Traceback" not in response.text
    reference_of(response.text)


@pytest.mark.parametrize("make, status, title_id", [
    (lambda c: c.get("/no-such-page", headers={"Host": HOST}), 404, "error.title.not_found"),
    (lambda c: c.put("/signin", headers={"Host": HOST}), 405, "error.title.method_not_allowed"),
    (lambda c: c.post("/language", data={"lang": "de"}, headers={"Host": HOST}), 400, "error.title.form_expired"),
])
def test_http_errors_have_their_titles(client, make, status, title_id):
    response = make(client)
    assert response.status_code == status
    assert title_of(response.text) == i18n.translate("en", title_id)
    assert response.headers["Cache-Control"] == "no-store"
    reference_of(response.text)


def test_not_allowed_for_a_signed_in_person_who_is_no_admin(client, mailbox):
    sign_in(client, mailbox, "ben@example.com")
    response = client.get("/admin/users", headers={"Host": HOST})
    assert response.status_code == 403
    assert title_of(response.text) == "Not allowed"
    assert 'href="/"' in response.text  # signed in: back to the start page, not to sign-in


def test_the_reference_is_in_the_process_log_and_the_tenants_audit_log(raising, tenants, caplog):
    with caplog.at_level(logging.WARNING, logger="codeb"):
        page = raising.get("/test-raise/expired-link", headers={"Host": HOST})
    reference = reference_of(page.text)
    assert any(reference in record.getMessage() for record in caplog.records)
    lines = [e for e in audit.read_all(tenants.get("demo").store) if e.get("reference") == reference]
    assert len(lines) == 1
    assert lines[0]["event"] == "error.shown" and lines[0]["status"] == 400
    assert lines[0]["message"] == "error.link_expired" and lines[0]["rule"] == "/test-raise/<kind>"
    assert not [e for e in audit.read_all(tenants.get("acme").store) if e.get("reference") == reference]


def test_an_unexpected_failure_logs_its_reference_with_the_traceback(raising, caplog):
    with caplog.at_level(logging.WARNING, logger="codeb"):
        page = raising.get("/test-raise/bug", headers={"Host": HOST})
    reference = reference_of(page.text)
    logged = [r for r in caplog.records if reference in r.getMessage() and r.exc_info]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError


def test_the_audit_log_never_holds_a_links_secret(client, tenants):
    secret = "Zm9vYmFyc2VjcmV0dG9rZW5fdGhhdF9tdXN0X25vdF9sZWFr"
    client.get(f"/link/{secret}", headers={"Host": HOST})
    client.get(f"/no-such-page/{secret}", headers={"Host": HOST})
    written = str(audit.read_all(tenants.get("demo").store))
    assert "error.shown" in written and secret not in written


def test_a_flood_of_errors_is_counted_and_repeats_show_the_logged_reference(client, tenants):
    references = {reference_of(client.get("/no-such-page", headers={"Host": HOST}).text) for _ in range(5)}
    assert len(references) == 1  # the same error from the same source within the window: one line
    lines = [e for e in audit.read_all(tenants.get("demo").store) if e["event"] == "error.shown"]
    assert [e["reference"] for e in lines] == [references.pop()]


def test_an_audit_log_that_cannot_be_written_still_gives_the_error_page(raising, monkeypatch, caplog):
    def full(*args, **kwargs):
        raise StorageFull()
    monkeypatch.setattr(audit, "error_shown", full)
    with caplog.at_level(logging.WARNING, logger="codeb"):
        page = raising.get("/test-raise/full", headers={"Host": HOST})
    assert page.status_code == 503 and page.headers["Retry-After"] == "60"
    assert reference_of(page.text) in caplog.text


def test_protocol_errors_are_unchanged(client):
    token = client.post("/token", data={"grant_type": "authorization_code"}, headers={"Host": HOST})
    assert token.mimetype == "application/json" and "error" in token.json
    assert "reference" not in token.text


def test_every_title_exists_in_both_languages():
    titles = (set(errors.TITLES_BY_MESSAGE.values()) | set(errors.TITLES_BY_STATUS.values())
              | set(errors.TITLE_FIRST_BY_STATUS.values()) | {t for _, t in errors.TITLES_BY_PREFIX})
    for lang in i18n.SHIPPED:
        assert [t for t in sorted(titles) if t not in i18n.catalogue(lang)] == [], lang
    assert set(errors.TITLES_BY_MESSAGE) <= set(i18n.catalogue("en"))


@pytest.mark.parametrize("lang, expected", [("en", "Unknown address"), ("de-DE,de;q=0.9", "Unbekannte Adresse"),
                                            ("fr", "Unknown address")])
def test_unknown_host_page_is_styled_in_the_browsers_language_and_names_no_tenant(client, lang, expected):
    response = client.get("/signin", headers={"Host": "unknown.example", "Accept-Language": lang})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert title_of(response.text) == expected
    assert 'rel="stylesheet"' in response.text and 'class="alert alert-info"' in response.text
    text = response.text.lower()
    assert "demo" not in text and "acme" not in text and 'name="csrf"' not in text
    reference_of(response.text)


def test_csrf_title_page_offers_the_form_again_in_german(client):
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"})
    assert csrf_of(page.text)
    response = client.post("/language", data={"lang": "en", "csrf": "wrong"},
                           headers={"Host": HOST, "Accept-Language": "de"})
    assert response.status_code == 400 and title_of(response.text) == "Dieses Formular ist abgelaufen"


def test_the_unknown_host_page_gets_its_stylesheet(client):
    """The page links the shared stylesheet; it is served to any host (it names no tenant),
    while every other path of an unknown host stays a 404."""
    page = client.get("/signin", headers={"Host": "unknown.example"})
    sheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text).group(1)
    served = client.get(sheet, headers={"Host": "unknown.example"})
    assert served.status_code == 200 and served.mimetype == "text/css"
    assert client.get("/.well-known/openid-configuration", headers={"Host": "unknown.example"}).status_code == 404
    assert client.get("/static/../codeb/errors.py", headers={"Host": "unknown.example"}).status_code == 404
