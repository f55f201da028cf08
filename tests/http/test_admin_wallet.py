"""The admin's EU Wallet page (/admin/wallet): the trusted PID providers and status list
signers added and removed, the verifier's signing request downloaded and its access
certificate installed; refusals beside their field in English and German; all audited,
admins only."""

import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from codeb import audit
from codeb.store import layout
from codeb.tenants.wallet import TrustList, verifier
from tests.http.test_german_pages import assert_german
from tests.support.pid_ca import PidCA, certificate, der, pem
from tests.support.pid_ca import _name as subject_name
from tests.support.web import HOST, csrf_of, field_error, main_of, sign_in, signed_in_admin


@pytest.fixture(scope="module")
def ca():
    return PidCA()


@pytest.fixture
def admin(app, mailbox, accounts):
    return signed_in_admin(app, mailbox, accounts)


def wallet_page(browser):
    return browser.get("/admin/wallet")


def post(browser, path, **fields):
    """A form of the page, sent as the browser does (files as (bytes, name))."""
    data = {"csrf": csrf_of(wallet_page(browser).text)}
    for name, value in fields.items():
        data[name] = (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
    return browser.post(path, data=data, content_type="multipart/form-data")


def events(demo, prefix="wallet."):
    return [e for e in audit.read_all(demo.store) if e["event"].startswith(prefix)]


def test_an_admin_adds_sees_and_removes_a_pid_provider(admin, demo, ca):
    page = wallet_page(admin)
    assert page.status_code == 200 and 'href="/admin/wallet"' in page.text  # in the admin navigation
    assert "No certificate yet." in main_of(page.text) and "Trusted PID providers" in page.text
    added = post(admin, "/admin/wallet/trust/anchors", pem_file=(ca.root_pem, "pid-ca.pem"), name="German PID")
    assert added.status_code == 303 and added.headers["Location"].endswith("/admin/wallet?m=trust_added")
    [doc] = TrustList(demo.store).all()
    assert doc["name"] == "German PID" and TrustList(demo.store, layout.WALLET_STATUS_SIGNERS).all() == []
    shown = admin.get(added.headers["Location"])
    main = main_of(shown.text)
    assert "The certificate was added." in main and "German PID" in main and ca.root.subject.rfc4514_string() in main
    short = ":".join(doc["fingerprint"][i:i + 2] for i in range(0, 16, 2)).upper()
    assert f"<code>{short}…</code>" in main
    assert f'action="/admin/wallet/trust/anchors/{doc["id"]}/remove"' in main
    [event] = events(demo)
    assert event["event"] == "wallet.trust_added" and event["actor"] == "boss"
    assert (event["set"], event["id"], event["subject"]) == ("anchors", doc["id"], doc["subject"])

    removed = post(admin, f"/admin/wallet/trust/anchors/{doc['id']}/remove")
    assert removed.status_code == 303 and removed.headers["Location"].endswith("m=trust_removed")
    assert TrustList(demo.store).all() == []
    assert "German PID" not in main_of(admin.get("/admin/wallet").text)
    assert [e["event"] for e in events(demo)] == ["wallet.trust_added", "wallet.trust_removed"]
    log = admin.get("/admin/audit").text
    assert "boss added the certificate German PID to the EU Wallet trust list" in log
    assert "boss removed the certificate German PID from the EU Wallet trust list" in log
    assert post(admin, f"/admin/wallet/trust/anchors/{doc['id']}/remove").status_code == 404


def test_a_status_list_signer_is_pasted_into_its_own_list(admin, demo, ca):
    added = post(admin, "/admin/wallet/trust/status-signers", pem=ca.root_pem.decode())
    assert added.status_code == 303
    [doc] = TrustList(demo.store, layout.WALLET_STATUS_SIGNERS).all()
    assert doc["name"] == "Test PID CA" and TrustList(demo.store).all() == []
    assert f'id="status-signers-{doc["id"]}"' in wallet_page(admin).text
    assert events(demo)[0]["set"] == "status-signers"
    assert post(admin, "/admin/wallet/trust/elsewhere", pem=ca.root_pem.decode()).status_code == 404


def test_only_admins_reach_the_page(app, mailbox, accounts, demo, ca):
    accounts.create(email="bob@example.com", login="bob")
    user = app.test_client()
    sign_in(user, mailbox, "bob@example.com", host=HOST)
    assert user.get("/admin/wallet").status_code == 403
    token = csrf_of(user.get("/account").text)
    assert user.post("/admin/wallet/trust/anchors", data={"csrf": token, "pem": ca.root_pem.decode()}).status_code \
        == 403
    assert user.post("/admin/wallet/verifier/csr", data={"csrf": token, "organisation": "Acme"}).status_code == 403
    assert app.test_client().get("/admin/wallet").status_code == 303
    assert TrustList(demo.store).all() == [] and events(demo) == []


def test_a_post_without_its_csrf_token_changes_nothing(admin, demo, ca):
    refused = admin.post("/admin/wallet/trust/anchors", data={"pem": ca.root_pem.decode()})
    assert refused.status_code == 400 and TrustList(demo.store).all() == []


def test_a_bad_pem_is_refused_beside_its_field(admin, demo, ca):
    refused = post(admin, "/admin/wallet/trust/anchors", pem="-----BEGIN CERTIFICATE-----\nAAAA\n", name="Mine")
    assert refused.status_code == 400
    assert field_error(refused.text, "anchors-pem").startswith("This is not a certificate.")
    assert field_error(refused.text, "status-signers-pem") is None  # the other list's form is untouched
    assert 'value="Mine"' in refused.text and 'id="anchors-add-panel" open' in refused.text
    signer = x509.load_der_x509_certificate(ca.chain[0])
    not_ca = post(admin, "/admin/wallet/trust/status-signers", pem_file=(pem(signer), "signer.pem"))
    assert not_ca.status_code == 400 and "is not a CA certificate" in field_error(not_ca.text, "status-signers-pem")
    post(admin, "/admin/wallet/trust/anchors", pem=ca.root_pem.decode(), name="German PID")
    twice = post(admin, "/admin/wallet/trust/anchors", pem_file=(der(ca.root), "pid-ca.cer"))
    assert twice.status_code == 409
    assert field_error(twice.text, "anchors-pem") == "This certificate is already in the list, as German PID."
    too_long = post(admin, "/admin/wallet/trust/anchors", pem=pem(PidCA().root).decode(), name="x" * 81)
    assert field_error(too_long.text, "anchors-name") == "A name may have at most 80 characters."
    assert len(TrustList(demo.store).all()) == 1 and len(events(demo)) == 1


def test_the_page_and_its_refusals_are_german_for_a_german_admin(admin, accounts, ca):
    with accounts.update("boss") as doc:
        doc["language"] = "de"
    post(admin, "/admin/wallet/trust/anchors", pem=ca.root_pem.decode())
    page = wallet_page(admin)
    assert "Vertrauenswürdige PID-Anbieter" in page.text and "selbstsignierte Testzertifikat" in page.text
    assert_german(page)
    refused = post(admin, "/admin/wallet/trust/anchors", pem="garbage")
    assert refused.status_code == 400
    assert field_error(refused.text, "anchors-pem").startswith("Das ist kein Zertifikat.")
    assert_german(refused)
    wrong = post(admin, "/admin/wallet/verifier/certificate", chain=pem(PidCA().root).decode())
    assert wrong.status_code == 400 and "Verifizierer-Schlüssel" in field_error(wrong.text, "chain")
    assert_german(wrong)


def test_the_signing_request_downloads_for_the_verifier_key(admin, demo):
    page = wallet_page(admin)
    found = verifier(demo.store, host="localhost")
    assert f"x509_hash:{found.x509_hash}" in page.text and "self-signed test certificate" in page.text
    download = post(admin, "/admin/wallet/verifier/csr", organisation="Demo GmbH")
    assert download.status_code == 200 and download.mimetype == "application/pkcs10"
    assert download.headers["Content-Disposition"] == 'attachment; filename="localhost-wallet-verifier.csr"'
    request = x509.load_pem_x509_csr(download.data)
    assert request.is_signature_valid and request.subject.rfc4514_string() == "O=Demo GmbH,CN=localhost"
    assert spki(request.public_key()) == spki(found.key.public_key())
    missing = post(admin, "/admin/wallet/verifier/csr", organisation=" ")
    assert missing.status_code == 400 and "organisation" in field_error(missing.text, "csr-organisation")


def test_the_access_certificate_is_installed_and_shown(admin, demo, ca):
    wallet_page(admin)  # the verifier key is made at the page's first visit
    key = verifier(demo.store, host="localhost").key
    issued = certificate(subject_name("localhost"), key, issuer=ca.name, issuer_key=ca.key, ca=False)
    installed = post(admin, "/admin/wallet/verifier/certificate", chain_file=(ca.root_pem + pem(issued), "chain.pem"))
    assert installed.status_code == 303 and installed.headers["Location"].endswith("m=certificate_installed")
    found = verifier(demo.store, host="localhost")
    assert found.chain == (der(issued),) and found.self_signed is False
    page = admin.get(installed.headers["Location"])
    assert f"x509_hash:{found.x509_hash}" in page.text and "self-signed test certificate" not in page.text
    assert ca.root.subject.rfc4514_string() in page.text  # issued by
    [event] = events(demo)
    assert event["event"] == "wallet.certificate_installed" and event["x509_hash"] == found.x509_hash
    other = certificate(subject_name("localhost"), PidCA().key, issuer=ca.name, issuer_key=ca.key, ca=False)
    refused = post(admin, "/admin/wallet/verifier/certificate", chain=pem(other).decode())
    assert refused.status_code == 400
    assert field_error(refused.text, "chain").startswith("This certificate is not for this site&#39;s verifier key.")
    assert verifier(demo.store, host="localhost") == found and len(events(demo)) == 1


def test_the_ids_the_page_composes_exist_in_both_languages():
    from codeb import i18n
    from codeb.web import wallet_admin

    composed = [f"admin.wallet.notice.{notice}" for notice in wallet_admin.NOTICES] + [
        f"admin.wallet.{before}{label}{after}" for label in wallet_admin.LABELS.values()
        for before, after in (("", ""), ("", "_hint"), ("add_", ""))]
    for lang in i18n.SHIPPED:
        assert [k for k in composed if k not in i18n.catalogue(lang)] == [], lang


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
