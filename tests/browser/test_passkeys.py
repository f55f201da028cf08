"""Passkeys in a real browser: Chromium's virtual authenticator, the served app, the pickup folder.

Every ceremony here is the real one: the page's own JavaScript calls
`navigator.credentials.create()` / `.get()`, Chromium runs WebAuthn against a
virtual CTAP 2.1 platform authenticator (tests/support/virtual_authenticator.py), and the
server verifies the results with py_webauthn.

Two facts about the virtual authenticator shape these tests:

* Autofill. signin.js starts a conditional-mediation request when /signin
  opens. With automatic presence simulation on, Chromium answers that request
  at once if the authenticator holds a discoverable credential for the site,
  as if the person had picked the passkey from the email field's autofill
  list. So "open /signin and land in the office shell" *is* the autofill sign-in.
* The button. To press "Sign in with a passkey" instead, the autofill request
  must not answer first: with presence simulation off a request that needs a
  touch is never resolved (and stays unresolved after the simulation is turned
  back on: Chromium decides when the request reaches the authenticator).
  `one_touch` then turns presence on and clicks: the click aborts the waiting
  autofill request and makes a new, modal one, which the authenticator answers.
  When the page posts that answer to /signin/passkey/complete, `one_touch` turns presence
  off again *before* letting the request through, so the autofill request the
  page restarts after a refusal waits instead of answering again (a real
  person would have to pick the passkey again; the virtual one would loop).

The flow around the ceremonies: a first sign-in (by link) has two steps, the
profile (/welcome), then the passkey (/welcome/passkey), whose "add a passkey"
control saves the typed name with the passkey and leads on to the office shell,
whose terminal says how the person signed in ("auth = magic link", "auth =
passkey (NAME)"). After the link of "Create an account with a passkey" (the
sign-up form) the passkey step comes first, then the profile; it cannot be
skipped where a passkey is the only way to sign in.
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

from codeb import i18n
from codeb.accounts import Accounts
from tests.support import browser as flows  # flows.sign_out: the shell's own button
from tests.support.browser import ask_for_link, confirm_profile, follow_link, office_terminal
from tests.support.virtual_authenticator import VirtualAuthenticator
from tests.support.web import HOST, pkce_pair, query_of

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
    refused passkey with an error status and a JSON message (codeb/web/signin.py),
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
    """Wait for the answer to the next /signin/passkey/begin call that starts from now on.

    Only a request of the page about to open counts: the previous page may have
    an autofill request of its own in flight (signin.js starts one on load and
    again after a refusal), and its answer can arrive while the navigation starts.
    """
    since = time.time() * 1000
    return page.expect_response(lambda r: r.url == served + "/signin/passkey/begin"
                                and r.request.timing["startTime"] >= since)


def sign_up_to_passkey_step(page, served, mailbox, email, *, autofill=True):
    """A new account through the magic link: the profile step, then the passkey step with its control."""
    open_signin(page, served, autofill=autofill)
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome")
    expect(page.locator("h1")).to_have_text("Welcome! Confirm your profile")
    expect(page.locator("#step-profile")).to_have_attribute("aria-current", "step")
    confirm_profile(page, passkey_step=None)
    page.wait_for_url(served + "/welcome/passkey")
    expect(page.locator("#step-passkey")).to_have_attribute("aria-current", "step")
    expect(page.locator("#passkey-create-button")).to_be_enabled()


def create_passkey(page, name=""):
    page.locator("#passkey-name").fill(name)
    page.locator("#passkey-create-button").click()


def create_passkey_in_step(page, served, name):
    """Make a passkey in the first sign-in's passkey step: that ends the steps (the office shell)."""
    create_passkey(page, name)
    return office_terminal(page, served)


def sign_up_with_passkey(page, served, mailbox, email, name):
    """The first sign-in with a passkey made on the profile screen; ends in the office shell."""
    sign_up_to_passkey_step(page, served, mailbox, email)
    expect(create_passkey_in_step(page, served, name)).to_contain_text("codeb> auth = magic link")


def sign_out(page, served, device=None):
    """Sign out from the office shell; with `device`, its presence is off first so autofill waits."""
    if device is not None:
        device.set_presence(False)
    flows.sign_out(page, served)
    expect(page.locator("h1")).to_have_text("Sign in")


@contextmanager
def one_touch(page, device, verify="**/signin/passkey/complete"):
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

    Returns the response of /signin/passkey/complete (its body is readable only when the
    page stays, i.e. when the sign-in was refused).
    """
    with one_touch(page, device) as posted, page.expect_response(served + "/signin/passkey/complete") as verified:
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
    with page.expect_response(served + "/signin/passkey/complete") as verified:
        page.goto(served + "/signin")
    return verified.value


def signed_in_as(page, served):
    """The office shell after a sign-in: its terminal, which says who and how (`auth = …`)."""
    return office_terminal(page, served)


def this_session(page, served):
    """The account page's line for this browser's session (how it signed in)."""
    page.goto(served + "/account/devices")
    line = page.locator("li.session").filter(has=page.locator(".badge"))
    expect(line).to_have_count(1)
    return line


def passkey_article(page, name):
    return page.locator("article.passkey").filter(
        has=page.get_by_role("heading", name=name, exact=True))


def remove_passkey(page, name):
    """Open the passkey's menu, then its "Remove" step, read the consequence, confirm."""
    article = passkey_article(page, name)
    article.locator("details.menu > summary").click()
    article.locator("details.confirm > summary").click()
    expect(article.locator("details.confirm p")).to_contain_text("you can no longer sign in with it")
    article.get_by_role("button", name="Remove").click()


# -- 1. sign up, create, sign in with the button and with autofill --------------

def test_first_sign_in_creates_passkey_then_button_and_autofill_sign_in(served, mailbox, demo, page,
                                                                        console):
    device = VirtualAuthenticator.attach(page)
    email = "alice@example.com"
    sign_up_to_passkey_step(page, served, mailbox, email)

    # The passkey is made in the passkey step, under the typed name; that ends the steps.
    terminal = create_passkey_in_step(page, served, "Laptop")
    stored = passkeys_of(demo, email)
    assert [p["name"] for p in stored] == ["Laptop"], stored
    assert stored[0]["backup_eligible"] is False and stored[0]["user_verified"] is True, stored
    held = device.credentials()
    assert len(held) == 1 and held[0]["rpId"] == "localhost" and held[0]["isResidentCredential"], held
    expect(terminal).to_contain_text("codeb> auth = magic link")  # this session began with the link
    expect(this_session(page, served)).to_contain_text("Magic link")

    # The button: autofill waits (no presence), the click makes the modal request.
    sign_out(page, served, device)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(signed_in_as(page, served)).to_contain_text("codeb> auth = passkey (Laptop")

    # Autofill: opening the page is enough, the email field's passkey is taken.
    sign_out(page, served, device)
    answer = sign_in_by_autofill(page, served, device)
    assert answer.ok, answer.status
    terminal = signed_in_as(page, served)
    expect(terminal).to_contain_text("codeb> auth = passkey (Laptop")
    expect(terminal).to_contain_text("codeb> sip-jid = alice@localhost")
    expect(this_session(page, served)).to_contain_text("Passkey")

    last_used = passkeys_of(demo, email)[0]
    assert last_used["last_used"] and last_used["sign_count"] >= 2, last_used

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- 2. "Create an account with a passkey" --------------------------------------

def test_create_account_with_passkey_from_the_sign_up_form(served, mailbox, demo, accounts, page, new_context,
                                                           console):
    """Finding 23: the sign-up form's link creates the account and leads to the passkey ceremony
    (magic links are on here, so it can be skipped), then to the profile."""
    device = VirtualAuthenticator.attach(page)
    email = "bruno@example.com"
    open_signin(page, served)
    expect(page.locator("#signup-button")).to_have_text("Create an account with a passkey")
    ask_for_link(page, email, passkey=True)
    assert urlsplit(page.url).path == "/signin/sent"  # a GET: a reload sends nothing
    mail = mailbox.last()
    assert mail.message["To"] == email and "create your account" in mail.text
    follow_link(page, mailbox, email)

    page.wait_for_url(served + "/welcome/passkey")
    expect(page.locator("#skip-passkey")).to_have_text("Not now, continue")
    expect(page.locator("#step-passkey")).to_have_attribute("aria-current", "step")  # the passkey first
    create_passkey(page, "")  # no name: the app names it
    page.wait_for_url(served + "/welcome")
    expect(page.locator("#step-passkey")).to_have_attribute("data-state", "done")
    expect(page.locator("#step-profile")).to_have_attribute("aria-current", "step")
    confirm_profile(page)
    expect(signed_in_as(page, served)).to_contain_text("codeb> sip-jid = bruno@localhost")

    assert len(passkeys_of(demo, email)) == 1
    assert len(device.credentials()) == 1
    page.goto(served + "/account/sign-in")
    expect(page.locator("article.passkey")).to_have_count(1)
    expect(page.locator("article.passkey h3")).not_to_be_empty()

    # Someone whose profile is confirmed, without a passkey, uses the sign-up form: the same
    # reply; the mail is a sign-in link, and the passkey offer follows it.
    email = "bettina@example.com"
    known = accounts.create(email=email)
    accounts.update_profile(known.login, display_name="Bettina", nickname=None, language="en",
                            languages=demo.available_languages, confirm=True)
    other = new_context().new_page()
    other_device = VirtualAuthenticator.attach(other)
    open_signin(other, served)
    ask_for_link(other, email, passkey=True)
    follow_link(other, mailbox, email)
    other.wait_for_url(served + "/welcome/passkey")
    expect(other.locator("h1")).to_have_text("Sign in faster next time")
    expect(other.locator("#skip-passkey")).to_have_text("Not now, continue")
    create_passkey(other, "Tablet")
    expect(signed_in_as(other, served)).to_contain_text("codeb> welcome, Bettina")
    assert [p["name"] for p in passkeys_of(demo, email)] == ["Tablet"]
    assert len(other_device.credentials()) == 1

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_passkey_only_tenant_sign_up_then_sign_in_with_the_passkey(served, mailbox, demo, page, console):
    """Finding 23: on a passkey-only open tenant a new person signs up with their email, follows
    the link, must create a passkey, confirms the profile, lands; then signs in with the passkey."""
    with demo.store.update("tenant") as doc:
        doc["methods"] = ["passkey"]
        doc["signup"] = {"policy": "open", "domains": []}
    device = VirtualAuthenticator.attach(page)
    email = "petra@example.com"
    open_signin(page, served)
    expect(page.locator("#email")).to_have_count(0)         # no magic-link form
    expect(page.locator("p.divider")).to_have_count(0)      # and no divider pointing to it
    expect(page.locator("#signup-title")).to_have_text("New here?")
    ask_for_link(page, email, passkey=True)
    follow_link(page, mailbox, email)

    page.wait_for_url(served + "/welcome/passkey")
    expect(page.locator("#passkey-required")).to_be_visible()
    expect(page.locator("#skip-passkey")).to_have_count(0)  # the only way back in: not skippable
    create_passkey(page, "Phone")
    page.wait_for_url(served + "/welcome")
    expect(page.locator("#step-passkey")).to_have_attribute("data-state", "done")
    confirm_profile(page, display_name="Petra")
    expect(signed_in_as(page, served)).to_contain_text("codeb> welcome, Petra")
    assert [p["name"] for p in passkeys_of(demo, email)] == ["Phone"]

    # Sign out (autofill must wait: presence off), then the passkey alone signs in.
    device.set_presence(False)
    flows.open_account_menu(page)
    page.locator("#office-signout").click()
    page.wait_for_url(served + "/signin")
    expect(page.locator("#signup-email")).to_be_editable()  # the page (and its script) is up
    page.goto("about:blank")  # its autofill request ends before the next page's starts
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(signed_in_as(page, served)).to_contain_text("codeb> auth = passkey (Phone")

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- 3. a second device: add, rename, remove the first, the first is refused ------

def test_second_device_rename_remove_and_removed_passkey_is_refused(served, mailbox, demo, new_context,
                                                                    console):
    email = "carla@example.com"
    laptop = new_context().new_page()
    laptop_key = VirtualAuthenticator.attach(laptop)
    sign_up_with_passkey(laptop, served, mailbox, email, "Laptop")

    # Another device (its own browser context and authenticator) signs in by link
    # and adds its own passkey on the account page: the profile is confirmed, so
    # the link leads straight to the office shell.
    phone = new_context().new_page()
    phone_key = VirtualAuthenticator.attach(phone)
    open_signin(phone, served)  # the phone holds no passkey for the site: autofill waits
    ask_for_link(phone, email)
    follow_link(phone, mailbox, email)
    expect(signed_in_as(phone, served)).to_contain_text("codeb> auth = magic link")
    phone.goto(served + "/account/sign-in")
    expect(phone.locator("article.passkey")).to_have_count(1)
    create_passkey(phone, "Phone")
    phone.wait_for_url(served + "/account/sign-in?m=passkey_added")
    expect(phone.locator(".alert-success")).to_have_text("Your new passkey is ready.")
    expect(phone.locator("article.passkey")).to_have_count(2)
    assert len(phone_key.credentials()) == 1
    assert phone_key.credentials()[0]["credentialId"] != laptop_key.credentials()[0]["credentialId"]

    # Rename the phone's passkey.
    article = passkey_article(phone, "Phone")
    expect(article).to_contain_text("not yet")  # never used
    article.locator("details.menu > summary").click()
    article.locator('input[name="name"]').fill("Work phone")
    article.get_by_role("button", name="Rename").click()
    phone.wait_for_url(served + "/account/sign-in?m=passkey_renamed")
    expect(passkey_article(phone, "Work phone")).to_have_count(1)
    expect(passkey_article(phone, "Phone")).to_have_count(0)

    # Remove the laptop's passkey (the magic link remains, and so does the phone's).
    remove_passkey(phone, "Laptop")
    phone.wait_for_url(served + "/account/sign-in?m=passkey_removed")
    expect(phone.locator("article.passkey")).to_have_count(1)
    expect(phone.locator("article.passkey h3")).to_have_text("Work phone")
    assert [p["name"] for p in passkeys_of(demo, email)] == ["Work phone"]

    # The phone signs in with its passkey (autofill).
    sign_out(phone, served, phone_key)
    assert sign_in_by_autofill(phone, served, phone_key).ok
    expect(signed_in_as(phone, served)).to_contain_text("codeb> auth = passkey (Work phone")

    # The laptop still holds its credential, but it signs in no more.
    sign_out(laptop, served, laptop_key)
    answer = sign_in_with_button(laptop, served, laptop_key, open_signin(laptop, served))
    assert answer.status == 400 and answer.json()["error"] == "error.passkey_unknown", answer.text()
    expect(laptop.locator("#passkey-status[role=status]")).to_contain_text(UNKNOWN)
    assert urlsplit(laptop.url).path == "/signin"
    # The page still works: the button is usable and the link can be asked for.
    expect(laptop.locator("#passkey-button")).to_be_enabled()
    ask_for_link(laptop, email)

    console.assert_clean(allow=(refused(served, "/signin/passkey/complete"),))
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
    sign_up_to_passkey_step(page, served, mailbox, email, autofill=False)

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
    create_passkey_in_step(page, served, "Key")
    stored = passkeys_of(demo, email)
    assert len(stored) == 1 and stored[0]["name"] == "Key" and stored[0]["user_verified"] is False, stored
    assert len(device.credentials()) == 1

    console.assert_clean(allow=(refused(served, "/account/passkeys/verify"),))
    assert not console.csp_violations(), console.dump()


def test_sign_in_without_user_verification_refused_when_required(served, mailbox, demo, page, console):
    device = VirtualAuthenticator.attach(page)
    email = "doris@example.com"
    sign_up_with_passkey(page, served, mailbox, email, "Key")  # registered with a verified fingerprint
    device.set_user_verified(False)  # from now on the sensor does not recognise the person
    verify_calls = []
    page.on("request", lambda r: verify_calls.append(r) if r.url == served + "/signin/passkey/complete" else None)

    # `required`: Chromium refuses by itself; the page says so and stays usable.
    sign_out(page, served, device)
    open_signin(page, served)
    device.set_presence(True)
    page.locator("#passkey-button").click()
    expect(page.locator("#passkey-status")).to_contain_text(CANCELLED)
    device.set_presence(False)
    assert verify_calls == [] and urlsplit(page.url).path == "/signin"

    # `required`, and a client that does not ask for verification: the server refuses.
    page.route(served + "/signin/passkey/begin", downgrade_user_verification)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.status == 400 and answer.json()["error"] == "error.passkey_uv_required", answer.text()
    expect(page.locator("#passkey-status")).to_have_text(re.compile("^" + re.escape(UV_REQUIRED)))
    assert urlsplit(page.url).path == "/signin"
    expect(page.locator("#email")).to_be_editable()

    # `preferred`: the server takes the same unverified answer.
    set_passkey_policy(demo, user_verification="preferred")
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(signed_in_as(page, served)).to_contain_text("codeb> auth = passkey (Key")
    page.unroute(served + "/signin/passkey/begin", downgrade_user_verification)

    # `discouraged`: an honest Chromium asks for no verification and signs in too.
    set_passkey_policy(demo, user_verification="discouraged")
    sign_out(page, served, device)
    answer = sign_in_with_button(page, served, device, open_signin(page, served))
    assert answer.ok, answer.status
    expect(signed_in_as(page, served)).to_contain_text("codeb> auth = passkey (Key")

    console.assert_clean(allow=(refused(served, "/signin/passkey/complete"),))
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
    page.wait_for_url(served + "/welcome")
    confirm_profile(page)  # no passkey made
    expect(signed_in_as(page, served)).to_contain_text("codeb> auth = magic link")
    assert device.credentials() == []

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_autofill_options_failure_is_quiet_and_button_reports(served, mailbox, page, console):
    """The options call of the autofill request fails: no message, no error; the link still works."""
    VirtualAuthenticator.attach(page)
    outage = lambda route: route.fulfill(status=503, json={"error": "error.store_busy",  # noqa: E731
                                                           "message": "Busy, try again."})
    page.route(served + "/signin/passkey/begin", outage)
    with page.expect_response(served + "/signin/passkey/begin"):
        page.goto(served + "/signin")
    expect(page.locator("#passkey-button")).to_be_visible()
    expect(page.locator("#passkey-status")).to_be_empty()  # autofill fails quietly

    page.locator("#passkey-button").click()  # the button says what happened
    expect(page.locator("#passkey-status")).to_have_text("Busy, try again.")

    page.unroute(served + "/signin/passkey/begin", outage)
    email = "emil@example.com"
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome")

    # The 503s are the ones this test injected (twice: autofill, then the button);
    # "Service Unavailable" is the reason phrase Playwright gives a fulfilled 503.
    console.assert_clean(allow=(f"status of 503 (Service Unavailable) ({served}/signin/passkey/begin)",))
    assert not console.csp_violations(), console.dump()


# -- 6. the cap --------------------------------------------------------------------

def test_passkey_limit_replaces_add_control(served, mailbox, demo, page, console):
    set_passkey_policy(demo, max_per_account=1)
    VirtualAuthenticator.attach(page)
    email = "fritz@example.com"
    sign_up_with_passkey(page, served, mailbox, email, "Laptop")

    page.goto(served + "/account/sign-in")
    expect(page.locator("article.passkey")).to_have_count(1)
    limit = page.locator("section p[role=status]")
    expect(limit).to_have_text(i18n.translate("en", "error.passkey_limit", limit=1))
    expect(limit).to_contain_text("(1)")
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
    sign_up_with_passkey(page, served, mailbox, email, "Laptop")

    with demo.store.update("tenant") as doc:  # passkeys only: the link is no way back in
        doc["methods"] = ["passkey"]
    page.goto(served + "/account/sign-in")
    remove_passkey(page, "Laptop")
    expect(page.locator(".alert-error[role=alert]")).to_contain_text("This is your last way to sign in")
    assert len(passkeys_of(demo, email)) == 1

    with demo.store.update("tenant") as doc:
        doc["methods"] = ["magic_link", "passkey"]
    page.goto(served + "/account/sign-in")
    remove_passkey(page, "Laptop")
    page.wait_for_url(served + "/account/sign-in?m=passkey_removed")
    expect(page.locator("article.passkey")).to_have_count(0)
    assert passkeys_of(demo, email) == []

    # The refused form post answers 409 with the account page and its message.
    console.assert_clean(allow=(refused(served, "/account/passkeys/remove", 409),))
    assert not console.csp_violations(), console.dump()


# Records the WebAuthn Signal API calls a page makes; where Chromium has the functions, the
# call still goes on to them (the DevTools protocol runs this before the page's own script).
SIGNAL_RECORDER = """
window.__signals = [];
(() => {
  const api = window.PublicKeyCredential;
  if (!api) return;
  for (const name of ["signalUnknownCredential", "signalAllAcceptedCredentials"]) {
    const original = api[name];
    api[name] = function (options) {
      window.__signals.push({ name, options: JSON.parse(JSON.stringify(options)) });
      return typeof original === "function" ? original.call(api, options) : Promise.resolve();
    };
  }
})();
"""


def test_a_removal_tells_the_browser_through_the_signal_api(served, mailbox, demo, page, console):
    device = VirtualAuthenticator.attach(page)
    page.add_init_script(SIGNAL_RECORDER)
    email = "hanna@example.com"
    sign_up_with_passkey(page, served, mailbox, email, "Laptop")
    account = account_of(demo, email)
    removed = passkeys_of(demo, email)[0]["id"]
    assert len(device.credentials()) == 1

    page.goto(served + "/account/sign-in")
    assert page.evaluate("window.__signals") == []  # nothing removed, nothing said
    remove_passkey(page, "Laptop")
    page.wait_for_url(served + "/account/sign-in?m=passkey_removed")
    page.wait_for_function("window.__signals.length === 2")
    calls = {call["name"]: call["options"] for call in page.evaluate("window.__signals")}
    rp_id = urlsplit(served).hostname
    assert calls == {
        "signalUnknownCredential": {"rpId": rp_id, "credentialId": removed},
        "signalAllAcceptedCredentials": {"rpId": rp_id, "userId": account.doc["webauthn_user_id"],
                                         "allAcceptedCredentialIds": []},
    }
    page.reload()  # said once: a later visit of the section says nothing
    assert page.evaluate("window.__signals") == []

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


# -- 7. a relying party's authorization-code flow signed in with a passkey ---------

def test_relying_party_code_flow_with_passkey(served, mailbox, client_site, demo, clock, page, console):
    """The client is really served on another origin (conftest.ClientSite): Chromium follows
    /authorize/resume's redirect to it by itself, after the office shell's service worker
    has been installed (it sees the navigations to the app and must let them pass)."""
    rp, arrived = client_site, client_site.arrived
    device = VirtualAuthenticator.attach(page)
    email = "hanna@example.com"
    sign_up_with_passkey(page, served, mailbox, email, "Laptop")
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    sign_out(page, served, device)

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
    assert page.url.startswith(rp.redirect_uri + "?"), page.url
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


# -- 8. the identifier-first page from an app: passkey autofill, and the way back ---------

def test_identifier_first_page_from_an_app_keeps_passkey_autofill(served, mailbox, client_site, demo, page,
                                                                  console):
    """From an app: its name and the way back, the passkey first and marked "Recommended", one
    email field with "Continue" that still carries the passkey autofill; the autofill request
    signs in and the browser lands at the app. "Back to …" returns access_denied with the state."""
    rp, arrived = client_site, client_site.arrived
    device = VirtualAuthenticator.attach(page)
    email = "ida@example.com"
    sign_up_with_passkey(page, served, mailbox, email, "Laptop")
    sign_out(page, served, device)

    def authorization_url(state):
        params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
                  "scope": "openid email", "state": state, "code_challenge": pkce_pair()[1],
                  "code_challenge_method": "S256"}
        return served + "/authorize?" + "&".join(f"{k}={v}" for k, v in params.items())

    # The way back: presence off, so the autofill request waits while the page is looked at.
    with autofill_options(page, served):
        page.goto(authorization_url("state-back"))
    assert urlsplit(page.url).path == "/signin", page.url
    expect(page.locator(".signin-app .app-name")).to_have_text("Test RP")
    expect(page.locator("#passkey-recommended")).to_have_text("Recommended")
    expect(page.locator("#passkey-button")).to_have_attribute("aria-describedby", "passkey-recommended")
    expect(page.locator("#email")).to_have_attribute("autocomplete", "username webauthn")
    expect(page.locator("#signin-continue")).to_have_text("Continue")
    assert page.evaluate("""() => document.querySelector('#passkey-button').compareDocumentPosition(
        document.querySelector('#email')) & Node.DOCUMENT_POSITION_FOLLOWING""")
    page.locator("#back-to-app").click()
    expect(page.locator("#client")).to_have_text("callback received")
    back = query_of(arrived[-1])
    assert back["error"] == "access_denied" and back["state"] == "state-back" and "code" not in back, back

    # Autofill from the identifier-first page: opening it with presence on is enough.
    page.goto("about:blank")
    device.set_presence(True)
    with page.expect_response(served + "/signin/passkey/complete") as verified:
        page.goto(authorization_url("state-autofill"))
    assert verified.value.ok, verified.value.status
    expect(page.locator("#client")).to_have_text("callback received")
    answer = query_of(arrived[-1])
    assert answer["state"] == "state-autofill" and answer.get("code"), answer
    device.set_presence(False)

    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()
