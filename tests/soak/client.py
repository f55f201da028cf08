"""The flows of the soak, over HTTP, each request to a server of the farm chosen per request.

Kept in one small module so that a change to a page means one change here. The
flows read pages the way a person does: the CSRF field of the page, the form of
a mailed link's page (whatever hidden fields it carries), the JSON calls of the
passkey script with the page's token in `X-CSRF-Token`.

    browser = Browser(farm, tally, source="127.0.0.10")
    sign_up(browser, mailbox, "ann@example.com", authenticator)   # magic link, passkey, profile
    passkey_sign_in(browser.fresh(), authenticator)                # → the sign count it reported
    refresh = code_exchange(browser, rp)                           # authorize → code → tokens
    refresh = rotate(browser, rp, refresh, server)                 # one refresh-token rotation
    admin_edit(admin, login, display_name="Edited 7")

A request whose answer never came (the server died under it) raises `InDoubt`: the
caller cannot know whether it took effect, and counts it apart. GETs are retried
on another live server first, as a load balancer does for an idempotent request.
"""

import base64
import glob
import hashlib
import html
import itertools
import os
import re
import secrets
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter

from tests.support.authenticator import SoftAuthenticator

TIMEOUT = 120.0  # per request; the load is bounded by its deadline, this only stops a hang


class FlowFailed(Exception):
    """A server answered, but not what the flow expects (the status and a piece of the body)."""


class InDoubt(Exception):
    """A request whose answer never came: it may or may not have taken effect."""


class Tally:
    """What the load did: requests per kind, answers per status class, the failures in full."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: Counter = Counter()   # kind of flow → requests made
        self.flows: Counter = Counter()      # kind of flow → flows completed
        self.statuses: Counter = Counter()   # "2xx", "3xx", "4xx", "5xx"
        self.per_server: Counter = Counter()  # server index → answers
        self.refusals: Counter = Counter()   # (kind, status, path) of every 4xx
        self.server_errors: list[str] = []
        self.failures: list[str] = []
        self.in_doubt: Counter = Counter()
        self.sent_at: list[tuple[float, int]] = []  # (when it was sent, monotonic; server) per answer

    def answered_since(self, moment: float) -> Counter:
        """Answers per server to requests sent after `moment` (time.monotonic)."""
        with self.lock:
            return Counter(server for sent, server in self.sent_at if sent > moment)

    def answered(self, kind: str, server: int, method: str, path: str, response, sent: float) -> None:
        with self.lock:
            self.sent_at.append((sent, server))
            self.requests[kind] += 1
            self.statuses[f"{response.status_code // 100}xx"] += 1
            self.per_server[server] += 1
            if 400 <= response.status_code < 500:
                self.refusals[(kind, response.status_code, urlsplit(path).path)] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{kind}: {method} {path} → {response.status_code} on server "
                                          f"{server}: {response.text[:300]!r}")

    def done(self, kind: str) -> None:
        with self.lock:
            self.flows[kind] += 1

    def failed(self, kind: str, error: Exception) -> None:
        with self.lock:
            self.failures.append(f"{kind}: {error}")

    def doubted(self, kind: str) -> None:
        with self.lock:
            self.in_doubt[kind] += 1


class SourceAddress(HTTPAdapter):
    """Connections from one loopback address: each client of the load is its own client IP
    (the per-client rate limits count per address, as for people behind different NATs)."""

    def __init__(self, source: str):
        self.source = source
        super().__init__(pool_connections=4, pool_maxsize=4)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Browser:
    """One browser (its cookies) whose every request may reach any server of the farm."""

    def __init__(self, farm, tally: Tally, *, source: str = "127.0.0.1", kind: str = "setup"):
        self.farm, self.tally, self.source, self.kind = farm, tally, source, kind
        self.session = requests.Session()
        self.session.mount("http://", SourceAddress(source))
        self.turn = itertools.count(secrets.randbelow(1000))

    def fresh(self) -> "Browser":
        """Another browser from the same client address (no cookies)."""
        return Browser(self.farm, self.tally, source=self.source, kind=self.kind)

    def adopt(self, other: "Browser") -> "Browser":
        """This browser now holds `other`'s cookies (the same signed-in session)."""
        self.session.cookies.update(other.session.cookies)
        return self

    def pick(self, server=None):
        live = self.farm.live()
        if not live:
            raise InDoubt("no server is left")
        if server is not None and server.alive:
            return server
        return live[next(self.turn) % len(live)]

    def request(self, method: str, path: str, *, server=None, headers=None, **kwargs):
        headers = {"Host": self.farm.host_header, **(headers or {})}
        for attempt in range(3):
            target = self.pick(server if attempt == 0 else None)
            sent = time.monotonic()
            try:
                response = self.session.request(method, target.url + path, headers=headers,
                                                allow_redirects=False, timeout=TIMEOUT, **kwargs)
            # A worker killed mid-answer breaks the body (ChunkedEncodingError): as unanswered as a refused connection.
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                if method != "GET" or attempt == 2:
                    raise InDoubt(f"{method} {path} on server {target.index}: {exc.__class__.__name__}") from None
                continue
            self.tally.answered(self.kind, target.index, method, path, response, sent)
            response.server = target  # type: ignore[attr-defined]
            return response
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)


def expect(response, *statuses: int):
    if response.status_code not in statuses:
        raise FlowFailed(f"{response.request.method} {urlsplit(response.request.url).path} → "
                         f"{response.status_code}, expected {statuses}: {what_it_says(response.text)!r}")
    return response


def what_it_says(body: str) -> str:
    """The error message of a page (its alert) or the start of a JSON or text body."""
    alert = re.search(r'role="alert".*?<div class="alert-body">(?:<p class="alert-title">[^<]*</p>)?<p>([^<]*)<',
                      body, re.DOTALL)
    return html.unescape(alert.group(1)) if alert else body[:300]


def local_path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    if not match:
        raise FlowFailed("the page has no CSRF field")
    return match.group(1)


def post_form_of(page: str, action_ends: str) -> tuple[str, dict]:
    """The first POST form whose action ends with `action_ends`: its action and hidden fields."""
    for form in re.finditer(r'<form\b[^>]*method="post"[^>]*>(.*?)</form>', page, re.S | re.I):
        action = re.search(r'action="([^"]*)"', form.group(0))
        if action and html.unescape(action.group(1)).endswith(action_ends):
            fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1))}
            return html.unescape(action.group(1)), fields
    raise FlowFailed(f"no form posting to …{action_ends}")


# -- the mailbox -------------------------------------------------------------------------

class Mailbox:
    """The shared pickup folder, read once per file: the newest link mailed to each address."""

    def __init__(self, folder: str):
        self.folder = folder
        self.seen: set[str] = set()
        self.links: dict[str, str] = {}
        self.lock = threading.Lock()

    def _scan(self) -> None:
        for path in glob.glob(os.path.join(self.folder, "*.eml")):
            name = os.path.basename(path)
            if name in self.seen:
                continue
            with open(path, "rb") as f:
                raw = f.read()
            message = message_from_bytes(raw.split(b"\r\n", 2)[2], policy=policy.SMTP)
            body = message.get_body(("plain",))
            match = re.search(r"https?://\S+/link/\S+", body.get_content() if body else "")
            self.seen.add(name)
            if match:
                self.links[str(message["To"])] = match.group(0)

    def link(self, email: str) -> str:
        """The link mailed to `email`; it is in the folder before the request that sent it answers."""
        with self.lock:
            if email not in self.links:
                self._scan()
            if email not in self.links:
                raise FlowFailed(f"no mail to {email}")
            return self.links.pop(email)


# -- the flows -----------------------------------------------------------------------------

def json_call(browser: Browser, path: str, body: dict, token: str):
    return browser.post(path, json=body, headers={"X-CSRF-Token": token})


def follow_mailed_link(browser: Browser, mailbox: Mailbox, email: str):
    """Open the link mailed to `email` and press its one button (the form of the link's page)."""
    page = expect(browser.get(local_path(mailbox.link(email))), 200)
    action, fields = post_form_of(page.text, "/complete")
    return expect(browser.post(action, data=fields), 303)


def sign_up(browser: Browser, mailbox: Mailbox, email: str, authenticator: SoftAuthenticator | None) -> None:
    """A new person: ask for a link, follow it, confirm the profile (the display name starts
    empty), then add a passkey in the passkey step (if given) or answer it "Not now"."""
    token = csrf_of(expect(browser.get("/signin"), 200).text)
    expect(browser.post("/signin/continue", data={"csrf": token, "email": email}), 303, 200)
    landed = follow_mailed_link(browser, mailbox, email)
    if not landed.headers["Location"].endswith("/welcome"):
        raise FlowFailed(f"a new address landed on {landed.headers['Location']}, not the profile screen")
    page = expect(browser.get("/welcome"), 200).text
    name = re.search(r'id="display_name" name="display_name"[^>]*value="([^"]*)"', page, re.S)
    confirmed = expect(browser.post("/welcome", data={
        "csrf": csrf_of(page), "nickname": "", "language": "en",
        "display_name": (html.unescape(name.group(1)) if name else "") or "Person"}), 303)
    if not confirmed.headers["Location"].endswith("/welcome/passkey"):
        return
    if authenticator is not None:
        add_passkey(browser, authenticator, page="/welcome/passkey")
    else:
        expect(browser.get("/welcome/continue"), 303)


def add_passkey(browser: Browser, authenticator: SoftAuthenticator, page: str = "/welcome/passkey") -> None:
    """Create a passkey from `page`'s control (the first sign-in's passkey step, or the account page)."""
    token = csrf_of(expect(browser.get(page), 200).text)
    options = expect(json_call(browser, "/account/passkeys/options", {"name": "Soak"}, token), 200).json()
    credential = authenticator.create(options["publicKey"])
    expect(json_call(browser, "/account/passkeys/verify",
                     {"challenge_id": options["challenge_id"], "credential": credential, "name": "Soak"}, token), 200)


def passkey_sign_in(browser: Browser, authenticator: SoftAuthenticator) -> int:
    """A sign-in with the passkey from a browser without a session; the counter it reported."""
    token = csrf_of(expect(browser.get("/signin"), 200).text)
    options = expect(json_call(browser, "/signin/passkey/begin", {}, token), 200).json()
    assertion = authenticator.get(options["publicKey"])
    done = expect(json_call(browser, "/signin/passkey/complete",
                            {"challenge_id": options["challenge_id"], "credential": assertion}, token), 200)
    if "redirect" not in done.json():
        raise FlowFailed(f"a passkey sign-in answered {done.text[:200]!r}")
    return next(iter(authenticator.credentials.values()))["count"]


def magic_link_sign_in(browser: Browser, mailbox: Mailbox, email: str) -> None:
    token = csrf_of(expect(browser.get("/signin"), 200).text)
    expect(browser.post("/signin/continue", data={"csrf": token, "email": email}), 303, 200)
    follow_mailed_link(browser, mailbox, email)


class RP:
    """A confidential relying party registered with the tenant."""

    def __init__(self, client_id: str, secret: str, redirect_uri: str):
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_exchange(browser: Browser, rp: RP) -> str:
    """A signed-in browser at /authorize gets a code at once; the RP exchanges it (another
    server), reads userinfo (a third); returns the refresh token."""
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
              "scope": "openid profile email", "state": secrets.token_hex(4), "nonce": secrets.token_hex(4),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    answer = expect(browser.get("/authorize?" + urlencode(params)), 302)
    query = dict(p.split("=", 1) for p in urlsplit(answer.headers["Location"]).query.split("&"))
    if query.get("state") != params["state"] or "code" not in query:
        raise FlowFailed(f"authorize answered {answer.headers['Location']}")
    tokens = expect(browser.post("/token", auth=(rp.client_id, rp.secret), data={
        "grant_type": "authorization_code", "code": query["code"], "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier}), 200).json()
    expect(browser.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}), 200)
    return tokens["refresh_token"]


def rotate(browser: Browser, rp: RP, refresh_token: str, server=None) -> str:
    """One rotation of a refresh-token chain; the new refresh token."""
    answer = expect(browser.post("/token", server=server, auth=(rp.client_id, rp.secret), data={
        "grant_type": "refresh_token", "refresh_token": refresh_token}), 200).json()
    return answer["refresh_token"]


def refused(browser: Browser, rp: RP, refresh_token: str) -> bool:
    """True if the token endpoint refuses this refresh token as a spent or unknown grant."""
    answer = browser.post("/token", auth=(rp.client_id, rp.secret),
                          data={"grant_type": "refresh_token", "refresh_token": refresh_token})
    return answer.status_code == 400 and answer.json().get("error") == "invalid_grant"


def admin_edit(admin: Browser, login: str, display_name: str) -> None:
    """The admin's user form: a new display name, roles and extension as they are."""
    page = expect(admin.get(f"/admin/users/{login}"), 200).text
    expect(admin.post(f"/admin/users/{login}", data={"csrf": csrf_of(page), "display_name": display_name,
                                                     "ext": ""}), 303)


def pause_until(moment: float) -> None:
    wait = moment - time.monotonic()
    if wait > 0:
        time.sleep(wait)
