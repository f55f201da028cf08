"""The consent screen: asked for `prompt=consent` and for third-party apps, remembered per
account, client and scope set, revocable in the account settings; Deny and `prompt=none`
answer the client with `access_denied` and `consent_required`."""

import json

import pytest

from codeb.accounts import Accounts, privacy
from codeb.oidc.clients import Clients
from tests.support.oidc import authorize_params, exchange, follow_local, get_authorize
from tests.support.web import HOST, OTHER_HOST, RP, csrf_of, pkce_pair, query_of, sign_in


@pytest.fixture
def third_party(demo):
    """An app of another company: the admin marked it as needing the person's consent."""
    client, secret = Clients(demo.store).add(name="Partner App", redirect_uris=["http://127.0.0.1:9999/partner"],
                                             consent_required=True)
    return RP(client.client_id, secret, "http://127.0.0.1:9999/partner")


def authorize(client, rp, **extra):
    verifier, challenge = pkce_pair()
    return get_authorize(client, authorize_params(rp, challenge, **extra)), verifier


def consent_page(client, rp, mailbox, **extra):
    """Sign in for the app (first time), or authorize with the session: the consent screen."""
    first, verifier = authorize(client, rp, **extra)
    if first.headers["Location"].startswith("/signin"):
        iid = query_of(first.headers["Location"])["i"]
        done = sign_in(client, mailbox, "alice@example.com", interaction=iid)
        first = follow_local(client, done)  # /authorize/resume
    assert first.status_code == 303 and first.headers["Location"].startswith("/authorize/consent?i="), first.headers
    iid = query_of(first.headers["Location"])["i"]
    return follow_local(client, first), iid, verifier


def decide(client, page, iid, decision):
    return client.post("/authorize/consent", data={"csrf": csrf_of(page.text), "i": iid, "decision": decision},
                       headers={"Host": HOST})


def allow(client, page, iid):
    went = decide(client, page, iid, "allow")
    assert went.status_code == 303 and went.headers["Location"] == f"/authorize/resume?i={iid}"
    answer = follow_local(client, went)
    assert answer.status_code == 302, answer.text
    return query_of(answer.headers["Location"])


def test_a_third_party_app_asks_once_and_the_answer_is_remembered(client, third_party, mailbox, accounts):
    page, iid, verifier = consent_page(client, third_party, mailbox)
    assert page.status_code == 200
    assert "Allow Partner App access?" in page.text
    for words in ("Your email address", "Your name, nickname and language", "Know who you are"):
        assert words in page.text
    assert 'value="allow"' in page.text and 'value="deny"' in page.text
    assert "form-action 'self' http://127.0.0.1:9999" in page.headers["Content-Security-Policy"]
    query = allow(client, page, iid)
    assert query["state"] == "st4te" and query["code"]
    assert exchange(client, third_party, query["code"], verifier).status_code == 200
    # Remembered: the next authorize answers at once.
    again, _ = authorize(client, third_party)
    assert again.status_code == 302 and query_of(again.headers["Location"])["code"]
    account = accounts.find_by_email("alice@example.com")
    assert account.doc["consents"][third_party.client_id]["scopes"] == ["email", "openid", "profile"]


def test_more_scopes_than_allowed_ask_again(client, third_party, mailbox):
    page, iid, _ = consent_page(client, third_party, mailbox, scope="openid email")
    assert "Your name" not in page.text
    allow(client, page, iid)
    assert authorize(client, third_party, scope="openid")[0].status_code == 302  # covered
    more, _ = authorize(client, third_party, scope="openid email profile")
    assert more.headers["Location"].startswith("/authorize/consent?i=")


def test_deny_sends_access_denied_with_the_state(client, third_party, mailbox, accounts):
    page, iid, _ = consent_page(client, third_party, mailbox)
    denied = decide(client, page, iid, "deny")
    assert denied.status_code == 302 and denied.headers["Location"].startswith(third_party.redirect_uri + "?")
    query = query_of(denied.headers["Location"])
    assert query["error"] == "access_denied" and query["state"] == "st4te" and "code" not in query
    assert not accounts.find_by_email("alice@example.com").doc.get("consents")
    # The request is over.
    assert client.get(f"/authorize/consent?i={iid}", headers={"Host": HOST}).status_code == 400


def test_prompt_none_with_consent_needed_is_consent_required(client, third_party, rp, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    answer, _ = authorize(client, third_party, prompt="none")
    assert answer.status_code == 302
    query = query_of(answer.headers["Location"])
    assert query["error"] == "consent_required" and query["state"] == "st4te"
    # An app without the mark answers prompt=none with a code.
    plain, _ = authorize(client, rp, prompt="none")
    assert query_of(plain.headers["Location"])["code"]


def test_prompt_consent_asks_even_a_first_party_app_and_even_when_remembered(client, rp, third_party, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    assert authorize(client, rp)[0].status_code == 302  # no consent for an app without the mark
    page, iid, _ = consent_page(client, rp, mailbox, prompt="consent")
    assert "Allow Test RP access?" in page.text
    assert allow(client, page, iid)["code"]
    page, iid, _ = consent_page(client, third_party, mailbox)
    allow(client, page, iid)
    page, iid, _ = consent_page(client, third_party, mailbox, prompt="consent")  # asked again
    assert allow(client, page, iid)["code"]


def test_revoking_in_the_account_settings_asks_again(client, third_party, mailbox):
    page, iid, _ = consent_page(client, third_party, mailbox)
    allow(client, page, iid)
    settings = client.get("/account/sign-in", headers={"Host": HOST})
    assert "Apps you allowed" in settings.text and "Partner App" in settings.text
    assert "Your email address" in settings.text
    refused = client.post("/account/consents/revoke", data={"client_id": third_party.client_id},
                          headers={"Host": HOST})
    assert refused.status_code == 400  # CSRF
    revoked = client.post("/account/consents/revoke", data={"csrf": csrf_of(settings.text),
                                                            "client_id": third_party.client_id},
                          headers={"Host": HOST})
    assert revoked.status_code == 303 and revoked.headers["Location"].endswith("m=consent_revoked")
    shown = client.get(revoked.headers["Location"], headers={"Host": HOST})
    assert "Access withdrawn" in shown.text and "Partner App" not in shown.text
    asked, _ = authorize(client, third_party)
    assert asked.headers["Location"].startswith("/authorize/consent?i=")
    twice = client.post("/account/consents/revoke", data={"csrf": csrf_of(settings.text),
                                                          "client_id": third_party.client_id},
                        headers={"Host": HOST})
    assert twice.status_code == 400 and "no access to withdraw" in twice.text


def test_the_consent_decision_needs_csrf_and_this_browsers_sign_in(client, app, third_party, mailbox):
    page, iid, _ = consent_page(client, third_party, mailbox)
    assert client.post("/authorize/consent", data={"i": iid, "decision": "allow"},
                       headers={"Host": HOST}).status_code == 400
    bad = client.post("/authorize/consent", data={"csrf": csrf_of(page.text), "i": iid, "decision": "maybe"},
                      headers={"Host": HOST})
    assert bad.status_code == 400
    # Another browser (signed in as someone else) cannot answer this browser's request.
    other = app.test_client()
    sign_in(other, mailbox, "mallory@example.com")
    theirs = other.get(f"/authorize/consent?i={iid}", headers={"Host": HOST})
    assert theirs.status_code == 303 and theirs.headers["Location"].startswith("/signin")
    settings = other.get("/account/sign-in", headers={"Host": HOST})
    forged = other.post("/authorize/consent", data={"csrf": csrf_of(settings.text), "i": iid, "decision": "allow"},
                        headers={"Host": HOST})
    assert forged.status_code == 303 and forged.headers["Location"].startswith("/signin")


def test_another_tenants_request_is_unknown_on_the_consent_screen(client, third_party, mailbox):
    page, iid, _ = consent_page(client, third_party, mailbox)
    elsewhere = client.get(f"/authorize/consent?i={iid}", headers={"Host": OTHER_HOST})
    assert elsewhere.status_code in (303, 400) and "Partner App" not in elsewhere.text


def test_the_apps_logo_on_the_consent_screen(client, demo, third_party, mailbox):
    with demo.store.update("clients", third_party.client_id) as doc:
        doc["logo_uri"] = "https://partner.example/logo.svg"
    page, _, _ = consent_page(client, third_party, mailbox)
    assert 'src="https://partner.example/logo.svg"' in page.text
    assert "img-src 'self' data: https://partner.example;" in page.headers["Content-Security-Policy"]


def test_the_german_consent_screen(client, third_party, mailbox):
    page, iid, _ = consent_page(client, third_party, mailbox, ui_locales="de")
    assert '<html lang="de">' in page.text
    assert "Partner App Zugriff erlauben?" in page.text and "Ihre E-Mail-Adresse" in page.text
    assert ">Erlauben<" in page.text and ">Ablehnen<" in page.text


def test_consents_are_exported_and_go_with_the_account(client, demo, third_party, mailbox, accounts):
    page, iid, _ = consent_page(client, third_party, mailbox)
    allow(client, page, iid)
    account = accounts.find_by_email("alice@example.com")
    exported = privacy.exported_account(account.doc)
    assert exported["consents"][0]["client_id"] == third_party.client_id
    assert json.dumps(exported)  # machine-readable
    Accounts(demo.store, demo.hosts[0]).delete(account.login, keep_an_admin=False)
    assert accounts.find_by_email("alice@example.com") is None


def test_the_admin_sets_the_logo_and_the_consent_mark_and_a_bad_logo_is_refused(demo):
    clients = Clients(demo.store)
    client, _ = clients.add(name="Partner", redirect_uris=["https://p.example/cb"], consent_required=True,
                            logo_uri="https://p.example/logo.png")
    assert client.consent_required and client.logo_uri == "https://p.example/logo.png"
    for bad in ("http://p.example/logo.png", "javascript:alert(1)", "https://", "https://a b/x",
                "https://user:pw@p.example/l.png", "data:image/png;base64,AAAA"):
        with pytest.raises(Exception) as refused:
            clients.update(client.client_id, name="Partner", redirect_uris=["https://p.example/cb"], logo_uri=bad)
        assert getattr(refused.value, "message_id", "") == "error.invalid_logo_uri"
    updated = clients.update(client.client_id, name="Partner", redirect_uris=["https://p.example/cb"])
    assert not updated.consent_required and updated.logo_uri is None


def test_the_admins_client_form_sets_logo_and_consent_and_names_a_bad_logo(client, app, accounts, mailbox, demo):
    from tests.support.web import field_error

    admin = app.test_client()
    account = accounts.create(email="root@example.com", roles=("user", "admin"))
    assert account
    sign_in(admin, mailbox, "root@example.com")
    page = admin.get("/admin/clients", headers={"Host": HOST})
    assert 'name="logo_uri"' in page.text and 'name="consent_required"' in page.text
    form = {"csrf": csrf_of(page.text), "name": "Partner", "redirect_uris": "https://partner.example/cb",
            "logo_uri": "http://partner.example/logo.png", "consent_required": "1"}
    bad = admin.post("/admin/clients", data=form, headers={"Host": HOST})
    assert bad.status_code == 400 and "https:// address of an image" in (field_error(bad.text, "logo-uri") or "")
    assert 'value="http://partner.example/logo.png"' in bad.text and Clients(demo.store).list() == []
    created = admin.post("/admin/clients", data={**form, "logo_uri": "https://partner.example/logo.png"},
                         headers={"Host": HOST})
    assert created.status_code == 303
    (stored,) = Clients(demo.store).list()
    assert stored.consent_required and stored.logo_uri == "https://partner.example/logo.png"
    shown = admin.get(f"/admin/clients/{stored.client_id}", headers={"Host": HOST})
    assert 'value="https://partner.example/logo.png"' in shown.text
    assert 'name="consent_required" value="1" checked' in shown.text


def test_consent_and_the_account_list_carry_no_english_in_german(app, third_party, mailbox):
    from tests.http.test_german_pages import assert_german

    client = app.test_client()
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"})
    client.post("/language", data={"csrf": csrf_of(page.text), "lang": "de", "next": "/"}, headers={"Host": HOST})
    page, iid, _ = consent_page(client, third_party, mailbox)
    assert_german(page)
    allow(client, page, iid)
    settings = client.get("/account/sign-in", headers={"Host": HOST})
    assert "Apps mit Ihrer Erlaubnis" in settings.text and "Partner App" in settings.text
    assert_german(settings)
