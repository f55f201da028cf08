"""A page rendered in German carries no English sentence from the catalogue."""

import re

from codeb import i18n
from tests.conftest import HOST, sign_in
from tests.http.helpers import authorize_params, get_authorize

GERMAN = {"Host": HOST, "Accept-Language": "de"}
# Words that are the same in both languages, or names.
SHARED = {"CodeB", "English", "Deutsch", "E-Mail"}


def english_sentences_in(html):
    text = re.sub(r"<[^>]+>", "\n", html)
    english = {v for k, v in i18n.catalogue("en").items()
               if v != i18n.catalogue("de")[k] and v not in SHARED and "{" not in v}
    return [sentence for sentence in english if sentence in text]


def test_german_pages_have_no_english_left(app, mailbox, rp):
    client = app.test_client()
    pages = [client.get("/signin", headers=GERMAN)]
    pending = get_authorize(client, authorize_params(rp, None))
    pages.append(client.get(pending.headers["Location"], headers=GERMAN))
    pages.append(client.get("/nope", headers=GERMAN))
    for page in pages:
        assert '<html lang="de">' in page.text
        assert english_sentences_in(page.text) == [], page.request.path
    client.post("/language", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', pages[0].text).group(1),
                                   "lang": "de", "next": "/"}, headers={"Host": HOST})
    sign_in(client, mailbox, "anna@example.de")
    home = client.get("/", headers={"Host": HOST})
    assert '<html lang="de">' in home.text and english_sentences_in(home.text) == []
