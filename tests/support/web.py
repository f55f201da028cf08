"""Walking the app as a browser does, with Flask's test client: hosts, forms, the magic link."""

import base64
import hashlib
import os
import re
import secrets
from urllib.parse import parse_qs, urlsplit

HOST = "localhost"              # the demo tenant
OTHER_HOST = "acme.localhost"   # the acme tenant
LINK_STEP = "/signin/magic-link/complete"


class RP:
    """A relying party registered with a tenant: its id, secret (None if public) and callback."""

    def __init__(self, client_id, secret, redirect_uri):
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def use_link(client, path, host=HOST):
    """Open a mailed link's page and press its button; the response of the POST."""
    page = client.get(path, headers={"Host": host})
    assert page.status_code == 200, page.text
    return client.post(LINK_STEP, data={"csrf": csrf_of(page.text), "link": path[len("/link/"):]},
                       headers={"Host": host})


def sign_in(client, mailbox, email, host=HOST, interaction=None, confirm_profile=True):
    """Walk the magic-link path with a test client (the email field's "Continue", then the mailed
    link); return the final response."""
    page = client.get("/signin" + (f"?i={interaction}" if interaction else ""), headers={"Host": host})
    data = {"csrf": csrf_of(page.text), "email": email}
    if interaction:
        data["i"] = interaction
    sent = client.post("/signin/continue", data=data, headers={"Host": host})  # identifier first
    assert sent.status_code == 303, sent.text  # then GET /signin/sent: a reload sends nothing
    done = use_link(client, urlsplit(mailbox.last_link(to=email)).path, host)
    if confirm_profile and done.headers.get("Location", "").endswith("/welcome"):
        return confirm_first_profile(client, host)
    return done


def confirm_first_profile(client, host=HOST, passkey_step="skip", **fields):
    """The first sign-in's profile step: confirm it as shown (or with `fields`; an empty display
    name becomes "Person"). The passkey step that may follow is skipped ("Not now") unless
    `passkey_step` is None: then the answer to the profile's POST is returned as it is."""
    page = client.get("/welcome", headers={"Host": host})
    display_name = re.search(r'id="display_name" name="display_name"[^>]*value="([^"]*)"', page.text, re.S)
    language = re.search(r'<option value="([a-z]+)" selected>', page.text)
    data = {"csrf": csrf_of(page.text), "display_name": (display_name.group(1) if display_name else "") or "Person",
            "nickname": "", "language": language.group(1) if language else "en", **fields}
    confirmed = client.post("/welcome", data=data, headers={"Host": host})
    if passkey_step == "skip" and confirmed.headers.get("Location") == "/welcome/passkey":
        return client.get("/welcome/continue", headers={"Host": host})
    return confirmed


def field_error(html: str, field_id: str) -> str | None:
    """The message shown beside a form field, checking that the field is marked the accessible
    way (aria-invalid, aria-describedby naming the message, autofocus); None if it is not marked."""
    at = re.escape(field_id)
    tag = re.search(rf'<(?:input|textarea|select)\b[^>]*\bid="{at}"[^>]*>', html)
    assert tag, f"no field {field_id}"
    if 'aria-invalid="true"' not in tag.group(0):
        return None
    described = re.search(r'aria-describedby="([^"]*)"', tag.group(0))
    assert described and f"{field_id}-error" in described.group(1).split(), tag.group(0)
    assert " autofocus" in tag.group(0) and html.count(" autofocus") == 1
    message = re.search(rf'<p class="error field-error" id="{at}-error">([^<]*)</p>', html)
    assert message, f"no message beside {field_id}"
    return message.group(1)


def signed_in_admin(app, mailbox, accounts, email="boss@example.com", login="boss"):
    """A browser of its own, signed in as a new administrator of `accounts`' tenant."""
    accounts.create(email=email, login=login, roles=["user", "admin"])
    browser = app.test_client()
    sign_in(browser, mailbox, email, host=accounts.host)
    return browser


def configure_signin(tenant, methods=None, policy=None, domains=None):
    """Set a tenant's sign-in methods and its sign-up policy (with its domains), as the admin's
    settings page saves them."""
    with tenant.store.update("tenant") as doc:
        if methods is not None:
            doc["methods"] = methods
        if policy is not None:
            doc["signup"] = {"policy": policy, "domains": domains or []}


def main_of(html: str) -> str:
    """The page's <main>, its white space collapsed to single spaces."""
    return re.sub(r"\s+", " ", html[html.index("<main"):html.index("</main>")])


def add_recording(tenant, accounts, login):
    """One call recording (100 bytes) in the account's files, as the phone would keep it; its folder."""
    from codeb.accounts import privacy

    folder = tenant.store.folder(*privacy.folder("recordings", accounts.get(login).sub))
    os.makedirs(folder)
    with open(os.path.join(folder, "call.bin"), "wb") as f:
        f.write(b"x" * 100)
    return folder
