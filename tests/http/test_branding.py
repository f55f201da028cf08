"""The admin's Branding page and the brand served to pages, mails and the manifest, per tenant."""

import io
import json
import re

import pytest

from codeb import audit
from codeb.store import layout
from codeb.tenants import branding
from tests.http.test_german_pages import assert_german
from tests.support.web import HOST, OTHER_HOST, csrf_of, field_error
from tests.tenants.test_branding import SVG, fixture, png

GOOD = "#1a7f37"   # green, 5.1:1 on white
PALE = "#ffcc00"   # yellow, 1.4:1 on the light page background


def brand_page(client, host=HOST, **headers):
    return client.get("/admin/branding", headers={"Host": host, **headers})


def save(client, host=HOST, *, colour="#0b57d0", logo=None, favicon=None, action="save", csrf=None, **fields):
    page = brand_page(client, host)
    data = {"csrf": csrf if csrf is not None else csrf_of(page.text), "action": action, "colour": colour,
            "mail_header": "", "mail_footer": "", **fields}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[1]), logo[0])
    if favicon is not None:
        data["favicon"] = (io.BytesIO(favicon[1]), favicon[0])
    return client.post("/admin/branding", data=data, headers={"Host": host}, content_type="multipart/form-data")


def stored(tenants, name="demo"):
    return tenants.get(name).store.read(*branding.DOCUMENT)


LOGO = ("logo.png", png(120, 40))


# -- who may change it ---------------------------------------------------------------------

def test_the_branding_page_is_for_this_tenants_admins_only(people):
    assert brand_page(people["admin"]).status_code == 200
    assert brand_page(people["user"]).status_code == 403
    assert brand_page(people["anonymous"]).status_code == 303
    assert brand_page(people["other"]).status_code == 303  # acme's admin is nobody at demo
    assert 'href="/admin/branding"' in people["admin"].get("/admin.html", headers={"Host": HOST}).text


def test_users_strangers_and_forged_forms_change_nothing(people, tenants):
    for who in ("user", "anonymous", "other"):
        token = csrf_of(people[who].get("/signin", headers={"Host": HOST}).text)
        response = save(people[who], colour=GOOD, logo=LOGO, csrf=token) if who != "anonymous" else \
            people[who].post("/admin/branding", data={"csrf": token, "colour": GOOD}, headers={"Host": HOST})
        assert response.status_code == 403, who
    forged = save(people["admin"], colour=GOOD, logo=LOGO, csrf="not-the-token")
    assert forged.status_code == 400
    assert stored(tenants) is None


# -- colour --------------------------------------------------------------------------------

def test_a_low_contrast_colour_is_refused_with_the_measured_ratio_in_the_persons_language(people, tenants):
    refused = save(people["admin"], colour=PALE)
    assert refused.status_code == 400
    message = field_error(refused.text, "colour")
    assert "1.40:1" in message and "4.50:1" in message
    assert 'value="#ffcc00"' in refused.text  # the form keeps what was typed
    assert stored(tenants) is None
    people["admin"].post("/language", data={"csrf": csrf_of(brand_page(people["admin"]).text), "lang": "de",
                                            "next": "/admin/branding"}, headers={"Host": HOST})
    german = save(people["admin"], colour=PALE)
    assert "1,40:1" in field_error(german.text, "colour") and "Kontrast" in german.text


def test_a_good_colour_is_saved_and_served_as_a_light_and_dark_stylesheet(people, tenants):
    done = save(people["admin"], colour=GOOD)
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin/branding?m=saved")
    assert stored(tenants)["colour"] == GOOD
    page = people["admin"].get(done.headers["Location"], headers={"Host": HOST})
    assert "Branding saved" in page.text
    link = re.search(r'<link rel="stylesheet" href="(/brand\.css\?v=[0-9a-f]+)">', page.text).group(1)
    css = people["anonymous"].get(link, headers={"Host": HOST})
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert f"--accent: {GOOD}" in css.text
    dark = re.search(r"prefers-color-scheme: dark\) \{\s*html:root \{ --accent: (#[0-9a-f]{6}); "
                     r"--accent-ink: (#[0-9a-f]{6})", css.text)
    palette = branding.palette(GOOD)
    assert dark.groups() == (palette.dark_accent, palette.dark_ink)
    changes = [e for e in audit.read_all(tenants.get("demo").store) if e.get("event") == "brand.changed"]
    assert changes[-1]["actor"] == "boss" and changes[-1]["colour"] == GOOD


def test_reset_colour_goes_back_to_the_shipped_look(people, tenants):
    save(people["admin"], colour=GOOD)
    done = save(people["admin"], action="reset_colour")
    assert done.headers["Location"].endswith("m=colour_reset")
    assert stored(tenants)["colour"] is None
    assert "/brand.css" not in people["anonymous"].get("/signin", headers={"Host": HOST}).text


# -- logo and favicon ----------------------------------------------------------------------

@pytest.mark.parametrize("name, data, refused", [
    ("logo.svg", SVG, "SVG logos are not accepted"),
    ("logo.png", branding.PNG_SIGNATURE + b"\x00" * 400, "cannot be read"),
    ("logo.png", png(64, 64) + b"\x00" * 250_000, "at most 250 kB"),
    ("logo.gif", fixture("logo.gif"), "not a PNG, JPEG or WebP"),
    ("logo.png", b"%PDF-1.7 not a picture", "not a PNG, JPEG or WebP"),
])
def test_bad_logos_are_refused_beside_the_field_and_nothing_is_stored(people, tenants, name, data, refused):
    save(people["admin"], colour=GOOD)
    before = stored(tenants)
    response = save(people["admin"], colour="#5b21b6", logo=(name, data), mail_footer="New footer")
    assert response.status_code == 400
    assert refused in field_error(response.text, "logo")
    assert stored(tenants) == before  # not the colour, not the footer: one change or none


def test_an_upload_past_the_request_limit_is_a_clear_4xx(people, tenants):
    response = save(people["admin"], logo=("big.png", b"\x89PNG" + b"\x00" * (1100 * 1024)))
    assert response.status_code == 413 and "too large" in response.text
    assert stored(tenants) is None


def test_logo_is_served_with_its_type_an_etag_and_a_public_cache_lifetime(people, tenants):
    anonymous = people["anonymous"]
    assert anonymous.get("/brand/logo", headers={"Host": HOST}).status_code == 404
    assert save(people["admin"], logo=("logo.webp", fixture("logo.webp"))).status_code == 303
    served = anonymous.get("/brand/logo", headers={"Host": HOST})
    assert served.status_code == 200 and served.data == fixture("logo.webp")
    assert served.headers["Content-Type"] == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=3600"
    etag = served.headers["ETag"]
    again = anonymous.get("/brand/logo", headers={"Host": HOST, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    versioned = anonymous.get(f"/brand/logo?v={branding.brand_of(tenants.get('demo').store).version}",
                              headers={"Host": HOST})
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000"
    # A new logo is a new ETag: the old validator no longer matches.
    save(people["admin"], logo=("logo.jpg", fixture("logo.jpg")))
    changed = anonymous.get("/brand/logo", headers={"Host": HOST, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["Content-Type"] == "image/jpeg"


def test_remove_logo_and_favicon(people, tenants):
    save(people["admin"], logo=LOGO, favicon=("favicon.ico", fixture("favicon.ico")))
    assert people["anonymous"].get("/brand/favicon", headers={"Host": HOST}).headers["Content-Type"] == "image/x-icon"
    save(people["admin"], action="remove_favicon")
    derived = people["anonymous"].get("/brand/favicon", headers={"Host": HOST})
    assert derived.headers["Content-Type"] == "image/png" and derived.data == LOGO[1]  # from the logo
    assert save(people["admin"], action="remove_logo").headers["Location"].endswith("m=logo_removed")
    assert stored(tenants)["logo"] is None
    assert people["anonymous"].get("/brand/logo", headers={"Host": HOST}).status_code == 404
    assert people["anonymous"].get("/brand/favicon", headers={"Host": HOST}).status_code == 404
    signin = people["anonymous"].get("/signin", headers={"Host": HOST}).text
    assert "/static/favicon.svg" in signin and "brand-logo" not in signin


def test_a_saved_brand_keeps_its_logo_when_the_form_sends_no_new_one(people, tenants):
    save(people["admin"], logo=LOGO)
    save(people["admin"], colour=GOOD, mail_header="Acme Identity")
    doc = stored(tenants)
    assert doc["logo"]["width"] == 120 and doc["colour"] == GOOD and doc["mail_header"] == "Acme Identity"


def test_mail_texts_are_bounded(people, tenants):
    response = save(people["admin"], mail_header="x" * 500)
    assert response.status_code == 400 and "at most 120 characters" in field_error(response.text, "mail-header")
    assert stored(tenants) is None


# -- applied everywhere, and only at its own tenant ----------------------------------------

def test_logo_and_colour_appear_on_the_tenants_pages_and_nowhere_on_another_tenants(people, tenants):
    save(people["admin"], colour=GOOD, logo=LOGO)
    version = branding.brand_of(tenants.get("demo").store).version
    for path in ("/signin", "/office.html", "/admin/branding"):
        page = people["admin"].get(path, headers={"Host": HOST}).text
        assert f'/brand.css?v={version}' in page, path
        assert f'<meta name="theme-color" content="{GOOD}">' in page, path
        assert re.search(rf'<img class="brand-logo" src="/brand/logo\?v={version}" alt="Demo"', page), path
        assert f'/brand/favicon?v={version}' in page, path
    other = people["anonymous"].get("/signin", headers={"Host": OTHER_HOST}).text
    assert "/brand.css" not in other and "brand-logo" not in other and GOOD not in other
    assert "/static/favicon.svg" in other
    # What acme serves is acme's: nothing.
    assert people["anonymous"].get("/brand/logo", headers={"Host": OTHER_HOST}).status_code == 404
    css = people["anonymous"].get("/brand.css", headers={"Host": OTHER_HOST})
    assert GOOD not in css.text and "--accent" not in css.text


def test_the_manifest_carries_the_tenants_colour_and_logo(people, tenants):
    save(people["admin"], colour=GOOD, logo=LOGO)
    manifest = json.loads(people["anonymous"].get("/manifest.webmanifest", headers={"Host": HOST}).data)
    assert manifest["theme_color"] == GOOD and manifest["name"] == "Demo"
    first = manifest["icons"][0]
    assert first["src"].startswith("/brand/logo?v=") and first["sizes"] == "120x40" and first["type"] == "image/png"
    other = json.loads(people["anonymous"].get("/manifest.webmanifest", headers={"Host": OTHER_HOST}).data)
    assert other["theme_color"] == branding.DEFAULT_ACCENT and other["name"] == "Acme"
    assert not any("/brand/" in icon["src"] for icon in other["icons"])


def test_every_mail_carries_the_tenants_logo_colour_and_texts_and_no_other_tenants(people, tenants, mailbox, app):
    save(people["admin"], colour=GOOD, logo=LOGO, mail_header="Demo Identity",
         mail_footer="Demo Ltd\nHelp: it@demo.example")
    for host, email in ((HOST, "bob@example.com"), (OTHER_HOST, "root@acme.example")):
        client = app.test_client()
        page = client.get("/signin", headers={"Host": host})
        client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": email},
                    headers={"Host": host})
    demo_mail, acme_mail = mailbox.messages()[-2:]
    html = demo_mail.message.get_body(("html",)).get_content()
    assert re.search(r'<img src="http://localhost/brand/logo\?v=[0-9a-f]+" alt="Demo" width="120" height="40"', html)
    assert "Demo Identity" in html and "Demo Ltd<br>Help: it@demo.example" in html
    assert f"background: {GOOD}" in html
    text = demo_mail.text.replace("\r\n", "\n")
    assert text.startswith("Demo Identity\n\nHello,") and text.endswith("\n\n-- \nDemo Ltd\nHelp: it@demo.example\n")
    acme_html = acme_mail.message.get_body(("html",)).get_content()
    assert "/brand/logo" not in acme_html and GOOD not in acme_html and "Demo" not in acme_html
    assert f"background: {branding.DEFAULT_ACCENT}" in acme_html
    assert acme_mail.text.replace("\r\n", "\n").endswith("code.\n\n-- \nAcme\n")


def test_the_brand_lives_in_the_tenant_folder(people, tenants, data_root):
    save(people["admin"], logo=LOGO)
    assert (data_root / "demo" / layout.BRAND / "current.json").is_file()
    assert not (data_root / "acme" / layout.BRAND).exists()


def test_the_branding_page_and_its_refusals_are_german_for_a_german_admin(people, accounts):
    with accounts.update("boss") as doc:
        doc["language"] = "de"
    save(people["admin"], colour="#1a7f37", logo=LOGO, favicon=("favicon.ico", fixture("favicon.ico")))
    assert_german(brand_page(people["admin"]))
    for refused in (save(people["admin"], colour=PALE), save(people["admin"], logo=("logo.svg", SVG)),
                    save(people["admin"], mail_footer="a\x07b")):
        assert refused.status_code == 400
        assert_german(refused)
