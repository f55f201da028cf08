"""Meeting rooms beyond the loopback mesh: a call relayed by a real TURN server, and a ring that
opens the meeting from a notification.

Relay: Debian's coturn runs on 127.0.0.1 (tests/support/coturn.py) with `use-auth-secret`, the
served tenant's TURN shared secret and realm, and `allow-loopback-peers` (both browsers' relay
addresses are on 127.0.0.1, which coturn refuses to relay to otherwise). The tenant's settings
offer it (`turn.uris`), as its admin would save them. Both pages get an init script (run by
the DevTools protocol, before the app's modules, untouched by the page's CSP) that wraps
`window.RTCPeerConnection`: every configuration the app passes gets `iceTransportPolicy:
"relay"`, so Chromium gathers relay candidates only, and every connection and configuration is
kept on `window.__pcs` / `window.__pcConfigs`. The app itself is unchanged. Both browsers show
the other's video playing over a connected peer connection; `getStats()` then shows that the
selected candidate pair runs from a relay candidate to a relay candidate, through the test's
coturn (the relay addresses are in its relay port range), with bytes flowing; and the
credential the page handed to RTCPeerConnection is the one /api/turn answered (as Chromium
received it), minted for this person: the tenant's URI, username `<expiry>:<person folder>`
expiring a ttl from now, credential the HMAC of the tenant's secret over it.

Ring: Bob's subscription is one the test holds the keys of (a push service on 127.0.0.1 takes
what the server pushes; Chromium reaches no real push service), as in test_notifications.py.
Alice presses "Call" in the meeting's room; the test decrypts what the server pushed, and
delivers it to Bob's real service worker through the DevTools protocol
(`ServiceWorker.deliverPushMessage`), as Chrome's push service would: a notification naming the
meeting shows. Headless Chromium has no way to click a notification (neither the DevTools
protocol nor Playwright offer one: microsoft/playwright#23954), so the test raises sw.js's own
`notificationclick` listener in the worker (Playwright evaluates in service workers) with the
very notification the worker showed. Such a synthetic event is untrusted, and only the browser's
click grants a worker "window interaction": `WindowClient.focus()` and `clients.openWindow()`
reject without it, and `waitUntil` throws. For that one dispatch the test therefore stands in
for the browser's grant: `focus()` resolves to the client (the window is shown anyway) and
`waitUntil` keeps the listener's promise for the test. Everything else is the real code path:
sw.js finds Bob's open office window and navigates it (`WindowClient.navigate`, which needs no
interaction) to the notification's `/office.html#meeting=<id>`, and Bob's page shows that
meeting's room.
"""

import json
import re
import time

import pytest
from playwright.sync_api import Page, Response, expect

from codeb.notify import push
from codeb.rooms import turn
from codeb.store import layout
from codeb.tenants import settings
from tests.support.browser import first_sign_in
from tests.support.coturn import MISSING, TURNSERVER, Coturn, secret_args
from tests.support.office_pages import push_until_shown, remote_video_plays, worker_registration
from tests.support.push import Browser, running_push_service

WITHIN = 20_000  # ms: relayed ICE on loopback takes a few seconds; polling adds one per step
PUSH_WITHIN = 10.0  # seconds for a push to reach the push service, or the worker to show it

RELAY_ONLY = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__pcs = [];
  window.__pcConfigs = [];
  class RelayOnly extends Native {
    constructor(config, ...rest) {
      const forced = { ...(config || {}), iceTransportPolicy: "relay" };
      super(forced, ...rest);
      window.__pcs.push(this);
      window.__pcConfigs.push(JSON.parse(JSON.stringify(forced)));
    }
  }
  window.RTCPeerConnection = RelayOnly;
})();
"""

# The selected candidate pair of every connection the page made, with its two candidates.
SELECTED_PAIRS = """async () => {
  const pairs = [];
  for (const pc of window.__pcs) {
    if (pc.connectionState !== "connected") continue;
    const stats = [...(await pc.getStats()).values()];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
    const pair = transport ? byId.get(transport.selectedCandidatePairId)
                           : stats.find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
    if (!pair) { pairs.push(null); continue; }
    const local = byId.get(pair.localCandidateId), remote = byId.get(pair.remoteCandidateId);
    pairs.push({state: pair.state, sent: pair.bytesSent, received: pair.bytesReceived,
                local: {type: local.candidateType, address: local.address, port: local.port,
                        relayProtocol: local.relayProtocol, url: local.url},
                remote: {type: remote.candidateType, address: remote.address, port: remote.port}});
  }
  return pairs;
}"""


def login_of(page):
    return api(page, "/api/me")["body"]["login"]


def api(page, url, method="GET", body=None):
    return page.evaluate("""async ([url, method, body]) => {
        const token = JSON.parse(sessionStorage.getItem('codeb.office.token'));
        const response = await fetch(url, {method, headers: {Authorization: `Bearer ${token.access_token}`,
            'Content-Type': 'application/json'}, body: body === null ? undefined : JSON.stringify(body)});
        return {status: response.status, body: await response.json()};
    }""", [url, method, body])


def make_meeting_with(alice, bob_login, name, before_adding=None):
    """Alice creates the meeting from its card and adds Bob in its chat; its id. `before_adding`
    looks at the fresh room first."""
    alice.fill("#meeting-new-name", name)
    alice.click("#meeting-new button[type=submit]")
    expect(alice.locator("#meeting-view")).to_be_visible()
    expect(alice.locator("#meeting-name")).to_have_text(name)
    if before_adding:
        before_adding()
    alice.locator("#channel-members-summary").click()
    alice.fill("#channel-invite-login", bob_login)
    alice.click("#channel-invite button[type=submit]")
    expect(alice.locator("#channel-members")).to_contain_text(f"@{bob_login}")
    match = re.fullmatch(r"#meeting=([a-z2-7]{16})", alice.evaluate("window.location.hash"))
    assert match, alice.evaluate("window.location.hash")
    return match[1]


# -- a call relayed by coturn ------------------------------------------------------------

@pytest.fixture
def coturn(tmp_path, demo):
    """coturn on 127.0.0.1 with the served tenant's secret and realm, offered in its settings."""
    if not TURNSERVER:
        pytest.skip(MISSING)
    folder = tmp_path / "coturn"
    folder.mkdir()
    server = Coturn(folder)
    settings.save(demo, turn.settings_part(demo, uris=[server.uri]))
    server.start(args=secret_args(demo, turn.secret(demo.store)))
    yield server
    server.stop()


def turn_answers(page: Page, served: str) -> list[Response]:
    """The page's answers from /api/turn from now on, as Chromium received them."""
    seen: list[Response] = []

    def answered(response: Response) -> None:
        if response.url == f"{served}/api/turn":
            seen.append(response)

    page.on("response", answered)
    return seen


def relay_ports(server):
    low = next(int(o.split("=")[1]) for o in server.options if o.startswith("min-port="))
    high = next(int(o.split("=")[1]) for o in server.options if o.startswith("max-port="))
    return range(low, high + 1)


def test_a_call_forced_through_the_tenants_turn_server_is_relayed(served, mailbox, new_context, console,
                                                                 coturn, demo, accounts):
    pages: dict[str, Page] = {}
    answers: dict[str, list[Response]] = {}
    for name in ("alice", "bob"):
        context = new_context(permissions=["camera", "microphone"])
        context.add_init_script(RELAY_ONLY)
        pages[name] = context.new_page()
        answers[name] = turn_answers(pages[name], served)
        first_sign_in(pages[name], served, mailbox, f"{name}@example.com")
    alice, bob = pages["alice"], pages["bob"]
    subs = {name: accounts.find_by_email(f"{name}@example.com").sub for name in pages}
    mid = make_meeting_with(alice, login_of(bob), "Relayed")
    bob.goto(f"{served}/office.html#meeting={mid}")
    expect(bob.locator("#meeting-name")).to_have_text("Relayed")

    alice.click("#meeting-join")
    expect(alice.locator("#meeting-status")).to_have_text(re.compile("You are in the room"))
    bob.click("#meeting-join")
    for page in (alice, bob):
        remote_video_plays(page, WITHIN)

    ports = relay_ports(coturn)
    secret = turn.secret(demo.store)
    selected = {}
    for name, page in pages.items():
        # The path: relay candidate to relay candidate, both allocated by the test's coturn.
        pairs = selected[name] = page.evaluate(SELECTED_PAIRS)
        assert pairs and all(pairs), (pairs, coturn.output())
        for pair in pairs:
            assert pair["state"] == "succeeded", pair
            assert pair["local"]["type"] == "relay" and pair["remote"]["type"] == "relay", pair
            assert pair["local"]["relayProtocol"] == "udp", pair
            assert pair["local"]["url"].startswith(f"turn:127.0.0.1:{coturn.port}"), pair
            for end in ("local", "remote"):
                assert pair[end]["address"] == "127.0.0.1" and pair[end]["port"] in ports, pair
            assert pair["sent"] > 0 and pair["received"] > 0, pair

        # The credential the page gave RTCPeerConnection is the one /api/turn minted for this person.
        configs = page.evaluate("window.__pcConfigs")
        assert configs
        issued = [response.json()["iceServers"] for response in answers[name]]
        assert [config["iceServers"] for config in configs] == issued[-len(configs):], (configs, issued)
        for config in configs:
            assert config["iceTransportPolicy"] == "relay"
            [server] = config["iceServers"]
            assert server["urls"] == [coturn.uri]
            expiry, user = server["username"].split(":")
            assert user == layout.person(subs[name])
            assert abs(int(expiry) - (time.time() + turn.ttl(demo))) < 120
            assert server["credential"] == turn.sign(secret, server["username"])

    # One path seen from both ends: Alice's relay address is the one Bob sends to, and back.
    [there], [back] = selected["alice"], selected["bob"]
    assert (there["local"]["port"], there["remote"]["port"]) == (back["remote"]["port"], back["local"]["port"])
    console.assert_clean()


# -- a ring opens the meeting -------------------------------------------------------------

@pytest.fixture
def service(monkeypatch):
    monkeypatch.setattr(push, "LOOPBACK_ENDPOINTS", True)
    with running_push_service() as server:
        yield server


# In the worker: sw.js's notificationclick listener, raised with the notification it showed (the
# browser's click, which headless Chromium cannot make). Where only a real click is let through
# (focus, waitUntil), the test stands in for the browser; see the module docstring.
CLICK = """async (tag) => {
  const [notification] = await self.registration.getNotifications({ tag });
  if (!notification) return { clicked: false };
  const event = new NotificationEvent("notificationclick", { notification });
  let kept = null;
  Object.defineProperty(event, "waitUntil", { value: (promise) => { kept = promise; } });
  const focus = WindowClient.prototype.focus, navigate = WindowClient.prototype.navigate;
  const navigated = [], opened = [];
  const openWindow = self.clients.openWindow;
  WindowClient.prototype.focus = function () { return Promise.resolve(this); };
  WindowClient.prototype.navigate = function (url) { navigated.push(url); return navigate.call(this, url); };
  self.clients.openWindow = (url) => { opened.push(url); return openWindow.call(self.clients, url); };
  try {
    self.dispatchEvent(event);
    let failed = null;
    if (kept) await kept.catch((error) => { failed = String(error); });
    return { clicked: true, kept: Boolean(kept), failed, navigated, opened,
             left: (await self.registration.getNotifications({ tag })).length };
  } finally {
    WindowClient.prototype.focus = focus;
    WindowClient.prototype.navigate = navigate;
    delete self.clients.openWindow;
  }
}"""


def test_a_ring_notifies_and_its_notification_opens_the_meeting(served, mailbox, new_context, console, service):
    alice = new_context().new_page()
    bob_context = new_context(permissions=["notifications"])
    bob = bob_context.new_page()
    first_sign_in(alice, served, mailbox, "alice@example.com")
    first_sign_in(bob, served, mailbox, "bob@example.com")
    bob_login = login_of(bob)

    # Bob turns notifications on: his subscription is one the test holds the keys of.
    keys = Browser()
    subscribed = api(bob, "/api/push/subscriptions", "POST",
                     {"subscription": keys.subscription(service.endpoint("ok", "bob"))})
    assert subscribed["status"] == 201

    # Alice makes the meeting and calls Bob into it from its room.
    # The room has nobody to call when it opens; Bob, added in its chat, joins the Call list
    # without the room being opened again.
    mid = make_meeting_with(alice, bob_login, "Design review", before_adding=lambda: expect(
        alice.locator("#meeting-ring")).to_be_hidden())
    expect(alice.locator("#meeting-ring")).to_be_visible()
    expect(alice.locator("#meeting-ring-login option")).to_have_count(1)
    alice.select_option("#meeting-ring-login", bob_login)
    alice.click("#meeting-ring button[type=submit]")
    expect(alice.locator("#meeting-status")).to_contain_text(f"@{bob_login}")
    deadline = time.monotonic() + PUSH_WITHIN
    while not service.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [delivery] = service.received
    assert delivery["path"] == "/ok/bob" and delivery["headers"].get("urgency") == "high"
    payload = keys.decrypt(delivery["body"]).decode("utf-8")
    message = json.loads(payload)
    assert message["url"] == f"/office.html#meeting={mid}" and message["tag"] == f"ring-{mid}"

    # Chrome's push service would hand it to Bob's service worker: DevTools does. It shows.
    cdp, registration = worker_registration(bob, served, PUSH_WITHIN)
    [note] = push_until_shown(bob, cdp, served, registration, payload, PUSH_WITHIN)
    assert note["title"] == "Meeting: Design review", note
    assert "asking you to join" in note["body"], note
    assert note["tag"] == f"ring-{mid}" and note["url"] == f"/office.html#meeting={mid}"
    expect(bob.locator("#meeting-view")).to_be_hidden()

    # Bob clicks it: sw.js brings his office window to the meeting, whose room opens.
    [worker] = [w for w in bob_context.service_workers if w.url == f"{served}/sw.js"]
    clicked = worker.evaluate(CLICK, f"ring-{mid}")
    assert clicked["clicked"] and clicked["kept"] and not clicked["failed"], clicked
    # The window already open was brought to the meeting; no second window was opened.
    assert clicked["navigated"] == [f"{served}/office.html#meeting={mid}"] and not clicked["opened"], clicked
    assert clicked["left"] == 0, clicked  # the click closed it
    expect(bob.locator("#meeting-view")).to_be_visible(timeout=WITHIN)
    expect(bob.locator("#meeting-name")).to_have_text("Design review")
    assert bob.evaluate("window.location.hash") == f"#meeting={mid}"
    expect(bob.locator("#meeting-join")).to_be_visible()
    console.assert_clean()
