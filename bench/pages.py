"""`make pages` (and part of `make bench`): what the main pages weigh and how soon a phone can use them.

Figures, not a test: nothing here passes or fails. The pages: sign-in, check-inbox,
account settings, the office shell and the admin's user list, each served by
waitress on loopback (`tests.support.site`: the demo tenant with prepared people and
sessions) and opened in Debian's Chromium.

Weight: every response the page loads, unthrottled, in a fresh context
(an empty cache): the bytes of each body as transferred (HTML, CSS, JS, images, the
"data" of the page's own fetch calls, and "other": the favicon), summed per kind,
and the same bodies gzipped (level 6, about what IIS's compression sends; waitress
itself sends them uncompressed). Headers are not counted; redirect answers carry no
body, and what a later document of the same visit takes from the cache counts nothing.
Service workers are blocked, so what the office shell's worker would cache for later
is not counted as the page's weight.

Time to interactive (TTI), on a throttled phone profile: 390 × 844, touch, Chromium's
`Network.emulateNetworkConditions` at 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s
up, and `Emulation.setCPUThrottlingRate` 4. Each run is a fresh context (cold cache).
Every page is opened by its URL with a session prepared on the server (check-inbox: the
session of a browser that has just posted the sign-in form for a link), so each run
loads everything the page needs. TTI is the time from the moment the navigation is
asked for (before `page.goto`) to the latest of, in the final document:
  1. the end of its load event (every module script and its imports have run, styles and
     images are in);
  2. the first animation frame in which the page's main control (below) is in the DOM,
     rendered (has a box, not `visibility: hidden`) and not disabled;
  3. the end of the last long task (≥ 50 ms, the Long Tasks API) before a quiet window
     of 500 ms without one.
Measured by an init script (run by the DevTools protocol, outside the page's CSP; the
app carries no timing code) that notes 2 and 3 in the page; the moments are taken
on the page's clock (`performance.timeOrigin` + `performance.now()`), so a chain of
documents (the office shell: /office.html → /authorize → /office.html?code=…, then
the token) counts whole. The median of 5 runs is printed.

The bare counterpart of each page is one static HTML document of the same total weight
(its bytes padded in a comment, with one text field as its main control), served by
a plain static server on loopback under the same throttling, measured the same way:
the ratio TTI / bare TTI says what the page's requests, scripts and redirects add
over the bytes alone (1.0 would be nothing). Page and bare runs alternate, so a shared
machine's load falls on both alike.
"""

import gzip
import json
import os
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.site import Site  # noqa: E402

RUNS = 5
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
NETWORK = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
           "uploadThroughput": 750_000 / 8}
CPU_SLOWDOWN = 4
QUIET_MS = 500
KINDS = {"document": "HTML", "stylesheet": "CSS", "script": "JS", "image": "images", "font": "fonts",
         "fetch": "data", "xhr": "data"}  # anything else (the favicon, the manifest): "other"
COLUMNS = ("HTML", "CSS", "JS", "images", "fonts", "data", "other")


# In every document of the measured context, before the page's own scripts.
WATCH = """(() => {
  const noted = window.__tti = {ready: 0, longEnd: 0};
  const selector = %s;
  try {
    new PerformanceObserver((list) => {
      for (const task of list.getEntries()) noted.longEnd = Math.max(noted.longEnd, task.startTime + task.duration);
    }).observe({type: 'longtask', buffered: true});
  } catch (e) { /* no Long Tasks API: 3 counts nothing */ }
  const usable = () => {
    const control = document.querySelector(selector);
    return control && !control.disabled && control.getClientRects().length > 0
      && getComputedStyle(control).visibility !== 'hidden';
  };
  const look = () => { if (usable()) noted.ready = performance.now(); else requestAnimationFrame(look); };
  requestAnimationFrame(look);
})();"""

SETTLED = """(quiet) => {
  const noted = window.__tti, nav = performance.getEntriesByType('navigation')[0];
  if (!noted || !noted.ready || !nav || !nav.loadEventEnd) return false;
  const last = Math.max(noted.ready, nav.loadEventEnd, noted.longEnd);
  return performance.now() - last >= quiet;
}"""

TAKEN = """() => {
  const noted = window.__tti, nav = performance.getEntriesByType('navigation')[0];
  return performance.timeOrigin + Math.max(noted.ready, nav.loadEventEnd, noted.longEnd);
}"""


ASKED = "a browser that has just asked for a link"  # the check-inbox page's session


class MainPage:
    def __init__(self, name, control, *, path, who=None, final=None):
        self.name = name          # as printed
        self.control = control    # the CSS selector of its main control
        self.path = path          # opened directly
        self.who = who            # signed in as (a login of tests.support.site), or ASKED
        self.final = final        # the URL path the page ends on (a chain of documents)


PAGES = [
    MainPage("sign-in", "#email", path="/signin"),
    MainPage("check-inbox", "#code", path="/signin/sent", who=ASKED),
    MainPage("account", "#display_name", path="/account", who="ada"),
    MainPage("office shell", "#terminal-input", path="/office.html", who="ada", final="/office.html"),
    MainPage("admin users", "#q", path="/admin/users", who="boss"),
]

def body_of(context, response) -> bytes:
    """A response's body; for a document the browser has left since (the office shell's first
    /office.html), the same URL fetched again with the context's cookies."""
    try:
        return response.body()
    except Exception:  # noqa: BLE001 -- Playwright's "Protocol error": the document is gone
        return context.request.get(response.url).body()


class Tour:
    def __init__(self, site: Site, browser):
        self.site, self.browser = site, browser
        self.mailed = 0

    def context(self, main: MainPage):
        context = self.browser.new_context(service_workers="block", **PHONE)
        context.set_default_timeout(60_000)
        if main.who == ASKED:
            self.mailed += 1  # one address per run: the per-mailbox limit counts five mails
            context.add_cookies([self.site.check_inbox_cookie(f"bench.{self.mailed}@example.com")])
        elif main.who:
            context.add_cookies([self.site.session_cookie(main.who)])
        return context

    def open(self, page, main: MainPage, base: str) -> float:
        """Open the page; the epoch milliseconds when it was asked for."""
        started = time.time() * 1000
        page.goto(base + main.path)
        if main.final:
            page.wait_for_url(base + main.final)
        return started

    def weigh(self, main: MainPage) -> dict:
        """Bytes per kind (and gzipped) of one cold, unthrottled visit."""
        context = self.context(main)
        page = context.new_page()
        responses = []
        page.on("response", lambda response: responses.append(response))  # noqa: PLW0108 -- a bound
        # builtin cannot carry Playwright's wrapper attribute
        self.open(page, main, self.site.base)
        page.locator(main.control).wait_for(state="visible")
        page.wait_for_load_state("networkidle")
        weight = {kind: [0, 0] for kind in COLUMNS}
        count = 0
        for response in responses:
            sent = response.request.sizes()["responseBodySize"]
            if 300 <= response.status < 400 or sent <= 0:  # a redirect, or from the cache
                continue
            count += 1
            column = KINDS.get(response.request.resource_type, "other")
            weight[column][0] += sent
            weight[column][1] += len(gzip.compress(body_of(context, response), 6))
        context.close()
        return {"by_kind": weight, "requests": count,
                "bytes": sum(w[0] for w in weight.values()), "gzip": sum(w[1] for w in weight.values())}

    def time_to_interactive(self, main: MainPage, base: str | None = None) -> float:
        context = self.context(main)
        context.add_init_script(WATCH % json.dumps(main.control))
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", NETWORK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        started = self.open(page, main, base or self.site.base)
        page.wait_for_function(SETTLED, arg=QUIET_MS, polling=100)
        done = page.evaluate(TAKEN)
        context.close()
        return done - started


# -- the bare counterpart -------------------------------------------------------------

def bare_document(size: int) -> bytes:
    head = (b'<!doctype html><html lang="en"><meta charset="utf-8">'
            b'<meta name="viewport" content="width=device-width"><title>bare</title>'
            b'<main><label for="email">Email</label> <input id="email" type="email"></main><!-- ')
    tail = b" --></html>"
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


class BareSite:
    """Serves one static page of a given size at /page.html (no script, no style sheet)."""

    def __init__(self):
        self.body = b""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.body if self.path == "/page.html" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def main():
    site = Site.start()
    bare = BareSite()
    rows = []
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            tour = Tour(site, browser)
            for page in PAGES:
                weight = tour.weigh(page)
                bare.body = bare_document(weight["bytes"])
                bare_page = MainPage("bare", "#email", path="/page.html")
                times, bare_times = [], []
                for _ in range(RUNS):  # interleaved: a shared machine's load falls on both alike
                    times.append(tour.time_to_interactive(page))
                    bare_times.append(tour.time_to_interactive(bare_page, bare.base))
                rows.append((page.name, weight, statistics.median(times), statistics.median(bare_times)))
                print(f"  {page.name}: {kb(weight['bytes'])} KiB, TTI {statistics.median(times):.0f} ms "
                      f"(runs {', '.join(f'{t:.0f}' for t in times)})", file=sys.stderr)
            browser.close()
    finally:
        bare.close()
        site.remove()
    print_table(rows)


def print_table(rows):
    print(f"Page weights (KiB of bodies; gzip level 6 in brackets) and time to interactive on a phone "
          f"(390x844, {NETWORK['latency']} ms RTT, 1.6 Mbit/s down, CPU /{CPU_SLOWDOWN}; median of {RUNS}, cold cache)")
    header = ["page", "requests", *COLUMNS, "total", "TTI ms", "bare TTI ms", "TTI / bare"]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for name, weight, tti, bare_tti in rows:
        cells = [f"{kb(b)} ({kb(z)})" if b else "–" for b, z in (weight["by_kind"][k] for k in COLUMNS)]
        total = f"{kb(weight['bytes'])} ({kb(weight['gzip'])})"
        print(f"| {name} | {weight['requests']} | " + " | ".join(cells)
              + f" | {total} | {tti:.0f} | {bare_tti:.0f} | {tti / bare_tti:.2f} |")


if __name__ == "__main__":
    main()
