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
