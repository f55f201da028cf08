"""An account's life over HTTP: what deleting, disabling and signing out everywhere end,
what a later holder of the same login inherits (nothing), and how many sessions live."""

import json
import os
import re

import pytest

from codeb import audit
from codeb.accounts import privacy
from codeb.store import layout
from tests.support.oidc import authorize_params, exchange, get_authorize, signed_in_code
from tests.support.web import HOST, csrf_of, pkce_pair, sign_in, signed_in_admin


@pytest.fixture
def boss(app, mailbox, accounts):
    """An admin of `demo`, signed in in a browser of her own."""
    return signed_in_admin(app, mailbox, accounts)


def post(browser, path, **data):
    csrf = csrf_of(browser.get("/admin/users", headers={"Host": HOST}).text)
    return browser.post(path, data={"csrf": csrf, **data}, headers={"Host": HOST})


def refresh(client, rp, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       auth=(rp.client_id, rp.secret), headers={"Host": HOST})


def userinfo(client, access):
    return client.get("/userinfo", headers={"Host": HOST, "Authorization": f"Bearer {access}"})


def issued(client, mailbox, rp, email):
    """Sign in for `rp` and keep everything the browser and the client hold: tokens and a spare code."""
    code, verifier, _ = signed_in_code(client, mailbox, rp, email=email)
    tokens = exchange(client, rp, code, verifier).json
    spare, spare_verifier, _ = signed_in_code(client, mailbox, rp, email=email)  # signed in: a code at once
    return {"access": tokens["access_token"], "refresh": tokens["refresh_token"],
            "code": spare, "verifier": spare_verifier}


def assert_all_dead(client, rp, held):
    assert client.get("/account", headers={"Host": HOST}).status_code == 303
    _, challenge = pkce_pair()
    again = get_authorize(client, authorize_params(rp, challenge))
    assert again.status_code == 303 and "/signin" in again.headers["Location"]  # no code for the cookie
    assert exchange(client, rp, held["code"], held["verifier"]).json["error"] == "invalid_grant"
    assert refresh(client, rp, held["refresh"]).json["error"] == "invalid_grant"
    assert userinfo(client, held["access"]).status_code == 401


def person_files(store, account, kind="recordings"):
    folder = store.folder(*privacy.folder(kind, account.sub))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "2026-11-01.bin"), "wb") as f:
        f.write(b"the first erin's call" * 10)
    return folder


# -- finding 1: a session and every grant belong to the account's sub ------------------------

def test_a_deleted_accounts_session_and_grants_do_not_come_back_for_a_new_holder(
        client, boss, mailbox, rp, accounts, demo):
    """Finding 1: the old erin's cookie, code, refresh and access token are dead for a new erin."""
    held = issued(client, mailbox, rp, "erin@example.com")
    old = accounts.get("erin")
    listed = [entry["id"] for entry in old.listed_sessions]
    assert post(boss, "/admin/users/erin/delete", confirm="erin").status_code == 303
    # Deleting ended the account's sessions on disk, not only in the next request's eyes.
    assert all(demo.store.transient(layout.SESSIONS).get(sid) is None for sid in listed)
    made = post(boss, "/admin/users", email="erin@elsewhere.example", login="erin", reuse_login="1")
    assert made.status_code == 303, made.text
    assert accounts.get("erin").sub != old.sub
    assert_all_dead(client, rp, held)


# -- finding 9: disabling voids what was issued; enabling revives nothing ------------------------

def test_disabling_revokes_grants_and_enabling_revives_nothing(client, boss, mailbox, rp, clock):
    """Finding 9: tokens and codes issued before a disable stay dead after the account is enabled again."""
    held = issued(client, mailbox, rp, "erin@example.com")
    assert post(boss, "/admin/users/erin/disable").status_code == 303
    clock.advance(5)
    assert post(boss, "/admin/users/erin/enable").status_code == 303
    assert_all_dead(client, rp, held)
    # What is issued after the cut-off works: the person is not locked out.
    clock.advance(1)
    fresh = issued(client, mailbox, rp, "erin@example.com")
    assert userinfo(client, fresh["access"]).status_code == 200
    assert refresh(client, rp, fresh["refresh"]).status_code == 200


# -- finding 10: signing out everywhere reaches the apps' tokens too ------------------------------

def test_sign_out_everywhere_ends_refresh_and_access_tokens(client, mailbox, rp, clock):
    """Finding 10: after "sign out everywhere", no refresh or access token issued before it works."""
    held = issued(client, mailbox, rp, "erin@example.com")
    rotated = refresh(client, rp, held["refresh"]).json  # a rotated token keeps its grant's start
    held.update(refresh=rotated["refresh_token"], access=rotated["access_token"])
    done = client.post("/account/sessions/end-all", data={"csrf": csrf_of(client.get("/account", headers={
        "Host": HOST}).text)}, headers={"Host": HOST})
    assert done.status_code == 303
    # The same second as the cut-off counts as before it: nothing issued in that second survives.
    assert_all_dead(client, rp, held)
    clock.advance(1)
    fresh = issued(client, mailbox, rp, "erin@example.com")
    assert userinfo(client, fresh["access"]).status_code == 200


def test_a_role_change_ends_the_tokens_that_carry_the_old_roles(client, boss, mailbox, rp, accounts, clock):
    """Finding 9/10 (the same mechanism): access tokens carry `roles`; after an admin changes
    them, no code, refresh or access token issued with the old roles works."""
    held = issued(client, mailbox, rp, "erin@example.com")
    saved = post(boss, "/admin/users/erin", display_name="Erin", admin="1", ext="")
    assert saved.status_code == 303 and accounts.get("erin").roles == ["admin", "user"]
    assert_all_dead(client, rp, held)
    clock.advance(1)
    fresh = issued(client, mailbox, rp, "erin@example.com")
    assert "admin" in userinfo(client, fresh["access"]).json["roles"]


# -- finding 4: per-person data and audit events belong to the sub; logins are not reused silently ----

def test_deleting_an_account_erases_its_data_unless_the_admin_holds_it(client, boss, mailbox, accounts, demo):
    """Finding 4: deletion erases the person's files; with legal hold they stay, under the old sub, and are shown."""
    for email in ("erin@example.com", "finn@example.com"):
        sign_in(client, mailbox, email)
    erin, finn = accounts.get("erin"), accounts.get("finn")
    erased, kept = person_files(demo.store, erin), person_files(demo.store, finn)
    assert post(boss, "/admin/users/erin/delete", confirm="erin").status_code == 303
    assert not os.path.exists(erased)
    assert post(boss, "/admin/users/finn/delete", confirm="finn", hold="1").status_code == 303
    assert os.listdir(kept) == ["2026-11-01.bin"]
    assert privacy.inventory(demo.store, finn.sub)["recordings"]["files"] == 1
    listing = boss.get("/admin/users", headers={"Host": HOST}).text
    held = re.search(r'<section[^>]*id="held".*?</section>', listing, re.S)
    assert held and "finn" in held.group(0) and "erin" not in held.group(0)
    deleted = [e for e in audit.read_all(demo.store) if e["event"] == "user.deleted"]
    assert [(e["login"], e["sub"], e.get("hold", False)) for e in deleted] == [
        ("erin", erin.sub, False), ("finn", finn.sub, True)]
    # Ending the hold erases what it kept, after a confirmation.
    release = re.search(r'action="(/admin/legal-holds/[0-9a-z]+/erase)"', held.group(0)).group(1)
    assert post(boss, release).status_code == 400 and os.path.exists(kept)
    assert post(boss, release, confirm="1").status_code == 303
    assert not os.path.exists(kept) and 'id="held"' not in boss.get("/admin/users", headers={"Host": HOST}).text
    assert post(boss, release, confirm="1").status_code == 404


def test_a_reused_login_inherits_no_files_and_no_audit_events(client, app, boss, mailbox, accounts, demo):
    """Finding 4: a confirmed reuse of a deleted login starts empty: no files, no events of the earlier holder."""
    sign_in(client, mailbox, "erin@example.com")
    first = accounts.get("erin")
    # Files an earlier version kept by login: nobody's under the sub rule.
    legacy = os.path.join(demo.store.root, "transcripts", "erin")
    os.makedirs(legacy)
    with open(os.path.join(legacy, "old.txt"), "w") as f:
        f.write("the first erin's words")
    assert post(boss, "/admin/users/erin/delete", confirm="erin", hold="1").status_code == 303
    assert post(boss, "/admin/users", email="erin@elsewhere.example", login="erin",
                reuse_login="1").status_code == 303
    second = app.test_client()
    sign_in(second, mailbox, "erin@elsewhere.example")
    export = json.loads(second.get("/account/export", headers={"Host": HOST}).data)
    assert all(counted["files"] == 0 for counted in export["files"].values())
    assert export["security_events"] and {e["sub"] for e in export["security_events"]} == {export["account"]["sub"]}
    assert first.sub not in json.dumps(export)
    page = boss.get("/admin/users/erin?tab=privacy", headers={"Host": HOST}).text
    counts = re.findall(r"(\d+) files?, ", page)
    assert counts and set(counts) == {"0"} and "0 files, 0 bytes" in page


def test_a_deleted_login_is_not_handed_on_silently(client, boss, mailbox, accounts, demo):
    """Finding 4: open sign-up skips a deleted login; an admin must confirm reusing one."""
    sign_in(client, mailbox, "erin@example.com")
    assert post(boss, "/admin/users/erin/delete", confirm="erin").status_code == 303
    tombstones = demo.store.list(layout.DELETED_LOGINS)
    assert len(tombstones) == 1 and "erin" not in json.dumps(demo.store.read(layout.DELETED_LOGINS, tombstones[0]))
    refused = post(boss, "/admin/users", email="erin@other.example", login="erin")
    assert refused.status_code == 409 and "was deleted" in refused.text
    assert 'name="reuse_login"' in refused.text and accounts.get("erin") is None
    newcomer = client.application.test_client()
    sign_in(newcomer, mailbox, "erin@elsewhere.example")
    assert accounts.find_by_email("erin@elsewhere.example").login == "erin2"
    assert accounts.get("erin") is None


# -- finding 18: every live session is listed, so every one can be ended -----------------------

def test_sessions_beyond_the_listed_number_end_the_oldest(app, mailbox, clock, accounts):
    """Finding 18: the 21st sign-in ends the first session; the 20 listed are all the live ones."""
    browsers = []
    for n in range(21):
        if n and n % 5 == 0:
            clock.advance(901)  # past the per-address link limit
        browsers.append(app.test_client())
        sign_in(browsers[-1], mailbox, "erin@example.com")
    assert browsers[0].get("/account", headers={"Host": HOST}).status_code == 303
    assert all(b.get("/account", headers={"Host": HOST}).status_code == 200 for b in browsers[1:])
    me = browsers[-1]
    items = re.findall(r'<li class="session">(.*?)</li>', me.get("/account/devices", headers={"Host": HOST}).text,
                       re.S)
    listed = [(re.search(r'name="id" value="([0-9a-f]{64})"', item).group(1), 'class="badge"' in item)
              for item in items]
    assert len(listed) == 20 and sum(current for _, current in listed) == 1
    for entry, current in listed:
        if current:
            continue
        csrf = csrf_of(me.get("/account/devices", headers={"Host": HOST}).text)
        assert me.post("/account/sessions/end", data={"csrf": csrf, "id": entry},
                       headers={"Host": HOST}).status_code == 303
    assert [b.get("/account", headers={"Host": HOST}).status_code for b in browsers[1:]] == [303] * 19 + [200]
