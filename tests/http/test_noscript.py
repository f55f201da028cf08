"""Pages that need JavaScript say so, in the person's language, when it is off."""

import re

import pytest

from codeb import i18n
from tests.support.web import HOST, csrf_of, sign_in

SCRIPTED = re.compile(r'<script type="module"')
NOSCRIPT = re.compile(r"<noscript>(.*?)</noscript>", re.S)


def noscript_texts(html):
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).strip() for block in NOSCRIPT.findall(html)]


def pages_of(client, mailbox, lang):
    """Every page a person reaches that loads a script: anonymous, first sign-in, signed in."""
    headers = {"Host": HOST, "Accept-Language": lang}
    pages = {path: client.get(path, headers=headers) for path in ("/office.html", "/signin")}
    page = client.get("/signin", headers=headers)
    client.post("/language", data={"csrf": csrf_of(page.text), "lang": lang, "next": "/"}, headers={"Host": HOST})
    sign_in(client, mailbox, f"nora.{lang}@example.com", confirm_profile=False)
    for path in ("/welcome", "/welcome/passkey", "/account/sign-in", "/office.html"):
        pages["signed in " + path] = client.get(path, headers={"Host": HOST})
    return pages


@pytest.mark.parametrize("lang", i18n.SHIPPED)
def test_every_page_that_needs_script_explains_itself_without_it(client, mailbox, lang):
    """Finding 25: without JavaScript the office shell said "Signing you in…" forever; every page
    that runs a script now carries a <noscript> explanation in the person's language."""
    pages = pages_of(client, mailbox, lang)
    for name, page in pages.items():
        assert page.status_code == 200, name
        if SCRIPTED.search(page.text):
            assert noscript_texts(page.text), f"{name} needs script and says nothing without it"
    expected = {
        "/office.html": "office.noscript",
        "/signin": "signin.passkey_noscript",
        "signed in /welcome/passkey": "passkey.noscript",
        "signed in /account/sign-in": "passkey.noscript",
    }
    for name, message_id in expected.items():
        explanation = i18n.translate(lang, message_id)
        assert any(explanation in text for text in noscript_texts(pages[name].text)), name


def test_office_shell_without_script_does_not_claim_to_be_signing_in(client):
    """Finding 25: the "Signing you in…" status is the script's to show, not the page's."""
    page = client.get("/office.html", headers={"Host": HOST}).text
    status = re.search(r'<p id="office-status"[^>]*>', page).group(0)
    assert " hidden" in status
    links = re.findall(r'href="([^"]+)"', "".join(NOSCRIPT.findall(page)))
    assert "/account" in links and "/help" in links


def every_page(app, client, mailbox, accounts):
    """Every HTML page of the app a GET reaches, as a visitor, as a new person and as an admin:
    the routes without arguments, and those with one filled from the tenant's own data."""
    accounts.create(email="root@example.com", login="root", roles=["user", "admin"])
    accounts.create(email="bob@example.com", login="bob")
    values = {"login": "bob", "client_id": "office"}
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if set(rule.arguments) <= set(values):
            paths.append(rule.build({k: values[k] for k in rule.arguments})[1])
    visitors = {"visitor": app.test_client(), "new person": app.test_client(), "admin": app.test_client()}
    sign_in(visitors["new person"], mailbox, "nora@example.com", confirm_profile=False)
    sign_in(visitors["admin"], mailbox, "root@example.com")
    for who, browser in visitors.items():
        for path in paths:
            response = browser.get(path, headers={"Host": HOST})
            if response.status_code == 200 and response.mimetype == "text/html":
                yield f"{who} {path}", response.text


def test_every_html_page_that_loads_a_module_script_has_a_noscript(app, client, mailbox, accounts):
    """Not only the pages named above: any page a GET reaches that loads a module script says
    what works without it, so a new page with a script cannot forget its <noscript>."""
    scripted = []
    for name, html in every_page(app, client, mailbox, accounts):
        if SCRIPTED.search(html):
            scripted.append(name)
            texts = [t for t in noscript_texts(html) if t]
            assert texts, f"{name} loads a module script and says nothing without it"
    # The walk does find the scripted pages (sign-in, the shell, the passkey step, account sign-in).
    assert {"visitor /signin", "visitor /office.html", "new person /welcome/passkey",
            "admin /account/sign-in"} <= set(scripted), scripted


def test_noscript_is_not_used_where_nothing_needs_script(app, client, mailbox, accounts):
    """A page without script does not tell people that script is off (it would only confuse)."""
    for name, html in every_page(app, client, mailbox, accounts):
        if "<script" not in html:
            assert "<noscript>" not in html, name
