"""Real-browser fixtures: Debian's Chromium driven by Playwright (sync API).

`browser` is one headless Chromium per test session (per xdist worker);
`new_context(**options)` opens a fresh, isolated context for the running test
(closed afterwards) and `context` / `page` are the default ones.
`persistent_context(**options)` launches a Chromium of its own on a
throw-away profile folder: a browser context that is not "incognito", which
Chromium's installability check requires (an ordinary context reports
`in-incognito`). `client_site` is a relying party's callback, really served on
a loopback port and registered with the demo tenant. Every context
reports into `console`: console messages of type error, uncaught page errors,
and Content-Security-Policy violations. Violations are caught twice: Chromium
logs each one to the console, and an init script (run by the DevTools protocol,
so the page's CSP does not apply to it) turns every `securitypolicyviolation`
event into a console error as well. Tests end with `console.assert_clean()`.

Never `playwright install`: the browser is the system package at CHROMIUM.
"""

import itertools
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.factories import closing_all

CHROMIUM = "/usr/bin/chromium"
# Headless, and without the background services whose outgoing connections
# this machine's closed network refuses; a fake camera and microphone (a test pattern and
# a beep) for the meeting rooms, granted without a prompt.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]

CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.effectiveDirective + " blocked " + (e.blockedURI || "(inline)")
                + " on " + e.documentURI + " [" + e.disposition + "]");
});
"""


class ConsoleLog:
    """Everything a test's pages complained about, as readable lines."""

    def __init__(self):
        self.errors: list[str] = []
        self.lines: list[str] = []  # all console output, for failure messages

    def watch(self, context) -> None:
        context.add_init_script(CSP_REPORTER)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))

    def _console(self, message) -> None:
        location = message.location or {}
        line = f"[{message.type}] {message.text} ({location.get('url', '?')})"
        self.lines.append(line)
        if message.type == "error":
            self.errors.append(line)

    def csp_violations(self) -> list[str]:
        return [e for e in self.errors
                if "CSP violation" in e or "Content Security Policy" in e]

    def dump(self) -> str:
        return "\n".join(self.lines) or "(no console output)"

    def assert_clean(self, allow=()) -> None:
        """No console errors and no CSP violations, except messages containing an `allow` text."""
        left = [e for e in self.errors if not any(a in e for a in allow)]
        assert not left, "browser console reported errors:\n" + "\n".join(left)


@pytest.fixture(scope="session")
def playwright():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(`make test` does; never `playwright install` here)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def console():
    return ConsoleLog()


@pytest.fixture
def new_context(browser, console):
    """A factory for fresh browser contexts of this test, watched by `console`."""
    def open_context(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        console.watch(context)
        return context

    with closing_all(open_context, lambda context: context.close()) as factory:
        yield factory


@pytest.fixture
def persistent_context(playwright, console, tmp_path):
    """A factory for a browser context on a profile folder of its own (a second Chromium)."""
    profiles = itertools.count()

    def open_context(**options):
        folder = tmp_path / f"chromium-profile-{next(profiles)}"
        context = playwright.chromium.launch_persistent_context(
            str(folder), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options)
        context.set_default_timeout(10_000)
        console.watch(context)
        return context

    with closing_all(open_context, lambda context: context.close()) as factory:
        yield factory


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()


# -- a relying party on another origin --------------------------------------------

CLIENT_PAGE = (b'<!doctype html><html lang="en"><title>RP</title><link rel="icon" href="data:,">'
               b'<p id="client">callback received</p></html>')


class ClientSite:
    """A relying party's web server on 127.0.0.1 (another origin than the app's `localhost`).

    The authorization response reaches the client as a redirect, and Playwright
    cannot route the hop of a redirect (page.route sees only the request the
    page hands to the network stack; microsoft/playwright#3993), least of all
    the second hop of a form post (POST /welcome → 303 /authorize/resume → 302
    client). So the client is really there: Chromium follows the whole chain
    itself, enforcing the app's CSP `form-action` on every hop, and the callback
    is answered by this server, which records the URLs it was sent to.
    """

    def __init__(self):
        arrived = self.arrived = []

        class Callback(BaseHTTPRequestHandler):
            def do_GET(self):
                arrived.append(origin + self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(CLIENT_PAGE)))
                self.end_headers()
                self.wfile.write(CLIENT_PAGE)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
        origin = self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = origin + "/cb"
        self.client_id = self.secret = None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def client_site(demo):
    """A confidential relying party of the demo tenant, "Test RP", with its callback served."""
    from codeb.oidc.clients import Clients

    site = ClientSite()
    client, site.secret = Clients(demo.store).add(
        name="Test RP", redirect_uris=[site.redirect_uri], post_logout_redirect_uris=[site.origin + "/bye"])
    site.client_id = client.client_id
    yield site
    site.close()
