"""Corporate SSO over SAML 2.0, end to end over HTTP: pysaml2's own IdP (tests/support/saml_idp.py)
is the company's, the demo tenant (on localhost, served by waitress) its service provider.

The person's browser is a `requests.Session`. The IdP's page posts the Response to the ACS
from the IdP's site, which carries none of the browser's SameSite=Lax cookies: the tests
post it with no cookies at all, as a browser does, and then follow the redirect with them.
"""

import json
import re
import subprocess
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from codeb import audit
from codeb.accounts import Accounts
from codeb.accounts.links import Links
from codeb.cli import main as cli
from codeb.store import layout
from codeb.upstreams import Upstreams, sp_entity_id
from codeb.upstreams import saml as protocol
from tests.support.oidc import authorize_params
from tests.support.saml_idp import ForgingIdP, MetadataServer, Pysaml2IdP, authn_request_of, encode, request_of
from tests.support.user_agent import Browser
from tests.support.web import csrf_of, pkce_pair


@pytest.fixture
def idp(served, demo, tmp_path):
    """pysaml2's IdP, federated with the demo tenant ("Corp SAML", claiming corp.example); it
    knows the tenant by the SP metadata the tenant serves."""
    forging = ForgingIdP(tmp_path)  # a first IdP only to create the upstream (its id is in our entity id)
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=forging.metadata(), domains=["corp.example"])
    sp_metadata = requests.get(f"{served}/signin/saml/metadata/{upstream['id']}", timeout=10)
    assert sp_metadata.status_code == 200
    real = Pysaml2IdP(tmp_path, sp_metadata.text)
    with demo.store.update(layout.UPSTREAMS, upstream["id"]) as doc:  # the admin imports the real IdP's metadata
        found = protocol.read_metadata(real.metadata())
        doc.update(idp_metadata=real.metadata(), idp_entity_id=found["entity_id"], sso_url=found["sso_url"],
                   slo_url=found["slo_url"], certs=found["certs"])
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["passkey", "oidc", "saml", "magic_link"]
    return {"idp": real, "upstream": Upstreams(demo.store).get(upstream["id"])}


def start(browser: Browser, served: str, **form) -> str:
    """Press "Sign in with Corp SAML" (or "Continue" with an email): the IdP URL the page moves on to."""
    page = browser.get(f"{served}/signin")
    assert page.status_code == 200
    path = "/signin/continue" if "email" in form else "/signin/saml/begin"
    moved = browser.post(f"{served}{path}", data={"csrf": csrf_of(page.text), **form})
    assert moved.status_code == 200, moved.text[:500]
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', moved.text)
    assert refresh, moved.text[:500]
    return unescape(refresh.group(1))


def post_to_acs(answer: dict) -> requests.Response:
    """The IdP's page posting its form: from another site, so without the browser's cookies."""
    posted = requests.post(answer["acs"], data={"SAMLResponse": answer["SAMLResponse"],
                                                "RelayState": answer["RelayState"]},
                           allow_redirects=False, timeout=10)
    assert posted.status_code == 303, posted.text[:500]
    assert "Set-Cookie" not in posted.headers  # a cookie set here would replace the browser's session
    return posted


def through_idp(browser: Browser, served: str, idp: dict, email: str, **form) -> str:
    """Out to the IdP and back to the ACS: the callback URL the browser is sent on to."""
    redirect = start(browser, served, **(form or {"upstream": idp["upstream"]["id"]}))
    assert redirect.startswith(idp["idp"].sso_url + "?"), redirect
    answer = idp["idp"].answer(redirect, email=email)  # verifies our signed AuthnRequest first
    return urljoin(served, post_to_acs(answer).headers["Location"])


def test_a_person_signs_in_with_the_company_saml_account(served, idp, demo, mailbox):
    browser = Browser(mailbox)
    assert "Sign in with Corp SAML" in browser.get(f"{served}/signin").text
    callback = through_idp(browser, served, idp, "ada@corp.example")
    assert urlsplit(callback).path == "/signin/saml/callback"
    landed = browser.get(callback)
    assert landed.status_code == 303, landed.text[:500]
    assert urlsplit(landed.headers["Location"]).path == "/welcome"
    welcome = browser.get(urljoin(served, landed.headers["Location"]))
    assert 'value="Alice Example"' in welcome.text  # the IdP's displayName prefills the profile

    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    assert account is not None and not account.email_verified  # SAML says nothing of it; not authoritative
    assert Links(accounts).find(idp["idp"].entity_id, "ada@corp.example").login == account.login
    [signed_in] = [e for e in audit.read_all(demo.store) if e["event"] == "signin"]
    assert signed_in["method"] == "saml" and signed_in["created"] is True

    again = Browser(mailbox)
    landed = again.get(through_idp(again, served, idp, "ada@corp.example"))
    assert landed.status_code == 303 and len(accounts.list()) == 1


def test_the_answer_belongs_to_the_browser_that_asked(served, idp, demo, mailbox):
    browser = Browser(mailbox)
    callback = through_idp(browser, served, idp, "ada@corp.example")
    thief = Browser(mailbox)
    thief.get(f"{served}/signin")
    stolen = thief.get(callback)
    assert stolen.status_code == 400 and "expired or was already used" in stolen.text
    spent = browser.get(callback)  # taken by the thief's try: the rightful browser starts again
    assert spent.status_code == 400
    reasons = [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert reasons == ["arrival of another browser", "unknown or spent arrival"]
    assert Accounts(demo.store, "localhost").list() == []


def test_a_replayed_response_is_refused_even_with_its_request_restored(served, idp, demo, mailbox):
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=idp["upstream"]["id"])
    answer = idp["idp"].answer(redirect, email="ada@corp.example")
    requests_kind = demo.store.transient(layout.UPSTREAM_REQUESTS)
    [rid] = demo.store.list(layout.TRANSIENT, layout.UPSTREAM_REQUESTS)
    record = requests_kind.get(rid)
    assert browser.get(urljoin(served, post_to_acs(answer).headers["Location"])).status_code == 303

    again = post_to_acs(answer)  # the same post: its RelayState was spent
    assert parse_qs(urlsplit(again.headers["Location"]).query)["failed"] == ["error.upstream.expired"]
    requests_kind.put(rid, record, ttl=600)  # as a restored copy of the tenant's folder would bring it back
    replayed = post_to_acs(answer)
    shown = browser.get(urljoin(served, replayed.headers["Location"]))
    assert shown.status_code == 400 and "expired or was already used" in shown.text
    reasons = [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert reasons == ["unknown or spent RelayState", "the assertion was used before (replay)"]


def test_a_forged_relay_state_and_a_bad_response_get_clear_pages(served, idp, demo, mailbox):
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=idp["upstream"]["id"])
    answer = idp["idp"].answer(redirect, email="ada@corp.example")
    forged = post_to_acs({**answer, "RelayState": "forged"})
    page = browser.get(urljoin(served, forged.headers["Location"]))
    assert page.status_code == 400 and "expired or was already used" in page.text
    tampered = encode(protocol._decoded(answer["SAMLResponse"]).decode().replace("ada@corp", "eve@corp"))
    bad = post_to_acs({**answer, "SAMLResponse": tampered})
    page = browser.get(urljoin(served, bad.headers["Location"]))
    assert page.status_code == 400 and "could not be verified" in page.text
    unknown = browser.get(f"{served}/signin/saml/callback?failed=error.not_a_message")
    assert unknown.status_code == 400  # only the ACS's own refusals are shown
    assert Accounts(demo.store, "localhost").list() == []


def test_an_existing_account_is_connected_only_through_an_authoritative_upstream(served, idp, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    existing = accounts.create(email="ada@corp.example")
    browser = Browser(mailbox)
    refused = browser.get(through_idp(browser, served, idp, "ada@corp.example"))
    assert refused.status_code in (400, 403) and "already exists" in refused.text
    assert Links(accounts).find(idp["idp"].entity_id, "ada@corp.example") is None

    with demo.store.update(layout.UPSTREAMS, idp["upstream"]["id"]) as doc:
        doc["authoritative"] = True
    browser = Browser(mailbox)
    landed = browser.get(through_idp(browser, served, idp, "ada@corp.example"))
    assert landed.status_code == 303, landed.text[:300]
    assert Links(accounts).find(idp["idp"].entity_id, "ada@corp.example").login == existing.login
    assert [e["by"] for e in audit.read_all(demo.store) if e["event"] == "upstream.linked"] == ["email"]


def test_home_realm_discovery_sends_a_claimed_domain_to_the_saml_idp(served, idp, mailbox):
    browser = Browser(mailbox)
    redirect = start(browser, served, email="Bob@Corp.example")
    assert redirect.startswith(idp["idp"].sso_url + "?")
    assert authn_request_of(redirect).get("AssertionConsumerServiceURL") == f"{served}/signin/saml/acs"


def test_a_transient_name_id_is_refused_with_the_reason(served, demo, mailbox, tmp_path):
    forging = ForgingIdP(tmp_path)
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=forging.metadata(), domains=["corp.example"])
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["saml", "magic_link"]
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=upstream["id"])
    request = authn_request_of(redirect)
    xml = forging.response(request_id=request.get("ID"), acs=f"{served}/signin/saml/acs",
                           audience=sp_entity_id(served, upstream["id"]),
                           name_id_xml='<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">'
                                       "_8e8dc5f69a98cc4c1ff3427e5ce34606fd672f91e6</saml:NameID>")
    posted = post_to_acs({"acs": f"{served}/signin/saml/acs", "SAMLResponse": encode(xml),
                          "RelayState": request_of(redirect)["RelayState"]})
    assert browser.get(urljoin(served, posted.headers["Location"])).status_code == 400
    [refusal] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert "transient NameID" in refusal["reason"]


def test_the_sp_metadata_is_served_signed_by_the_tenants_key(served, idp, demo, tmp_path):
    uid = idp["upstream"]["id"]
    answer = requests.get(f"{served}/signin/saml/metadata/{uid}", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/samlmetadata+xml")
    assert f'entityID="{served}/signin/saml/metadata/{uid}"' in answer.text
    assert f'Location="{served}/signin/saml/acs"' in answer.text
    signed = tmp_path / "sp.xml"
    signed.write_text(answer.text)
    cert = tmp_path / "sp.crt"
    cert.write_text(protocol.sp_keys(demo.store)["cert"])
    checked = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", str(cert), "--id-attr:ID",
                              "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor", str(signed)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert requests.get(f"{served}/signin/saml/metadata/nosuchupstr", timeout=10).status_code == 404
    assert requests.get(f"{served}/signin/oidc/metadata/{uid}", timeout=10).status_code == 404


def test_the_acs_of_a_method_that_takes_no_posts_is_not_found(served):
    assert requests.post(f"{served}/signin/oidc/acs", data={"SAMLResponse": "x"}, timeout=10).status_code == 404
    assert requests.post(f"{served}/signin/nothing/acs", data={}, timeout=10).status_code == 404


def test_the_cli_adds_a_saml_idp_from_a_file_and_prints_what_its_admin_needs(tenants, data_root, tmp_path, capsys):
    forging = ForgingIdP(tmp_path)
    metadata = tmp_path / "idp.xml"
    metadata.write_text(forging.metadata())
    base = ["--data", str(data_root), "upstream"]
    assert cli([*base, "add", "demo", "--name", "Acme ADFS", "--saml-metadata", str(tmp_path / "none.xml")]) == 2
    assert "cannot be used" in capsys.readouterr().err
    assert cli([*base, "add", "demo", "--name", "Acme ADFS", "--saml-metadata", str(metadata),
                "--domain", "acme.example", "--authoritative"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["kind"] == "saml" and added["idp_entity_id"] == forging.entity_id and "idp_metadata" not in added
    assert added["acs_url"] == "http://localhost/signin/saml/acs"
    assert added["sp_entity_id"] == f"http://localhost/signin/saml/metadata/{added['id']}"
    assert "saml" in tenants.get("demo").setting("methods")
    assert cli([*base, "refresh", "demo", added["id"]]) == 2  # read from a file: nothing to fetch again
    assert "cannot be refreshed" in capsys.readouterr().err
    assert cli([*base, "remove", "demo", added["id"]]) == 0
    assert cli([*base, "add", "demo", "--name", "Acme", "--oidc-issuer", "https://idp.example"]) == 2
    assert "client ID" in capsys.readouterr().err


def test_a_host_without_xmlsec1_says_so_instead_of_failing(served, idp, demo, mailbox, monkeypatch):
    monkeypatch.setattr(protocol, "XMLSEC", None)
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    answer = browser.post(f"{served}/signin/saml/begin", data={"csrf": csrf_of(page.text),
                                                                "upstream": idp["upstream"]["id"]})
    assert answer.status_code == 400 and "not set up correctly here" in answer.text
    assert requests.get(f"{served}/signin/saml/metadata/{idp['upstream']['id']}", timeout=10).status_code == 503
    [refusal] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert "xmlsec1 is not installed" in refusal["reason"]


# -- every attack refused at the ACS, its exact reason audited --------------------------------

@pytest.fixture
def forged(served, demo, tmp_path):
    """A forging IdP (tests/support/saml_idp.py) federated with the demo tenant: each test
    answers the real AuthnRequest of a browser with a response an attacker made."""
    forging = ForgingIdP(tmp_path)
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=forging.metadata(), domains=["corp.example"])
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["saml", "magic_link"]
    return {"idp": forging, "upstream": upstream}


def _signed(idp, **assertion):
    return idp.signed_assertion(**assertion)[0]


def _attacker_key(idp, tmp_path, **base):
    (tmp_path / "attacker").mkdir()
    return ForgingIdP(tmp_path / "attacker").response(**base)


def _forged_beside(idp, tmp_path, **base):
    forged, _ = idp.unsigned_assertion(**{**base, "name_id": "mallory@corp.example"})
    return idp.response(**base, assertion_xml=forged + _signed(idp, **base))


def _forged_around(idp, tmp_path, **base):
    signed, aid = idp.signed_assertion(**base)
    forged, _ = idp.unsigned_assertion(**{**base, "name_id": "mallory@corp.example", "assertion_id": aid})
    return idp.response(**base, assertion_xml=forged.replace("</saml:Subject>",
                                                             f"</saml:Subject><saml:Advice>{signed}</saml:Advice>", 1))


def _swapped_in_signed_response(idp, tmp_path, **base):
    xml = idp.response(**base, sign="response")
    forged, _ = idp.unsigned_assertion(**{**base, "name_id": "mallory@corp.example"})
    start, end = xml.index("<saml:Assertion"), xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    return xml[:start] + forged + xml[end:]


ATTACKS = {
    "unsigned": (lambda idp, tmp, **b: idp.response(**b, sign=None),
                 "Neither the response nor the assertions are signed"),
    "another key": (_attacker_key, "pysaml2: SignatureError: Failed to verify signature"),
    "a forged assertion beside the signed one": (_forged_beside, "2 assertions in the response"),
    "the signed assertion inside a forged one": (_forged_around, "2 assertions in the response"),
    "a forged assertion in a signed response": (_swapped_in_signed_response,
                                                "pysaml2: SignatureError: Failed to verify signature"),
    "wrong audience": (lambda idp, tmp, **b: idp.response(**{**b, "audience": "https://other.example"}),
                       "AudienceRestrictions conditions not satisfied"),
    "wrong Recipient": (lambda idp, tmp, **b: idp.response(**b, recipient="https://other.example/acs"),
                        "Recipient is 'https://other.example/acs'"),
    "wrong Destination": (lambda idp, tmp, **b: idp.response(**b, destination="https://other.example/acs"),
                          "Destination is 'https://other.example/acs'"),
    "InResponseTo of a request never sent": (lambda idp, tmp, **b: idp.response(**{**b, "request_id": "id-never"}),
                                             "Unsolicited response: id-never"),
    "unsolicited": (lambda idp, tmp, **b: idp.response(**{**b, "request_id": None}), "Unsolicited response"),
    "expired": (lambda idp, tmp, **b: idp.response(**b, not_on_or_after=-300, confirmation_end=-300),
                "the assertion expired at "),
    "not valid yet": (lambda idp, tmp, **b: idp.response(**b, not_before=900), "the assertion is valid only from"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_at_the_acs_is_refused_with_its_reason_audited(served, forged, demo, mailbox, tmp_path, attack):
    make, reason = ATTACKS[attack]
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=forged["upstream"]["id"])
    base = {"request_id": authn_request_of(redirect).get("ID"), "acs": f"{served}/signin/saml/acs",
            "audience": sp_entity_id(served, forged["upstream"]["id"])}
    xml = make(forged["idp"], tmp_path, **base)
    posted = post_to_acs({"acs": base["acs"], "SAMLResponse": encode(xml),
                          "RelayState": request_of(redirect)["RelayState"]})
    page = browser.get(urljoin(served, posted.headers["Location"]))
    assert page.status_code == 400 and "could not be verified" in page.text
    [refusal] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert reason in refusal["reason"] and refusal["upstream"] == forged["upstream"]["id"]
    assert Accounts(demo.store, "localhost").list() == []


def test_a_comment_in_the_name_id_signs_in_the_whole_name(served, forged, demo, mailbox):
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=forged["upstream"]["id"])
    xml = forged["idp"].response(request_id=authn_request_of(redirect).get("ID"), acs=f"{served}/signin/saml/acs",
                                 audience=sp_entity_id(served, forged["upstream"]["id"]),
                                 name_id="ada@corp.example.evil.example", attributes={})
    commented = xml.replace(">ada@corp.example.evil.example<", ">ada@corp.example<!---->.evil.example<", 1)
    posted = post_to_acs({"acs": f"{served}/signin/saml/acs", "SAMLResponse": encode(commented),
                          "RelayState": request_of(redirect)["RelayState"]})
    assert browser.get(urljoin(served, posted.headers["Location"])).status_code == 303
    accounts = Accounts(demo.store, "localhost")
    assert accounts.find_by_email("ada@corp.example") is None
    assert accounts.find_by_email("ada@corp.example.evil.example") is not None


def test_a_day_old_metadata_url_is_fetched_again_at_the_next_sign_in(served, demo, mailbox, tmp_path):
    forging = ForgingIdP(tmp_path)
    metadata = MetadataServer(forging.metadata())
    try:
        upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata_url=metadata.url)
        with demo.store.update(layout.TENANT) as doc:
            doc["methods"] = ["saml", "magic_link"]
        (tmp_path / "rolled").mkdir()
        rolled = ForgingIdP(tmp_path / "rolled")
        metadata.xml = forging.metadata().replace(forging.cert_body, rolled.cert_body)
        start(Browser(mailbox), served, upstream=upstream["id"])  # fetched an hour ago: kept as it is
        assert Upstreams(demo.store).get(upstream["id"])["certs"] == upstream["certs"]

        with demo.store.update(layout.UPSTREAMS, upstream["id"]) as doc:
            doc["metadata_fetched"] -= 25 * 3600
        start(Browser(mailbox), served, upstream=upstream["id"])
        refreshed = Upstreams(demo.store).get(upstream["id"])
        assert refreshed["certs"] != upstream["certs"] and rolled.cert_body in refreshed["idp_metadata"]

        # Unreachable a day later: the sign-in goes on with what it has, and the log says why.
        with demo.store.update(layout.UPSTREAMS, upstream["id"]) as doc:
            doc["metadata_fetched"] -= 25 * 3600
            doc["metadata_tried"] -= 2 * 3600
        metadata.stop()
        assert start(Browser(mailbox), served, upstream=upstream["id"]).startswith(forging.sso_url)
        [failed] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.refresh_failed"]
        assert "metadata" in failed["reason"]
        assert Upstreams(demo.store).get(upstream["id"])["certs"] == refreshed["certs"]
    finally:
        metadata.stop()


def test_a_refused_company_sign_in_keeps_the_apps_waiting_request(served, forged, demo, mailbox, rp):
    """The app's authorization request outlives a failed company sign-in: the sign-in page the
    browser lands on still says which app it is for, and signing in another way answers it."""
    browser = Browser(mailbox)
    asked = browser.get(f"{served}/authorize?" + urlencode(authorize_params(rp, pkce_pair()[1])))
    assert asked.status_code == 303
    iid = parse_qs(urlsplit(asked.headers["Location"]).query)["i"][0]
    page = browser.get(urljoin(served, asked.headers["Location"]))
    moved = browser.post(f"{served}/signin/saml/begin", data={"csrf": csrf_of(page.text), "i": iid,
                                                               "upstream": forged["upstream"]["id"]})
    redirect = unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))
    xml = forged["idp"].response(request_id=authn_request_of(redirect).get("ID"), acs=f"{served}/signin/saml/acs",
                                 audience=sp_entity_id(served, forged["upstream"]["id"]), sign=None)
    posted = post_to_acs({"acs": f"{served}/signin/saml/acs", "SAMLResponse": encode(xml),
                          "RelayState": request_of(redirect)["RelayState"]})
    shown = browser.get(urljoin(served, posted.headers["Location"]))
    assert shown.status_code == 400 and "could not be verified" in shown.text
    assert f'name="i" value="{iid}"' in shown.text and "Test RP" in shown.text


def signed_in_then_out(browser: Browser, served: str, idp: dict, email: str) -> str:
    """Sign in through the IdP, then press "Sign out": the "Sign out of … too" link's URL."""
    landed = browser.get(through_idp(browser, served, idp, email))
    browser.past_first_sign_in(urljoin(served, landed.headers["Location"]))
    page = browser.get(f"{served}/account")
    out = browser.post(f"{served}/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 200 and "Sign out of Corp SAML too" in out.text
    assert browser.get(f"{served}/account").status_code == 303  # signed out here already
    return unescape(re.search(r'href="([^"]+)" id="signout-elsewhere"', out.text).group(1))


def test_signing_out_offers_single_logout_at_the_idp(served, idp, demo, mailbox):
    browser = Browser(mailbox)
    url = signed_in_then_out(browser, served, idp, "ada@corp.example")
    assert url.startswith(idp["idp"].slo_url + "?")
    back_url = idp["idp"].log_out(url)  # pysaml2 verified our signed LogoutRequest for ada's NameID
    assert back_url.startswith(f"{served}/signin/saml/signed-out?")
    back = browser.get(back_url)
    assert back.status_code == 200 and "You are signed out of Corp SAML too." in back.text
    assert browser.get(back_url).status_code == 303  # its state was spent

    # An answer whose signature does not verify confirms nothing.
    again = signed_in_then_out(Browser(mailbox), served, idp, "ada@corp.example")
    forged = idp["idp"].log_out(again)
    query = request_of(forged)
    query["Signature"] = query["Signature"][:-8] + ("A" * 8 if not query["Signature"].endswith("A" * 8) else "B" * 8)
    shown = browser.get(f"{served}/signin/saml/signed-out?" + urlencode(query))
    assert shown.status_code == 200 and "did not confirm" in shown.text


def test_an_idp_without_single_logout_is_not_offered(served, forged, demo, mailbox):
    browser = Browser(mailbox)
    redirect = start(browser, served, upstream=forged["upstream"]["id"])
    xml = forged["idp"].response(request_id=authn_request_of(redirect).get("ID"), acs=f"{served}/signin/saml/acs",
                                 audience=sp_entity_id(served, forged["upstream"]["id"]), name_id="ada@corp.example")
    posted = post_to_acs({"acs": f"{served}/signin/saml/acs", "SAMLResponse": encode(xml),
                          "RelayState": request_of(redirect)["RelayState"]})
    landed = browser.get(urljoin(served, posted.headers["Location"]))
    browser.past_first_sign_in(urljoin(served, landed.headers["Location"]))
    page = browser.get(f"{served}/account")
    out = browser.post(f"{served}/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["Location"] == "/signin"


def test_an_administrator_required_to_use_the_saml_idp_signs_in_through_it(served, idp, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    boss = accounts.create(email="boss@corp.example", roles=["user", "admin"])
    with demo.store.update(layout.UPSTREAMS, idp["upstream"]["id"]) as doc:
        doc.update(authoritative=True, required_for=["admin"])
    browser = Browser(mailbox)
    landed = browser.get(through_idp(browser, served, idp, "boss@corp.example"))
    assert landed.status_code == 303, landed.text[:300]
    assert accounts.require(boss.login).listed_sessions  # signed in: the required upstream was used


def test_roles_follow_the_groups_the_idp_sends_at_every_sign_in(served, idp, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    accounts.create(email="other-admin@home.example", roles=["user", "admin"])
    with demo.store.update(layout.UPSTREAMS, idp["upstream"]["id"]) as doc:
        doc["roles"] = {"it-admins": "admin"}

    def sign_in_with(groups):
        browser = Browser(mailbox)
        redirect = start(browser, served, upstream=idp["upstream"]["id"])
        answer = idp["idp"].answer(redirect, email="ada@corp.example", groups=groups)
        assert browser.get(urljoin(served, post_to_acs(answer).headers["Location"])).status_code == 303
        return accounts.find_by_email("ada@corp.example")

    assert sign_in_with(["staff", "it-admins"]).roles == ["admin", "user"]  # a new account: from its groups
    assert sign_in_with(["staff"]).roles == ["user"]                      # left the group: no admin here now
    assert sign_in_with(["staff", "it-admins"]).roles == ["admin", "user"]  # back in the group
    events = [(e["before"], e["after"]) for e in audit.read_all(demo.store) if e["event"] == "upstream.roles_synced"]
    assert events == [(["admin", "user"], ["user"]), (["user"], ["admin", "user"])]


def test_a_sign_in_started_at_the_idp_only_where_the_admin_allows_it(served, forged, demo, mailbox):
    acs = f"{served}/signin/saml/acs"
    audience = sp_entity_id(served, forged["upstream"]["id"])

    def started_at_idp(**changes):
        xml = forged["idp"].response(**{"request_id": None, "acs": acs, "audience": audience,
                                        "name_id": "ada@corp.example", **changes})
        return requests.post(acs, data={"SAMLResponse": encode(xml)}, allow_redirects=False, timeout=10)

    refused = started_at_idp()
    assert parse_qs(urlsplit(refused.headers["Location"]).query)["failed"] == ["error.upstream.expired"]
    with demo.store.update(layout.UPSTREAMS, forged["upstream"]["id"]) as doc:
        doc["idp_initiated"] = True
    xml = forged["idp"].response(request_id=None, acs=acs, audience=audience, name_id="ada@corp.example")
    posted = requests.post(acs, data={"SAMLResponse": encode(xml)}, allow_redirects=False, timeout=10)
    browser = Browser(mailbox)  # any browser: nothing ties such a sign-in to one
    landed = browser.get(urljoin(served, posted.headers["Location"]))
    assert landed.status_code == 303 and urlsplit(landed.headers["Location"]).path == "/welcome"
    replayed = requests.post(acs, data={"SAMLResponse": encode(xml)}, allow_redirects=False, timeout=10)
    assert "failed" in parse_qs(urlsplit(replayed.headers["Location"]).query)
    # Every other check stands: another audience, a request never sent.
    assert "failed" in parse_qs(urlsplit(started_at_idp(audience="https://other.example").headers["Location"]).query)
    never = forged["idp"].response(request_id="id-never-sent", acs=acs, audience=audience, name_id="ada@corp.example")
    answer = requests.post(acs, data={"SAMLResponse": encode(never)}, allow_redirects=False, timeout=10)
    assert "failed" in parse_qs(urlsplit(answer.headers["Location"]).query)
    reasons = [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert reasons[0] == "no RelayState (unsolicited response)"
    assert "the assertion was used before (replay)" in reasons
    assert any("Audience" in r for r in reasons) and reasons[-1] == "no RelayState (unsolicited response)"


def test_a_new_accounts_login_comes_from_the_user_name_the_idp_sends(served, forged, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    accounts.create(email="someone@else.example", login="ada.lovelace")  # taken: the next free one

    def sign_in_as(email, uid):
        browser = Browser(mailbox)
        redirect = start(browser, served, upstream=forged["upstream"]["id"])
        attributes = {"email": [email], "displayName": ["Ada Lovelace"]} | ({"uid": [uid]} if uid else {})
        xml = forged["idp"].response(request_id=authn_request_of(redirect).get("ID"), acs=f"{served}/signin/saml/acs",
                                     audience=sp_entity_id(served, forged["upstream"]["id"]), name_id=email,
                                     attributes=attributes)
        posted = post_to_acs({"acs": f"{served}/signin/saml/acs", "SAMLResponse": encode(xml),
                              "RelayState": request_of(redirect)["RelayState"]})
        assert browser.get(urljoin(served, posted.headers["Location"])).status_code == 303
        return accounts.find_by_email(email).login

    assert sign_in_as("ada@corp.example", "CORP\\Ada.Lovelace") == "ada.lovelace2"
    assert sign_in_as("grace@corp.example", "gh") == "gh"
    assert sign_in_as("alan@corp.example", "***") == "alan"  # nothing usable in it: from the email


def test_the_cli_tests_disables_and_enables_an_upstream(tenants, data_root, tmp_path, capsys):
    forging = ForgingIdP(tmp_path)
    upstream = Upstreams(tenants.get("demo").store).add_saml(name="Acme ADFS", metadata=forging.metadata())
    base = ["--data", str(data_root), "upstream"]
    assert cli([*base, "test", "demo", upstream["id"]]) == 0
    tested = json.loads(capsys.readouterr().out)
    assert tested["ok"] is True and tested["found"]["entityID"] == forging.entity_id and tested["keys"] == 1
    assert cli([*base, "disable", "demo", upstream["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["enabled"] is False
    assert Upstreams(tenants.get("demo").store).enabled() == []
    assert cli([*base, "enable", "demo", upstream["id"]]) == 0 and Upstreams(tenants.get("demo").store).enabled()
    gone = Upstreams(tenants.get("demo").store).add(name="Gone", issuer="http://127.0.0.1:9", client_id="x")
    capsys.readouterr()
    assert cli([*base, "test", "demo", gone["id"]]) == 2
    answer = capsys.readouterr()
    assert json.loads(answer.out)["ok"] is False and "could not be reached" in answer.err
