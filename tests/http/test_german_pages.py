"""A page rendered in German carries no English sentence from the catalogue."""

import json
import re

import pytest

from codeb import i18n
from tests.support.oidc import authorize_params, get_authorize
from tests.support.web import HOST, csrf_of, sign_in

GERMAN = {"Host": HOST, "Accept-Language": "de"}
# Words spelt the same in both languages, or names.
SHARED = {"CodeB", "English", "Deutsch", "E-Mail", "Passkey", "Passkeys", "Claims", "sip-jid", "Administration",
          "Hello,"}  # the English mail greeting, and in German text part of "Windows Hello, …"


def english_sentences_in(html):
    text = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)  # protocol names stay as they are
    data = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, flags=re.S)
    text = re.sub(r"<script.*?</script>", " ", text, flags=re.S)
    text += "\n".join(str(v) for blob in data for v in json.loads(blob).values())  # values, not keys
    text = re.sub(r"<[^>]+>", "\n", text)
    english = {v for k, message in i18n.catalogue("en").items() if message != i18n.catalogue("de")[k]
               for v in i18n.texts(message) if v not in SHARED and "{" not in v and len(v) > 3}
    return sorted(sentence for sentence in english
                  if re.search(r"(?<!\w)" + re.escape(sentence) + r"(?!\w)", text))


def assert_german(page):
    assert '<html lang="de">' in page.text, page.request.path
    assert english_sentences_in(page.text) == [], page.request.path


def test_anonymous_pages_in_german(app, rp):
    client = app.test_client()
    pages = [client.get(path, headers=GERMAN) for path in ("/signin", "/help", "/help/oidc", "/offline.html",
                                                           "/office.html", "/nope")]
    pending = get_authorize(client, authorize_params(rp, None))
    pages.append(client.get(pending.headers["Location"], headers=GERMAN))
    for page in pages:
        assert_german(page)


@pytest.mark.parametrize("path", ["/welcome", "/account", "/welcome/passkey", "/help"])
def test_signed_in_pages_in_german(app, mailbox, path):
    client = app.test_client()
    page = client.get("/signin", headers=GERMAN)
    client.post("/language", data={"csrf": csrf_of(page.text), "lang": "de", "next": "/"}, headers={"Host": HOST})
    sign_in(client, mailbox, "anna@example.de")
    assert_german(client.get(path, headers={"Host": HOST}))


def test_manifest_in_german(client):
    manifest = client.get("/manifest.webmanifest", headers=GERMAN).json
    assert manifest["lang"] == "de" and manifest["description"].startswith("Telefon")


def test_magic_link_waiting_and_link_pages_in_german(app, mailbox):
    """The check-inbox page (with a wrong code and an early resend), and a link opened in
    another browser with its "Was this you?" part."""
    from urllib.parse import urlsplit

    asker, opener = app.test_client(), app.test_client()
    page = asker.get("/signin", headers=GERMAN)
    asker.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": "udo@example.de"},
               headers={**GERMAN, "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"})
    waiting = asker.get("/signin/sent", headers=GERMAN)
    assert "Neuen Link senden" in waiting.text
    assert_german(waiting)
    pending = re.search(r'name="pending" value="([0-9a-f]{32})"', waiting.text).group(1)
    wrong = asker.post("/signin/magic-link/complete", data={"csrf": csrf_of(waiting.text), "pending": pending,
                                                             "code": "ZZZZ-ZZZZ"}, headers=GERMAN)
    assert wrong.status_code == 400 and "Sie haben noch 4 Versuche." in wrong.text
    assert_german(wrong)
    early = asker.post("/signin/sent/resend", data={"csrf": csrf_of(waiting.text)}, headers=GERMAN)
    assert early.status_code == 429 and "in 180 Sekunden anfordern" in early.text
    assert_german(early)
    opened = opener.get(urlsplit(mailbox.last_link(to="udo@example.de")).path, headers=GERMAN)
    assert "Chrome unter Windows" in opened.text and "Nur dieses Gerät anmelden" in opened.text
    assert_german(opened)
