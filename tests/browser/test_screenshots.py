"""Every page a person can reach, photographed by Chromium and checked on the way.

`SHOTS` is the tour: one line per page (a name, the route it is, who is signed in, how
to reach it). Each page is taken in English and German, at 1280 × 800 and 390 × 844,
in the light and the dark colour scheme (`color_scheme` emulation), into
`build/screenshots/<lang>-<width>-<scheme>/<name>.png` (full page; the folder is
emptied at the start of each run). On every one of them:

- nothing scrolls sideways (`document.documentElement.scrollWidth` within the window: `innerWidth`,
  and `clientWidth` on a phone, see MEASURE);
- axe-core finds no serious or critical violation of WCAG 2.0–2.2 A/AA (injected as in
  test_accessibility.py: an init script, so the page's CSP stays in force);
- the console shows no error and no CSP violation (the conftest's `ConsoleLog`),
  except the one status line of a page that answers an error status on purpose.

Fast by construction: one browser per worker, one context per language, width and
scheme (reused by every page, its cookies cleared between pages), and pages reached
by direct URL with a session prepared on the server (`tests.support.site`), never by
walking the sign-in.

`test_every_page_is_in_the_tour` fails when a GET route of the app is neither in
`SHOTS` nor in `NOT_PAGES` (with the reason it is no page): a new page cannot be forgotten.
A page that fails a check today is listed in `KNOWN` as `xfail(strict=True)` with its
reason; the fix makes it pass, the strict marker then fails, and the entry goes.
"""

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from codeb import rooms
from codeb.rooms.guests import Guests
from codeb.rooms.meetings import Meetings
from tests.browser.conftest import ConsoleLog
from tests.browser.test_accessibility import AXE, FAILING, RUN_AXE, TAGS
from tests.support import get_tenant_tour
from tests.support.site import Site

OUTPUT = Path(__file__).resolve().parents[2] / "build" / "screenshots"
LANGS = {"en": "en-US", "de": "de-DE"}
SIZES = {1280: {"width": 1280, "height": 800}, 390: {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
COMBOS = [(lang, width, scheme) for lang in LANGS for width in SIZES for scheme in SCHEMES]

# The window's width: on a phone (`is_mobile`) Chromium zooms out to show a page wider than
# the screen, and `innerWidth` (the visual viewport) grows with it; the layout viewport
# (`clientWidth`) keeps the screen's width.
MEASURE = """() => ({scrollWidth: document.documentElement.scrollWidth,
                     innerWidth: Math.min(window.innerWidth, document.documentElement.clientWidth),
                     lang: document.documentElement.lang})"""
SUBMIT = """([action, fields]) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    const csrf = document.querySelector('input[name=csrf]');
    const values = Object.assign(csrf ? {csrf: csrf.value} : {}, fields);
    for (const [name, value] of Object.entries(values)) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.append(input);
    }
    document.body.append(form);
    form.submit();
}"""


class Visit:
    """One page of the tour in one context: the site, the browser page, and this combination's name."""

    def __init__(self, site: Site, page, combo: str):
        self.site, self.page, self.combo = site, page, combo

    def go(self, path: str):
        return self.page.goto(path if path.startswith("http") else self.site.url(path))

    def submit(self, action: str, **fields):
        """Post a form to `action` from the open page with its CSRF token, as the page's own
        form would (CSP `form-action 'self'` applies), without depending on its markup."""
        with self.page.expect_navigation():
            self.page.evaluate(SUBMIT, [action, fields])

    def email(self, who: str) -> str:
        """An address of this combination alone: the per-mailbox limit counts five mails."""
        return f"{who}.{self.combo}@example.com"

    def person(self, who: str) -> str:
        """An account with this combination's address; its email."""
        email = self.email(who)
        if self.site.accounts.find_by_email(email) is None:
            self.site.accounts.create(email=email)
        return email


# -- how to reach the pages that take more than a URL ------------------------------

def ask_for_link(visit: Visit, *, email: str | None = None):
    visit.go("/signin")
    visit.submit("/signin/magic-link/begin", email=email or visit.person("ada"))


def bad_address(visit: Visit):
    visit.go("/signin")
    visit.submit("/signin/magic-link/begin", email="not an address")


def sign_up(visit: Visit):
    visit.go("/signin")
    visit.submit("/signup", email=visit.email("new"))


def open_link_elsewhere(visit: Visit):
    """The link asked for in this browser, opened in another one (cookies gone): "Was this you?"."""
    email = visit.person("link")
    ask_for_link(visit, email=email)
    visit.page.context.clear_cookies()
    visit.go(visit.site.mailbox.last_link(to=email))


def confirm_logout(visit: Visit):
    visit.go("/logout")
    visit.submit("/logout", confirm="1")


def create_app_password(visit: Visit):
    """A new app password, its secret shown this once (the POST's own answer); a name per combination."""
    visit.go("/account/devices")
    visit.submit("/account/app-passwords", name=f"Gajim {visit.combo}", purposes="xmpp")


def office_signed_in(visit: Visit):
    """The shell signs itself in (/authorize → code → token) and then shows the terminal."""
    visit.go("/office.html")
    visit.page.wait_for_url(visit.site.url("/office.html"))
    visit.page.locator("#terminal").wait_for(state="visible")


_guest_links: dict[str, str] = {}  # per site (its root): one link for several guests, made once


def guest_link(site: Site) -> str:
    """A link into Ada's meeting for several guests (the tour's pages come by it one by one)."""
    if site.root not in _guest_links:
        ada = site.accounts.get("ada")
        assert ada is not None
        by = rooms.Participant(sub=ada.sub, name=ada.display_name or "")
        meeting = Meetings(site.tenant.store).create(name="Weekly review", by=by)
        _, token = Guests(site.tenant.store, site.tenant.name, is_open=lambda scope: True).invite(
            by=by, scope=rooms.Scope(kind="meeting", id=meeting.id), ttl=86400, multi=True)
        _guest_links[site.root] = f"/guest#{token}"
    return _guest_links[site.root]


def guest_invited(visit: Visit):
    """A guest's browser opens the link: the invitation and the name to join with."""
    visit.page.goto("about:blank")  # from /guest, the link would be a move within the page
    visit.go(guest_link(visit.site))
    visit.page.locator("#guest-name").wait_for(state="visible")


def guest_in_meeting(visit: Visit):
    """The guest has joined: the meeting room and its chat, without the shell around them."""
    guest_invited(visit)
    visit.page.locator("#guest-name").fill("Gina")
    visit.page.locator("#guest-join-form button[type=submit]").click()
    visit.page.locator("#meeting-chat #channel-composer").wait_for(state="visible")


def wallet_request(visit: Visit):
    visit.go("/signin")
    visit.submit("/signin/wallet/begin", wallet="1")


def wallet_sign_up(visit: Visit):
    """A PID no account is connected to, presented from "another device" (the QR code)."""
    wallet_request(visit)
    wallet = visit.site.wallet()
    wallet.answer(wallet.open(visit.page.locator("#wallet-qr").get_attribute("data-request")))
    visit.page.wait_for_url("**/signin/wallet/signup?s=**")


@dataclass(frozen=True)
class Shot:
    name: str                      # the file name, and the test's id
    route: str | None              # the endpoint the page is (None: no route, e.g. a 404)
    path: str | Callable[[Site], str] = ""   # the URL to open (a function of the site), or
    reach: Callable[[Visit], None] | None = None  # what a person does to get there
    who: str | None = None         # signed in as (a login of tests.support.site, or "superuser")
    status: int = 200              # the page's own status
    signed_in_ago: int = 0


SHOTS = [
    # The sign-in and what follows it.
    Shot("signin", "signin.page", "/signin"),
    Shot("signin-from-app", "signin.page", lambda site: site.authorize_path()),
    Shot("signin-error", "signin.step", reach=bad_address, status=400),
    Shot("signin-signed-in", "signin.page", "/signin", who="ada"),
    Shot("consent", "oidc.consent", lambda site: site.authorize_path(prompt="consent"), who="ada"),
    Shot("signup-sent", "signin.sent", reach=sign_up),
    Shot("check-inbox", "signin.sent", reach=ask_for_link),
    Shot("wallet-present", "wallet.present", reach=wallet_request),
    Shot("wallet-signup", "wallet.sign_up", reach=wallet_sign_up),
    Shot("link-opened-elsewhere", "signin.open_link", reach=open_link_elsewhere),
    Shot("link-problem", "signin.open_link", "/link/no-such-link", status=400),
    Shot("welcome-profile", "account.confirm_profile", "/welcome", who="newbie"),
    Shot("welcome-passkey", "passkeys.welcome", "/welcome/passkey", who="newbie"),
    # Account settings.
    Shot("account-profile", "account.page", "/account", who="ada"),
    Shot("account-signin", "account.sign_in", "/account/sign-in", who="ada"),
    Shot("account-devices", "account.devices", "/account/devices", who="ada"),
    Shot("account-app-password", "account.create_app_password", reach=create_app_password, who="ada"),
    Shot("account-privacy", "account.privacy", "/account/privacy", who="ada"),
    Shot("account-delete", "account.delete_confirm", "/account/delete", who="ada"),
    Shot("account-confirm", "account.confirm", "/account/confirm", who="ada", signed_in_ago=3600),
    Shot("account-email-confirm", "account.email_link",
         lambda site: site.email_change_path("ada", "ada.lovelace@example.org"), who="ada"),
    Shot("account-deleted", "account.deleted", "/account/deleted"),
    # The office shell.
    Shot("office-shell", "office.shell", reach=office_signed_in, who="ada"),
    Shot("office-offline", "office.offline", "/offline.html"),
    # A guest (no account) by an invitation link.
    Shot("guest-invitation", "guests.guest_page", reach=guest_invited),
    Shot("guest-meeting", "guests.guest_page", reach=guest_in_meeting),
    # Administration.
    Shot("admin-shell", "admin.shell", "/admin.html", who="boss"),
    Shot("admin-users", "admin.users", "/admin/users", who="boss"),
    Shot("admin-user", "admin.user", "/admin/users/bob", who="boss"),
    Shot("admin-user-app-passwords", "admin.user", "/admin/users/bob?tab=app_passwords", who="boss"),
    Shot("admin-clients", "admin.clients", "/admin/clients", who="boss"),
    Shot("admin-client", "admin.client", lambda site: f"/admin/clients/{site.client_id}", who="boss"),
    Shot("admin-upstreams", "upstreams.upstreams", "/admin/upstreams", who="boss"),
    Shot("admin-wallet", "wallet_admin.wallet", "/admin/wallet", who="boss"),
    Shot("admin-guests", "admin_guests.guests_page", "/admin/guests", who="boss"),
    Shot("admin-settings", "admin.settings", "/admin/settings", who="boss"),
    Shot("admin-branding", "brand.settings", "/admin/branding", who="boss"),
    Shot("admin-languages", "admin.languages", "/admin/languages", who="boss"),
    Shot("admin-audit", "admin.audit_log", "/admin/audit", who="boss"),
    Shot("breakglass", "breakglass.page", lambda site: site.breakglass_path()),
    Shot("breakglass-spent", "breakglass.page", "/breakglass/spent-or-made-up", status=400),
    Shot("breakglass-admin-shell", "admin.shell", "/admin.html", who="superuser"),
    # Help, signing out, errors.
    Shot("help", "help.people", "/help"),
    Shot("help-oidc", "help.integrators", "/help/oidc"),
    Shot("logout-confirm", "oidc.logout", "/logout", who="ada"),
    Shot("signed-out", "oidc.logout", reach=confirm_logout, who="ada"),
    Shot("not-found", None, "/no-such-page", status=404),
    Shot("bad-request", "oidc.authorize", "/authorize?client_id=no-such-app", status=400),
    Shot("unknown-host", None, lambda site: site.other_host_url("/signin"), status=404),
    # The host's own site (www.localhost): get a tenant, its link, its progress; the hand-off's error page.
    Shot("get-tenant", "get_tenant.form", reach=get_tenant_tour.form),
    Shot("get-tenant-refused", "get_tenant.form", reach=get_tenant_tour.refused_name, status=400),
    Shot("get-tenant-sent", "get_tenant.form", reach=get_tenant_tour.sent),
    Shot("get-tenant-verify", "get_tenant.verify_page", reach=get_tenant_tour.verify),
    Shot("get-tenant-link-used", "get_tenant.verify_page", reach=get_tenant_tour.link_used, status=400),
    Shot("get-tenant-progress", "get_tenant.progress", reach=get_tenant_tour.progress),
    Shot("get-tenant-ready", "get_tenant.progress", reach=get_tenant_tour.ready),
    Shot("handoff-problem", "handoff.arrive", "/handoff?t=demo.no-such-token", status=400),
]

# GET routes that are no page a person reads, and why.
NOT_PAGES = {
    "pages.home": "a redirect: to the office shell or the sign-in page",
    "oidc.resume": "a redirect: answers the waiting authorization request after a sign-in",
    "passkeys.skip": "a redirect: 'Not now' on the passkey offer",
    "oidc.discovery_document": "JSON for relying parties",
    "oidc.jwks": "JSON for relying parties",
    "oidc.userinfo": "JSON for relying parties",
    "office.me": "JSON for the office shell's script",
    "signin.sent_status": "JSON: the waiting tab's poll",
    "wallet.status": "JSON: the EU Wallet page's poll",
    "wallet.request_object": "a signed request object (JWT) for the wallet app",
    "signin.callback": "a redirect: back from a company's identity provider (its error pages are the sign-in page's)",
    "signin.published": "XML for a company's identity provider: the tenant's signed SAML metadata",
    "upstream_keys.client_jwks": "JSON for a company's identity provider: the key of our private_key_jwt assertions",
    "signin.signed_out": "back from signing out at a company's identity provider: a page only with the state it sent "
                         "(tests/signin/test_upstream_saml.py), else a redirect to the sign-in page",
    "account.export": "a download (JSON) of the person's data",
    "admin.export_user": "a download (JSON) of an account's data",
    "admin.audit_csv": "a download (CSV) of the audit log",
    "brand.logo": "the tenant's logo image",
    "brand.favicon": "the tenant's favicon image",
    "brand.stylesheet": "the tenant's colours as a style sheet",
    "office.apps": "JSON for the office shell's Apps card",
    "phone.phone": "JSON for the office shell's Phone card (with its SIP credentials)",
    "workspace.channel_list": "JSON for the office shell's Channels card",
    "workspace.channel_show": "JSON for the office shell's channel view",
    "workspace.message_history": "JSON for the office shell's channel view",
    "workspace.message_changes": "JSON: the channel view's poll",
    "workspace.message_search": "JSON for the office shell's channel view",
    "meetings.meeting_list": "JSON for the office shell's Meetings card",
    "meetings.meeting_show": "JSON for the office shell's meeting view",
    "meetings.meeting_signals": "JSON for the office shell's meeting view (WebRTC signals, who is present)",
    "meetings.turn_credentials": "JSON for the office shell's meeting view (TURN credentials)",
    "workspace.push_key": "JSON for the office shell's notifications (the VAPID public key)",
    "guests.invite_list": "JSON for the office shell's channel view (its guest invitations)",
    "guests.guest_me": "JSON for the guest page's script (who the guest is, after a reload)",
    "office.manifest": "the web app manifest",
    "office.service_worker": "the service worker script",
    "static": "style sheets, scripts and icons",
    "get_tenant.check": "JSON: the sign-up form's live check of the subdomain",
    "get_tenant.progress_status": "JSON: the progress page's poll",
    "xmpp.check_password": "text (true/false) for the tenant's Prosody (mod_auth_http), behind its shared secret",
    "xmpp.user_exists": "text (true/false) for the tenant's Prosody (mod_auth_http), behind its shared secret",
    "sip.lookup": "JSON for the tenant's SIP server (HA1 values, extension, caller-ID), behind its lookup key",
}

# Pages that fail a check today: (name, lang|None, width|None, scheme|None) → the defect.
KNOWN: dict[tuple[str, str | None, int | None, str | None], str] = {
}


def known_defect(shot: Shot, lang: str, width: int, scheme: str) -> str | None:
    for (name, k_lang, k_width, k_scheme), reason in KNOWN.items():
        if name == shot.name and k_lang in (None, lang) and k_width in (None, width) and k_scheme in (None, scheme):
            return reason
    return None


def combo_name(lang: str, width: int, scheme: str) -> str:
    return f"{lang}-{width}-{scheme}"


def tour():
    for lang, width, scheme in COMBOS:
        for shot in SHOTS:
            reason = known_defect(shot, lang, width, scheme)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(combo_name(lang, width, scheme), shot, marks=marks,
                               id=f"{combo_name(lang, width, scheme)}-{shot.name}")


# -- fixtures: one site per module, one context per combination --------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    served = Site.start(str(tmp_path_factory.mktemp("screenshots") / "App_Data"))
    yield served
    served.stop()


@pytest.fixture(scope="module")
def output(request):
    """The screenshot folder, emptied once per run: the first worker of a run (xdist's
    `testrun_uid`, shared by all workers) empties it under a lock, the others find it done."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or _single_run_id
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT.parent / ".screenshots.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = OUTPUT / ".run"
        if not marker.exists() or marker.read_text() != run:
            shutil.rmtree(OUTPUT)
            OUTPUT.mkdir()
            marker.write_text(run)
    return OUTPUT


_single_run_id = uuid.uuid4().hex


@dataclass
class Tab:
    page: Any
    console: ConsoleLog
    statuses: dict = field(default_factory=dict)  # URL → status of each page the tab opened

    def note(self, response) -> None:
        if response.request.is_navigation_request():
            self.statuses[response.url] = response.status


@pytest.fixture(scope="module")
def tabs(browser):
    """One context and page per combination, made when first used, closed with the module."""
    opened: dict[str, Tab] = {}

    def open_tab(combo: str) -> Tab:
        if combo not in opened:
            lang, width, scheme = combo.split("-")
            phone = int(width) < 600
            context = browser.new_context(locale=LANGS[lang], viewport=SIZES[int(width)],
                                          color_scheme=scheme, is_mobile=phone, has_touch=phone)
            context.set_default_timeout(10_000)
            context.add_init_script(path=str(AXE))
            log = ConsoleLog()
            log.watch(context)
            opened[combo] = tab = Tab(context.new_page(), log)
            tab.page.on("response", tab.note)
        return opened[combo]

    yield open_tab
    for opened_tab in opened.values():
        opened_tab.page.context.close()


def endpoint_of(site: Site, url: str) -> str | None:
    """The route a URL of the site is (GET, else POST: a page a form post answers)."""
    parts = urlsplit(url)
    if parts.port != site.port or parts.hostname not in ("localhost", get_tenant_tour.SITE):
        return None
    adapter = site.app.url_map.bind("localhost")
    for method in ("GET", "POST"):
        try:
            return adapter.match(parts.path, method=method)[0]
        except MethodNotAllowed:
            continue
        except NotFound:
            return None
    return None


def inspect(page, console: ConsoleLog, *, lang: str, status: int = 200) -> list[str]:
    """What is wrong with the page as it is now: sideways scroll, the wrong `lang`, serious or
    critical axe findings, console errors (but the status line of a page meant to answer `status`)."""
    problems = []
    measured = page.evaluate(MEASURE)
    if measured["scrollWidth"] > measured["innerWidth"]:
        problems.append(f"scrolls sideways: {measured['scrollWidth']} px wide in a {measured['innerWidth']} px window")
    if measured["lang"].split("-")[0] != lang:
        problems.append(f'<html lang="{measured["lang"]}"> on a {lang} page')
    result = page.evaluate(RUN_AXE, TAGS)
    if result["passes"] == 0:
        problems.append("axe checked nothing")
    for rule in result["violations"]:
        if rule["impact"] in FAILING:
            problems += [f"axe {rule['id']} [{rule['impact']}] at {node['target']}: {rule['help']}\n"
                         f"      {node['html'][:200]}" for node in rule["nodes"]]
    # A page that answers an error status on purpose: Chromium logs that one status line.
    expected = f"status of {status}" if status >= 400 else None
    problems += [error for error in console.errors if not (expected and expected in error)]
    return problems


# -- the tour ---------------------------------------------------------------------

@pytest.mark.parametrize(("combo", "shot"), list(tour()))
def test_page(site, tabs, output, combo, shot):
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` in tests/node (`make test` does)"
    tab = tabs(combo)
    page, console = tab.page, tab.console
    context = page.context
    lang = combo.split("-")[0]
    context.clear_cookies()
    if shot.who == "superuser":
        context.add_cookies([site.superuser_cookie()])
    elif shot.who:
        context.add_cookies([site.session_cookie(shot.who, lang=lang, signed_in_ago=shot.signed_in_ago)])
    console.errors.clear()
    console.lines.clear()
    tab.statuses.clear()
    visit = Visit(site, page, combo)
    if shot.reach:
        shot.reach(visit)
    else:
        visit.go(shot.path(site) if callable(shot.path) else shot.path)
    page.wait_for_load_state("load")

    problems = []
    route = endpoint_of(site, page.url)
    if route != shot.route:
        problems.append(f"reached {page.url} (route {route}), not the route {shot.route}")
    status = tab.statuses.get(page.url)
    if status != shot.status:
        problems.append(f"answered {status}, not {shot.status}")

    folder = output / combo
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{shot.name}.png"), full_page=True)

    problems += inspect(page, console, lang=lang, status=shot.status)
    assert not problems, f"{shot.name} ({combo}, {page.url}):\n  " + "\n  ".join(problems)


def test_every_page_is_in_the_tour(site):
    """A GET route of the app is a page in SHOTS or listed in NOT_PAGES with its reason."""
    gets = {rule.endpoint for rule in site.app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    toured = {shot.route for shot in SHOTS if shot.route}
    forgotten = sorted(gets - toured - set(NOT_PAGES))
    assert not forgotten, ("GET routes neither in SHOTS (tests/browser/test_screenshots.py) nor in NOT_PAGES: "
                           + ", ".join(forgotten))
    stale = sorted((toured | set(NOT_PAGES)) - {rule.endpoint for rule in site.app.url_map.iter_rules()})
    assert not stale, "SHOTS or NOT_PAGES name routes the app no longer has: " + ", ".join(stale)
    names = [shot.name for shot in SHOTS]
    assert len(names) == len(set(names)), "two shots of one name would overwrite each other's file"


def test_the_checks_find_a_wide_page_an_unlabelled_field_and_a_console_error(site, tabs):
    """The checks of the tour do see what they look for, on a phone in the dark scheme."""
    tab = tabs("de-390-dark")
    tab.page.context.clear_cookies()
    tab.console.errors.clear()
    tab.page.goto(site.url("/signin"))
    assert inspect(tab.page, tab.console, lang="de") == []
    tab.page.evaluate("""() => {
        const wide = document.createElement('p');
        wide.style.width = '600px';
        wide.textContent = 'breit';
        document.body.append(wide, document.createElement('input'));
        console.error('kaputt');
    }""")
    found = "\n".join(inspect(tab.page, tab.console, lang="en"))
    assert "scrolls sideways: " in found and '<html lang="de"> on a en page' in found, found
    assert "axe label [critical]" in found and "kaputt" in found, found
