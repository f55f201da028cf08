"""Real-browser fixtures: Debian's Chromium driven by Playwright (sync API).

`browser` is one headless Chromium per test session (per xdist worker);
`new_context(**options)` opens a fresh, isolated context for the running test
(closed afterwards) and `context` / `page` are the default ones. Every context
reports into `console`: console messages of type error, uncaught page errors,
and Content-Security-Policy violations. Violations are caught twice: Chromium
logs each one to the console, and an init script (run by the DevTools protocol,
so the page's CSP does not apply to it) turns every `securitypolicyviolation`
event into a console error as well. Tests end with `console.assert_clean()`.

Never `playwright install`: the browser is the system package at CHROMIUM.
"""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
# Headless, and without the background services whose outgoing connections
# this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
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
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(`make test` does; never `playwright install` here)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def console():
    return ConsoleLog()


@pytest.fixture
def new_context(browser, console):
    """A factory for fresh browser contexts of this test, watched by `console`."""
    opened = []

    def open_context(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        console.watch(context)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()
