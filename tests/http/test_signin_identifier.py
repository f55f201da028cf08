"""The identifier-first sign-in page: one email field, the server's choice of the next step, the
app's name, logo and way back, and the signed-in visitor's "Continue / Use another account"."""

import re
from urllib.parse import urlsplit

import pytest

from codeb.accounts import passwords
from codeb.oidc.clients import Clients
from tests.support.oidc import authorize_params, follow_local, get_authorize
from tests.support.saml_idp import ForgingIdP
from tests.support.web import HOST, OTHER_HOST, configure_signin, csrf_of, main_of, pkce_pair, query_of, sign_in

PASSWORD = "Correct-Horse-Battery-9"


def identify(client, email, host=HOST, interaction=None, **extra):
    page = client.get("/signin" + (f"?i={interaction}" if interaction else ""), headers={"Host": host})
    data = {"csrf": csrf_of(page.text), "email": email, **extra}
    if interaction:
        data["i"] = interaction
    return client.post("/signin/continue", data=data, headers={"Host": host})


def interaction_for(client, rp, **extra):
    first = get_authorize(client, authorize_params(rp, pkce_pair()[1], **extra))
    assert first.status_code == 303, first.text
    return query_of(first.headers["Location"])["i"]


# -- the page ------------------------------------------------------------------------------

def test_the_page_is_one_email_field_with_passkey_autofill_and_continue(client):
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert html.count('type="email"') == 2  # the identifier, and the sign-up form's own
    assert 'id="email" name="email"' in html and 'autocomplete="username webauthn"' in html
    assert 'action="/signin/continue"' in html and 'id="signin-continue"' in html and ">Continue<" in html
    # The passkey comes first, marked as the recommended way, and its button names the badge.
    assert html.index('id="passkey-button"') < html.index('id="email"')
    assert 'aria-describedby="passkey-recommended"' in html
    assert re.search(r'class="badge badge-success" id="passkey-recommended">Recommended<', html)
    assert 'type="password"' not in html


@pytest.mark.parametrize("policy, lead", [
    ("open", "Sign in or create your account."),
    ("domains", "create your account with your address at example.com"),
    ("invite", "Sign in to your account."),
])
def test_the_lead_follows_the_sign_up_policy(client, demo, policy, lead):
    configure_signin(demo, policy=policy, domains=["example.com"])
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert lead in html


def test_continue_sends_the_magic_link_and_shows_check_your_inbox(client, mailbox):
    response = identify(client, "Alice@Example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/signin/sent"
    inbox = client.get("/signin/sent", headers={"Host": HOST})
    assert "alice@example.com" in inbox.text and 'id="code"' in inbox.text
    assert mailbox.last_link(to="alice@example.com")


def test_an_unknown_address_gets_the_same_answer_and_the_no_account_mail(client, demo, accounts, mailbox):
    configure_signin(demo, policy="invite")
    accounts.create(email="known@example.com")
    known = identify(client, "known@example.com")
    unknown = identify(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/signin/sent"
    assert mailbox.last_link(to="known@example.com")
    no_account = [m for m in mailbox.messages() if m.message["To"] == "nobody@example.com"]
    assert len(no_account) == 1 and "/link/" not in no_account[0].text


def test_password_only_tenant_asks_for_the_password_whoever_the_address_is(client, demo, accounts, mailbox):
    configure_signin(demo, methods=["password"])
    account = accounts.create(email="alice@example.com")
    passwords.change(accounts, account.login, current=None, new=PASSWORD, repeat=PASSWORD, realm="demo")
    for email in ("alice@example.com", "nobody@example.com"):  # no enumeration: the same step
        step = identify(client, email)
        assert step.status_code == 200 and 'type="password"' in step.text
        assert f'value="{email}"' in step.text and 'action="/signin/password/complete"' in step.text
    page = identify(client, "alice@example.com")
    done = client.post("/signin/password/complete", data={"csrf": csrf_of(page.text), "email": "alice@example.com",
                                                          "password": PASSWORD}, headers={"Host": HOST})
    assert done.status_code == 303
    assert mailbox.messages() == []


def test_with_link_and_password_continue_mails_and_the_password_is_a_choice(client, demo, accounts, mailbox):
    configure_signin(demo, methods=["passkey", "magic_link", "password"])
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert 'name="method" value="password"' in html
    chosen = identify(client, "alice@example.com", method="password")
    assert chosen.status_code == 200 and 'type="password"' in chosen.text
    assert 'id="choose-magic-link"' in chosen.text  # and back to the link from there
    assert mailbox.messages() == []
    assert identify(client, "alice@example.com").headers["Location"] == "/signin/sent"


def test_a_method_that_is_off_cannot_be_chosen(client, demo, mailbox):
    configure_signin(demo, methods=["passkey", "magic_link"])
    response = identify(client, "alice@example.com", method="password")
    assert response.status_code == 303 and response.headers["Location"] == "/signin/sent"


def test_the_registry_lets_a_method_claim_an_address_first(tenants, demo, monkeypatch):
    """The dispatch point for SSO: the first method whose `claims` says yes takes the step."""
    from codeb import signin
    from codeb.signin.base import NotMine, SignInContext
    from codeb.signin.magic_link import MagicLink

    configure_signin(demo, methods=["magic_link", "password"])
    ctx = SignInContext(tenant=tenants.get("demo"), accounts=None, mailer=None, base_url="", client_ip="",
                        language="en")
    assert signin.next_step(ctx, "a@example.com").name == "magic_link"

    def only_elsewhere(self, ctx, identifier):
        if identifier.endswith("@corp.example"):
            raise NotMine(identifier)
        return True

    monkeypatch.setattr(MagicLink, "claims", only_elsewhere)
    assert signin.next_step(ctx, "a@corp.example").name == "password"
    assert signin.next_step(ctx, "a@corp.example", chosen="magic_link").name == "magic_link"


def test_a_passkey_only_tenant_has_no_email_step(client, demo):
    configure_signin(demo, methods=["passkey"])
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert 'action="/signin/continue"' not in html and 'id="passkey-button"' in html
    page = client.get("/signin", headers={"Host": HOST})
    response = client.post("/signin/continue", data={"csrf": csrf_of(page.text), "email": "a@example.com"},
                           headers={"Host": HOST})
    assert response.status_code == 400 and "passkey only" in response.text


@pytest.mark.parametrize("email", ["not-an-address", "", "jörg@example.com", "a@b" * 200])
def test_a_bad_address_is_a_clear_400_with_the_form_again(client, mailbox, email):
    response = identify(client, email)
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert 'id="signin-error"' in response.text and "Traceback" not in response.text
    assert mailbox.messages() == []


def test_continue_without_csrf_is_refused(client, mailbox):
    client.get("/signin", headers={"Host": HOST})
    response = client.post("/signin/continue", data={"email": "a@example.com"}, headers={"Host": HOST})
    assert response.status_code == 400 and mailbox.messages() == []


def test_the_german_page(client):
    html = main_of(client.get("/signin", headers={"Host": HOST, "Accept-Language": "de"}).text)
    assert ">Weiter<" in html and "Empfohlen" in html and "E-Mail-Adresse" in html


# -- from an app -----------------------------------------------------------------------------

def test_from_an_app_the_page_names_it_with_its_initial_and_a_way_back(client, rp):
    iid = interaction_for(client, rp)
    page = client.get(f"/signin?i={iid}", headers={"Host": HOST})
    html = main_of(page.text)
    assert "Test RP" in html and 'class="app-initial"' in html and "<img" not in html
    assert "Back to Test RP" in html
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]
    # The way back posts to the client: the page's form-action allows exactly its origin.
    assert "form-action 'self' http://127.0.0.1:9999" in page.headers["Content-Security-Policy"]
    back = client.post("/signin/back", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(rp.redirect_uri + "?")
    query = query_of(location)
    assert query["error"] == "access_denied" and query["state"] == "st4te" and query["iss"]
    # The request is over: the sign-in page no longer offers it.
    assert "Test RP" not in client.get(f"/signin?i={iid}", headers={"Host": HOST}).text


def test_the_apps_logo_is_shown_and_exactly_its_origin_allowed(client, demo, rp):
    with demo.store.update("clients", rp.client_id) as doc:
        doc["logo_uri"] = "https://cdn.example.org/rp/logo.png"
    iid = interaction_for(client, rp)
    page = client.get(f"/signin?i={iid}", headers={"Host": HOST})
    assert '<img class="app-logo" src="https://cdn.example.org/rp/logo.png"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.org;" in csp
    # Only that page: the plain sign-in page allows no other image origin.
    assert "cdn.example.org" not in client.get("/signin", headers={"Host": HOST}).headers["Content-Security-Policy"]


def test_back_to_the_app_needs_csrf_and_a_waiting_request(client, rp):
    iid = interaction_for(client, rp)
    page = client.get(f"/signin?i={iid}", headers={"Host": HOST})
    assert client.post("/signin/back", data={"i": iid}, headers={"Host": HOST}).status_code == 400
    gone = client.post("/signin/back", data={"csrf": csrf_of(page.text), "i": "0" * 32}, headers={"Host": HOST})
    assert gone.status_code == 303 and "Location" in gone.headers
    assert not gone.headers["Location"].startswith("http://127.0.0.1")


def test_back_to_the_app_only_to_a_redirect_uri_it_still_has(client, demo, rp):
    iid = interaction_for(client, rp)
    page = client.get(f"/signin?i={iid}", headers={"Host": HOST})
    Clients(demo.store).update(rp.client_id, name="Test RP", redirect_uris=["https://rp.example/new"])
    back = client.post("/signin/back", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert back.status_code == 400 and "Location" not in back.headers


def test_another_tenants_request_is_not_shown_or_answered(client, rp):
    iid = interaction_for(client, rp)
    other = client.get(f"/signin?i={iid}", headers={"Host": OTHER_HOST})
    assert other.status_code == 200 and "Test RP" not in other.text
    back = client.post("/signin/back", data={"csrf": csrf_of(other.text), "i": iid}, headers={"Host": OTHER_HOST})
    assert back.status_code == 303 and not back.headers["Location"].startswith("http://127.0.0.1")


# -- a signed-in visitor -------------------------------------------------------------------------

def test_a_signed_in_visitor_sees_who_and_continues_to_the_office(client, accounts, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert "Signed in as" in html and "(alice@example.com)" in html
    assert 'id="continue-as" href="/office.html"' in html and 'id="email"' not in html
    assert 'action="/signin/another"' in html


def test_use_another_account_signs_this_browser_out_and_shows_the_form(client, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    page = client.get("/signin", headers={"Host": HOST})
    assert client.post("/signin/another", data={}, headers={"Host": HOST}).status_code == 400  # CSRF
    assert client.get("/account", headers={"Host": HOST}).status_code == 200
    out = client.post("/signin/another", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert out.status_code == 303 and out.headers["Location"] == "/signin"
    assert client.get("/account", headers={"Host": HOST}).status_code == 303
    assert 'id="email"' in client.get("/signin", headers={"Host": HOST}).text


def test_select_account_shows_signed_in_as_and_continue_answers_the_app(client, rp, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    first = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="select_account"))
    assert first.status_code == 303 and first.headers["Location"].startswith("/signin?i=")
    iid = query_of(first.headers["Location"])["i"]
    page = follow_local(client, first)
    assert "Signed in as" in page.text and "Continue to Test RP" in page.text
    assert "form-action 'self' http://127.0.0.1:9999" in page.headers["Content-Security-Policy"]
    assert client.post("/signin/continue-as", data={"i": iid}, headers={"Host": HOST}).status_code == 400
    went = client.post("/signin/continue-as", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert went.status_code == 303 and went.headers["Location"] == f"/authorize/resume?i={iid}"
    answer = follow_local(client, went)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(rp.redirect_uri)
    assert query_of(answer.headers["Location"])["code"]


def test_use_another_account_from_an_app_keeps_its_request(client, rp, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    first = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="select_account"))
    iid = query_of(first.headers["Location"])["i"]
    page = follow_local(client, first)
    out = client.post("/signin/another", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert out.headers["Location"] == f"/signin?i={iid}"
    again = client.get(out.headers["Location"], headers={"Host": HOST})
    assert 'id="email"' in again.text and "Test RP" in again.text
    done = sign_in(client, mailbox, "bob@example.com", interaction=iid)
    answer = follow_local(client, done)
    assert answer.status_code == 302 and query_of(answer.headers["Location"])["code"]


def test_prompt_login_asks_for_a_sign_in_not_continue(client, rp, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    first = get_authorize(client, authorize_params(rp, pkce_pair()[1], prompt="login"))
    iid = query_of(first.headers["Location"])["i"]
    page = follow_local(client, first)
    assert 'id="email"' in page.text and "Signed in as" not in page.text
    # Continue posted anyway does not skip the sign-in.
    went = client.post("/signin/continue-as", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert went.status_code == 303 and went.headers["Location"] == f"/signin?i={iid}"
    assert client.get(f"/authorize/resume?i={iid}", headers={"Host": HOST}).status_code == 303


def test_a_confirm_its_you_step_shows_the_form_to_a_signed_in_visitor(client, mailbox, clock):
    sign_in(client, mailbox, "alice@example.com")
    clock.advance(3600)
    client.get("/account/confirm", headers={"Host": HOST})
    html = main_of(client.get("/signin", headers={"Host": HOST}).text)
    assert 'id="email"' in html and "Signed in as" not in html


def test_continue_without_a_session_goes_to_the_sign_in_page(client, rp):
    iid = interaction_for(client, rp)
    page = client.get(f"/signin?i={iid}", headers={"Host": HOST})
    went = client.post("/signin/continue-as", data={"csrf": csrf_of(page.text), "i": iid}, headers={"Host": HOST})
    assert went.status_code == 303 and urlsplit(went.headers["Location"]).path == "/signin"


def test_the_signed_in_card_the_app_and_the_password_step_carry_no_english_in_german(app, demo, rp, mailbox):
    from tests.http.test_german_pages import assert_german

    configure_signin(demo, methods=["passkey", "magic_link", "password"])
    client = app.test_client()
    german = {"Host": HOST, "Accept-Language": "de"}
    iid = interaction_for(client, rp)
    from_app = client.get(f"/signin?i={iid}", headers=german)
    assert "Zurück zu Test RP" in from_app.text
    assert_german(from_app)
    step = client.post("/signin/continue", data={"csrf": csrf_of(from_app.text), "email": "anna@example.de",
                                                 "method": "password", "i": iid}, headers=german)
    assert step.status_code == 200 and "Passwort eingeben" in step.text
    assert_german(step)
    page = client.get("/signin", headers=german)
    client.post("/language", data={"csrf": csrf_of(page.text), "lang": "de", "next": "/"}, headers={"Host": HOST})
    sign_in(client, mailbox, "anna@example.de")
    card = client.get("/signin", headers={"Host": HOST})
    assert "Angemeldet als" in card.text and "Anderes Konto verwenden" in card.text
    assert_german(card)


def test_no_method_claims_an_address_by_whether_it_has_an_account(tenants, demo, accounts, tmp_path):
    """The contract of `claims`: it may look at the address and the settings, never at accounts."""
    from codeb import signin
    from codeb.signin.base import NotMine, SignInContext
    from codeb.upstreams import Upstreams

    accounts.create(email="known@example.com")
    configure_signin(demo, methods=list(signin.REGISTRY))
    # Corporate SSO claims by the address's domain alone: here an OIDC upstream claims example.com,
    # a SAML one example.org; each protocol's method claims its own upstreams' domains.
    Upstreams(demo.store).add(name="Example", issuer="https://idp.example", client_id="c", domains=["example.com"])
    Upstreams(demo.store).add_saml(name="Example SAML", metadata=ForgingIdP(tmp_path).metadata(),
                                   domains=["example.org"])
    claimed = {"oidc": "x@example.com", "saml": "x@example.org"}  # the others: an address no one claims
    ctx = SignInContext(tenant=tenants.get("demo"), accounts=accounts, mailer=None, base_url="", client_ip="",
                        language="en")

    def answer(method, email):
        try:
            return method.claims(ctx, email)
        except NotMine:
            return False

    for method in signin.enabled(ctx.tenant).values():
        assert answer(method, "known@example.com") == answer(method, "unknown@example.com"), method.name
        assert answer(method, claimed.get(method.name, "x@example.net")) == method.takes_identifier, method.name


def test_an_address_a_company_claims_for_itself_takes_no_other_method(client, demo, accounts, mailbox):
    """Home-realm discovery's other half: the mailed link, sign-up and the password answer
    NotMine for a domain an upstream claims, and refuse it when asked directly, unless the
    upstream's admin lets its people use the other methods too."""
    from codeb.upstreams import Upstreams

    configure_signin(demo, methods=["oidc", "magic_link", "password"], policy="open")
    upstream = Upstreams(demo.store).add(name="Example", issuer="https://idp.example", client_id="c",
                                         domains=["example.com"])
    accounts.create(email="ann@example.com")
    page = client.get("/signin", headers={"Host": HOST})
    csrf = csrf_of(page.text)
    asked = [
        client.post("/signin/continue", data={"csrf": csrf, "email": "ann@example.com", "method": "magic_link"},
                    headers={"Host": HOST}),
        client.post("/signin/magic-link/begin", data={"csrf": csrf, "email": "ann@example.com"},
                    headers={"Host": HOST}),
        client.post("/signin/password/begin", data={"csrf": csrf, "email": "ann@example.com"}, headers={"Host": HOST}),
        client.post("/signin/password/complete", data={"csrf": csrf, "email": "ann@example.com", "password": "x" * 12},
                    headers={"Host": HOST}),
        client.post("/signup", data={"csrf": csrf, "email": "new@example.com"}, headers={"Host": HOST}),
    ]
    for answer in asked:
        assert answer.status_code == 400, answer.request.path
        assert "Addresses of this domain sign in with Example" in answer.text, answer.request.path
    assert mailbox.messages() == []

    with demo.store.update("upstreams", upstream["id"]) as doc:
        doc["others_allowed"] = True
    sent = client.post("/signin/magic-link/begin", data={"csrf": csrf, "email": "ann@example.com"},
                       headers={"Host": HOST})
    assert sent.status_code == 303 and len(mailbox.messages()) == 1
