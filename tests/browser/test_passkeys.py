"""Passkeys in a real browser: Chromium's virtual authenticator, the served app, the pickup folder.

Every ceremony here is the real one: the page's own JavaScript calls
`navigator.credentials.create()` / `.get()`, Chromium runs WebAuthn against a
virtual CTAP 2.1 platform authenticator (tests/browser/webauthn.py), and the
server verifies the results with py_webauthn.

Two facts about the virtual authenticator shape these tests:

* Autofill. signin.js starts a conditional-mediation request when /signin
  opens. With automatic presence simulation on, Chromium answers that request
  at once if the authenticator holds a discoverable credential for the site,
  as if the person had picked the passkey from the email field's autofill
  list. So "open /signin and land on /" *is* the autofill sign-in.
* The button. To press "Sign in with a passkey" instead, the autofill request
  must not answer first: with presence simulation off a request that needs a
  touch is never resolved (and stays unresolved after the simulation is turned
  back on: Chromium decides when the request reaches the authenticator).
  `one_touch` then turns presence on and clicks: the click aborts the waiting
  autofill request and makes a new, modal one, which the authenticator answers.
  When the page posts that answer to /passkey/verify, `one_touch` turns presence
  off again *before* letting the request through, so the autofill request the
  page restarts after a refusal waits instead of answering again (a real
  person would have to pick the passkey again; the virtual one would loop).
"""

import re
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import expect

from codeb.users import Accounts
from tests.browser.webauthn import VirtualAuthenticator
from tests.conftest import HOST, pkce_pair, query_of

RP_ORIGIN = "http://127.0.0.1:9999"
REASONS = {400: "BAD REQUEST", 409: "CONFLICT"}  # Werkzeug's reason phrases

# The messages a person reads (codeb/i18n/en.json).
CANCELLED = "The passkey request was cancelled or timed out."
UNKNOWN = "This passkey is not registered here."
UV_REQUIRED = "Your device must verify it is you (PIN, fingerprint or face)"
REGISTRATION_FAILED = "The new passkey could not be verified."


# -- helpers -------------------------------------------------------------------

def refused(served, path, status=400):
    """The console line Chromium writes when a fetch gets an error status.

    Chromium logs every HTTP error response of a page's fetch() as
    "Failed to load resource: the server responded with a status of N" at the
    resource's URL, even when the script handles the answer. The app answers a
    refused passkey with an error status and a JSON message (codeb/web/passkeys.py),
    so a test that provokes a refusal on purpose allows exactly that line for
    exactly that endpoint, and nothing else.
    """
    return f"status of {status} ({REASONS[status]}) ({served}{path})"


def account_of(demo, email):
    account = Accounts(demo.store, HOST).find_by_email(email)
    assert account is not None, f"no account for {email}"
    return account


def passkeys_of(demo, email):
    return account_of(demo, email).doc.get("passkeys", [])


def set_passkey_policy(demo, **changes):
    """Change `passkeys` in tenant.json; the app re-reads the file when it changes."""
    with demo.store.update("tenant") as doc:
        doc.setdefault("passkeys", {}).update(changes)


def open_signin(page, served, path="/signin", autofill=True):
    """Open the sign-in page and wait until its autofill request has its options.

    From then on the page's passkey request is waiting in Chromium, so a click
    cannot race it. Returns the id of the autofill request's challenge.
    `autofill=False` where Chromium offers no conditional mediation (see test 4).
    """
    if not autofill:
        page.goto(served + path)
        expect(page.locator("#passkey-button")).to_be_visible()
        assert page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is False
        return None
    with autofill_options(page, served) as options:
        page.goto(served + path)
    assert options.value.ok, options.value.text()
    expect(page.locator("#passkey-button")).to_be_visible()
    return options.value.json()["challenge_id"]


def autofill_options(page, served):
    """Wait for the answer to the next /passkey/options call that starts from now on.

    Only a request of the page about to open counts: the previous page may have
    an autofill request of its own in flight (signin.js starts one on load and
    again after a refusal), and its answer can arrive while the navigation starts.
    """
    since = time.time() * 1000
    return page.expect_response(lambda r: r.url == served + "/passkey/options"
                                and r.request.timing["startTime"] >= since)


def ask_for_link(page, email, *, passkey=False):
    page.locator("#email").fill(email)
    if passkey:
        page.locator("#signup-passkey").click()
    else:
        page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")


def follow_link(page, mailbox, email):
    page.goto(mailbox.last_link(to=email))
    page.locator("#complete-signin").click()


def sign_up_to_welcome(page, served, mailbox, email, *, passkey=False, autofill=True):
    """A new account through the magic link; it lands on the passkey offer."""
    open_signin(page, served, autofill=autofill)
    ask_for_link(page, email, passkey=passkey)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome/passkey")
    expect(page.locator("#passkey-create-button")).to_be_enabled()


def create_passkey(page, name=""):
    page.locator("#passkey-name").fill(name)
    page.locator("#passkey-create-button").click()


def sign_out(page, served, device=None):
    """Sign out from the header; with `device`, its presence is off first so autofill waits."""
    if device is not None:
        device.set_presence(False)
    page.locator("header").get_by_role("button", name="Sign out").click()
    page.wait_for_url(served + "/signin")
    expect(page.locator("h1")).to_have_text("Sign in")


@contextmanager
def one_touch(page, device, verify="**/passkey/verify"):
    """Presence for one ceremony: the person touches the sensor once (see the module doc).

    Yields the list of JSON bodies the page posted to `verify`.
    """
    posted = []

    def touch_spent(route):
        device.set_presence(False)
        posted.append(route.request.post_data_json)
        route.continue_()

    page.route(verify, touch_spent)
    device.set_presence(True)
    try:
        yield posted
    finally:
        page.unroute(verify, touch_spent)


def sign_in_with_button(page, served, device, autofill_challenge):
    """Press "Sign in with a passkey" while the autofill request waits; check the button did it.

    Returns the response of /passkey/verify (its body is readable only when the
    page stays, i.e. when the sign-in was refused).
    """
    with one_touch(page, device) as posted:
        with page.expect_response(served + "/passkey/verify") as verified:
            page.locator("#passkey-button").click()
    assert len(posted) == 1, posted
    assert posted[0]["challenge_id"] != autofill_challenge, "the autofill request answered, not the button"
    return verified.value


def sign_in_by_autofill(page, served, device):
    """Open /signin with presence on: the autofill request takes the passkey by itself.

    The page is left for about:blank first, so that the previous page's
    waiting request ends while presence is still off. Turning presence on while
    that page was still up once (in a full run; not reproduced alone) left the
    new page's autofill request unanswered.
    """
    page.goto("about:blank")
    device.set_presence(True)
    with page.expect_response(served + "/passkey/verify") as verified:
        page.goto(served + "/signin")
    return verified.value


def home_facts(page, served):
    page.wait_for_url(served + "/")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Welcome, \S"))
    return page.locator("dl.facts")


def passkey_article(page, name):
    return page.locator("article.passkey").filter(
        has=page.get_by_role("heading", name=name, exact=True))


CLIENT_PAGE = ('<!doctype html><title>RP</title><link rel="icon" href="data:,">'
               '<p id="client">callback received</p>')


def stand_in_for_client(page, served):
    """Answer for the relying party at RP_ORIGIN; returns the list of URLs it was sent to.

    The authorization response is a redirect (/authorize/resume answers 302 to
    the client), and Playwright cannot route the hop of a redirect: interception
    sits where the page hands a request to the network stack, which follows
    redirects by itself (page.route's documentation; microsoft/playwright#3993,
    "as designed"). `page.route(RP_ORIGIN + "/**")` would never see the
    callback and Chromium would meet a closed port. So the page's navigations
    to the app are routed instead: each is fetched with the browser context's
    cookies without following redirects; one that redirects to RP_ORIGIN is
    recorded and answered with the client's page, every other one is passed to
    the browser unchanged (redirects within the app then happen as usual).
    """
    arrived = []

    def navigation(route):
        if not route.request.is_navigation_request():
            route.fallback()
            return
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location", "")
        if 300 <= response.status < 400 and location.startswith(RP_ORIGIN + "/"):
            arrived.append(location)
            route.fulfill(status=200, content_type="text/html", body=CLIENT_PAGE)
        else:
            route.fulfill(response=response)

    page.route(served + "/**", navigation)
    return arrived


# -- 1. sign up, create, sign in with the button and with autofill --------------

def test_first_sign_in_creates_passkey_then_button_and_autofill_sign_in(served, mailbox, demo, page,
                                                                        console):
    device = VirtualAuthenticator.attach(page)
    email = "alice@example.com"
    sign_up_to_welcome(page, served, mailbox, email)
    expect(page.locator("h1")).to_have_text("Sign in faster next time")
    expect(page.locator("#skip-passkey")).to_have_text("Not now, continue")

    create_passkey(page, "Laptop")
    facts = home_facts(page, served)
    expect(facts).to_contain_text("Magic link")  # this session began with the link
    stored = passkeys_of(demo, email)
    assert [p["name"] for p in stored] == ["Laptop"], stored
    assert stored[0]["backup_eligible"] is False and stored[0]["user_verified"] is True, stored
    held = device.credentials()
    assert len(held) == 1 and held[0]["rpId"] == "localhost" and held[0]["isResidentCredential"], held

    # The button: autofill waits (no presence), the click makes the modal request.
    sign_out(page, served, device)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(home_facts(page, served)).to_contain_text("Passkey (Laptop")

    # Autofill: opening the page is enough, the email field's passkey is taken.
    sign_out(page, served, device)
    answer = sign_in_by_autofill(page, served, device)
    assert answer.ok, answer.status
    facts = home_facts(page, served)
    expect(facts).to_contain_text("Passkey (Laptop")
    expect(facts).to_contain_text(email)

    last_used = passkeys_of(demo, email)[0]
    assert last_used["last_used"] and last_used["sign_count"] >= 2, last_used

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- 2. "Create an account with a passkey" --------------------------------------

def test_create_account_with_passkey_from_email_field(served, mailbox, demo, page, console):
    device = VirtualAuthenticator.attach(page)
    email = "bruno@example.com"
    open_signin(page, served)
    expect(page.locator("#signup-passkey")).to_have_text("Create an account with a passkey")
    ask_for_link(page, email, passkey=True)
    mail = mailbox.last()
    assert mail.message["To"] == email
    follow_link(page, mailbox, email)

    page.wait_for_url(served + "/welcome/passkey")
    create_passkey(page)  # no name: the app names it
    facts = home_facts(page, served)
    expect(facts).to_contain_text(email)

    assert len(passkeys_of(demo, email)) == 1
    assert len(device.credentials()) == 1
    page.goto(served + "/account")
    expect(page.locator("article.passkey")).to_have_count(1)
    expect(page.locator("article.passkey h3")).not_to_be_empty()

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- 3. a second device: add, rename, remove the first, the first is refused ------

def test_second_device_rename_remove_and_removed_passkey_is_refused(served, mailbox, demo, new_context,
                                                                    console):
    email = "carla@example.com"
    laptop = new_context().new_page()
    laptop_key = VirtualAuthenticator.attach(laptop)
    sign_up_to_welcome(laptop, served, mailbox, email)
    create_passkey(laptop, "Laptop")
    home_facts(laptop, served)

    # Another device (its own browser context and authenticator) signs in by link
    # and adds its own passkey on the account page: no offer, the account has one.
    phone = new_context().new_page()
    phone_key = VirtualAuthenticator.attach(phone)
    open_signin(phone, served)  # the phone holds no passkey for the site: autofill waits
    ask_for_link(phone, email)
    follow_link(phone, mailbox, email)
    expect(home_facts(phone, served)).to_contain_text("Magic link")
    phone.goto(served + "/account")
    expect(phone.locator("article.passkey")).to_have_count(1)
    create_passkey(phone, "Phone")
    phone.wait_for_url(served + "/account?m=passkey_added")
    expect(phone.locator("p.notice")).to_have_text("Your new passkey is ready.")
    expect(phone.locator("article.passkey")).to_have_count(2)
    assert len(phone_key.credentials()) == 1
    assert phone_key.credentials()[0]["credentialId"] != laptop_key.credentials()[0]["credentialId"]

    # Rename the phone's passkey.
    article = passkey_article(phone, "Phone")
    expect(article).to_contain_text("not yet")  # never used
    article.locator('input[name="name"]').fill("Work phone")
    article.get_by_role("button", name="Rename").click()
    phone.wait_for_url(served + "/account?m=passkey_renamed")
    expect(passkey_article(phone, "Work phone")).to_have_count(1)
    expect(passkey_article(phone, "Phone")).to_have_count(0)

    # Remove the laptop's passkey (the magic link remains, and so does the phone's).
    passkey_article(phone, "Laptop").get_by_role("button", name="Remove").click()
    phone.wait_for_url(served + "/account?m=passkey_removed")
    expect(phone.locator("article.passkey")).to_have_count(1)
    expect(phone.locator("article.passkey h3")).to_have_text("Work phone")
    assert [p["name"] for p in passkeys_of(demo, email)] == ["Work phone"]

    # The phone signs in with its passkey (autofill).
    sign_out(phone, served, phone_key)
    assert sign_in_by_autofill(phone, served, phone_key).ok
    expect(home_facts(phone, served)).to_contain_text("Passkey (Work phone")

    # The laptop still holds its credential, but it signs in no more.
    sign_out(laptop, served, laptop_key)
    answer = sign_in_with_button(laptop, served, laptop_key, open_signin(laptop, served))
    assert answer.status == 400 and answer.json()["error"] == "error.passkey_unknown", answer.text()
    expect(laptop.locator("#passkey-status[role=status]")).to_contain_text(UNKNOWN)
    assert urlsplit(laptop.url).path == "/signin"
    # The page still works: the button is usable and the link can be asked for.
    expect(laptop.locator("#passkey-button")).to_be_enabled()
    ask_for_link(laptop, email)

    console.assert_clean(allow=(refused(served, "/passkey/verify"),))
    assert not console.csp_violations(), console.dump()


# -- 4. user verification --------------------------------------------------------
#
# What Chromium's virtual authenticator does (Chromium 156), which decides how
# these tests get a WebAuthn result without user verification (UV flag 0):
#
# * An authenticator without UV (hasUserVerification false, a security key with
#   no PIN or biometrics) registers a discoverable passkey when UV is
#   `preferred` or `discouraged`, with UV 0, and is refused by Chromium itself
#   when it is `required`. Chromium offers no autofill with it
#   (isConditionalMediationAvailable() is false) and it cannot sign in with a
#   discoverable credential at all (every get() is NotAllowedError).
# * An authenticator with UV whose verification fails (isUserVerified false:
#   the fingerprint is not recognised) gets NotAllowedError from Chromium for
#   every create(), and for get() unless UV is `discouraged`: Chromium then
#   skips verification and the assertion carries UV 0.
#
# So registration uses the first kind and sign-in the second. An honest
# Chromium refuses by itself whenever the options say `required`; the app's own
# check (py_webauthn's require_user_verification, from the tenant policy) is
# what stops a client that does not ask for verification, which the tests play
# by rewriting the options the page receives (`downgrade_user_verification`).

def downgrade_user_verification(route):
    """A client that ignores the relying party's `userVerification` and asks for none."""
    response = route.fetch()
    options = response.json()
    public_key = options["publicKey"]
    if "authenticatorSelection" in public_key:  # creation options
        public_key["authenticatorSelection"]["userVerification"] = "discouraged"
    else:  # request options
        public_key["userVerification"] = "discouraged"
    route.fulfill(response=response, json=options)


def test_registration_without_user_verification_refused_when_required(served, mailbox, demo, page,
                                                                      console):
    device = VirtualAuthenticator.attach(page, user_verification=False, user_verified=False)
    email = "dieter@example.com"
    assert demo.settings["passkeys"]["user_verification"] == "required"
    sign_up_to_welcome(page, served, mailbox, email, passkey=True, autofill=False)

    # `required`: Chromium refuses before anything is created.
    with page.expect_response(served + "/account/passkeys/options"):
        create_passkey(page, "Key")
    expect(page.locator("#passkey-create-status")).to_contain_text(CANCELLED)
    assert device.credentials() == [] and passkeys_of(demo, email) == []

    # `required`, and a client that does not ask for verification: the server refuses.
    page.route(served + "/account/passkeys/options", downgrade_user_verification)
    with page.expect_response(served + "/account/passkeys/verify") as verified:
        create_passkey(page, "Key")
    assert verified.value.status == 400, verified.value.text()
    assert verified.value.json()["error"] == "error.passkey_uv_required"
    expect(page.locator("#passkey-create-status")).to_contain_text(UV_REQUIRED)
    assert passkeys_of(demo, email) == []
    assert urlsplit(page.url).path == "/welcome/passkey"
    page.unroute(served + "/account/passkeys/options", downgrade_user_verification)
    device.clear_credentials()  # the one the server refused to register

    # `preferred`: the same authenticator registers, and the passkey records no UV.
    set_passkey_policy(demo, user_verification="preferred")
    create_passkey(page, "Key")
    home_facts(page, served)
    stored = passkeys_of(demo, email)
    assert len(stored) == 1 and stored[0]["name"] == "Key" and stored[0]["user_verified"] is False, stored
    assert len(device.credentials()) == 1

    console.assert_clean(allow=(refused(served, "/account/passkeys/verify"),))
    assert not console.csp_violations(), console.dump()


def test_sign_in_without_user_verification_refused_when_required(served, mailbox, demo, page, console):
    device = VirtualAuthenticator.attach(page)
    email = "doris@example.com"
    sign_up_to_welcome(page, served, mailbox, email)
    create_passkey(page, "Key")  # registered with a verified fingerprint
    home_facts(page, served)
    device.set_user_verified(False)  # from now on the sensor does not recognise the person
    verify_calls = []
    page.on("request", lambda r: verify_calls.append(r) if r.url == served + "/passkey/verify" else None)

    # `required`: Chromium refuses by itself; the page says so and stays usable.
    sign_out(page, served, device)
    open_signin(page, served)
    device.set_presence(True)
    page.locator("#passkey-button").click()
    expect(page.locator("#passkey-status")).to_contain_text(CANCELLED)
    device.set_presence(False)
    assert verify_calls == [] and urlsplit(page.url).path == "/signin"

    # `required`, and a client that does not ask for verification: the server refuses.
    page.route(served + "/passkey/options", downgrade_user_verification)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.status == 400 and answer.json()["error"] == "error.passkey_uv_required", answer.text()
    expect(page.locator("#passkey-status")).to_have_text(re.compile("^" + re.escape(UV_REQUIRED)))
    assert urlsplit(page.url).path == "/signin"
    expect(page.locator("#email")).to_be_editable()

    # `preferred`: the server takes the same unverified answer.
    set_passkey_policy(demo, user_verification="preferred")
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(home_facts(page, served)).to_contain_text("Passkey (Key")
    page.unroute(served + "/passkey/options", downgrade_user_verification)

    # `discouraged`: an honest Chromium asks for no verification and signs in too.
    set_passkey_policy(demo, user_verification="discouraged")
    sign_out(page, served, device)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(home_facts(page, served)).to_contain_text("Passkey (Key")

    console.assert_clean(allow=(refused(served, "/passkey/verify"),))
    assert not console.csp_violations(), console.dump()


# -- 5. a failed or aborted autofill request leaves the page working ---------------

def test_autofill_without_credential_leaves_email_form_working(served, mailbox, page, console):
    device = VirtualAuthenticator.attach(page)  # holds no credential for this site
    email = "emma@example.com"
    open_signin(page, served)
    page.wait_for_timeout(300)  # give a wrong answer time to show
    assert urlsplit(page.url).path == "/signin"
    expect(page.locator("#passkey-status")).to_be_empty()

    # Typing into the field that carries the autofill request, then the link:
    # the navigation aborts the waiting request, quietly.
    page.locator("#email").press_sequentially(email)
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome/passkey")
    page.locator("#skip-passkey").click()
    expect(home_facts(page, served)).to_contain_text("Magic link")
    assert device.credentials() == []

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_autofill_options_failure_is_quiet_and_button_reports(served, mailbox, page, console):
    """The options call of the autofill request fails: no message, no error; the link still works."""
    VirtualAuthenticator.attach(page)
    outage = lambda route: route.fulfill(status=503, json={"error": "error.store_busy",  # noqa: E731
                                                           "message": "Busy, try again."})
    page.route(served + "/passkey/options", outage)
    with page.expect_response(served + "/passkey/options"):
        page.goto(served + "/signin")
    expect(page.locator("#passkey-button")).to_be_visible()
    expect(page.locator("#passkey-status")).to_be_empty()  # autofill fails quietly

    page.locator("#passkey-button").click()  # the button says what happened
    expect(page.locator("#passkey-status")).to_have_text("Busy, try again.")

    page.unroute(served + "/passkey/options", outage)
    email = "emil@example.com"
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome/passkey")

    # The 503s are the ones this test injected (twice: autofill, then the button);
    # "Service Unavailable" is the reason phrase Playwright gives a fulfilled 503.
    console.assert_clean(allow=(f"status of 503 (Service Unavailable) ({served}/passkey/options)",))
    assert not console.csp_violations(), console.dump()


# -- 6. the cap --------------------------------------------------------------------

def test_passkey_limit_replaces_add_control(served, mailbox, demo, page, console):
    set_passkey_policy(demo, max_per_account=1)
    VirtualAuthenticator.attach(page)
    email = "fritz@example.com"
    sign_up_to_welcome(page, served, mailbox, email)
    create_passkey(page, "Laptop")
    home_facts(page, served)

    page.goto(served + "/account")
    expect(page.locator("article.passkey")).to_have_count(1)
    limit = page.locator("section p[role=status]")
    expect(limit).to_contain_text("You have reached the limit of 1 passkey")
    expect(limit).to_contain_text("Remove one before adding another.")
    expect(page.locator("#passkey-create")).to_have_count(0)
    expect(page.locator("#passkey-create-button")).to_have_count(0)

    # The JSON call behind the control refuses too (same cookies, outside the page).
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(served + "/account/passkeys/options", data={},
                               headers={"X-CSRF-Token": token})
    assert answer.status in (400, 409) and answer.json()["error"] == "error.passkey_limit", answer.text()

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_last_passkey_removal_refused_only_without_another_way(served, mailbox, demo, page, console):
    VirtualAuthenticator.attach(page)
    email = "greta@example.com"
    sign_up_to_welcome(page, served, mailbox, email)
    create_passkey(page, "Laptop")
    home_facts(page, served)

    with demo.store.update("tenant") as doc:  # passkeys only: the link is no way back in
        doc["methods"] = ["passkey"]
    page.goto(served + "/account")
    passkey_article(page, "Laptop").get_by_role("button", name="Remove").click()
    expect(page.locator("p.error[role=alert]")).to_contain_text("This is your last way to sign in")
    assert len(passkeys_of(demo, email)) == 1

    with demo.store.update("tenant") as doc:
        doc["methods"] = ["magic_link", "passkey"]
    page.goto(served + "/account")
    passkey_article(page, "Laptop").get_by_role("button", name="Remove").click()
    page.wait_for_url(served + "/account?m=passkey_removed")
    expect(page.locator("article.passkey")).to_have_count(0)
    assert passkeys_of(demo, email) == []

    # The refused form post answers 409 with the account page and its message.
    console.assert_clean(allow=(refused(served, "/account/passkeys/remove", 409),))
    assert not console.csp_violations(), console.dump()


# -- 7. a relying party's authorization-code flow signed in with a passkey ---------

def test_relying_party_code_flow_with_passkey(served, mailbox, rp, demo, clock, page, console):
    device = VirtualAuthenticator.attach(page)
    email = "hanna@example.com"
    sign_up_to_welcome(page, served, mailbox, email)
    create_passkey(page, "Laptop")
    home_facts(page, served)
    sign_out(page, served, device)

    arrived = stand_in_for_client(page, served)

    meta = requests.get(served + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == served and meta["jwks_uri"] == served + "/jwks.json", meta
    verifier, challenge = pkce_pair()
    client = OAuth2Session(rp.client_id, rp.secret, scope="openid profile email",
                           redirect_uri=rp.redirect_uri, code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")
    url, _ = client.create_authorization_url(meta["authorization_endpoint"], state="state-pk",
                                                 nonce="nonce-pk", code_verifier=verifier)
    sent = query_of(url)
    assert sent["code_challenge"] == challenge and sent["code_challenge_method"] == "S256", sent

    with autofill_options(page, served):
        page.goto(url)
    assert urlsplit(page.url).path == "/signin", page.url
    expect(page.locator("main")).to_contain_text("Test RP")
    with one_touch(page, device) as posted:
        page.locator("#passkey-button").click()
        try:
            expect(page.locator("#client")).to_have_text("callback received")
        except AssertionError as error:
            raise AssertionError(f"browser did not reach the client ({page.url}): {error}\n"
                                 f"console:\n{console.dump()}") from None
    assert len(posted) == 1 and posted[0].get("i"), posted  # the interaction went along
    assert len(arrived) == 1 and arrived[0].startswith(rp.redirect_uri + "?"), arrived
    answer = query_of(arrived[-1])
    assert answer["state"] == "state-pk" and answer["iss"] == served, answer

    token = client.fetch_token(meta["token_endpoint"], authorization_response=arrived[-1],
                               code_verifier=verifier)
    assert token.get("access_token") and token.get("id_token"), token

    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert id_token.header.get("kid"), id_token.header
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": served},
                          aud={"essential": True, "value": rp.client_id},
                          nonce={"essential": True, "value": "nonce-pk"},
                          sub={"essential": True},
                          auth_time={"essential": True}).validate(id_token.claims)
    claims = id_token.claims
    assert "hwk" in claims["amr"] and "mfa" in claims["amr"] and "user" in claims["amr"], claims
    assert "swk" not in claims["amr"] and "otp" not in claims["amr"], claims
    assert isinstance(claims["auth_time"], int) and abs(claims["auth_time"] - clock.now) < 60, claims
    assert claims["sub"] == account_of(demo, email).sub

    info = client.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200 and info.json()["email"] == email, info.text

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()
