"""First sign-in, account settings and the office shell, in a real browser.

The office shell (/office.html) is CodeB's own OpenID client: it signs in at
/authorize (client `office`, PKCE, prompt=none first), keeps its token in
sessionStorage only, shows who is signed in in a terminal panel, renews the
token with a silent redirect before the hour is up, and is an installable
Progressive Web App whose service worker keeps the shell (never anything
personal) for offline use.

Each test starts from a new account in a fresh browser context; Chromium's
virtual authenticator (tests/support/virtual_authenticator.py) stands in for Touch ID.
"""

import json
import struct
from urllib.parse import parse_qs, urlsplit

import requests
from playwright.sync_api import expect

from codeb.accounts import Accounts
from codeb.oidc.tokens import LEEWAY, TOKEN_LIFETIME
from tests.support.browser import (
    TOKEN_KEY,
    ask_for_link,
    confirm_profile,
    expire_office_token,
    first_sign_in,
    follow_link,
    office_terminal,
    office_token,
    open_account_menu,
    run_command,
    sign_out,
)
from tests.support.virtual_authenticator import VirtualAuthenticator
from tests.support.web import HOST

OFFLINE = "net::ERR_INTERNET_DISCONNECTED"  # Chromium's console line for a fetch made offline


# -- helpers -----------------------------------------------------------------------

def account_of(demo, email):
    account = Accounts(demo.store, HOST).find_by_email(email)
    assert account is not None, f"no account for {email}"
    return account


def watch_navigations(page):
    """Every URL the page's main frame asks for from now on, redirect hops included."""
    seen = []
    page.on("request", lambda r: seen.append(r.url)
            if r.is_navigation_request() and r.frame == page.main_frame else None)
    return seen


def paths(urls):
    return [urlsplit(u).path for u in urls]


def shell_ready(page):
    """Wait for the active service worker and its shell cache (install caches the shell)."""
    # `ready` resolves once a worker is active, which may still be "activating" (Service
    # Workers §3.4.7): wait for its activate step to finish.
    page.wait_for_function("""async () => {
        const registration = await navigator.serviceWorker.ready;
        return registration.active && registration.active.state === 'activated';
    }""")
    page.wait_for_function("""async () => {
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            if (await cache.match('/office.html') && await cache.match('/offline.html')) return true;
        }
        return false;
    }""")


CACHED = """async () => {
    const out = [];
    for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
            const response = await cache.match(request);
            out.push({cache: name, url: request.url, headers: [...request.headers].map(h => h.join(': ')),
                      status: response.status, body: await response.text()});
        }
    }
    return out;
}"""


def cached_entries(page):
    """What the Cache Storage holds: one entry per cached request, with its response body."""
    return page.evaluate(CACHED)


FIND_IN_STORAGE = """async (needles) => {
    const hits = [];
    const look = (place, text) => {
        for (const needle of needles) if (String(text).includes(needle)) { hits.push(place); return; }
    };
    for (let i = 0; i < sessionStorage.length; i++) {
        const key = sessionStorage.key(i);
        look('sessionStorage:' + key, key + '=' + sessionStorage.getItem(key));
    }
    for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        look('localStorage:' + key, key + '=' + localStorage.getItem(key));
    }
    look('document.cookie', document.cookie);
    const databases = await indexedDB.databases();
    for (const info of databases) {
        const db = await new Promise((ok, fail) => {
            const opened = indexedDB.open(info.name);
            opened.onsuccess = () => ok(opened.result);
            opened.onerror = () => fail(opened.error);
        });
        for (const store of db.objectStoreNames) {
            const values = await new Promise((ok, fail) => {
                const all = db.transaction(store).objectStore(store).getAll();
                all.onsuccess = () => ok(all.result);
                all.onerror = () => fail(all.error);
            });
            look('indexedDB:' + info.name + '/' + store, JSON.stringify(values));
        }
        db.close();
    }
    for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
            const response = await cache.match(request);
            look('cache:' + name + ' ' + request.url,
                 request.url + '\\n' + [...request.headers].join('\\n') + '\\n'
                 + [...response.headers].join('\\n') + '\\n' + await response.text());
        }
    }
    return {hits, databases: databases.map(d => d.name), caches: await caches.keys()};
}"""


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


# -- a. the first sign-in, in German: the profile step, then a passkey in the passkey step --

def test_first_sign_in_in_german_lands_in_shell_with_token_only_in_session_storage(
        served, mailbox, demo, new_context, console):
    context = new_context(locale="de-DE")
    page = context.new_page()
    device = VirtualAuthenticator.attach(page)  # ctap2, internal, resident keys, user verification
    email = "alice@example.com"

    page.goto(served + "/signin")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text("Anmelden")
    ask_for_link(page, email)
    expect(page.locator("h1")).to_have_text("Sehen Sie in Ihr Postfach")
    follow_link(page, mailbox, email)

    # Step 1, the profile, in German: the display name starts empty; no account navigation yet.
    page.wait_for_url(served + "/welcome")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("h1")).to_have_text("Willkommen! Bestätigen Sie Ihr Profil")
    expect(page.locator("ol.steps li")).to_have_text(["Profil", "Passkey"])
    expect(page.locator("#step-profile")).to_have_attribute("aria-current", "step")
    expect(page.locator("header a[href='/account']")).to_have_count(0)
    expect(page.locator("#confirm-profile")).to_have_text("Bestätigen und weiter")
    expect(page.locator("#language option[value=de]")).to_have_text("Deutsch")
    expect(page.locator("#display_name")).to_have_value("")
    page.locator("#confirm-profile").click()  # empty: the browser asks for it, nothing is sent
    assert urlsplit(page.url).path == "/welcome"
    assert page.locator("#display_name").evaluate("field => field.validity.valueMissing")
    page.locator("#display_name").fill("Alice Example")
    page.locator("#nickname").fill("Ali")
    page.locator("#language").select_option("de")
    page.locator("#confirm-profile").click()

    # Step 2, the passkey: the typed name is the passkey's name; it leads on to the shell.
    page.wait_for_url(served + "/welcome/passkey")
    expect(page.locator("#step-profile")).to_have_attribute("data-state", "done")
    expect(page.locator("#step-passkey")).to_have_attribute("aria-current", "step")
    expect(page.locator("header a[href='/account']")).to_have_count(0)
    page.locator("#passkey-name").fill("Laptop")
    page.locator("#passkey-create-button").click()
    # The office shell: the terminal, in German, with extension and SIP address.
    terminal = office_terminal(page, served)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    for line in ("codeb> willkommen, Ali", "codeb> mandant = localhost", "codeb> anmeldung = Anmeldelink",
                 "codeb> rollen = user", "codeb> sip-jid = alice@localhost", "codeb> durchwahl = 600",
                 "codeb> bereit. '?' zeigt die Hilfe."):
        expect(terminal).to_contain_text(line)
    expect(page.locator("#tile-phone")).to_contain_text("600 · alice@localhost")
    expect(page.locator("#tile-phone")).to_contain_text("Telefon")

    account = account_of(demo, email)
    assert account.display_name == "Alice Example" and account.doc["nickname"] == "Ali", account.doc
    assert account.language == "de" and account.doc["profile_confirmed"] is True, account.doc
    assert account.doc["ext"] == 600 and account.doc["sip"] == "alice@localhost", account.doc
    passkeys = account.doc.get("passkeys", [])
    assert [p["name"] for p in passkeys] == ["Laptop"] and passkeys[0]["user_verified"] is True, passkeys
    held = device.credentials()
    assert len(held) == 1 and held[0]["isResidentCredential"] and held[0]["rpId"] == "localhost", held

    # The token: in sessionStorage, and valid for the API.
    token = office_token(page)
    assert token and token["access_token"] and token["id_token"], token
    me = requests.get(served + "/api/me", headers={"Authorization": "Bearer " + token["access_token"]},
                      timeout=10)
    assert me.status_code == 200 and me.json()["login"] == "alice", me.text

    # … and nowhere else: not in localStorage, cookies, IndexedDB or the service worker's cache.
    shell_ready(page)
    needles = [token["access_token"], token["access_token"].split(".")[2],
               token["id_token"], token["id_token"].split(".")[2]]
    found = page.evaluate(FIND_IN_STORAGE, needles)
    assert found["hits"] == [f"sessionStorage:{TOKEN_KEY}"], found
    assert found["caches"], "the service worker cached nothing: the cache check would prove nothing"
    entries = cached_entries(page)
    assert any(urlsplit(e["url"]).path == "/office.html" for e in entries), [e["url"] for e in entries]
    for cookie in context.cookies():
        assert not any(n in cookie["value"] for n in needles), cookie
    readable = [c for c in context.cookies() if not c["httpOnly"]]
    assert not any(n in c["value"] for c in readable for n in needles), readable
    state = json.dumps(context.storage_state(indexed_db=True))  # Playwright's own view of the storage
    assert not any(n in state for n in needles), "token found in cookies, localStorage or IndexedDB"

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- b. renewal without a visible sign-in; an ended session sends to the sign-in page --

def test_expired_token_is_renewed_silently_and_ended_session_sends_to_sign_in(
        served, mailbox, clock, page, console):
    email = "bert@example.com"
    first_sign_in(page, served, mailbox, email)
    first = office_token(page)
    seen = watch_navigations(page)

    # The hour is up: for the server (its clock, past the accepted skew) and for the shell (expires_at).
    clock.advance(TOKEN_LIFETIME + LEEWAY + 1)
    expire_office_token(page)
    page.reload()
    expect(office_terminal(page, served)).to_contain_text("codeb> sip-jid = bert@localhost")
    renewed = office_token(page)
    assert renewed["access_token"] != first["access_token"], "the shell kept the expired token"
    assert renewed["expires_at"] >= first["expires_at"], (first, renewed)  # same second is possible
    assert "/signin" not in paths(seen), f"the sign-in page was shown: {seen}"
    asked = [u for u in seen if urlsplit(u).path == "/authorize"]
    assert len(asked) == 1 and parse_qs(urlsplit(asked[0]).query)["prompt"] == ["none"], seen
    assert parse_qs(urlsplit(asked[0]).query)["client_id"] == ["office"], seen
    api = served + "/api/me"
    assert requests.get(api, headers={"Authorization": "Bearer " + first["access_token"]},
                        timeout=10).status_code == 401
    assert requests.get(api, headers={"Authorization": "Bearer " + renewed["access_token"]},
                        timeout=10).status_code == 200

    # The browser session ends on the server (account settings' "Sign out").
    page.goto(served + "/account")
    page.locator("header details.account-menu > summary").click()  # the header's account menu
    page.locator("header form[action$='/signout'] button").click()
    page.wait_for_url(served + "/signin")
    # The shell's hour is up again: renewal finds no session and asks for a visible sign-in.
    expire_office_token(page)  # same tab, same origin: the shell's sessionStorage
    seen.clear()
    page.goto(served + "/office.html")
    page.wait_for_url(served + "/signin?i=*")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("main")).to_contain_text("Sign in to continue to CodeB.")
    assert paths(seen) == ["/office.html", "/authorize", "/office.html", "/authorize", "/signin"], seen
    assert "prompt=none" in seen[1] and "error=login_required" in seen[2], seen
    assert "prompt=" not in seen[3], seen

    # Signing in there closes the loop: back in the shell, with a new token.
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    expect(office_terminal(page, served)).to_contain_text("codeb> auth = magic link")
    again = office_token(page)
    assert again["access_token"] not in (first["access_token"], renewed["access_token"])

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_after_sign_out_the_shell_shows_nobody_and_the_next_person_is_themselves(served, mailbox, page,
                                                                                 console):
    first_sign_in(page, served, mailbox, "alice@example.com")
    page.goto(served + "/account")
    page.locator("header details.account-menu > summary").click()  # the header's account menu
    page.locator("header form[action$='/signout'] button").click()
    page.wait_for_url(served + "/signin")

    # Bob, at the same browser tab, signs in for the first time.
    page.goto(served + "/signin")
    ask_for_link(page, "bob@example.com")
    follow_link(page, mailbox, "bob@example.com")
    page.wait_for_url(served + "/welcome")
    confirm_profile(page)
    terminal = office_terminal(page, served)
    expect(terminal).to_contain_text("codeb> sip-jid = bob@localhost")
    expect(terminal).not_to_contain_text("alice")

    # The shell may learn that its old token is refused (401 from /api/me) before it asks again.
    console.assert_clean(allow=(f"status of 401 (UNAUTHORIZED) ({served}/api/me)",))


def test_the_shells_sign_out_ends_its_token_at_userinfo_and_the_api(served, mailbox, page, console):
    """Finding 17, the path the review named (static/js/office/oidc.js `signOut`: the header's
    button, RP-initiated logout with the ID token): the token the shell held is refused at
    /userinfo and /api/me afterwards. (This path held at the base commit, in Chromium too; the
    gaps fixed are in tests/http/test_office_api.py.)"""
    first_sign_in(page, served, mailbox, "dora@example.com")
    token = office_token(page)["access_token"]
    assert requests.get(served + "/userinfo", headers={"Authorization": "Bearer " + token},
                        timeout=10).status_code == 200
    sign_out(page, served)
    assert office_token(page) is None
    for path in ("/userinfo", "/api/me"):
        refused = requests.get(served + path, headers={"Authorization": "Bearer " + token}, timeout=10)
        assert refused.status_code == 401, path
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    console.assert_clean(allow=())



def test_signing_out_the_shell_aborts_its_calls_and_makes_none_while_the_logout_runs(served, mailbox, page, console):
    """The logout revokes the shell's tokens while its page still runs: a poll of the channel
    list in flight is aborted by the button itself, and a poll due while the logout answers
    makes no request (static/js/office/leaving.js). Before, such a poll met the revoked token
    and the console showed its 401."""
    first_sign_in(page, served, mailbox, "lena@example.com")
    expect(page.locator("#channels-empty")).to_be_visible()  # the list's first poll has answered
    # The page logs each fetch, and polls at once (a visibilitychange) when asked, and once
    # more just after the sign-out button's own handler has run.
    page.evaluate("""() => {
        const fetchOf = window.fetch;
        window.fetch = (url, init) => { console.log(`fetch ${url}`); return fetchOf(url, init); };
        document.getElementById("office-signout").addEventListener("click", () => {
            console.log("signing out");
            window.setTimeout(() => {
                document.dispatchEvent(new Event("visibilitychange"));
                console.log("polled while signing out");
            });
        });
    }""")
    held = {}
    logout = lambda url: urlsplit(url).path == "/logout"  # noqa: E731
    page.route("**/api/channels", lambda route: held.setdefault("poll", route))
    # The service worker fetches the navigation to /logout: the context's route sees it.
    page.context.route(logout, lambda route: held.setdefault("logout", route))
    with page.expect_request("**/api/channels"):
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")

    open_account_menu(page)
    with (page.expect_event("requestfailed", lambda r: urlsplit(r.url).path == "/api/channels") as failed,
          page.expect_console_message(lambda m: m.text == "polled while signing out"),
          page.context.expect_event("request", lambda r: logout(r.url))):
        page.locator("#office-signout").click(no_wait_after=True)  # the logout is held
    assert failed.value.failure == "net::ERR_ABORTED"
    for _ in range(200):  # the request event can come before the route's handler has run
        if "logout" in held:
            break
        page.wait_for_timeout(50)
    held["logout"].continue_()
    page.context.unroute(logout)
    page.unroute("**/api/channels")
    page.wait_for_url(served + "/signin")
    expect(page.locator("#email")).to_be_editable()

    logged = [line.split(" (")[0] for line in console.lines if line.startswith("[log] ")]
    assert "[log] fetch /api/channels" in logged  # the held poll
    assert logged[logged.index("[log] signing out"):] == ["[log] signing out", "[log] polled while signing out"]
    console.assert_clean(allow=())

# -- c. the terminal's commands ---------------------------------------------------

def test_terminal_lists_commands_shows_phone_and_switches_language(served, mailbox, demo, page, console):
    email = "carl@example.com"
    terminal = first_sign_in(page, served, mailbox, email)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(terminal).to_contain_text("codeb> ext = 600")

    run_command(page, "?")
    expect(terminal).to_contain_text("codeb> ?")
    listed = terminal.text_content().split("codeb> ?\n", 1)[1]
    for command in ("?", "whoami", "phone", "account", "help", "lang", "clear", "signout"):
        assert any(line.split()[:1] == [command] and len(line.split()) > 1
                   for line in listed.splitlines()), f"'?' does not list {command}:\n{listed}"

    run_command(page, "phone")
    expect(terminal).to_contain_text("extension 600, SIP/XMPP address carl@localhost.")

    run_command(page, "dial")
    expect(terminal).to_contain_text("unknown command: dial. type '?' for help.")

    run_command(page, "lang xx")
    expect(terminal).to_contain_text("that language is not available here.")
    assert account_of(demo, email).language == "en"

    with page.expect_navigation():  # the page reloads in the new language
        run_command(page, "lang de")
    terminal = office_terminal(page, served)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(terminal).to_contain_text("codeb> durchwahl = 600")
    expect(page.locator("#tile-account")).to_contain_text("Konto")
    assert account_of(demo, email).language == "de"
    run_command(page, "phone")
    expect(terminal).to_contain_text("Durchwahl 600, SIP/XMPP-Adresse carl@localhost.")

    # "lang xx" is refused by the API with 400, which Chromium logs.
    console.assert_clean(allow=(f"status of 400 (BAD REQUEST) ({served}/api/me)",))
    assert not console.csp_violations(), console.dump()


# -- c2. the shell's cards: skeleton, account menu, collapsible identity, apps ------------

def hold_requests(page, pattern):
    """Hold the requests matching `pattern` until the returned function lets them through."""
    held = []

    def hold(route):
        held.append(route)

    page.route(pattern, hold)

    def release():
        for route in held:
            route.continue_()
        page.unroute(pattern, hold)
        return len(held)
    return release


def test_the_shell_shows_a_skeleton_while_it_signs_in_then_the_cards(served, mailbox, page, console):
    first_sign_in(page, served, mailbox, "sara@example.com")
    expire_office_token(page)  # the next load renews: the skeleton stands in until then
    release = hold_requests(page, served + "/api/me")
    page.reload()
    skeleton = page.locator("#office-skeleton")
    expect(skeleton).to_be_visible()
    expect(skeleton).to_have_attribute("aria-hidden", "true")  # the status line speaks, not the blocks
    expect(page.locator("#office-skeleton .card")).to_have_count(6)  # one block per card
    expect(page.locator("#office-cards")).to_be_hidden()
    status = page.locator("#office-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("Signing you in…")
    assert release() == 1
    expect(page.locator("#office-cards")).to_be_visible()
    expect(skeleton).to_be_hidden()
    expect(status).to_have_text("Signed in. Your workspace is ready.")
    expect(page.locator("#terminal-output")).to_contain_text("codeb> sip-jid = sara@localhost")
    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_the_account_menu_names_the_person_and_offers_account_and_sign_out(served, mailbox, page, accounts,
                                                                           new_context, console):
    first_sign_in(page, served, mailbox, "ada@example.com", display_name="Ada Lovelace")
    menu = page.locator("#office-menu")
    expect(page.locator("#office-avatar")).to_have_text("AL")
    expect(page.locator("#office-name")).to_have_text("Ada Lovelace")
    expect(page.locator("#office-menu-account")).to_be_hidden()  # closed until asked
    page.locator("#office-menu > summary").click()
    expect(page.locator("#office-menu-account")).to_be_visible()
    expect(page.locator("#office-menu-admin")).to_be_hidden()  # not an admin
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(page.locator("#office-menu > summary")).to_be_focused()
    page.locator("#office-menu > summary").click()
    page.locator("#office-menu-account").click()
    page.wait_for_url(served + "/account")

    # An admin's menu offers the administration too.
    accounts.create(email="root@example.com", roles=["user", "admin"])
    admin = new_context().new_page()
    first_sign_in(admin, served, mailbox, "root@example.com")
    admin.locator("#office-menu > summary").click()
    expect(admin.locator("#office-menu-admin a")).to_be_visible()
    sign_out(admin, served)
    console.assert_clean(allow=())


def test_the_identity_card_collapses_and_stays_collapsed_after_a_reload(served, mailbox, page, console):
    first_sign_in(page, served, mailbox, "cleo@example.com")
    toggle = page.locator("#terminal-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_attribute("aria-controls", "terminal")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#terminal")).to_be_hidden()
    page.reload()
    expect(page.locator("#office-cards")).to_be_visible()
    expect(page.locator("#terminal-toggle")).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#terminal")).to_be_hidden()
    expect(page.locator("#tile-account")).to_be_visible()  # the rest of the shell is there
    page.locator("#terminal-toggle").press("Enter")  # a button: the keyboard opens it too
    expect(page.locator("#terminal")).to_be_visible()
    expect(page.locator("#terminal-output")).to_contain_text("codeb> sip-jid = cleo@localhost")
    page.reload()
    expect(office_terminal(page, served)).to_contain_text("codeb> ")
    console.assert_clean(allow=())


def register_apps(demo, tenants):
    from codeb.oidc.clients import Clients
    Clients(demo.store).add(name="wiki", redirect_uris=["https://wiki.example/cb"], home_url="https://wiki.example/")
    Clients(demo.store).add(name="Payroll", redirect_uris=["https://pay.example/cb"],
                            home_url="https://pay.example/start")
    Clients(demo.store).add(name="Backend job", redirect_uris=["https://job.example/cb"])
    Clients(tenants.get("acme").store).add(name="Acme CRM", redirect_uris=["https://crm.acme.example/cb"],
                                           home_url="https://crm.acme.example/")


def test_the_apps_grid_links_this_tenants_apps(served, mailbox, page, demo, tenants, console):
    register_apps(demo, tenants)
    first_sign_in(page, served, mailbox, "paul@example.com")
    tiles = page.locator("#apps-list a.tile")
    expect(tiles).to_have_count(2)
    expect(page.locator("#apps-list .tile-title")).to_have_text(["Payroll", "wiki"])
    expect(page.locator("#apps-list .app-initial")).to_have_text(["P", "W"])
    assert [tiles.nth(i).get_attribute("href") for i in range(2)] == ["https://pay.example/start",
                                                                       "https://wiki.example/"]
    expect(page.locator("#card-apps")).not_to_contain_text("Acme CRM")
    expect(page.locator("#card-apps")).not_to_contain_text("Backend job")
    expect(page.locator("#apps-empty")).to_be_hidden()
    page.context.route("https://wiki.example/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>wiki</title><h1>wiki home</h1>"))
    tiles.nth(1).click()
    page.wait_for_url("https://wiki.example/")
    expect(page.locator("h1")).to_have_text("wiki home")
    console.assert_clean(allow=())


def test_without_apps_the_card_says_how_they_come(served, mailbox, page, console):
    first_sign_in(page, served, mailbox, "nils@example.com")
    expect(page.locator("#apps-list li")).to_have_count(0)
    expect(page.locator("#apps-empty")).to_be_visible()
    expect(page.locator("#apps-empty")).to_contain_text("giving it a home page")
    console.assert_clean(allow=())


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_the_tiles_come_first_and_nothing_scrolls_sideways(served, mailbox, demo, tenants,
                                                                       new_context, console):
    register_apps(demo, tenants)
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    first_sign_in(page, served, mailbox, "phil@example.com")
    top = {card: page.locator(f"#card-{card}").bounding_box()["y"] for card in ("identity", "apps", "places")}
    assert top["apps"] < top["places"] < top["identity"], top
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{width} px wide on a {PHONE['width']} px screen"
    # On a wide screen the page order holds: who you are first, then the tiles.
    wide = new_context(viewport={"width": 1280, "height": 800}).new_page()
    wide.goto(served + "/signin")
    ask_for_link(wide, "phil@example.com")
    follow_link(wide, mailbox, "phil@example.com")
    office_terminal(wide, served)
    tops = {card: wide.locator(f"#card-{card}").bounding_box()["y"] for card in ("identity", "apps")}
    assert tops["identity"] < tops["apps"], tops
    console.assert_clean(allow=())


# -- d. installable, by Chromium's own check ----------------------------------------

def test_shell_is_installable_by_chromiums_own_check(served, mailbox, persistent_context, new_context,
                                                     console):
    # Chromium does not install from an "incognito" context (every new_context is one):
    # the check answers `in-incognito` there, which also shows that it does report.
    incognito = new_context().new_page()
    incognito.goto(served + "/signin")
    errors = incognito.context.new_cdp_session(incognito).send("Page.getInstallabilityErrors")
    assert [e["errorId"] for e in errors["installabilityErrors"]] == ["in-incognito"], errors

    context = persistent_context()
    page = context.pages[0] if context.pages else context.new_page()
    first_sign_in(page, served, mailbox, "dana@example.com")
    shell_ready(page)
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], "Chromium says the shell is not installable:\n" + "\n".join(
        f"  {e['errorId']} {e.get('errorArguments')}" for e in errors)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == served + "/manifest.webmanifest" and manifest["errors"] == [], manifest

    response = requests.get(served + "/manifest.webmanifest", timeout=10)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("application/manifest+json"), response.headers
    doc = response.json()
    assert doc["start_url"] == "/office.html" and doc["display"] == "standalone", doc
    assert doc["name"] and doc["short_name"] and doc["scope"] == "/", doc
    icons = {(icon["sizes"], purpose) for icon in doc["icons"] for purpose in icon.get("purpose", "any").split()}
    for wanted in (("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")):
        assert wanted in icons, f"no {wanted} icon: {doc['icons']}"
    for icon in doc["icons"]:
        image = requests.get(served + icon["src"], timeout=10)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png", icon
        width, height = png_size(image.content)
        assert f"{width}x{height}" == icon["sizes"], (icon, width, height)

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- e. offline ---------------------------------------------------------------------

NEVER_CACHED = ("/api/me", "/api/apps", "/token", "/authorize", "/authorize/resume", "/userinfo", "/logout", "/welcome",
                "/link", "/signin")


def test_offline_pages_come_from_the_cache_which_holds_nothing_personal(served, mailbox, page, context,
                                                                        console):
    first_sign_in(page, served, mailbox, "erik@example.com")
    page.goto(served + "/account")  # a personal page, visited online: it must not be kept
    expect(page.locator("h1")).to_have_text("Account settings")
    page.goto(served + "/office.html")
    office_terminal(page, served)
    shell_ready(page)

    context.set_offline(True)
    for path in ("/account", "/help", "/signin"):
        response = page.goto(served + path)
        assert response is not None and response.from_service_worker, path
        expect(page.locator("#offline-message")).to_be_visible()
        expect(page.locator("h1")).to_have_text("You are offline")
    context.set_offline(False)

    entries = cached_entries(page)
    cached = sorted({urlsplit(e["url"]).path + ("?" + urlsplit(e["url"]).query if urlsplit(e["url"]).query
                                                 else "") for e in entries})
    assert "/office.html" in cached and "/offline.html" in cached, cached
    for path in cached:
        assert "?" not in path, f"a URL with a query was cached: {path}"
        assert path not in NEVER_CACHED, f"{path} was cached: {cached}"
        assert not path.startswith(("/account", "/signin", "/passkey", "/api/")), f"{path} was cached: {cached}"
    for entry in entries:
        assert "erik" not in entry["body"], f"{entry['url']} cached with personal data"

    console.assert_clean(allow=(OFFLINE,))
    assert not console.csp_violations(), console.dump()


def test_offline_shell_shows_the_offline_page(served, mailbox, page, context, console):
    first_sign_in(page, served, mailbox, "frida@example.com")
    shell_ready(page)

    context.set_offline(True)
    page.goto(served + "/office.html")
    expect(page.locator("#offline-message")).to_be_visible()
    expect(page.locator("#office-status")).to_have_count(0)

    console.assert_clean(allow=(OFFLINE,))



def test_without_javascript_the_shell_explains_instead_of_signing_in_forever(served, playwright, tmp_path):
    """Finding 25: with JavaScript off, /office.html says why nothing happens (in the browser's
    language) and offers the pages that work without it, instead of "Signing you in…".

    Script is switched off in Chromium's own settings (`scriptEnabled=false`), as a person does:
    Playwright's `java_script_enabled=False` only stops execution, and the page still parses
    <noscript> as if script ran, so it would show nothing."""
    for locale, explanation, status in (("en-US", "This workspace needs JavaScript", "Signing you in"),
                                        ("de-DE", "Dieser Arbeitsbereich braucht JavaScript", "Sie werden angemeldet")):
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / locale), executable_path="/usr/bin/chromium", headless=True, locale=locale,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--blink-settings=scriptEnabled=false"])
        try:
            page = context.new_page()
            page.goto(served + "/office.html")
            expect(page.locator("main")).to_contain_text(explanation, use_inner_text=True)
            expect(page.get_by_text(status)).to_be_hidden()
            page.locator("main a[href='/help']:visible").click()
            page.wait_for_url(served + "/help")
        finally:
            context.close()
