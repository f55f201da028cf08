"""The host's own site: /get-your-tenant.html, its mailed link, the progress page and the hand-off.

The host site is `www.localhost` (parent `localhost`), so a new tenant `newco` answers
on `newco.localhost`, beside the demo tenant (`localhost`) and acme (`acme.localhost`).
The worker's Python steps run in the test (`worker.drain`) on the app's own registry and clock.
"""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from codeb import audit
from codeb.cli import main as cli
from codeb.provisioning import site, spool, worker
from codeb.store import layout
from tests.http.test_german_pages import assert_german
from tests.support.web import OTHER_HOST, confirm_first_profile, csrf_of

SITE = "www.localhost"
AT_SITE = {"Host": SITE}
TERMS = "https://codeb.example/terms"
VERIFY_LINK = re.compile(r"https?://\S+/get-your-tenant/verify/\S+")


@pytest.fixture
def registry(app):
    """The app's own Tenants (its clock): what the worker and the checks here use."""
    return app.extensions["codeb.tenants"]


@pytest.fixture
def host_site(registry):
    return site.configure(registry, site=SITE, parent="localhost", terms_url=TERMS)


def limits(registry, **chosen):
    return site.configure(registry, site=SITE, parent="localhost", **chosen)


def browser(app, ip="192.0.2.10"):
    """A browser of its own (cookies), from the client address `ip`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def ask(client, *, subdomain="newco", organisation="New Co", email="founder@newco.example", terms=True,
        headers=None, csrf=None):
    form = client.get("/get-your-tenant.html", headers={**AT_SITE, **(headers or {})})
    assert form.status_code == 200, form.text
    data = {"csrf": csrf_of(form.text) if csrf is None else csrf, "subdomain": subdomain,
            "organisation": organisation, "email": email}
    if terms:
        data["terms"] = "1"
    return client.post("/get-your-tenant.html", data=data, headers={**AT_SITE, **(headers or {})})


def link_in(mailbox, to="founder@newco.example") -> str:
    mail = next(m for m in reversed(mailbox.messages()) if m.message["To"] == to)
    return urlsplit(VERIFY_LINK.search(mail.text).group(0)).path


def confirm(client, path):
    page = client.get(path, headers=AT_SITE)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text)}, headers=AT_SITE)


def signed_up(app, mailbox, client=None, **fields):
    """A browser that filled in the form and opened its link: (browser, request id)."""
    client = client or browser(app)
    assert ask(client, **fields).status_code == 200
    done = confirm(client, link_in(mailbox, fields.get("email", "founder@newco.example")))
    assert done.status_code == 303, done.text
    return client, done.headers["Location"].rsplit("/", 1)[1]


def status_of(client, request_id):
    return client.get(f"/get-your-tenant/progress/{request_id}/status", headers=AT_SITE)


def handoff_url(client, request_id) -> str:
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE)
    answer = client.post(f"/get-your-tenant/progress/{request_id}/handoff", data={"csrf": csrf_of(page.text)},
                         headers=AT_SITE)
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"]


def follow(client, url):
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", headers={"Host": parts.hostname})


def events(tenant, kind):
    return [e for e in audit.read_all(tenant.store) if e["event"] == kind]


# -- the form and the live check ---------------------------------------------------------------

def test_the_form_asks_for_subdomain_organisation_email_and_terms(app, host_site):
    page = app.test_client().get("/get-your-tenant.html", headers=AT_SITE)
    assert page.status_code == 200
    for field in ('name="subdomain"', 'name="organisation"', 'name="email"', 'name="terms"', 'name="csrf"'):
        assert field in page.text
    assert f'href="{TERMS}"' in page.text and ".localhost" in page.text
    assert "js/get-tenant.js" in page.text and "<script>" not in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_without_terms_there_is_no_checkbox(app, registry, host_site):
    site.configure(registry, site=SITE, parent="localhost", terms_url="")
    assert 'name="terms"' not in app.test_client().get("/get-your-tenant.html", headers=AT_SITE).text


@pytest.mark.parametrize(("subdomain", "error"), [
    ("www", "error.subdomain.reserved"), ("admin", "error.subdomain.reserved"), ("login", "error.subdomain.reserved"),
    ("adm1n", "error.subdomain.confusable"), ("rnail", "error.subdomain.confusable"),
    ("acme", "error.subdomain.taken"), ("ab", "error.subdomain.length"), ("Big Co", "error.subdomain.characters"),
    ("xn--bcher-kva", "error.subdomain.punycode"), ("12345", "error.subdomain.digits_only"),
    ("", "error.subdomain.length"),
])
def test_the_live_check_says_why_not(app, host_site, subdomain, error):
    answer = app.test_client().get("/get-your-tenant/check", query_string={"subdomain": subdomain}, headers=AT_SITE)
    assert answer.status_code == 200 and answer.json["ok"] is False
    assert answer.json["error"] == error and answer.json["message"]


def test_the_live_check_says_free_in_the_persons_language(app, host_site):
    client = app.test_client()
    free = client.get("/get-your-tenant/check?subdomain=NewCo", headers=AT_SITE).json
    assert free == {"ok": True, "subdomain": "newco", "host": "newco.localhost",
                    "message": "newco.localhost is available."}
    german = client.get("/get-your-tenant/check?subdomain=www", headers={**AT_SITE, "Accept-Language": "de"}).json
    assert german["message"] == "Die Subdomain www ist reserviert. Bitte wählen Sie eine andere."


def test_a_subdomain_asked_for_by_a_request_under_way_is_not_free(app, mailbox, host_site):
    signed_up(app, mailbox)
    answer = app.test_client().get("/get-your-tenant/check?subdomain=newco", headers=AT_SITE).json
    assert answer["ok"] is False and answer["error"] == "error.subdomain.pending"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"subdomain": "mail"}, "subdomain", "The subdomain mail is reserved."),
    ({"subdomain": "acme"}, "subdomain", "The subdomain acme is taken."),
    ({"organisation": "   "}, "organisation", None),
    ({"email": "not an address"}, "email", None),
    ({"terms": False}, "terms", "Please accept the terms of service"),
])
def test_a_bad_field_is_shown_beside_it_and_mails_nothing(app, mailbox, host_site, fields, field, message):
    answer = ask(browser(app), **fields)
    assert answer.status_code == 400
    assert f'id="{field}-error"' in answer.text and 'aria-invalid="true"' in answer.text
    if message:
        assert message in answer.text
    assert 'value="New Co"' in answer.text or field == "organisation"  # what was typed stays
    assert mailbox.messages() == []


def test_a_post_without_the_form_token_is_refused(app, mailbox, host_site):
    client = browser(app)
    assert ask(client, csrf="forged").status_code == 400
    fresh = browser(app)  # no cookie at all
    refused = fresh.post("/get-your-tenant.html", data={"subdomain": "newco", "organisation": "New Co",
                                                         "email": "founder@newco.example", "terms": "1"},
                         headers=AT_SITE)
    assert refused.status_code == 400 and "form" in refused.text.lower()
    assert mailbox.messages() == []


# -- the verification mail and its link --------------------------------------------------------

def test_the_form_mails_a_link_and_makes_nothing(app, registry, mailbox, host_site):
    answer = ask(browser(app))
    assert answer.status_code == 200 and "founder@newco.example" in answer.text
    mail = mailbox.last()
    assert mail.message["To"] == "founder@newco.example"
    assert mail.envelope[1] == b"X-Receiver: founder@newco.example"
    assert "New Co" in mail.text and "newco.localhost" in mail.text and "30 minutes" in mail.text
    assert spool.requests(registry) == [] and not registry.data.exists("newco")
    token = link_in(mailbox).rsplit("/", 1)[1]
    stored = json.dumps([registry.data.site().read(layout.TRANSIENT, layout.SITE_VERIFICATIONS, name)
                         for name in registry.data.site().list(layout.TRANSIENT, layout.SITE_VERIFICATIONS)])
    assert token not in stored and "founder@newco.example" in stored  # only the token's hash is kept


def test_the_mail_is_in_the_language_of_the_form(app, mailbox, host_site):
    ask(browser(app), headers={"Accept-Language": "de"})
    mail = mailbox.last()
    assert mail.message["Content-Language"] == "de" and "Bestätigen Sie" in mail.message["Subject"]


def test_opening_the_link_queues_the_request_bound_to_that_browser(app, registry, mailbox, host_site):
    client = browser(app)
    ask(client)
    path = link_in(mailbox)
    shown = client.get(path, headers=AT_SITE)
    assert shown.status_code == 200 and "newco.localhost" in shown.text and spool.requests(registry) == []
    done = client.post(path, data={"csrf": csrf_of(shown.text)}, headers=AT_SITE)
    assert done.status_code == 303 and "/get-your-tenant/progress/" in done.headers["Location"]
    [request] = spool.requests(registry)
    assert request["tenant"] == "newco" and request["admin_email"] == "founder@newco.example"
    assert request["ip"] == "192.0.2.10" and re.fullmatch(r"[0-9a-f]{64}", request["browser"])
    cookie = client.get_cookie("codeb-signup", domain=SITE)
    assert cookie is not None and cookie.value.startswith(request["id"] + ".")
    assert cookie.value.split(".", 1)[1] not in json.dumps(request)  # the request keeps only the hash


def test_a_link_used_twice_says_so(app, registry, mailbox, host_site):
    client = browser(app)
    ask(client)
    path = link_in(mailbox)
    page = client.get(path, headers=AT_SITE)
    assert client.post(path, data={"csrf": csrf_of(page.text)}, headers=AT_SITE).status_code == 303
    again = client.post(path, data={"csrf": csrf_of(page.text)}, headers=AT_SITE)
    assert again.status_code == 400 and "has been used already" in again.text
    assert 'id="progress-link"' in again.text  # this browser holds the request
    elsewhere = browser(app, "198.51.100.7").get(path, headers=AT_SITE)
    assert elsewhere.status_code == 400 and "has been used already" in elsewhere.text
    assert 'id="progress-link"' not in elsewhere.text
    assert len(spool.requests(registry)) == 1


def test_an_expired_or_made_up_link_says_so(app, mailbox, clock, host_site):
    client = browser(app)
    ask(client)
    path = link_in(mailbox)
    clock.advance(31 * 60)
    expired = client.get(path, headers=AT_SITE)
    assert expired.status_code == 400 and "has expired or is not valid" in expired.text
    assert client.get("/get-your-tenant/verify/made-up", headers=AT_SITE).status_code == 400
    assert client.get("/get-your-tenant/verify/" + "x" * 300, headers=AT_SITE).status_code == 404


def test_a_subdomain_taken_between_the_mail_and_the_link_is_a_clear_page(app, registry, mailbox, host_site):
    first, second = browser(app), browser(app, "198.51.100.7")
    ask(first)
    ask(second, email="other@elsewhere.example")
    signed_up_first = confirm(first, link_in(mailbox))
    assert signed_up_first.status_code == 303
    late = confirm(second, link_in(mailbox, "other@elsewhere.example"))
    assert late.status_code == 400 and "was taken in the meantime" in late.text
    assert len(spool.requests(registry)) == 1


# -- the limits --------------------------------------------------------------------------------

@pytest.mark.parametrize(("chosen", "second", "message"), [
    ({"per_ip": 4}, {"email": "b@two.example"}, "Too many sign-ups from your network"),
    ({"per_email": 4}, {"ip": "198.51.100.7"}, "Too many sign-ups for this email address"),
    ({"per_domain": 4}, {"ip": "198.51.100.7", "email": "b@newco.example"}, "Too many sign-ups from this email domain"),
    ({"daily_cap": 1}, {"ip": "198.51.100.7", "email": "b@two.example"}, "takes no more new tenants today"),
])
def test_each_limit_refuses_with_its_own_message(app, registry, mailbox, host_site, chosen, second, message):
    limits(registry, **chosen)  # a daily limit of 4 is 1 an hour
    assert ask(browser(app)).status_code == 200
    refused = ask(browser(app, second.get("ip", "192.0.2.10")), subdomain="second",
                  email=second.get("email", "founder@newco.example"))
    assert refused.status_code == 429 and message in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert len(mailbox.messages()) == 1


def test_the_limits_count_a_day_and_an_hour(app, registry, mailbox, clock, host_site):
    limits(registry, per_email=2)  # 1 an hour, 2 a day
    client = browser(app)
    assert ask(client).status_code == 200
    clock.advance(3601)
    assert ask(client).status_code == 200
    clock.advance(3601)
    assert ask(client).status_code == 429
    clock.advance(86400)
    assert ask(client).status_code == 200


def test_subaddresses_count_as_one_mailbox(app, registry, mailbox, host_site):
    limits(registry, per_email=4)
    assert ask(browser(app), email="founder+a@newco.example").status_code == 200
    assert ask(browser(app, "198.51.100.7"), email="Founder+b@newco.example").status_code == 429


def test_the_live_check_has_its_own_limit(app, host_site):
    client = browser(app)
    answers = [client.get("/get-your-tenant/check?subdomain=newco", headers=AT_SITE).status_code for _ in range(121)]
    assert answers[:120] == [200] * 120 and answers[120] == 429


# -- progress ----------------------------------------------------------------------------------

def test_progress_is_bound_to_the_browser_that_opened_the_link(app, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE)
    assert page.status_code == 200 and "js/get-tenant-progress.js" in page.text
    assert status_of(client, request_id).json["state"] == "queued"
    other = browser(app)
    assert other.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE).status_code == 404
    assert status_of(other, request_id).status_code == 404
    other.set_cookie("codeb-signup", f"{request_id}.guessed", domain=SITE)
    assert status_of(other, request_id).status_code == 404
    assert client.get("/get-your-tenant/progress/not-an-id", headers=AT_SITE).status_code == 404


def test_progress_shows_every_step_and_the_windows_steps_prepared(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    assert worker.drain(registry) == {request_id: spool.PYTHON_DONE}
    progress = status_of(client, request_id).json
    states = {step["name"]: step["state"] for step in progress["steps"]}
    assert states == {"claim": "done", "folder_and_keys": "done", "settings": "done", "first_admin": "done",
                      "turn": "done", "vapid": "done", "iis": "prepared", "tls": "prepared", "dns_check": "prepared"}
    assert progress["ready"] and progress["final"] and not progress["failed"]
    assert {step["status"] for step in progress["steps"]} == {"done", "prepared for the server"}
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE)
    assert "Open your admin console" in page.text and 'id="handoff-form" hidden' not in page.text
    assert "form-action 'self' http://newco.localhost" in page.headers["Content-Security-Policy"]


def test_with_a_windows_worker_its_steps_are_pending_until_reported(app, registry, mailbox, host_site):
    site.configure(registry, site=SITE, parent="localhost", windows_worker=True)
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    progress = status_of(client, request_id).json
    assert progress["ready"] and not progress["final"]
    assert [s["state"] for s in progress["steps"] if s["name"] in spool.WINDOWS_STEPS] == ["pending"] * 3
    for step in spool.WINDOWS_STEPS:
        spool.report(registry, request_id, step, "ok")
    progress = status_of(client, request_id).json
    assert progress["state"] == "done" and progress["final"]


def test_a_failure_says_what_happened_and_that_the_operator_was_told(app, registry, mailbox, host_site):
    site.configure(registry, site=SITE, parent="localhost", windows_worker=True)
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    spool.report(registry, request_id, "tls", "failed", "win-acme: the HTTP-01 challenge was not reachable")
    progress = status_of(client, request_id).json
    assert progress["failed"] and progress["final"]
    [tls] = [s for s in progress["steps"] if s["name"] == "tls"]
    assert tls["state"] == "failed" and "HTTP-01 challenge was not reachable" in tls["error"]
    assert "TLS certificate" in progress["message"]
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers={**AT_SITE, "Accept-Language": "de"})
    assert "Der Betreiber dieses Servers wurde benachrichtigt" in page.text and request_id[:8] in page.text


# -- the hand-off ------------------------------------------------------------------------------

def test_the_hand_off_signs_the_first_admin_in_to_the_new_tenant(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    url = handoff_url(client, request_id)
    assert url.startswith("http://newco.localhost/handoff?t=newco.")
    landed = follow(client, url)
    assert landed.status_code == 303 and landed.headers["Location"] == "/welcome"  # the first sign-in's profile
    confirmed = confirm_first_profile(client, "newco.localhost", display_name="Founder")
    assert confirmed.headers["Location"] == "/admin.html"
    assert client.get("/admin.html", headers={"Host": "newco.localhost"}).status_code == 200
    tenant = registry.get("newco")
    [signin] = events(tenant, "signin")
    assert signin["method"] == "handoff" and signin["login"] == "founder"
    assert events(tenant, "handoff.issued") and events(tenant, "handoff.used")
    assert parse_qs(urlsplit(url).query)["t"][0] not in json.dumps(audit.read_all(tenant.store))


def test_a_hand_off_link_works_once(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    url = handoff_url(client, request_id)
    assert follow(client, url).status_code == 303
    replayer = browser(app, "203.0.113.9")
    replayed = follow(replayer, url)
    assert replayed.status_code == 400 and "has been used already" in replayed.text
    assert replayer.get("/admin.html", headers={"Host": "newco.localhost"}).status_code == 303  # to the sign-in
    assert events(registry.get("newco"), "handoff.refused")[0]["reason"] == "error.handoff.used"


def test_a_hand_off_link_expires_after_a_minute(app, registry, mailbox, clock, host_site):
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    url = handoff_url(client, request_id)
    clock.advance(61)
    expired = follow(client, url)
    assert expired.status_code == 400 and "has expired" in expired.text
    assert client.get("/admin.html", headers={"Host": "newco.localhost"}).status_code == 303
    assert follow(client, handoff_url(client, request_id)).status_code == 303  # a new one from the progress page


def test_a_hand_off_link_of_another_tenant_signs_nobody_in(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    token = parse_qs(urlsplit(handoff_url(client, request_id)).query)["t"][0]
    elsewhere = client.get(f"/handoff?t={token}", headers={"Host": OTHER_HOST})
    assert elsewhere.status_code == 400 and "belongs to another organisation" in elsewhere.text
    assert client.get("/admin.html", headers={"Host": OTHER_HOST}).status_code == 303
    renamed = client.get(f"/handoff?t=acme.{token.split('.', 1)[1]}", headers={"Host": OTHER_HOST})
    assert renamed.status_code == 400 and "is not valid" in renamed.text
    assert follow(client, f"http://newco.localhost/handoff?t={token}").status_code == 303  # still unspent there


@pytest.mark.parametrize("value", ["", "nothing", "newco.", ".abc", "newco.a b", "../x.y", "newco." + "a" * 300])
def test_a_malformed_hand_off_token_is_a_clear_page(app, registry, mailbox, host_site, value):
    client, _ = signed_up(app, mailbox)
    worker.drain(registry)
    answer = client.get("/handoff", query_string={"t": value}, headers={"Host": "newco.localhost"})
    assert answer.status_code == 400 and "hand-off link is not valid" in answer.text


def test_only_the_bound_browser_gets_a_hand_off_and_only_when_ready(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE)
    early = client.post(f"/get-your-tenant/progress/{request_id}/handoff", data={"csrf": csrf_of(page.text)},
                        headers=AT_SITE)
    assert early.status_code == 409
    worker.drain(registry)
    other = browser(app)
    form = other.get("/get-your-tenant.html", headers=AT_SITE)
    stolen = other.post(f"/get-your-tenant/progress/{request_id}/handoff", data={"csrf": csrf_of(form.text)},
                        headers=AT_SITE)
    assert stolen.status_code == 404
    no_token = client.post(f"/get-your-tenant/progress/{request_id}/handoff", headers=AT_SITE)
    assert no_token.status_code == 400


def test_hand_off_links_are_limited_per_request(app, registry, mailbox, host_site):
    client, request_id = signed_up(app, mailbox)
    worker.drain(registry)
    for _ in range(spool.HANDOFF_LIMIT):
        handoff_url(client, request_id)
    page = client.get(f"/get-your-tenant/progress/{request_id}", headers=AT_SITE)
    more = client.post(f"/get-your-tenant/progress/{request_id}/handoff", data={"csrf": csrf_of(page.text)},
                       headers=AT_SITE)
    assert more.status_code == 409 and "No more hand-off links" in more.text


# -- the host site is no tenant --------------------------------------------------------------

@pytest.mark.parametrize("path", ["/signin", "/", "/admin.html", "/.well-known/openid-configuration", "/jwks.json",
                                  "/handoff?t=x.y", "/nothing"])
def test_the_host_site_serves_no_tenant_page(app, host_site, path):
    assert app.test_client().get(path, headers=AT_SITE).status_code == 404


def test_the_sign_up_page_is_no_page_of_a_tenant(app, host_site):
    client = app.test_client()
    assert client.get("/get-your-tenant.html", headers={"Host": "localhost"}).status_code == 404
    assert client.get("/get-your-tenant/check?subdomain=x", headers={"Host": OTHER_HOST}).status_code == 404


def test_without_a_host_site_its_name_is_an_unknown_host(app):
    assert app.test_client().get("/get-your-tenant.html", headers=AT_SITE).status_code == 404


def test_the_language_switch_keeps_the_choice(app, host_site):
    client = app.test_client()
    form = client.get("/get-your-tenant.html", headers=AT_SITE)
    switched = client.post("/get-your-tenant/language", data={"csrf": csrf_of(form.text), "lang": "de",
                                                              "next": "/get-your-tenant.html"}, headers=AT_SITE)
    assert switched.status_code == 303 and switched.headers["Location"] == "/get-your-tenant.html"
    assert_german(client.get("/get-your-tenant.html", headers=AT_SITE))
    elsewhere = client.post("/get-your-tenant/language", data={"csrf": csrf_of(form.text), "lang": "de",
                                                               "next": "//evil.example/"}, headers=AT_SITE)
    assert elsewhere.headers["Location"] == "/get-your-tenant.html"


def test_the_pages_in_german(app, registry, mailbox, host_site):
    german = {**AT_SITE, "Accept-Language": "de"}
    client = browser(app)
    assert_german(client.get("/get-your-tenant.html", headers=german))
    form = client.get("/get-your-tenant.html", headers=german)
    sent = client.post("/get-your-tenant.html", data={"csrf": csrf_of(form.text), "subdomain": "neu",
                                                      "organisation": "Neu GmbH", "email": "chefin@neu.example",
                                                      "terms": "1"}, headers=german)
    assert_german(sent)
    bad = client.post("/get-your-tenant.html", data={"csrf": csrf_of(form.text), "subdomain": "www",
                                                     "organisation": "Neu GmbH", "email": "chefin@neu.example"},
                      headers=german)
    assert bad.status_code == 400
    assert_german(bad)
    path = link_in(mailbox, "chefin@neu.example")
    shown = client.get(path, headers=german)
    assert_german(shown)
    done = client.post(path, data={"csrf": csrf_of(shown.text)}, headers=german)
    request_id = done.headers["Location"].rsplit("/", 1)[1]
    assert_german(client.get(f"/get-your-tenant/progress/{request_id}", headers=german))
    worker.drain(registry)
    assert_german(client.get(f"/get-your-tenant/progress/{request_id}", headers=german))
    assert_german(client.post(path, data={"csrf": csrf_of(shown.text)}, headers=german))


# -- the operator's command ----------------------------------------------------------------------

def test_host_set_stores_the_site_and_keeps_what_it_is_not_told(registry, data_root, capsys):
    assert cli(["--data", str(data_root), "host", "set", "--site", "WWW.codeb.example", "--parent", "codeb.example",
                "--terms-url", TERMS, "--daily-cap", "7"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["site"] == "www.codeb.example" and shown["daily_cap"] == 7 and shown["per_ip"] == 20
    assert cli(["--data", str(data_root), "host", "set", "--site", "www.codeb.example", "--parent",
                "codeb.example", "--per-ip", "3"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept["daily_cap"] == 7 and kept["per_ip"] == 3 and kept["terms_url"] == TERMS
    assert registry.data.site_settings()["name"] == "www.codeb.example"


@pytest.mark.parametrize(("args", "message"), [
    (["--site", "localhost", "--parent", "localhost"], "belongs to tenant demo"),
    (["--site", "www.codeb.example", "--parent", "codeb.example", "--terms-url", "http://x.example/t"], "https"),
    (["--site", "www.codeb.example", "--parent", "codeb.example", "--per-email", "0"], "whole number"),
    (["--site", "bad host", "--parent", "codeb.example"], "host"),
])
def test_host_set_refuses_what_cannot_work(tenants, data_root, capsys, args, message):
    assert cli(["--data", str(data_root), "host", "set", *args]) == 2
    assert message in capsys.readouterr().err
    assert tenants.data.site_settings() is None


def test_a_mail_that_cannot_go_is_a_clear_page(app, mailbox, host_site, monkeypatch):
    monkeypatch.setenv("CODEB_SMTP_HOST", "not a host")  # a smarthost setting the mailer refuses
    answer = ask(browser(app))
    assert answer.status_code == 503
    assert "The email to founder@newco.example could not be sent" in answer.text
    assert mailbox.messages() == []
