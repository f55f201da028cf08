"""The page frame (templates/base.html): the header's account menu, the footer's languages."""

import re

import pytest

from tests.support.web import HOST, csrf_of, sign_in

MENU = re.compile(r'<details class="menu account-menu">(.*?)</details>', re.S)


@pytest.fixture
def signed_in(app, mailbox, accounts):
    accounts.create(email="ada.lovelace@example.com", login="ada", roles=["user", "admin"],
                    display_name="Ada Lovelace")
    accounts.create(email="ben@example.com", login="ben", display_name="Ben Fischer")
    browsers = {}
    for name, email in (("admin", "ada.lovelace@example.com"), ("user", "ben@example.com")):
        browsers[name] = app.test_client()
        sign_in(browsers[name], mailbox, email)
    return browsers


def menu_of(html):
    found = MENU.findall(html)
    return found[0] if found else None


def test_anonymous_pages_have_no_account_menu(client):
    page = client.get("/signin", headers={"Host": HOST}).text
    assert menu_of(page) is None
    assert 'class="brand"' in page and "<footer>" in page


def test_the_menu_names_the_person_and_offers_account_and_sign_out(signed_in):
    page = signed_in["user"].get("/account", headers={"Host": HOST}).text
    menu = menu_of(page)
    assert 'aria-label="Account menu of Ben Fischer"' in menu
    assert '<span class="avatar" aria-hidden="true">BF</span>' in menu
    assert "ben@example.com" in menu
    assert 'href="/account"' in menu and 'action="/signout"' in menu
    assert 'href="/admin.html"' not in menu  # not an admin
    assert f'name="csrf" value="{csrf_of(page)}"' in menu


def test_an_admin_also_finds_admin_in_the_menu(signed_in):
    menu = menu_of(signed_in["admin"].get("/account", headers={"Host": HOST}).text)
    assert 'href="/admin.html"' in menu and ">Admin</a>" in menu
    assert '<span class="avatar" aria-hidden="true">AL</span>' in menu


def test_the_menu_is_in_german_for_a_german_page(signed_in):
    client = signed_in["admin"]
    page = client.get("/account", headers={"Host": HOST}).text
    client.post("/language", data={"csrf": csrf_of(page), "lang": "de", "next": "/account"}, headers={"Host": HOST})
    menu = menu_of(client.get("/account", headers={"Host": HOST}).text)
    assert 'aria-label="Kontomenü von Ada Lovelace"' in menu and ">Verwaltung</a>" in menu and "Abmelden" in menu


def test_sign_out_from_the_menu_is_a_post_that_needs_the_csrf_token(signed_in):
    client = signed_in["user"]
    page = client.get("/account", headers={"Host": HOST}).text
    refused = client.post("/signout", data={"csrf": "forged"}, headers={"Host": HOST})
    assert refused.status_code == 400
    assert client.get("/account", headers={"Host": HOST}).status_code == 200  # still signed in
    assert client.get("/signout", headers={"Host": HOST}).status_code == 405  # a link cannot sign out
    done = client.post("/signout", data={"csrf": csrf_of(page)}, headers={"Host": HOST})
    assert done.status_code in (302, 303)
    after = client.get("/account", headers={"Host": HOST})
    assert after.status_code in (302, 303) or menu_of(after.text) is None


def test_the_brand_stylesheet_follows_the_shared_one(client):
    """So a tenant's brand (in _brand_head.html) overrides the shared tokens, not the other way round."""
    head = client.get("/signin", headers={"Host": HOST}).text.split("</head>")[0]
    shared = head.index("codeb.css")
    assert all(m.start() > shared for m in re.finditer(r'<link rel="(?:icon|manifest)"', head))
    assert '<meta name="color-scheme" content="light dark">' in head


def test_a_page_chooses_its_column_width(signed_in):
    assert '<body class="narrow">' in signed_in["user"].get("/account", headers={"Host": HOST}).text
