"""Sign-in with the EU Digital Identity Wallet in a real browser (Debian's Chromium).

The wallet is tests/support/eudi_wallet.py over real HTTP to CodeB served by waitress,
holding an mdoc PID from a test PID provider the tenant trusts; the person's account is
connected to that wallet identity. Three ways, each ending in the office shell whose
terminal says `auth = EU Wallet`, with no console error and no CSP violation:
- another device: the page shows the QR code; the wallet (on "the phone") answers; the
  page, polling, sees it and completes the sign-in in this browser by itself;
- the same device: the link's href is the request URL; the wallet answers and sends the
  browser to the response-code redirect, which this browser follows;
- the Digital Credentials API: Chromium's `navigator.credentials.get` is intercepted (an
  init script, the wallet behind it through an exposed function), so the page's own
  script hands over the signed request and posts the encrypted answer.
"""

import json

import pytest
import requests
from playwright.sync_api import expect

from codeb.accounts import Accounts
from codeb.accounts.links import Links
from codeb.signin.wallet import LINK_ISSUER, WALLET, link_subject
from codeb.store import layout
from codeb.tenants.wallet import TrustList
from codeb.wallet.request import DEFAULT_CLAIMS
from tests.support import pid_mdoc
from tests.support.browser import office_terminal
from tests.support.eudi_wallet import Wallet, check_request_object, dc_api_transcript, encrypt
from tests.support.pid_ca import PidCA

# Chromium has no wallet: the page's script meets this DigitalCredential and credentials.get.
DC_API = """
window.DigitalCredential = class DigitalCredential {};
const realGet = navigator.credentials.get.bind(navigator.credentials);
navigator.credentials.get = async (options) => {
  if (!options || !options.digital) return realGet(options);
  const request = options.digital.requests[0];
  const data = await window.walletAnswers(request.protocol, request.data.request, location.origin);
  return { protocol: request.protocol, data: JSON.parse(data) };
};
"""


@pytest.fixture
def wallet_world(served, demo):
    ca = PidCA()
    TrustList(demo.store).add(ca.root_pem, name="Test PID Provider")
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["magic_link", "wallet"]
    accounts = Accounts(demo.store, "localhost")
    account = accounts.create(email="erika@example.com", display_name="Erika Mustermann")
    with accounts.update(account.login) as doc:
        doc["profile_confirmed"] = True
    claims = {name: pid_mdoc.CLAIMS[name] for name in (*DEFAULT_CLAIMS, "personal_administrative_number")}
    subject = link_subject(demo.store, anchor=ca.root.subject.rfc4514_string(), claims=claims)
    Links(accounts).link(account.login, WALLET, LINK_ISSUER, subject)
    document = pid_mdoc.issue(ca)

    def present(query, *, audience, nonce, transcript):
        items = [claim["path"][1] for claim in query["claims"]]
        return pid_mdoc.vp_token(pid_mdoc.present(document, transcript, items=items))

    return {"wallet": Wallet("mso_mdoc", present, http=requests.Session()), "document": document}


def start(page, served):
    page.goto(served + "/signin")
    page.get_by_role("button", name="Sign in with the EU Wallet").click()
    page.wait_for_url(served + "/signin/wallet/present?**")


def signed_in_by_wallet(page, served):
    page.wait_for_url(served + "/office.html")
    expect(office_terminal(page, served)).to_contain_text("codeb> auth = EU Wallet")


def test_a_wallet_on_another_device_scans_the_qr_code(served, wallet_world, page, console):
    start(page, served)
    expect(page.locator("#wallet-qr svg")).to_be_visible()
    request_url = page.locator("#wallet-qr").get_attribute("data-request")
    wallet = wallet_world["wallet"]
    request = wallet.open(request_url)
    expect(page.locator('[data-state="opened"]')).to_be_visible()
    assert wallet.answer(request).json() == {}
    signed_in_by_wallet(page, served)
    console.assert_clean()


def test_a_wallet_on_this_device_follows_the_link_and_sends_the_browser_back(served, wallet_world, page, console):
    start(page, served)
    link = page.locator("#wallet-link")
    href = link.get_attribute("href")
    assert href.startswith("openid4vp://?client_id=x509_hash%3A")
    wallet = wallet_world["wallet"]
    redirect = wallet.answer(wallet.open(href)).json()["redirect_uri"]
    page.goto(redirect)  # the wallet app hands the browser its redirect
    signed_in_by_wallet(page, served)
    console.assert_clean()


def test_the_digital_credentials_api_hands_the_request_to_the_wallet(served, wallet_world, page, context, console):
    asked = []

    def answers(protocol, signed_request, origin):
        assert protocol == "openid4vp-v1-signed"
        request = check_request_object(signed_request, client_id=None)
        assert request.claims["expected_origins"] == [origin]
        asked.append(origin)
        transcript = dc_api_transcript(origin=origin, nonce=request.claims["nonce"], jwk=request.encryption_key)
        items = [claim["path"][1] for claim in request.query("mso_mdoc")["claims"]]
        token = pid_mdoc.vp_token(pid_mdoc.present(wallet_world["document"], transcript, items=items))
        return json.dumps({"response": encrypt({"vp_token": {"pid_mdoc": [token]}}, request.encryption_key)})

    page.expose_function("walletAnswers", answers)
    page.add_init_script(DC_API)
    start(page, served)
    page.get_by_role("button", name="Use a wallet on this device").click()
    signed_in_by_wallet(page, served)
    assert asked == [served]
    console.assert_clean()
