"""How the EU Wallet sign-in asks, as the admin sets it on /admin/wallet
(codeb.signin.wallet.settings_part): the claims asked for, the national PID types accepted, the
client identifier prefix, the URL scheme, the QR code for another device, encryption and the
status list's failure mode; each shows in what a wallet fetches; bad values beside their field."""

import re
from html import unescape

import pytest

from codeb import audit
from codeb.store import layout
from codeb.tenants.wallet import TrustList
from tests.signin.test_wallet import follow, mdoc_wallet
from tests.support.pid_ca import PidCA
from tests.support.web import csrf_of, field_error, sign_in, signed_in_admin

DEFAULTS = {"client_id_prefix": "x509_hash", "scheme": "openid4vp", "cross_device": "1", "encrypted": "1"}


@pytest.fixture
def admin(app, mailbox, accounts, demo):
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["magic_link", "wallet"]
    return signed_in_admin(app, mailbox, accounts)


def save(admin, **fields):
    page = admin.get("/admin/wallet")
    return admin.post("/admin/wallet/settings", data={"csrf": csrf_of(page.text), **fields})


def present(client):
    page = client.get("/signin")
    moved = client.post("/signin/wallet/begin", data={"csrf": csrf_of(page.text), "wallet": "1"})
    return client.get(moved.headers["Location"])


def test_the_defaults_follow_haip(app, admin, demo):
    page = admin.get("/admin/wallet")
    assert 'id="cross-device" checked' in page.text and 'id="encrypted" checked' in page.text
    assert '<option value="x509_hash" selected>' in page.text


def test_what_the_admin_chooses_is_what_the_wallet_is_asked(app, admin, demo):
    saved = save(admin, **{**DEFAULTS, "claims": ["nationality"], "vct_values": "urn:de:pid:1\nhttps://pid.example/at",
                           "client_id_prefix": "x509_san_dns", "scheme": "haip-vp", "cross_device": "",
                           "encrypted": "", "status_fail_open": "1"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("m=settings_saved")
    settings = demo.store.read(layout.TENANT)["wallet"]
    assert settings == {"claims": ["nationality"], "vct_values": ["urn:eudi:pid:1", "urn:de:pid:1",
                                                                  "https://pid.example/at"],
                        "client_id_prefix": "x509_san_dns", "scheme": "haip-vp", "cross_device": False,
                        "encrypted": False, "status_fail_open": True}
    assert [e for e in audit.read_all(demo.store) if e["event"] == "settings.changed"][-1]["wallet"] == settings

    ca = PidCA()
    TrustList(demo.store).add(ca.root_pem)
    browser = app.test_client()
    page = present(browser)
    assert 'id="wallet-qr"' not in page.text  # no QR code: a wallet on another device may not answer
    link = unescape(re.search(r'id="wallet-link" href="([^"]+)"', page.text).group(1))
    assert link.startswith("haip-vp://?client_id=x509_san_dns%3Alocalhost&")
    wallet = mdoc_wallet(app, ca)
    request = wallet.open(link)
    assert request.client_id == "x509_san_dns:localhost"
    assert request.claims["response_mode"] == "direct_post" and "jwks" not in request.claims["client_metadata"]
    sd_jwt, mdoc = request.dcql["credentials"]
    assert sd_jwt["meta"]["vct_values"] == settings["vct_values"]
    assert ["nationalities"] in [claim["path"] for claim in sd_jwt["claims"]]
    assert mdoc["claim_sets"][1] == ["given_name", "family_name", "birth_date", "nationality"]
    # Unencrypted answers (development) are taken now; the account is not linked, sign-up follows.
    moved = follow(browser, wallet.answer(request, encrypted=False))
    assert moved.status_code == 303 and moved.headers["Location"].startswith("/signin/wallet/signup?s=")


@pytest.mark.parametrize(("fields", "field"), [
    ({"claims": ["birth_place"]}, "claims"),
    ({"vct_values": "not a type"}, "vct_values"),
    ({"vct_values": "\n".join(f"urn:x:{n}" for n in range(11))}, "vct_values"),
    ({"client_id_prefix": "redirect_uri"}, "client_id_prefix"),
    ({"scheme": "javascript"}, "scheme"),
])
def test_a_bad_setting_is_shown_beside_its_field(app, admin, demo, fields, field):
    answer = save(admin, **{**DEFAULTS, **fields})
    assert answer.status_code == 400
    ids = {"claims": "claims-nationality", "vct_values": "vct-values", "client_id_prefix": "client-id-prefix",
           "scheme": "scheme"}
    assert field_error(answer.text, ids[field]), answer.text[:2000]
    assert "wallet" not in demo.store.read(layout.TENANT)


def test_only_admins_change_them(app, client, mailbox, accounts):
    sign_in(client, mailbox, "user@example.com")
    page = client.get("/account")
    assert client.post("/admin/wallet/settings", data={"csrf": csrf_of(page.text), **DEFAULTS}).status_code == 403
