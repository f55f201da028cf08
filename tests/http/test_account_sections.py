"""Account settings in sections: Profile · Sign-in & passkeys · Devices · Privacy, each its own page."""

import re

import pytest

from tests.support.web import HOST, csrf_of, sign_in

SECTIONS = {
    "/account": ('id="profile-form"', "Profile", "Profil"),
    "/account/sign-in": ('id="passkeys-title"', "Sign-in &amp; passkeys", "Anmeldung &amp; Passkeys"),
    "/account/devices": ('id="end-all-sessions"', "Devices", "Geräte"),
    "/account/privacy": ('id="export-data"', "Privacy", "Datenschutz"),
}


def current_section(text):
    """The section the navigation marks as this page (its link text)."""
    found = re.findall(r'<a href="([^"]+)" id="section-\w+" aria-current="page">([^<]+)</a>', text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("lang", ["en", "de"])
def test_each_section_is_a_page_of_its_own_with_the_navigation(client, mailbox, accounts, lang):
    sign_in(client, mailbox, "alice@example.com")
    with accounts.update(accounts.find_by_email("alice@example.com").login) as doc:
        doc["language"] = lang
    for path, (marker, english, german) in SECTIONS.items():
        page = client.get(path, headers={"Host": HOST})
        assert page.status_code == 200, path
        assert marker in page.text, path
        others = [m for p, (m, *_rest) in SECTIONS.items() if p != path]
        assert not any(m in page.text for m in others), f"{path} shows another section"
        assert current_section(page.text) == (path, english if lang == "en" else german)
        links = re.findall(r'<a href="([^"]+)" id="section-', page.text)
        assert links == list(SECTIONS)  # every section is linked from every section


@pytest.mark.parametrize("path", list(SECTIONS))
def test_sections_need_a_signed_in_account(client, path):
    response = client.get(path, headers={"Host": HOST})
    assert response.status_code == 303 and response.headers["Location"] == "/signin"


def test_a_change_lands_back_in_its_own_section(client, mailbox):
    sign_in(client, mailbox, "alice@example.com")
    page = client.get("/account/devices", headers={"Host": HOST})
    ended = client.post("/account/sessions/end", data={"csrf": csrf_of(page.text), "id": "0" * 64},
                        headers={"Host": HOST})
    assert ended.status_code == 303 and ended.headers["Location"] == "/account/devices?m=session_ended"
