"""admin.html and every admin page: who may use them, and what each change does."""

import json
import os
import re
from urllib.parse import urlsplit

import pytest

from codeb import audit
from codeb.accounts import breakglass, privacy
from codeb.oidc.clients import Clients
from tests.support.web import HOST, LINK_STEP, csrf_of, field_error

GET_PAGES = ["/admin.html", "/admin/users", "/admin/users/bob", "/admin/clients", "/admin/settings",
             "/admin/languages", "/admin/audit", "/admin/users/bob/export"]
POST_ACTIONS = ["/admin/users", "/admin/users/bob", "/admin/users/bob/disable", "/admin/users/bob/enable",
                "/admin/users/bob/delete", "/admin/users/bob/erase", "/admin/clients", "/admin/settings",
                "/admin/languages", "/admin/languages/fr/delete"]


def token(client, host=HOST):
    return csrf_of(client.get("/signin", headers={"Host": host}).text)


@pytest.mark.parametrize("path", GET_PAGES)
def test_admin_pages_are_for_admins_of_this_tenant_only(people, path):
    assert people["admin"].get(path, headers={"Host": HOST}).status_code == 200
    assert people["user"].get(path, headers={"Host": HOST}).status_code == 403
    assert people["anonymous"].get(path, headers={"Host": HOST}).status_code == 303
    # An admin of acme is nobody at demo: her session cookie is acme's.
    assert people["other"].get(path, headers={"Host": HOST}).status_code == 303


@pytest.mark.parametrize("path", POST_ACTIONS)
def test_admin_actions_refuse_users_and_strangers(people, accounts, path):
    before = accounts.get("bob").doc
    for who in ("user", "anonymous", "other"):
        response = people[who].post(path, data={"csrf": token(people[who]), "confirm": "bob", "kind": "recordings"},
                                    headers={"Host": HOST})
        assert response.status_code == 403, (who, path)
    assert accounts.get("bob").doc == before


def test_forbidden_page_is_a_clear_page_in_the_persons_language(people, accounts):
    response = people["user"].get("/admin.html", headers={"Host": HOST, "Accept-Language": "de"})
    assert "You do not have access" in response.text  # bob chose English: his setting wins
    with accounts.update("bob") as doc:
        doc["language"] = "de"
    assert "keinen Zugriff" in people["user"].get("/admin.html", headers={"Host": HOST}).text


def test_create_user_sends_an_invitation_valid_for_a_week(people, mailbox, app, clock, accounts):
    admin = people["admin"]
    page = admin.get("/admin/users", headers={"Host": HOST})
    created = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "carol@example.com",
                                               "display_name": "Carol C"}, headers={"Host": HOST})
    assert created.status_code == 303 and created.headers["Location"].startswith("/admin/users/carol")
    mail = mailbox.last()
    assert mail.message["To"] == "carol@example.com" and "invitation" in mail.message["Subject"].lower()
    link = re.search(r"https?://\S+/link/i\.\S+", mail.text).group(0)
    clock.advance(3 * 86400)  # days later: an invitation outlives the five-minute links
    carol = app.test_client()
    path = urlsplit(link).path
    button = carol.get(path, headers={"Host": HOST})
    assert button.status_code == 200
    done = carol.post(LINK_STEP, data={"csrf": csrf_of(button.text), "link": path[6:]}, headers={"Host": HOST})
    assert done.headers["Location"] == "/welcome"
    assert accounts.get("carol").doc["email_verified"] is True


def test_user_list_searches_and_pages(people, accounts):
    for n in range(60):
        accounts.create(email=f"person{n:02d}@example.com", display_name=f"Person {n:02d}")
    admin = people["admin"]
    first = admin.get("/admin/users", headers={"Host": HOST})
    assert "62 accounts" in first.text and "Page 1 of 2" in first.text
    second = admin.get("/admin/users?page=2", headers={"Host": HOST})
    assert "person59" in second.text or "person5" in second.text
    found = admin.get("/admin/users?q=Person%2042", headers={"Host": HOST})
    assert "1 account<" in found.text and "person42" in found.text
    by_email = admin.get("/admin/users?q=bob@example", headers={"Host": HOST})
    assert "/admin/users/bob" in by_email.text


def test_role_change_reaches_new_tokens_and_ends_sessions(people, accounts):
    admin = people["admin"]
    page = admin.get("/admin/users/bob", headers={"Host": HOST})
    saved = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Bob B",
                                                 "admin": "1", "ext": ""}, headers={"Host": HOST})
    assert saved.status_code == 303
    assert accounts.get("bob").roles == ["admin", "user"]
    assert people["user"].get("/account", headers={"Host": HOST}).status_code == 303  # bob's session ended
    events = [e["event"] for e in audit.read_all(accounts.store)]
    assert "user.roles_changed" in events


def test_extension_edit_checks_range_and_uniqueness(people, accounts):
    admin = people["admin"]
    page = admin.get("/admin/users/bob", headers={"Host": HOST})
    boss_ext = accounts.get("boss").doc["ext"]
    taken = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Bob",
                                                 "ext": str(boss_ext)}, headers={"Host": HOST})
    assert taken.status_code == 409 and "belongs to someone else" in taken.text
    outside = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Bob",
                                                   "ext": "5"}, headers={"Host": HOST})
    assert outside.status_code == 400 and "range 600 to 699" in outside.text
    fine = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Bob",
                                                "ext": "650"}, headers={"Host": HOST})
    assert fine.status_code == 303 and accounts.find_by_extension(650).login == "bob"


def test_disable_and_delete(people, accounts, demo):
    admin = people["admin"]
    page = admin.get("/admin/users/bob", headers={"Host": HOST})
    assert admin.post("/admin/users/bob/disable", data={"csrf": csrf_of(page.text)},
                      headers={"Host": HOST}).status_code == 303
    assert people["user"].get("/account", headers={"Host": HOST}).status_code == 303
    wrong = admin.post("/admin/users/bob/delete", data={"csrf": csrf_of(page.text), "confirm": "bo"},
                       headers={"Host": HOST})
    assert wrong.status_code == 400 and accounts.get("bob") is not None
    sub = accounts.get("bob").sub
    deleted = admin.post("/admin/users/bob/delete", data={"csrf": csrf_of(page.text), "confirm": "bob"},
                         headers={"Host": HOST})
    assert deleted.status_code == 303
    assert accounts.get("bob") is None and accounts.find_by_email("bob@example.com") is None
    assert accounts.find_by_sub(sub) is None
    assert "bob" not in accounts.directory.all()


def test_the_last_admin_cannot_be_deleted_demoted_or_disabled(people, accounts):
    admin = people["admin"]
    page = admin.get("/admin/users/boss", headers={"Host": HOST})
    for path, data in (("/admin/users/boss/delete", {"confirm": "boss"}),
                       ("/admin/users/boss", {"display_name": "Boss", "ext": ""}),
                       ("/admin/users/boss/disable", {})):
        response = admin.post(path, data={"csrf": csrf_of(page.text), **data}, headers={"Host": HOST})
        assert response.status_code == 409 and "last administrator" in response.text
    assert accounts.get("boss").roles == ["admin", "user"] and not accounts.get("boss").disabled


def test_erasure_removes_exactly_that_accounts_files(people, demo, accounts):
    def where(login, kind):
        return demo.store.folder(*privacy.folder(kind, accounts.get(login).sub))

    for login in ("bob", "boss"):
        for kind in ("recordings", "transcripts", "chat-archives"):
            os.makedirs(where(login, kind))
            with open(os.path.join(where(login, kind), "2026-11-01.bin"), "wb") as f:
                f.write(b"secret call content" * 10)
    admin = people["admin"]
    page = admin.get("/admin/users/bob?tab=privacy", headers={"Host": HOST})
    assert "1 file, 190 bytes" in page.text
    unconfirmed = admin.post("/admin/users/bob/erase", data={"csrf": csrf_of(page.text), "kind": "recordings"},
                             headers={"Host": HOST})
    assert unconfirmed.status_code == 400
    assert os.path.exists(where("bob", "recordings"))
    done = admin.post("/admin/users/bob/erase", data={"csrf": csrf_of(page.text), "kind": "recordings",
                                                      "confirm": "1"}, headers={"Host": HOST})
    assert done.status_code == 303
    assert not os.path.exists(where("bob", "recordings"))
    for kept in (("bob", "transcripts"), ("bob", "chat-archives"), ("boss", "recordings")):
        assert os.path.exists(os.path.join(where(*kept), "2026-11-01.bin"))
    [event] = [e for e in audit.read_all(demo.store) if e["event"] == "privacy.erased"]
    assert event["files"] == 1 and event["bytes"] == 190 and event["actor"] == "boss"
    assert "secret call content" not in json.dumps(audit.read_all(demo.store))
    bad = admin.post("/admin/users/bob/erase", data={"csrf": csrf_of(page.text), "kind": "../../keys",
                                                     "confirm": "1"}, headers={"Host": HOST})
    assert bad.status_code == 400 and os.path.exists(os.path.join(demo.store.root, "keys"))


def test_clients_page_shows_the_secret_once_and_stores_its_hash(people, demo):
    admin = people["admin"]
    page = admin.get("/admin/clients", headers={"Host": HOST})
    created = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Portal",
                                                 "redirect_uris": "https://portal.example/cb",
                                                 "scopes": ["openid", "email"]}, headers={"Host": HOST},
                         follow_redirects=True)
    secret = re.search(r'id="client-secret">([^<]+)<', created.text).group(1)
    client_id = re.search(r'id="client-id">([^<]+)<', created.text).group(1)
    stored = open(os.path.join(demo.store.root, "clients", f"{client_id}.json")).read()
    assert secret not in stored
    again = admin.get(f"/admin/clients/{client_id}", headers={"Host": HOST})
    assert secret not in again.text
    client = Clients(demo.store).get(client_id)
    assert client.check_client_secret(secret)
    renewed = admin.post(f"/admin/clients/{client_id}/secret", data={"csrf": csrf_of(again.text)},
                         headers={"Host": HOST}, follow_redirects=True)
    new_secret = re.search(r'id="client-secret">([^<]+)<', renewed.text).group(1)
    client = Clients(demo.store).get(client_id)
    assert client.check_client_secret(new_secret) and not client.check_client_secret(secret)
    bad = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Evil",
                                             "redirect_uris": "http://evil.example/cb"}, headers={"Host": HOST})
    assert bad.status_code == 400 and "must use https" in bad.text
    deleted = admin.post(f"/admin/clients/{client_id}/delete", data={"csrf": csrf_of(again.text)},
                         headers={"Host": HOST})
    assert deleted.status_code == 303 and Clients(demo.store).get(client_id) is None


def test_sign_in_settings_are_validated_and_applied(people, client, tenants):
    admin = people["admin"]
    page = admin.get("/admin/settings", headers={"Host": HOST})
    form = {"csrf": csrf_of(page.text), "methods": ["magic_link", "password"], "signup": "domains",
            "domains": "example.com", "user_verification": "preferred", "attestation": "none",
            "allowed_aaguids": "", "max_passkeys": "3", "ext_low": "700", "ext_high": "799"}
    warned = admin.post("/admin/settings", data=form, headers={"Host": HOST})  # sign-up narrows: asked first
    assert warned.status_code == 409 and 'id="settings-warning"' in warned.text
    assert tenants.get("demo").settings["signup"]["policy"] != "domains"
    form["confirm"] = "1"
    assert admin.post("/admin/settings", data=form, headers={"Host": HOST}).status_code == 303
    settings = tenants.get("demo").settings
    assert settings["methods"] == ["magic_link", "password"] and settings["signup"]["domains"] == ["example.com"]
    assert settings["passkeys"]["max_per_account"] == 3 and settings["extension_range"] == [700, 799]
    assert 'id="choose-password"' in client.get("/signin", headers={"Host": HOST}).text  # identifier first
    for bad in ({"methods": []}, {"signup": "domains", "domains": ""}, {"ext_low": "900", "ext_high": "800"},
                {"allowed_aaguids": "not-a-guid"}, {"max_passkeys": "0"}, {"signup": "all"}):
        response = admin.post("/admin/settings", data={**form, **bad}, headers={"Host": HOST})
        assert response.status_code == 400, bad
    assert tenants.get("demo").settings["extension_range"] == [700, 799]


def test_languages_are_validated_then_offered(people, client):
    admin = people["admin"]
    page = admin.get("/admin/languages", headers={"Host": HOST})
    good = {"signin.title": "Se connecter",
            "error.rate_limited": {"one": "Trop d'essais. Attendez {minutes} minute.",
                                   "many": "Trop d'essais. Attendez {minutes} de minutes.",
                                   "other": "Trop d'essais. Attendez {minutes} minutes."}}
    for bad, message in (({"no.such.key": "x"}, "unknown message id"),
                         ({"inbox.sent": "Un lien arrive."}, "placeholders"),
                         ({"inbox.sent": "{seconds}"}, "English text does not have"),
                         ({"error.rate_limited": "Trop d'essais."}, "one, many, other")):
        response = admin.post("/admin/languages", data={"csrf": csrf_of(page.text), "lang": "fr",
                                                        "messages": json.dumps(bad)}, headers={"Host": HOST})
        assert response.status_code == 400 and message in response.text
    refused = admin.post("/admin/languages", data={"csrf": csrf_of(page.text), "lang": "de",
                                                   "messages": json.dumps(good)}, headers={"Host": HOST})
    assert refused.status_code == 400
    saved = admin.post("/admin/languages", data={"csrf": csrf_of(page.text), "lang": "fr",
                                                 "messages": json.dumps(good)}, headers={"Host": HOST})
    assert saved.status_code == 303
    french = client.get("/signin", headers={"Host": HOST, "Accept-Language": "fr"})
    assert '<html lang="fr">' in french.text and "Se connecter" in french.text
    assert "We send a link that works once" in french.text  # untranslated messages stay English


def test_hostile_catalogue_is_refused_at_upload_with_a_clear_message(people, tenants):
    """Finding 5: format specs, attributes and conversions are refused, per message id, in the admin's language."""
    admin = people["admin"]
    page = admin.get("/admin/languages", headers={"Host": HOST})
    for text in ("{email:>3000000}", "{email.__class__.__mro__}", "{email!r}", "{email:d}"):
        response = admin.post("/admin/languages", data={"csrf": csrf_of(page.text), "lang": "fr",
                                                        "messages": json.dumps({"inbox.sent": text})},
                              headers={"Host": HOST})
        assert response.status_code == 400, text
        assert "inbox.sent" in response.text and "not allowed" in response.text
    assert "fr" not in tenants.get("demo").languages


def test_a_catalogue_nested_too_deeply_is_the_shape_error_not_a_500(people, tenants):
    """Finding 13: a deeply nested catalogue upload (15,000 levels) raised RecursionError in json.loads (a 500);
    it goes through the app's one JSON parser and is refused like any malformed catalogue."""
    admin = people["admin"]
    page = admin.get("/admin/languages", headers={"Host": HOST})
    response = admin.post("/admin/languages", data={"csrf": csrf_of(page.text), "lang": "fr",
                                                    "messages": "[" * 15_000 + "]" * 15_000},
                          headers={"Host": HOST})
    assert response.status_code == 400 and "fr" not in tenants.get("demo").languages


def test_a_stored_hostile_catalogue_renders_literally_and_never_fails(people, tenants, client):
    """Finding 5: a catalogue stored before the upload check existed can neither expand, leak nor fail."""
    demo = tenants.get("demo")
    demo.store.write("i18n", "fr", doc={"messages": {
        "signin.title": "{x:>3000000}", "signin.lead": "{x.__class__.__mro__}",
        "error.rate_limited": "{minutes:d}", "inbox.sent": "{email:d}"}})
    with demo.store.update("tenant") as doc:
        doc["languages"] = ["en", "de", "fr"]
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": "fr"})
    assert page.status_code == 200 and len(page.text) < 100_000
    assert "{x:&gt;3000000}" in page.text and "mro" in page.text and "&lt;class" not in page.text
    sent = client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "new@example.com"},
                       headers={"Host": HOST, "Accept-Language": "fr"})
    assert sent.status_code == 303
    shown = client.get(sent.headers["Location"], headers={"Host": HOST, "Accept-Language": "fr"})
    assert shown.status_code == 200 and "{email:d}" in shown.text


def test_counts_on_admin_pages_have_their_plural_form(people, tenants):
    """Finding 26: one account is "1 account" ("1 Konto"), not "1 accounts" ("1 Konten")."""
    admin = people["admin"]
    clients = len(Clients(tenants.get("demo").store).list())
    shell = admin.get("/admin.html", headers={"Host": HOST}).text
    assert "2 accounts:" in shell and (f"{clients} relying parties:" if clients != 1 else "1 relying party:") in shell
    assert "1 account<" in admin.get("/admin/users?q=bob", headers={"Host": HOST}).text
    with tenants.get("demo").store.update("users", "boss") as doc:
        doc["language"] = "de"
    assert "2 Konten:" in admin.get("/admin.html", headers={"Host": HOST}).text
    found = admin.get("/admin/users?q=bob", headers={"Host": HOST}).text
    assert "1 Konto<" in found and "(n)" not in found


def test_the_admin_chooses_the_time_zone_of_every_date(people, tenants):
    """Finding 26: times are shown in the tenant's IANA zone, which the admin sets and which is validated."""
    admin = people["admin"]
    page = admin.get("/admin/settings", headers={"Host": HOST})
    assert 'value="Europe/Berlin"' in page.text
    form = {"csrf": csrf_of(page.text), "methods": ["magic_link", "passkey"], "signup": "open", "domains": "",
            "user_verification": "required", "attestation": "none", "allowed_aaguids": "", "max_passkeys": "10",
            "ext_low": "600", "ext_high": "699"}
    for bad in ("Mars/Olympus", "../../etc/passwd", ""):
        refused = admin.post("/admin/settings", data={**form, "time_zone": bad}, headers={"Host": HOST})
        assert refused.status_code == 400 and "IANA" in refused.text, bad
    assert tenants.get("demo").settings["time_zone"] == "Europe/Berlin"
    saved = admin.post("/admin/settings", data={**form, "time_zone": "America/New_York"}, headers={"Host": HOST})
    assert saved.status_code == 303 and tenants.get("demo").settings["time_zone"] == "America/New_York"
    audit_page = admin.get("/admin/audit", headers={"Host": HOST}).text
    assert "UTC" not in audit_page and re.search(r"\d{4}, \d{1,2}:\d{2}", audit_page)


def test_audit_log_is_viewable_and_filterable(people):
    admin = people["admin"]
    everything = admin.get("/admin/audit", headers={"Host": HOST})
    assert "signin" in everything.text
    only_bob = admin.get("/admin/audit?login=bob", headers={"Host": HOST})
    assert "boss" not in re.sub(r"<nav.*?</nav>|<header.*?</header>", "", only_bob.text, flags=re.S)


def test_break_glass_link_works_once_expires_and_is_audited(app, demo, accounts, clock):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    demo.store.clock = clock
    link = breakglass.create_link(demo.store, "http://localhost")
    operator = app.test_client()
    path = urlsplit(link).path
    page = operator.get(path, headers={"Host": HOST})
    assert page.status_code == 200
    token_value = path.rsplit("/", 1)[1]
    entered = operator.post("/breakglass", data={"csrf": csrf_of(page.text), "token": token_value},
                            headers={"Host": HOST})
    assert entered.headers["Location"] == "/admin.html"
    shell = operator.get("/admin.html", headers={"Host": HOST})
    assert shell.status_code == 200 and "Break-glass session" in shell.text
    users = operator.get("/admin/users", headers={"Host": HOST}).text
    table = re.search(r'<table class="data-table" id="user-table">.*?</table>', users, re.S).group(0)
    assert "superuser" not in table.lower() and "1 account<" in users  # only boss: no superuser account
    again = app.test_client()
    assert again.get(path, headers={"Host": HOST}).status_code == 400  # used once
    # A superuser's actions are marked as break-glass in the audit log.
    operator.post("/admin/users/boss", data={"csrf": csrf_of(shell.text), "display_name": "The Boss", "admin": "1",
                                             "ext": ""}, headers={"Host": HOST})
    events = audit.read_all(demo.store)
    assert any(e["event"] == "breakglass.used" for e in events)
    assert any(e["event"] == "user.updated" and e.get("breakglass") and e["actor"] == "superuser" for e in events)
    # The superuser gets no token: it is no account, so /authorize asks for a sign-in.
    assert operator.get("/account", headers={"Host": HOST}).status_code == 303
    stale = breakglass.create_link(demo.store, "http://localhost")
    clock.advance(breakglass.LINK_LIFETIME + 1)
    assert app.test_client().get(urlsplit(stale).path, headers={"Host": HOST}).status_code == 400


@pytest.mark.parametrize("email, message", [
    ("jörg@example.com", "before the @"),
    ("=?utf-8?q?victim=40evil.example=3E=2C?=@example.com", "valid email address"),
])
def test_an_invite_to_a_refused_address_creates_nothing(people, mailbox, accounts, email, message):
    """Finding 13 (and 12 at the admin's invite): a non-ASCII address gave 500 and left the
    account half-created with no mail sent; it is validated before anything is created."""
    admin = people["admin"]
    logins, mails = sorted(accounts.list()), len(mailbox.files())
    page = admin.get("/admin/users", headers={"Host": HOST})
    refused = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": email},
                         headers={"Host": HOST})
    assert refused.status_code == 400 and message in refused.text
    assert sorted(accounts.list()) == logins and len(mailbox.files()) == mails


def test_an_invite_that_cannot_be_mailed_undoes_the_account(people, mailbox, accounts, monkeypatch):
    """Finding 13: if the invitation cannot be written to the pickup folder, the account it was
    for is removed again (and its email, login and extension are free), with a clear 503."""
    from codeb.store import spool

    def full_disk(**_):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(spool, "deliver", full_disk)
    admin = people["admin"]
    logins = sorted(accounts.list())
    page = admin.get("/admin/users", headers={"Host": HOST})
    failed = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "carol@example.com"},
                        headers={"Host": HOST})
    assert failed.status_code == 503 and "could not be sent" in failed.text
    assert sorted(accounts.list()) == logins and accounts.find_by_email("carol@example.com") is None
    monkeypatch.undo()
    page = admin.get("/admin/users", headers={"Host": HOST})
    again = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "email": "carol@example.com"},
                       headers={"Host": HOST})
    assert again.status_code == 303 and again.headers["Location"].startswith("/admin/users/carol")


@pytest.mark.parametrize("uri", ["http://[::1/", "https://[zz]/cb", "https://host:99999/cb", "https://host:x/cb"])
def test_a_malformed_redirect_uri_is_the_fields_error_not_a_500(people, demo, uri):
    """Finding 13: `http://[::1/` on the clients page gave 500 (urlsplit raises ValueError)."""
    admin = people["admin"]
    page = admin.get("/admin/clients", headers={"Host": HOST})
    refused = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Broken",
                                                 "redirect_uris": uri}, headers={"Host": HOST})
    assert refused.status_code == 400 and "redirect URI" in refused.text
    assert Clients(demo.store).list() == []


def test_admins_export_contains_no_secret_or_verifier(people, accounts):
    """Finding 3: the admin's export of a person is the same allow-listed document: no password
    hash, salt, SIP HA1, passkey key or session id of the account is in it."""
    from tests.http.test_account import give_secrets, secret_values
    give_secrets(accounts, "bob")
    secrets_ = secret_values(accounts.get("bob").doc)
    response = people["admin"].get("/admin/users/bob/export", headers={"Host": HOST})
    assert response.status_code == 200
    for value in secrets_:
        assert value.encode() not in response.data, value
    assert json.loads(response.data)["account"]["password"]["set"] is True


@pytest.mark.parametrize("ext, status", [("abc", 400), ("5", 400), ("boss", 409)])
def test_user_form_with_a_bad_extension_changes_nothing(people, accounts, ext, status):
    """Finding 20: saving bob with "admin" ticked and extension `abc` showed the error but had
    already granted admin and saved the name. The form is now validated whole, then saved in
    one update: a bad, out-of-range or taken extension leaves the account as it was."""
    admin = people["admin"]
    if ext == "boss":
        ext = str(accounts.get("boss").ext)
    before = accounts.get("bob").doc
    page = admin.get("/admin/users/bob", headers={"Host": HOST})
    saved = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Robert New",
                                                 "admin": "1", "ext": ext}, headers={"Host": HOST})
    assert saved.status_code == status
    assert accounts.get("bob").doc == before
    assert "admin" not in accounts.get("bob").roles
    assert people["user"].get("/account", headers={"Host": HOST}).status_code == 200  # his session lives on
    assert "user.roles_changed" not in [e["event"] for e in audit.read_all(accounts.store)]


def test_refused_demotion_claims_no_extension(people, accounts):
    """Finding 20: when the last admin's demotion is refused, the new extension of the same form
    is not claimed either (the claim is undone, or never made)."""
    admin = people["admin"]
    before = accounts.get("boss").doc
    page = admin.get("/admin/users/boss", headers={"Host": HOST})
    refused = admin.post("/admin/users/boss", data={"csrf": csrf_of(page.text), "display_name": "Boss New",
                                                    "ext": "650"}, headers={"Host": HOST})
    assert refused.status_code == 409 and "last administrator" in refused.text
    assert accounts.get("boss").doc == before and accounts.find_by_extension(650) is None
    assert accounts.extensions.index.get("650") is None
    moved = admin.post("/admin/users/bob", data={"csrf": csrf_of(page.text), "display_name": "Bob",
                                                 "ext": "650"}, headers={"Host": HOST})
    assert moved.status_code == 303 and accounts.find_by_extension(650).login == "bob"


def test_client_registration_and_new_secret_answer_with_a_redirect_and_show_the_secret_once(people, demo,
                                                                                             data_root, app):
    """Finding 21: registering a client and generating a new secret answered the POST with a page,
    so a reload registered a second client or invalidated the secret just copied. Now each POST
    redirects (303) to the client's page, which shows the secret from a short-lived record once;
    a reload says it was shown and never shows it again, nor does the link in another browser."""
    admin = people["admin"]
    page = admin.get("/admin/clients", headers={"Host": HOST})
    created = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Portal",
                                                 "redirect_uris": "https://portal.example/cb"}, headers={"Host": HOST})
    assert created.status_code == 303
    location = created.headers["Location"]
    [client] = Clients(demo.store).list()
    assert urlsplit(location).path == f"/admin/clients/{client.client_id}"
    other_admin = app.test_client()
    shown = admin.get(location, headers={"Host": HOST})
    secret = re.search(r'id="client-secret">([^<]+)<', shown.text).group(1)
    assert client.check_client_secret(secret)
    for root, _, names in os.walk(data_root):  # the plaintext never reached the disk
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                assert secret.encode() not in f.read(), name
    reload = admin.get(location, headers={"Host": HOST})
    assert reload.status_code == 200 and secret not in reload.text
    assert "already shown" in reload.text
    assert secret not in other_admin.get(location, headers={"Host": HOST}).text
    assert len(Clients(demo.store).list()) == 1
    renewed = admin.post(f"/admin/clients/{client.client_id}/secret", data={"csrf": csrf_of(shown.text)},
                         headers={"Host": HOST})
    assert renewed.status_code == 303
    new_secret = re.search(r'id="client-secret">([^<]+)<',
                           admin.get(renewed.headers["Location"], headers={"Host": HOST}).text).group(1)
    assert Clients(demo.store).get(client.client_id).check_client_secret(new_secret) and new_secret != secret
    again = admin.get(renewed.headers["Location"], headers={"Host": HOST})
    assert new_secret not in again.text and "already shown" in again.text
    assert Clients(demo.store).get(client.client_id).check_client_secret(new_secret)


def test_a_shown_secret_record_dies_young(people, demo, clock):
    """Finding 21: the record a secret is shown from lives a few minutes only."""
    admin = people["admin"]
    page = admin.get("/admin/clients", headers={"Host": HOST})
    created = admin.post("/admin/clients", data={"csrf": csrf_of(page.text), "name": "Portal",
                                                 "redirect_uris": "https://portal.example/cb"}, headers={"Host": HOST})
    clock.advance(3600)
    late = people["admin"].get(created.headers["Location"], headers={"Host": HOST})
    assert 'id="client-secret"' not in late.text and "already shown" in late.text


def _client_id(demo):
    return Clients(demo.store).add(name="Portal", redirect_uris=["https://portal.example/cb"])[0].client_id


@pytest.mark.parametrize("case", ["client_save", "client_create", "user_ext", "user_create", "user_delete",
                                  "settings_range", "settings_domains", "language_code"])
def test_a_refused_admin_form_keeps_the_input_and_marks_the_field(people, demo, case):
    """Finding 22: a validation error on the client page threw away what the admin typed, and
    errors stood at the top of the page. Now every admin form shows its error beside the field
    (aria-invalid, aria-describedby to the message, autofocus) and keeps what was typed."""
    admin = people["admin"]
    path, data, field, message, kept = {
        "client_save": (f"/admin/clients/{_client_id(demo)}",
                        {"name": "Portal renamed", "redirect_uris": "https://portal.example/cb\nhttp://typed.example/cb",
                         "post_logout_redirect_uris": "https://portal.example/bye", "scopes": ["openid"]},
                        "redirect-uris", "must use https",
                        ["Portal renamed", "https://portal.example/bye", "http://typed.example/cb"]),
        "client_create": ("/admin/clients", {"name": "Shop", "redirect_uris": "https://shop.example/cb",
                                             "post_logout_redirect_uris": "http://shop.example/bye"},
                          "logout-uris", "must use https", ["Shop", "https://shop.example/cb"]),
        "user_ext": ("/admin/users/bob", {"display_name": "Robert Typed", "ext": "abc", "admin": "1"},
                     "ext", "", ["Robert Typed", 'value="abc"']),
        "user_create": ("/admin/users", {"email": "not an address", "display_name": "Carol Typed",
                                         "login": "carol"}, "new-email", "", ["Carol Typed", 'value="carol"']),
        "user_delete": ("/admin/users/bob/delete", {"confirm": "bo"}, "confirm-delete", "bob", []),
        "settings_range": ("/admin/settings", {"methods": ["magic_link", "passkey"], "signup": "domains",
                                               "domains": "typed.example", "user_verification": "required",
                                               "attestation": "none", "max_passkeys": "10",
                                               "ext_low": "900", "ext_high": "100"},
                           "ext-low", "", ['value="typed.example"', 'value="900"', 'value="100"']),
        "settings_domains": ("/admin/settings", {"methods": ["magic_link"], "signup": "domains", "domains": "",
                                                 "user_verification": "required", "attestation": "none",
                                                 "max_passkeys": "7", "ext_low": "600", "ext_high": "699"},
                             "domains", "", ['value="7"']),
        "language_code": ("/admin/languages", {"lang": "Not a code!", "messages": '{"app.name": "CodeB typed"}'},
                          "lang", "", ["CodeB typed", 'value="Not a code!"']),
    }[case]
    page = admin.get(path if case not in ("user_create", "user_delete") else "/admin/users/bob",
                     headers={"Host": HOST})
    response = admin.post(path, data={"csrf": csrf_of(page.text), **data}, headers={"Host": HOST})
    assert 400 <= response.status_code < 500, response.text
    shown = field_error(response.text, field)
    assert shown and message in shown, response.text
    assert 'id="admin-error"' not in response.text  # not at the top: beside its field
    for typed in kept:
        assert typed in response.text, typed
