"""The admin console of issue 11: the user list's statuses, filters, order, paging and bulk
actions; the user's tabs (sessions, passkeys, activity, legal hold); the audit log in sentences,
paged and as CSV; the endpoints to copy; the settings that warn before they save."""

import csv
import io
import os
import re
from pathlib import Path

import pytest

from codeb import audit
from codeb.accounts import breakglass, privacy
from tests.http.test_admin import token
from tests.support.web import HOST, add_recording, csrf_of, sign_in


def get(client, path, **headers):
    return client.get(path, headers={"Host": HOST, **headers})


def post(client, path, data, page="/admin/users"):
    return client.post(path, data={"csrf": csrf_of(get(client, page).text), **data}, headers={"Host": HOST})


def logins_of(html: str) -> list[str]:
    table = re.search(r'<table class="data-table" id="user-table">.*?</table>', html, re.S).group(0)
    return re.findall(r'<input type="checkbox" name="login" value="([^"]+)"', table)


# -- the user list ---------------------------------------------------------------------

def test_the_list_shows_status_last_sign_in_and_passkeys_from_the_index(people, accounts, clock):
    accounts.create(email="carol@example.com", login="carol")  # invited: never signed in
    accounts.set_disabled("bob", True)
    html = get(people["admin"], "/admin/users").text
    rows = dict(re.findall(r'value="(\w+)" id="pick-\d+".*?(<span class="badge badge-\w+">\w+</span>)</td>', html,
                           re.S))
    assert "badge-warning\">invited" in rows["carol"]
    assert "badge-error\">disabled" in rows["bob"]
    assert "badge-success\">active" in rows["boss"]
    seen = accounts.directory.search("boss")[1][0]["seen"]
    assert seen and re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">[^<]+</time>', html)
    assert "never" in html  # carol's last sign-in
    # What the list reads is in the directory's entry: no account document is opened for it.
    assert set(accounts.directory.search("carol")[1][0]) >= {"status", "seen", "passkeys", "created"}


def test_filters_and_sorting_keep_each_other_in_their_links(people, accounts):
    accounts.create(email="zed@example.com", login="zed", display_name="Aaron Zed")
    accounts.create(email="amy@example.com", login="amy", display_name="Zoe Amy")
    admin = people["admin"]
    assert logins_of(get(admin, "/admin/users?status=invited").text) == ["amy", "zed"]
    assert logins_of(get(admin, "/admin/users?role=admin").text) == ["boss"]
    assert logins_of(get(admin, "/admin/users?sort=name").text)[:2] == ["zed", "bob"]  # Aaron Zed, bob
    assert logins_of(get(admin, "/admin/users?sort=email&dir=desc").text) == ["zed", "boss", "bob", "amy"]
    html = get(admin, "/admin/users?status=invited&q=example").text
    sort_link = re.search(r'href="([^"]+)" id="sort-email"', html).group(1).replace("&amp;", "&")
    assert "status=invited" in sort_link and "q=example" in sort_link and "sort=email" in sort_link
    assert logins_of(get(admin, "/admin/users?status=nonsense&sort=evil&dir=up").text) == ["amy", "bob", "boss", "zed"]


def test_paging_keeps_the_filters_and_reaches_the_last_page(people, accounts):
    for n in range(60):
        accounts.create(email=f"p{n:02d}@example.com", login=f"p{n:02d}")
    admin = people["admin"]
    first = get(admin, "/admin/users?status=invited&sort=created&dir=desc").text
    assert len(logins_of(first)) == 50 and "60 accounts" in first
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=invited" in following and "sort=created" in following and "page=2" in following
    second = get(admin, following).text
    assert len(logins_of(second)) == 10
    assert not set(logins_of(first)) & set(logins_of(second))


# -- bulk actions ------------------------------------------------------------------------

def test_bulk_disable_checks_each_account_and_says_what_it_did(people, accounts):
    accounts.create(email="carol@example.com", login="carol")
    response = post(people["admin"], "/admin/users/bulk",
                    {"action": "disable", "login": ["bob", "carol", "boss", "nobody", "../x"]})
    assert response.status_code == 200
    assert accounts.get("bob").disabled and accounts.get("carol").disabled
    assert not accounts.get("boss").disabled  # one's own account is skipped
    summary = re.search(r'id="bulk-summary".*?</div>\s*</div>', response.text, re.S).group(0)
    assert "2 accounts were disabled" in summary
    assert "that is your own account" in summary and "there is no such account" in summary
    events = [e for e in audit.read_all(accounts.store) if e["event"] == "user.disabled"]
    assert sorted(e["login"] for e in events) == ["bob", "carol"] and all(e["actor"] == "boss" for e in events)


def test_bulk_disable_never_disables_the_last_admin(app, demo, accounts, mailbox):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    operator = app.test_client()
    link = breakglass.create_link(demo.store, "http://localhost")
    value = link.rsplit("/", 1)[1]
    page = operator.get(f"/breakglass/{value}", headers={"Host": HOST})
    operator.post("/breakglass", data={"csrf": csrf_of(page.text), "token": value}, headers={"Host": HOST})
    response = post(operator, "/admin/users/bulk", {"action": "disable", "login": ["boss"]})
    assert response.status_code == 200 and "last administrator" in response.text
    assert not accounts.get("boss").disabled


def test_bulk_resend_invites_only_who_has_not_signed_in(people, accounts, mailbox):
    accounts.create(email="carol@example.com", login="carol")
    before = len(mailbox.messages())
    response = post(people["admin"], "/admin/users/bulk", {"action": "resend", "login": ["carol", "bob"]})
    assert response.status_code == 200
    assert mailbox.last().message["To"] == "carol@example.com"
    assert "1 invitation was sent again" in response.text and "has signed in already" in response.text
    assert len(mailbox.messages()) == before + 1
    assert [e["login"] for e in audit.read_all(accounts.store) if e["event"] == "user.invitation_resent"] == ["carol"]


def test_bulk_is_for_this_tenants_admins_with_a_csrf_token(people, accounts):
    for who in ("user", "anonymous", "other"):
        response = people[who].post("/admin/users/bulk", data={"csrf": token(people[who]), "action": "disable",
                                                               "login": ["bob"]}, headers={"Host": HOST})
        assert response.status_code == 403, who
    forged = people["admin"].post("/admin/users/bulk", data={"action": "disable", "login": ["bob"]},
                                  headers={"Host": HOST})
    assert forged.status_code in (400, 403)
    assert not accounts.get("bob").disabled
    nothing = post(people["admin"], "/admin/users/bulk", {"action": "disable"})
    assert nothing.status_code == 400 and "Tick at least one account" in nothing.text
    assert post(people["admin"], "/admin/users/bulk", {"action": "explode", "login": ["bob"]}).status_code == 400


# -- the user's tabs ------------------------------------------------------------------

@pytest.mark.parametrize("tab,shows", [("profile", 'id="edit-user"'), ("roles", 'id="edit-roles"'),
                                       ("sessions", "Sign out everywhere"), ("passkeys", 'id="no-passkeys"'),
                                       ("activity", "bob signed in with a link by email"),
                                       ("privacy", "Nothing to erase"), ("hold", 'id="place-hold"')])
def test_each_tab_shows_its_part(people, tab, shows):
    html = get(people["admin"], f"/admin/users/bob?tab={tab}").text
    assert shows in html
    assert re.search(rf'id="tab-{tab}" aria-current="page"', html)


def test_an_admin_ends_one_session_or_all_of_them(people, accounts, app, mailbox):
    second = app.test_client()
    sign_in(second, mailbox, "bob@example.com")
    html = get(people["admin"], "/admin/users/bob?tab=sessions").text
    ids = re.findall(r'/admin/users/bob/sessions/([^/"]+)/end', html)
    assert len(ids) == 2
    ended = post(people["admin"], f"/admin/users/bob/sessions/{ids[0]}/end", {})
    assert ended.status_code == 303
    alive = [c for c in (people["user"], second) if get(c, "/account").status_code == 200]
    assert len(alive) == 1
    assert post(people["admin"], f"/admin/users/bob/sessions/{ids[0]}/end", {}).status_code == 404
    assert post(people["admin"], "/admin/users/bob/sessions/end-all", {}).status_code == 303
    assert all(get(c, "/account").status_code != 200 for c in (people["user"], second))
    events = [e for e in audit.read_all(accounts.store) if e["event"].startswith("session.")]
    assert [(e["event"], e["actor"]) for e in events] == [("session.ended", "boss"),
                                                           ("session.ended_everywhere", "boss")]


def test_an_admin_revokes_a_passkey(people, accounts, demo):
    with accounts.update("bob") as doc:
        doc["passkeys"] = [{"id": "cred-1", "name": "Bob's phone", "public_key": "", "created": 1, "sign_count": 0}]
    demo.store.index("by-credential").put("cred-1", "bob")
    html = get(people["admin"], "/admin/users/bob?tab=passkeys").text
    assert "Bob&#39;s phone" in html and "can no longer sign in with this passkey" in html
    assert re.search(r'<td data-label="Passkeys">1</td>', get(people["admin"], "/admin/users").text)
    assert post(people["admin"], "/admin/users/bob/passkeys/cred-1/remove", {}).status_code == 303
    assert accounts.get("bob").doc.get("passkeys") == []
    assert post(people["admin"], "/admin/users/bob/passkeys/cred-1/remove", {}).status_code == 404
    [event] = [e for e in audit.read_all(accounts.store) if e["event"] == "passkey.removed"]
    assert event["actor"] == "boss" and event["login"] == "bob"
    activity = get(people["admin"], "/admin/users/bob?tab=activity").text
    assert "boss removed a passkey of bob" in activity


# -- legal hold on a live account ---------------------------------------------------------------

def test_legal_hold_is_placed_with_a_reason_refuses_erasure_and_deletion_and_is_lifted(people, accounts, demo):
    admin = people["admin"]
    folder = add_recording(demo, accounts, "bob")
    missing = post(admin, "/admin/users/bob/hold", {"reason": "   "})
    assert missing.status_code == 400 and "Give a reason" in missing.text
    assert not privacy.held(demo.store, accounts.get("bob").sub)
    assert post(admin, "/admin/users/bob/hold", {"reason": "Case 4711"}).status_code == 303
    assert post(admin, "/admin/users/bob/hold", {"reason": "again"}).status_code == 409
    page = get(admin, "/admin/users/bob?tab=privacy").text
    assert re.search(r'id="erase-recordings" disabled', page) and "Under legal hold" in page
    refused = post(admin, "/admin/users/bob/erase", {"kind": "recordings", "confirm": "1"})
    assert refused.status_code == 409 and os.path.exists(folder)
    deleted = post(admin, "/admin/users/bob/delete", {"confirm": "bob"})
    assert deleted.status_code == 409 and accounts.get("bob") is not None
    own = people["user"]
    assert get(own, "/account/delete").status_code in (200, 303)
    # The hold is lifted with a reason; then erasure works again.
    assert post(admin, "/admin/users/bob/hold/lift", {"reason": ""}).status_code == 400
    assert post(admin, "/admin/users/bob/hold/lift", {"reason": "Case closed"}).status_code == 303
    assert post(admin, "/admin/users/bob/erase", {"kind": "recordings", "confirm": "1"}).status_code == 303
    assert not os.path.exists(folder)
    events = [(e["event"], e.get("reason")) for e in audit.read_all(demo.store) if e["event"].startswith("privacy.")]
    assert events[:2] == [("privacy.hold_placed", "Case 4711"), ("privacy.hold_lifted", "Case closed")]
    activity = get(admin, "/admin/users/bob?tab=activity").text
    assert "boss placed a legal hold on bob: Case 4711" in activity


def test_a_held_account_deleted_with_its_files_kept_carries_the_hold_on(people, accounts, demo):
    admin = people["admin"]
    folder = add_recording(demo, accounts, "bob")
    sub = accounts.get("bob").sub
    post(admin, "/admin/users/bob/hold", {"reason": "Case 4711"})
    assert post(admin, "/admin/users/bob/delete", {"confirm": "bob", "hold": "1"}).status_code == 303
    [kept] = privacy.holds(demo.store)
    assert kept["sub"] == sub and kept["reason"] == "Case 4711" and os.path.exists(folder)


def test_a_live_accounts_hold_is_not_released_as_a_deleted_accounts(people, accounts, demo):
    post(people["admin"], "/admin/users/bob/hold", {"reason": "Case 4711"})
    assert privacy.holds(demo.store) == []  # the users page lists deleted accounts' holds only
    hold_id = os.listdir(demo.store.folder("legal-holds"))[0].removesuffix(".json")
    response = post(people["admin"], f"/admin/legal-holds/{hold_id}/erase", {"confirm": "1"})
    assert response.status_code == 404 and privacy.held(demo.store, accounts.get("bob").sub)


def test_erase_is_offered_only_when_there_is_something_to_erase(people, accounts, demo):
    page = get(people["admin"], "/admin/users/bob?tab=privacy").text
    assert re.search(r'id="erase-recordings" disabled aria-describedby="erase-recordings-why"', page)
    add_recording(demo, accounts, "bob")
    page = get(people["admin"], "/admin/users/bob?tab=privacy").text
    assert '<button type="submit" class="danger" id="erase-recordings">' in page
    assert "1 file of Call recordings is erased for good" in page


# -- the audit log ----------------------------------------------------------------------

def test_the_audit_log_reads_as_sentences_in_both_languages(people, accounts, demo):
    post(people["admin"], "/admin/users/bob", {"part": "roles", "admin": "1"})
    audit.append(demo.store, "something.new", login="bob")
    english = get(people["admin"], "/admin/audit").text
    assert "boss made bob an administrator" in english and "bob signed in with a link by email" in english
    assert "Event something.new" in english
    with accounts.update("boss") as doc:
        doc["language"] = "de"
    german = get(people["admin"], "/admin/audit").text
    assert "boss hat bob zum Administrator gemacht" in german and "Ereignis something.new" in german
    assert "Was geschah" in german and "Als CSV herunterladen" in german


def test_branding_consent_and_error_events_read_as_sentences(people, demo):
    audit.append(demo.store, "brand.changed", actor="boss", change="remove_logo")
    audit.append(demo.store, "consent.granted", login="bob", client_id="calendar", scopes=["openid"])
    audit.append(demo.store, "consent.revoked", login="bob", client_id="calendar")
    audit.error_shown(demo.store, "7KQ2-M9XD", status=404, message="error.not_found", method="GET",
                      rule="/admin/users/<login>", login="bob")
    page = get(people["admin"], "/admin/audit").text
    assert "boss removed the logo" in page
    assert "bob allowed the app calendar to use their account" in page
    assert "bob withdrew the access of the app calendar" in page
    assert "bob saw an error page for GET /admin/users/&lt;login&gt; (404, reference 7KQ2-M9XD)" in page


def test_every_event_the_code_writes_has_its_sentence():
    """An event kind written anywhere in codeb/ is one `audit.sentence` knows, so no line of
    the log reads as the bare fallback "Event …"."""
    root = Path(audit.__file__).parent
    written = {"error.shown"}  # audit.error_shown
    for path in root.rglob("*.py"):
        written |= set(re.findall(r'audit\.append\([^,]+,\s*"([a-z_.]+)"', path.read_text()))
    assert len(written) > 20 and sorted(written - set(audit.KINDS)) == []


def test_every_event_kind_has_its_sentence_and_the_unknown_a_fallback():
    from codeb import i18n

    for lang in ("en", "de"):
        catalogue = i18n.catalogue(lang)
        for kind in audit.KINDS:
            message_id, _, labels = audit.sentence({"event": kind, "actor": "ada", "login": "ben"})
            assert message_id in catalogue, (lang, kind)
            assert all(label in catalogue for label in labels.values() if not label.startswith("admin.kind."))
    assert audit.sentence({"event": "user.roles_changed", "before": ["user", "admin"], "after": ["user"]})[0] == \
        "audit.s.role_revoked"
    assert audit.sentence({"event": "signin", "method": "passkey"})[0] == "audit.s.signin.passkey"
    assert audit.sentence({"event": "nobody.knows"})[0] == "audit.s.unknown"


def test_the_audit_log_pages_newest_first_and_filters(people, demo):
    for n in range(120):
        audit.append(demo.store, "language.saved", actor="boss", lang=f"x{n:03d}")
    admin = people["admin"]
    first = get(admin, "/admin/audit?event=language").text
    assert "120 events" in first
    shown = re.findall(r"saved the language (x\d+)", first)
    assert len(shown) == 50 and shown[0] == "x119" and shown[-1] == "x070"
    last = get(admin, "/admin/audit?event=language&page=3").text
    assert re.findall(r"saved the language (x\d+)", last)[-1] == "x000"
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    assert "event=language" in older and "page=2" in older
    assert "x119" not in get(admin, "/admin/audit?login=bob").text


def test_the_audit_csv_is_an_attachment_with_formulas_neutralised(people, demo):
    audit.append(demo.store, "user.created", actor="=HYPERLINK(\"http://evil\")", login="+1", reason="@SUM(A1)")
    response = get(people["admin"], "/admin/audit.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="codeb-demo-audit-\d{4}-\d\d\.csv"',
                        response.headers["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["time", "event", "actor", "login", "sentence", "details"]
    [row] = [r for r in rows if r[1] == "user.created" and "HYPERLINK" in r[2]]
    assert row[2] == "'=HYPERLINK(\"http://evil\")" and row[3] == "'+1"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    assert people["user"].get("/admin/audit.csv", headers={"Host": HOST}).status_code == 403


def test_csv_cells_that_start_like_formulas_are_prefixed():
    assert [audit.csv_cell(v) for v in ("=1+2", "+x", "-3", "@a", "\tx", "ok", None, 5)] == \
        ["'=1+2", "'+x", "'-3", "'@a", "'\tx", "ok", "", "5"]


# -- clients: ids and endpoints to copy --------------------------------------------------------

def test_the_clients_page_lists_the_endpoints_to_copy(people):
    html = get(people["admin"], "/admin/clients").text
    issuer = re.search(r'id="endpoint-issuer">([^<]+)<', html).group(1)
    for name, path in (("discovery", "/.well-known/openid-configuration"), ("authorization_endpoint", "/authorize"),
                       ("token_endpoint", "/token"), ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks.json")):
        assert f'id="endpoint-{name}">{issuer}{path}<' in html
    assert 'data-copy="endpoint-issuer" data-copied="Copied" hidden' in html
    assert "js/admin-copy.js" in html


# -- settings warn before they save ------------------------------------------------------------

def settings_form(page_html, **changes):
    form = {"csrf": csrf_of(page_html), "methods": ["passkey", "magic_link"], "signup": "open", "domains": "",
            "user_verification": "preferred", "attestation": "none", "allowed_aaguids": "", "max_passkeys": "10",
            "ext_low": "700", "ext_high": "799", "time_zone": "Europe/Berlin"}
    return {**form, **changes}


def test_turning_off_the_method_people_use_warns_and_saves_only_when_confirmed(people, tenants, demo):
    admin = people["admin"]
    page = get(admin, "/admin/settings").text
    before = tenants.get("demo").settings
    if before.get("signup", {}).get("policy") != "open" or set(before.get("methods", [])) != {"passkey", "magic_link"}:
        pytest.skip("the demo tenant's defaults changed")
    warned = admin.post("/admin/settings", data=settings_form(page, methods=["passkey"]), headers={"Host": HOST})
    assert warned.status_code == 409
    assert "2 accounts would have no way left to sign in" in warned.text  # boss, bob: no passkey
    assert 'name="confirm" value="1"' in warned.text and "Save anyway" in warned.text
    assert tenants.get("demo").settings["methods"] == before["methods"]
    saved = admin.post("/admin/settings", data=settings_form(page, methods=["passkey"], confirm="1"),
                       headers={"Host": HOST})
    assert saved.status_code == 303 and tenants.get("demo").settings["methods"] == ["passkey"]


def test_closing_sign_up_warns_in_german(people, accounts, tenants):
    with accounts.update("boss") as doc:
        doc["language"] = "de"
    admin = people["admin"]
    page = get(admin, "/admin/settings").text
    if tenants.get("demo").settings.get("signup", {}).get("policy") == "invite":
        pytest.skip("sign-up is closed already")
    warned = admin.post("/admin/settings", data=settings_form(page, signup="invite",
                                                              methods=tenants.get("demo").settings["methods"]),
                        headers={"Host": HOST})
    assert warned.status_code == 409 and "Niemand kann mehr selbst ein Konto anlegen" in warned.text
    assert "Trotzdem speichern" in warned.text


# -- German pages -----------------------------------------------------------------------------

def test_the_console_speaks_german(people, accounts):
    with accounts.update("boss") as doc:
        doc["language"] = "de"
    admin = people["admin"]
    assert "Letzte Anmeldung" in get(admin, "/admin/users").text and "Einladen" in get(admin, "/admin/users").text
    assert "Überall abmelden" in get(admin, "/admin/users/bob?tab=sessions").text
    assert "Aufbewahrung anordnen" in get(admin, "/admin/users/bob?tab=hold").text
    assert "Endpunkte dieses Anbieters" in get(admin, "/admin/clients").text
