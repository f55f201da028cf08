"""Sign-in with the EU Digital Identity Wallet (codeb.signin.wallet, codeb.web.wallet), end to end.

The browser is a Flask test client with its cookies; the wallet is `tests.support.eudi_wallet`
on a client of its own (no cookie of the browser's, as a wallet app's HTTP client has none),
holding a PID issued by a test PID provider the tenant trusts: an mdoc (pymdoccbor, pycose)
or an SD-JWT VC (the IETF reference library). Every way in is walked: connecting the wallet
from account settings, then signing in on the same device (the response-code redirect), on
another device (the QR code, the page's poll) and through the Digital Credentials API; and
every way it must not work is tried.
"""

import base64
import json
import logging
import re
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from codeb import audit
from codeb.oidc.clients import Clients
from codeb.signin import wallet as wallet_method
from codeb.store import layout
from codeb.tenants.wallet import TrustList
from codeb.upstreams.checks import UpstreamError
from tests.support import pid_mdoc
from tests.support.eudi_wallet import Wallet, check_request_object, dc_api_transcript, encrypt, session_transcript
from tests.support.oidc import authorize_params, exchange, get_authorize
from tests.support.pid_ca import PidCA
from tests.support.pid_sdjwt import PERSON, Holder, PidIssuer, duplicate, inject, tamper
from tests.support.status_list import StatusListIssuer
from tests.support.web import RP, csrf_of, pkce_pair, query_of, sign_in, use_link

BASE = "http://localhost"
VALUES = ("Mustermann", "Erika", "1964-08-12", "T22000129")  # what the PID discloses: never on disk


class FlaskHTTP:
    """The wallet's HTTP client over a Flask test client: absolute URLs, `requests`' keywords."""

    def __init__(self, client):
        self.client = client

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def get(self, url, headers=None, allow_redirects=False):
        return _Answer(self.client.get(self._path(url), headers=headers or {}))

    def post(self, url, data=None, headers=None, allow_redirects=False):
        return _Answer(self.client.post(self._path(url), data=data or {}, headers=headers or {}))


class _Answer:
    def __init__(self, response):
        self.status_code, self.headers, self.text = response.status_code, response.headers, response.text

    def json(self):
        return json.loads(self.text)


@pytest.fixture
def pid_ca(demo):
    ca = PidCA()
    TrustList(demo.store).add(ca.root_pem, name="Test PID Provider")
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["magic_link", "wallet"]
    return ca


def mdoc_wallet(app, ca, **issue):
    document = pid_mdoc.issue(ca, **issue)

    def present(query, *, audience, nonce, transcript):
        items = [claim["path"][1] for claim in query["claims"]]
        return pid_mdoc.vp_token(pid_mdoc.present(document, transcript, items=items))

    return Wallet("mso_mdoc", present, http=FlaskHTTP(app.test_client()))


def begin(client):
    """Press "Sign in with the EU Wallet": the present page, its link and QR code's request URLs."""
    page = client.get("/signin")
    moved = client.post("/signin/wallet/begin", data={"csrf": csrf_of(page.text), "wallet": "1"})
    assert moved.status_code == 303, moved.text
    return present(client, moved.headers["Location"])


def present(client, location):
    page = client.get(location)
    assert page.status_code == 200, page.text
    link = unescape(re.search(r'id="wallet-link" href="([^"]+)"', page.text).group(1))
    qr = re.search(r'data-request="([^"]+)"', page.text)
    tid = re.search(r'name="t" value="([^"]+)"', page.text).group(1)
    return {"page": page, "link": link, "qr": unescape(qr.group(1)) if qr else None, "t": tid,
            "dc_request": unescape(re.search(r'data-dc-request="([^"]+)"', page.text).group(1))}


def follow(client, answer):
    """The wallet sends the browser to the `redirect_uri` it was given (same device)."""
    assert answer.status_code == 200, answer.text
    target = answer.json()["redirect_uri"]
    assert target.startswith(BASE + "/signin/wallet/callback?")
    return client.get(target[len(BASE):])


def connect(client, app, mailbox, ca, email="ada@example.com"):
    """A person signs in by magic link and connects their wallet under Account → Sign-in."""
    sign_in(client, mailbox, email)
    page = client.get("/account/sign-in")
    assert "Connect your EU Digital Identity Wallet" in page.text
    moved = client.post("/account/wallet/connect", data={"csrf": csrf_of(page.text)})
    assert moved.status_code == 303, moved.text
    shown = present(client, moved.headers["Location"])
    wallet = mdoc_wallet(app, ca)
    back = follow(client, wallet.answer(wallet.open(shown["link"])))
    assert back.status_code == 303 and back.headers["Location"].endswith("/account/sign-in?m=wallet_linked")
    return wallet


def returning(client, app, mailbox, ca):
    """A person whose wallet is connected, signed out, presses the wallet button again: the
    present page, and their wallet."""
    connect(client, app, mailbox, ca)
    sign_out(client)
    return begin(client), mdoc_wallet(app, ca)


def sign_out(client):
    page = client.get("/account")
    client.post("/signout", data={"csrf": csrf_of(page.text)})


def test_a_person_connects_the_wallet_and_then_signs_in_with_it_on_the_same_device(client, app, mailbox, pid_ca,
                                                                                  accounts, demo):
    connect(client, app, mailbox, pid_ca)
    account = accounts.find_by_email("ada@example.com")
    assert account.identity_verified["level"] == "eudi_pid"
    assert "Identity verified with the EU Wallet" in client.get("/account/sign-in").text
    sign_out(client)

    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    request = wallet.open(shown["link"])
    assert request.claims["response_mode"] == "direct_post.jwt"
    assert request.claims["client_metadata"]["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert [c["format"] for c in request.dcql["credentials"]] == ["dc+sd-jwt", "mso_mdoc"]
    done = follow(client, wallet.answer(request))
    assert done.status_code == 303 and done.headers["Location"] == "/office.html"
    assert client.get("/account").status_code == 200
    events = [e["event"] for e in audit.read_all(demo.store)]
    assert "wallet.verified" in events and "wallet.linked" in events


def test_another_device_scans_the_qr_code_and_the_page_completes_by_polling(client, app, mailbox, pid_ca):
    connect(client, app, mailbox, pid_ca)
    sign_out(client)
    shown = begin(client)
    assert shown["qr"] and "via%3Dqr" in shown["qr"]
    status = client.get(f"/signin/wallet/status?t={shown['t']}")
    assert status.json == {"state": "waiting"}
    wallet = mdoc_wallet(app, pid_ca)
    request = wallet.open(shown["qr"])
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json == {"state": "opened"}
    answer = wallet.answer(request)
    assert answer.status_code == 200 and answer.json() == {}  # no redirect: the phone's browser is not this one
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json == {"state": "arrived"}
    done = client.post("/signin/wallet/complete", data={"csrf": csrf_of(shown["page"].text), "t": shown["t"]})
    assert done.status_code == 303 and done.headers["Location"] == "/office.html"


def test_nothing_of_the_presentation_is_on_disk_or_in_the_log_after_a_sign_in(client, app, mailbox, pid_ca, data_root,
                                                                             caplog):
    caplog.set_level(logging.DEBUG)  # everything the app and its libraries log
    shown, wallet = returning(client, app, mailbox, pid_ca)
    follow(client, wallet.answer(wallet.open(shown["link"])))
    for path in Path(data_root).rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for value in VALUES:
                assert value.encode() not in content, (value, path)
    assert not list((Path(data_root) / "demo" / "transient" / layout.WALLET_REQUESTS).rglob("*.json"))
    bad = wallet.answer(wallet.open(begin(client)["link"]), transcript=b"\xa0")  # a refusal is logged too
    assert bad.status_code == 400
    assert caplog.records and not any(value in caplog.text for value in VALUES)


def test_a_same_device_answer_completes_only_in_the_browser_that_began(client, app, mailbox, pid_ca):
    shown, wallet = returning(client, app, mailbox, pid_ca)
    answer = wallet.answer(wallet.open(shown["link"]))
    other = app.test_client()
    elsewhere = follow(other, answer)
    assert elsewhere.status_code == 400 and "started in another browser" in elsewhere.text
    # The tab that began cannot complete without the code either (a relayed link: session fixation).
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json == {"state": "redirected"}
    refused = client.post("/signin/wallet/complete", data={"csrf": csrf_of(shown["page"].text), "t": shown["t"]})
    assert refused.status_code == 400 and "not valid for this request" in refused.text
    assert follow(client, answer).headers["Location"] == "/office.html"


def test_a_response_code_is_spent_once(client, app, mailbox, pid_ca):
    shown, wallet = returning(client, app, mailbox, pid_ca)
    answer = wallet.answer(wallet.open(shown["link"]))
    assert follow(client, answer).status_code == 303
    sign_out(client)
    again = follow(client, answer)
    assert again.status_code == 400 and "expired or was already used" in again.text


def test_an_answer_is_accepted_once(client, app, mailbox, pid_ca):
    shown, wallet = returning(client, app, mailbox, pid_ca)
    request = wallet.open(shown["link"])
    first = wallet.answer(request)
    assert first.status_code == 200
    replayed = wallet.answer(request)  # the same request answered again (or the first answer replayed)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_request"
    # the first answer still signs the browser in
    assert follow(client, first).headers["Location"] == "/office.html"


@pytest.mark.parametrize(("bend", "reason", "shown"), [
    ({"nonce": "another-nonce"}, "bad_device_signature", "could not be accepted"),
    ({"audience": "x509_hash:another-verifier"}, "bad_device_signature", "could not be accepted"),
])
def test_a_presentation_for_another_transcript_is_refused(client, app, mailbox, pid_ca, demo, bend, reason, shown):
    page, wallet = returning(client, app, mailbox, pid_ca)
    request = wallet.open(page["link"])
    transcript = session_transcript(client_id=bend.get("audience", request.client_id),
                                    nonce=bend.get("nonce", request.claims["nonce"]), jwk=request.encryption_key,
                                    response_uri=request.claims["response_uri"])
    answer = wallet.answer(request, transcript=transcript)
    assert answer.status_code == 400 and reason in answer.json()["error_description"]
    refusal = [e for e in audit.read_all(demo.store) if e["event"] == "wallet.refused"][-1]
    assert refusal["reason"] == reason
    status = client.get(f"/signin/wallet/status?t={page['t']}").json
    assert status["state"] == "failed" and status["reason"] == reason


def test_a_pid_of_a_provider_the_tenant_does_not_trust_is_refused(client, app, pid_ca, demo):
    shown = begin(client)
    wallet = mdoc_wallet(app, PidCA("Unknown PID CA"))
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and "untrusted_issuer" in answer.json()["error_description"]
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json["message"] == "error.wallet.untrusted"


def test_a_self_signed_document_signer_is_refused(client, app, pid_ca):
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca, signer=PidCA.self_signed_signer())
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and "self_signed_leaf" in answer.json()["error_description"]


def test_a_tampered_item_is_refused(client, app, pid_ca):
    shown = begin(client)
    document = pid_mdoc.issue(pid_ca)

    def present(query, *, audience, nonce, transcript):
        return pid_mdoc.vp_token(pid_mdoc.present(document, transcript, tamper={"family_name": "Musterfrau"}))

    wallet = Wallet("mso_mdoc", present, http=FlaskHTTP(app.test_client()))
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and "tampered_item" in answer.json()["error_description"]


def test_a_wallet_identity_no_account_is_connected_to_is_told_how_to_connect_it(client, app, pid_ca, demo):
    with demo.store.update(layout.TENANT) as doc:
        doc["signup"] = {"policy": "invite"}
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    done = follow(client, wallet.answer(wallet.open(shown["link"])))
    assert done.status_code == 400 and "connect your wallet under Account" in unescape(done.text)


def test_the_person_declining_in_the_wallet_is_shown_as_such(client, app, pid_ca):
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    answer = wallet.decline(wallet.open(shown["link"]))
    assert answer.status_code == 200 and answer.json() == {}
    status = client.get(f"/signin/wallet/status?t={shown['t']}").json
    assert status == {"state": "failed", "message": "error.wallet.declined", "reason": "declined"}


def test_an_unencrypted_answer_is_refused_when_encryption_was_asked_for(client, app, pid_ca):
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    answer = wallet.answer(wallet.open(shown["link"]), encrypted=False)
    assert answer.status_code == 400 and "malformed" in answer.json()["error_description"]


def test_the_request_object_repeats_the_wallet_nonce_and_names_the_x509_hash(client, app, pid_ca, demo):
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    request = wallet.open(shown["link"], method="post")  # checks wallet_nonce, x509_hash, signature itself
    assert request.client_id.startswith("x509_hash:")
    assert len(request.claims["nonce"]) >= 22 and request.claims["state"]
    by_get = wallet.open(shown["link"], method="get")
    assert "wallet_nonce" not in by_get.claims
    assert app.test_client().get("/signin/wallet/request/" + "x" * 43).status_code == 404


def test_the_digital_credentials_api_answer_is_bound_to_the_origin(client, app, mailbox, pid_ca):
    connect(client, app, mailbox, pid_ca)
    sign_out(client)
    shown = begin(client)
    request = check_request_object(shown["dc_request"], client_id=None)
    assert request.claims["response_mode"] == "dc_api.jwt"
    assert request.claims["expected_origins"] == [BASE]
    document = pid_mdoc.issue(pid_ca)

    def answer_for(origin):
        transcript = dc_api_transcript(origin=origin, nonce=request.claims["nonce"], jwk=request.encryption_key)
        token = pid_mdoc.vp_token(pid_mdoc.present(document, transcript))
        return json.dumps({"response": encrypt({"vp_token": {"pid_mdoc": [token]}}, request.encryption_key)})

    refused = client.post("/signin/wallet/complete", data={"csrf": csrf_of(shown["page"].text), "t": shown["t"],
                                                          "dc_response": answer_for("https://evil.example")})
    assert refused.status_code == 400, refused.text
    shown = begin(client)
    request = check_request_object(shown["dc_request"], client_id=None)
    done = client.post("/signin/wallet/complete", data={"csrf": csrf_of(shown["page"].text), "t": shown["t"],
                                                       "dc_response": answer_for(BASE)})
    assert done.status_code == 303 and done.headers["Location"] == "/office.html", done.text
    replay = client.post("/signin/wallet/complete", data={"csrf": csrf_of(shown["page"].text), "t": shown["t"],
                                                         "dc_response": answer_for(BASE)})
    assert replay.status_code == 400


def test_an_expired_or_unknown_transaction_shows_the_sign_in_page(client, app, pid_ca, clock):
    shown = begin(client)
    clock.advance(301)
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json == {"state": "expired"}
    assert client.get(f"/signin/wallet/present?t={shown['t']}").status_code == 303
    wallet = mdoc_wallet(app, pid_ca)
    request_uri = parse_qs(urlsplit(shown["link"]).query)["request_uri"][0]
    assert wallet.http.get(request_uri).status_code == 404


def test_the_callback_refuses_garbage_with_a_page_not_a_500(client, pid_ca):
    for query in ("", "?t=abc", "?t=" + "a" * 43 + "&response_code=x", "?response_code=" + "b" * 43):
        answer = client.get("/signin/wallet/callback" + query)
        assert answer.status_code == 400, query


# -- the same wallet identity as an SD-JWT VC ---------------------------------------------

SAME_PERSON = {**PERSON, "birthdate": pid_mdoc.CLAIMS["birth_date"]}  # the mdoc PID's person


def sd_jwt_wallet(app, ca, *, person=SAME_PERSON, bind=None, **issue):
    holder = Holder()
    issuance = PidIssuer(ca).issue(holder, person=person, **issue)

    def present(query, *, audience, nonce, transcript):
        disclose = {claim["path"][0]: True for claim in query["claims"]}
        if bind is not None:
            return bind(holder, Holder.select(issuance, disclose), audience, nonce)
        return holder.present(issuance, disclose, aud=audience, nonce=nonce)

    return Wallet("dc+sd-jwt", present, http=FlaskHTTP(app.test_client()))


def test_the_sd_jwt_pid_of_the_same_person_signs_in_the_account_the_mdoc_connected(client, app, mailbox, pid_ca):
    connect(client, app, mailbox, pid_ca)
    sign_out(client)
    shown = begin(client)
    wallet = sd_jwt_wallet(app, pid_ca)
    done = follow(client, wallet.answer(wallet.open(shown["link"])))
    assert done.status_code == 303 and done.headers["Location"] == "/office.html"


@pytest.mark.parametrize(("bind", "reason"), [
    (lambda holder, parts, aud, nonce: holder.bind(parts, aud=aud, nonce="not-the-nonce"), "wrong_nonce"),
    (lambda holder, parts, aud, nonce: holder.bind(parts, aud="x509_hash:other", nonce=nonce), "wrong_audience"),
    (lambda holder, parts, aud, nonce: holder.bind(parts, aud=aud, nonce=nonce, iat=int(time.time()) - 3600),
     "stale_key_binding"),
    (lambda holder, parts, aud, nonce: parts.serialize(), "no_key_binding"),
    (lambda holder, parts, aud, nonce: holder.bind(inject(parts), aud=aud, nonce=nonce), "unreferenced_disclosure"),
    (lambda holder, parts, aud, nonce: holder.bind(duplicate(parts), aud=aud, nonce=nonce), "duplicate_disclosure"),
    (lambda holder, parts, aud, nonce: holder.bind(tamper(parts, "family_name", "Musterfrau"), aud=aud, nonce=nonce),
     "unreferenced_disclosure"),
])
def test_a_bent_sd_jwt_presentation_is_refused_with_its_reason(client, app, pid_ca, demo, bind, reason):
    shown = begin(client)
    wallet = sd_jwt_wallet(app, pid_ca, bind=bind)
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and answer.json()["error_description"] == f"presentation refused: {reason}"
    assert [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "wallet.refused"] == [reason]


def test_an_expired_sd_jwt_credential_is_refused(client, app, pid_ca):
    shown = begin(client)
    wallet = sd_jwt_wallet(app, pid_ca, iat=int(time.time()) - 40 * 86_400)
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and answer.json()["error_description"].endswith(": expired")
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json["message"] == "error.wallet.credential_expired"


@pytest.fixture
def status_lists(demo, monkeypatch):
    """The PID provider's status list service, its signer trusted; fetched through `get_bytes`."""
    issuer = StatusListIssuer()
    TrustList(demo.store, layout.WALLET_STATUS_SIGNERS).add(issuer.ca.root_pem)
    served = {"token": issuer.token([0, 1, 0, 2], bits=2), "fetches": 0}

    def fetch(url, what, *, accept, limit):
        assert url == issuer.uri and accept == "application/statuslist+jwt"
        served["fetches"] += 1
        if served["token"] is None:
            raise UpstreamError("error.upstream.unreachable", "down")
        return served["token"].encode()

    monkeypatch.setattr(wallet_method, "get_bytes", fetch)
    return {"issuer": issuer, "served": served}


@pytest.mark.parametrize(("idx", "reason"), [(1, "revoked"), (3, "suspended")])
def test_a_revoked_or_suspended_credential_is_refused(client, app, pid_ca, status_lists, idx, reason):
    shown = begin(client)
    wallet = sd_jwt_wallet(app, pid_ca, status={"idx": idx, "uri": status_lists["issuer"].uri})
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and answer.json()["error_description"].endswith(f": {reason}")
    assert client.get(f"/signin/wallet/status?t={shown['t']}").json["message"] == "error.wallet.revoked"


def test_a_valid_status_is_fetched_once_and_kept_for_its_ttl(client, app, mailbox, pid_ca, status_lists):
    connect(client, app, mailbox, pid_ca)
    for _ in range(2):
        sign_out(client)
        shown = begin(client)
        wallet = sd_jwt_wallet(app, pid_ca, status={"idx": 0, "uri": status_lists["issuer"].uri})
        assert follow(client, wallet.answer(wallet.open(shown["link"]))).headers["Location"] == "/office.html"
    assert status_lists["served"]["fetches"] == 1


def test_a_status_list_that_cannot_be_fetched_fails_closed(client, app, pid_ca, status_lists):
    status_lists["served"]["token"] = None
    shown = begin(client)
    wallet = sd_jwt_wallet(app, pid_ca, status={"idx": 0, "uri": status_lists["issuer"].uri})
    answer = wallet.answer(wallet.open(shown["link"]))
    assert answer.status_code == 400 and answer.json()["error_description"].endswith(": status_unavailable")


# -- signing up with the wallet ----------------------------------------------------------------

def wallet_sign_up_page(client, app, ca):
    shown = begin(client)
    wallet = mdoc_wallet(app, ca)
    moved = follow(client, wallet.answer(wallet.open(shown["link"])))
    assert moved.status_code == 303 and moved.headers["Location"].startswith("/signin/wallet/signup?s=")
    page = client.get(moved.headers["Location"])
    assert page.status_code == 200
    return moved.headers["Location"], page


def test_a_verified_pid_without_an_account_signs_up_with_its_name_prefilled(client, app, mailbox, pid_ca, accounts,
                                                                          data_root):
    location, page = wallet_sign_up_page(client, app, pid_ca)
    assert 'value="Erika Mustermann"' in page.text
    token = parse_qs(urlsplit(location).query)["s"][0]
    sent = client.post("/signin/wallet/signup", data={"csrf": csrf_of(page.text), "s": token,
                                                      "display_name": "Erika Mustermann", "email": "erika@example.com"})
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"
    done = use_link(client, urlsplit(mailbox.last_link(to="erika@example.com")).path)
    assert done.status_code == 303, done.text
    account = accounts.find_by_email("erika@example.com")
    assert account.given_display_name == "Erika Mustermann" and not account.profile_confirmed
    assert account.identity_verified["level"] == "eudi_pid"
    # The birth date the PID disclosed went nowhere.
    for path in Path(data_root).rglob("*.json*"):
        assert b"1964-08-12" not in path.read_bytes(), path
    # From now on the wallet signs this account in.
    sign_out(client)
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    assert follow(client, wallet.answer(wallet.open(shown["link"]))).headers["Location"] in ("/welcome",
                                                                                             "/office.html")


def test_the_sign_up_link_opened_in_another_browser_links_no_wallet(client, app, mailbox, pid_ca, accounts):
    location, page = wallet_sign_up_page(client, app, pid_ca)
    token = parse_qs(urlsplit(location).query)["s"][0]
    client.post("/signin/wallet/signup", data={"csrf": csrf_of(page.text), "s": token, "display_name": "Erika",
                                               "email": "victim@example.com"})
    other = app.test_client()
    link = mailbox.last_link(to="victim@example.com")
    done = use_link(other, urlsplit(link).path)
    assert done.status_code == 303
    account = accounts.find_by_email("victim@example.com")
    assert account is not None and account.links == [] and account.identity_verified is None


def test_sign_up_with_an_existing_address_mails_a_sign_in_link_and_links_nothing(client, app, mailbox, pid_ca,
                                                                                 accounts):
    accounts.create(email="ada@example.com")
    location, page = wallet_sign_up_page(client, app, pid_ca)
    token = parse_qs(urlsplit(location).query)["s"][0]
    client.post("/signin/wallet/signup", data={"csrf": csrf_of(page.text), "s": token, "display_name": "Erika",
                                               "email": "ada@example.com"})
    link = mailbox.last_link(to="ada@example.com")
    use_link(client, urlsplit(link).path)
    assert accounts.find_by_email("ada@example.com").links == []


def test_the_sign_up_page_shows_a_bad_email_beside_its_field(client, app, pid_ca):
    location, page = wallet_sign_up_page(client, app, pid_ca)
    token = parse_qs(urlsplit(location).query)["s"][0]
    bad = client.post("/signin/wallet/signup", data={"csrf": csrf_of(page.text), "s": token, "display_name": "E",
                                                     "email": "not an address"})
    assert bad.status_code == 400 and 'id="email-error"' in bad.text
    assert app.test_client().get(location).status_code == 303  # another browser: back to the sign-in page


def test_an_invite_only_tenant_offers_no_wallet_sign_up(client, app, pid_ca, demo):
    with demo.store.update(layout.TENANT) as doc:
        doc["signup"] = {"policy": "invite"}
    shown = begin(client)
    wallet = mdoc_wallet(app, pid_ca)
    done = follow(client, wallet.answer(wallet.open(shown["link"])))
    assert done.status_code == 400 and "No account here is connected" in done.text


# -- what an app learns of it ----------------------------------------------------------------

def test_an_app_allowed_verified_identity_learns_that_the_person_proved_it_and_no_more(client, app, mailbox, pid_ca,
                                                                                      demo):

    connect(client, app, mailbox, pid_ca)
    clients = Clients(demo.store)
    allowed, secret = clients.add(name="Bank", redirect_uris=["http://127.0.0.1:9999/cb"],
                                  scopes=["openid", "profile", "verified_identity"])
    other, other_secret = clients.add(name="Chat", redirect_uris=["http://127.0.0.1:9999/cb"])
    for registered, key, expected in ((allowed, secret, True), (other, other_secret, False)):
        rp = RP(registered.client_id, key, "http://127.0.0.1:9999/cb")
        verifier, challenge = pkce_pair()
        answer = get_authorize(client, authorize_params(rp, challenge, scope="openid verified_identity"))
        assert answer.status_code == 302, answer.text
        tokens = exchange(client, rp, query_of(answer.headers["Location"])["code"], verifier).json
        info = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json
        claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
        if not expected:
            assert "verified_claims" not in info and "verified_claims" not in claims
            continue
        for found in (info, claims):
            verification = found["verified_claims"]["verification"]
            assert verification["trust_framework"] == "eidas"
            assert verification["evidence"][0]["record"]["type"] == "eu.europa.ec.eudi.pid.1"
            assert found["verified_claims"]["claims"] == {}
            assert not any(value in json.dumps(found) for value in VALUES)
    assert "verified_identity" in client.get("/.well-known/openid-configuration").json["scopes_supported"]
