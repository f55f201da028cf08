"""The walks the browser tests share: the link, the first-sign-in profile screen, the office shell.

Every helper drives the page the way a person does (fields, buttons, links) and
waits for what the person would wait for; none of them reaches into the app.

    first_sign_in(page, served, mailbox, "alice@example.com")   # → the office shell's terminal
    ask_for_link(page, email); follow_link(page, mailbox, email)
    confirm_profile(page, display_name="Alice", nickname="Ali", language="de")  # "Not now" to the passkey step
    terminal = office_terminal(page, served)                     # waits until the shell shows who
    run_command(page, "phone")
    office_token(page)                                           # what sessionStorage holds
    sign_out(page, served)                                       # the shell's own "Sign out"

The locators do not depend on the page language, so the German tests use them too.
"""

from urllib.parse import urlsplit

from playwright.sync_api import expect

TOKEN_KEY = "codeb.office.token"  # static/js/office/oidc.js

# The identifier-first email form (its "Continue" mails the link where magic links are on) and,
# apart from it, the sign-up form (#signup-email, #signup-button: "Create an account [with a passkey]").
LINK_BUTTON = 'form[action$="/signin/continue"] #signin-continue'


def session_cookie(context, base):
    """The app's session cookie for `base`, or None."""
    cookies = [c for c in context.cookies(base) if c["name"] in ("codeb", "__Host-codeb")]
    assert len(cookies) <= 1, cookies
    return cookies[0] if cookies else None


def ask_for_link(page, email, *, passkey=False):
    """On the open sign-in page: type the address and ask for a link (or, `passkey`, use the
    sign-up form: "Create an account with a passkey")."""
    if passkey:
        page.locator("#signup-email").fill(email)
        page.locator("#signup-button").click()
    else:
        page.locator("#email").fill(email)
        page.locator(LINK_BUTTON).click()
    # "Check your inbox", in any language: the status line names the address.
    expect(page.locator("main p[role=status]")).to_contain_text(email)


def follow_link(page, mailbox, email):
    """Open the newest link mailed to `email` and press its one button."""
    page.goto(mailbox.last_link(to=email))
    page.locator("#complete-signin").click()


def confirm_profile(page, *, display_name=None, nickname=None, language=None, passkey_step="skip"):
    """The first sign-in's profile step (/welcome): change what is given (an empty display name
    becomes "Person": the field starts empty), then continue. The passkey step that may follow
    (/welcome/passkey) is answered "Not now" unless `passkey_step` is None."""
    field = page.locator("#display_name")
    if display_name is not None:
        field.fill(display_name)
    elif not field.input_value():
        field.fill("Person")
    if nickname is not None:
        page.locator("#nickname").fill(nickname)
    if language is not None:
        page.locator("#language").select_option(language)
    page.locator("#confirm-profile").click()
    if passkey_step == "skip":
        page.wait_for_url(lambda url: urlsplit(url).path != "/welcome")
        if urlsplit(page.url).path == "/welcome/passkey":
            page.locator("#skip-passkey").click()


def office_terminal(page, served):
    """Wait until the office shell has its token and shows who is signed in; its terminal output.

    The shell goes /office.html → /authorize → /office.html?code=… → (token) and
    then reveals the terminal, with every line of `whoami` printed at once.
    """
    page.wait_for_url(served + "/office.html")
    expect(page.locator("#terminal")).to_be_visible()
    terminal = page.locator("#terminal-output")
    expect(terminal).to_contain_text("codeb> ")
    return terminal


def first_sign_in(page, served, mailbox, email, **profile):
    """A new account: link, profile screen (confirmed with `profile`), the office shell."""
    page.goto(served + "/signin")
    ask_for_link(page, email)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome")
    confirm_profile(page, **profile)
    return office_terminal(page, served)


def run_command(page, command):
    """Type a command into the shell's terminal and press Enter."""
    field = page.locator("#terminal-input")
    field.fill(command)
    field.press("Enter")


def office_token(page):
    """The shell's token record in sessionStorage ({access_token, id_token, expires_at}) or None."""
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{TOKEN_KEY}') || 'null')")


def expire_office_token(page):
    """Make the shell believe its hour is up: expires_at in the past (the token itself is kept)."""
    page.evaluate(f"""() => {{
        const token = JSON.parse(sessionStorage.getItem('{TOKEN_KEY}'));
        token.expires_at = Math.floor(Date.now() / 1000) - 10;
        sessionStorage.setItem('{TOKEN_KEY}', JSON.stringify(token));
    }}""")


def open_account_menu(page):
    """Open the shell's account menu in the header (Account, Administration, Sign out)."""
    menu = page.locator("#office-menu")
    expect(menu).to_be_visible()
    if menu.get_attribute("open") is None:
        page.locator("#office-menu > summary").click()
    expect(page.locator("#office-signout")).to_be_visible()


def sign_out(page, served):
    """Sign out from the office shell's header, where a signed-in person lands.

    The shell's button ends the browser session (RP-initiated logout with the
    ID token) and forgets the token in sessionStorage; the person ends on the
    sign-in page.
    """
    if page.url != served + "/office.html":
        page.goto(served + "/office.html")
        office_terminal(page, served)
    open_account_menu(page)
    page.locator("#office-signout").click()
    page.wait_for_url(served + "/signin")
    expect(page.locator("#email")).to_be_editable()
