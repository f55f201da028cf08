"""Connecting a company account from account settings (codeb.web.account.connect_link): after a
recent sign-in, the person signs in at the company's identity provider once and what it proves is
linked to this account, whatever email it asserts; never an identity another account holds."""

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from codeb import audit
from codeb.accounts.links import Links
from codeb.store import layout
from codeb.upstreams import Upstreams, acs_url, sp_entity_id
from tests.support.saml_idp import ForgingIdP, authn_request_of, encode, request_of
from tests.support.web import csrf_of, sign_in

BASE = "http://localhost"


@pytest.fixture
def corp(demo, tmp_path):
    idp = ForgingIdP(tmp_path)
    upstream = Upstreams(demo.store).add_saml(name="Corp SAML", metadata=idp.metadata(), domains=["corp.example"],
                                              others_allowed=True)
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["saml", "magic_link"]
    return {"idp": idp, "upstream": upstream}


def connect(client, app, corp, name_id: str):
    """Press "Connect your Corp SAML account", sign in at the IdP as `name_id`, come back."""
    page = client.get("/account/sign-in")
    assert "Connect your Corp SAML account" in page.text
    moved = client.post("/account/links/connect", data={"csrf": csrf_of(page.text), "upstream": corp["upstream"]["id"]})
    if moved.status_code != 200:
        return moved
    redirect = unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))
    xml = corp["idp"].response(request_id=authn_request_of(redirect).get("ID"), acs=acs_url(BASE),
                               audience=sp_entity_id(BASE, corp["upstream"]["id"]), name_id=name_id)
    posted = app.test_client().post("/signin/saml/acs", data={"SAMLResponse": encode(xml),
                                                              "RelayState": request_of(redirect)["RelayState"]})
    assert posted.status_code == 303
    return client.get(posted.headers["Location"])


def test_a_person_connects_a_company_account_of_another_address(client, app, accounts, demo, mailbox, corp):
    sign_in(client, mailbox, "ann@home.example")
    back = connect(client, app, corp, "ann.smith@corp.example")
    assert back.status_code == 303 and urlsplit(back.headers["Location"]).path == "/account/sign-in"
    assert "Your company account is connected" in client.get(back.headers["Location"]).text
    ann = accounts.find_by_email("ann@home.example")
    assert Links(accounts).find(corp["idp"].entity_id, "ann.smith@corp.example").login == ann.login
    assert [e["by"] for e in audit.read_all(demo.store) if e["event"] == "upstream.linked"] == ["account"]
    assert "Connect your Corp SAML account" not in client.get("/account/sign-in").text  # connected now
    assert accounts.find_by_email("ann.smith@corp.example") is None  # no second account


def test_connecting_needs_a_recent_sign_in(client, app, demo, mailbox, corp, clock):
    sign_in(client, mailbox, "ann@home.example")
    clock.advance(11 * 60)
    page = client.get("/account/sign-in")
    asked = client.post("/account/links/connect", data={"csrf": csrf_of(page.text), "upstream": corp["upstream"]["id"]})
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/account/confirm")
    assert demo.store.list(layout.TRANSIENT, layout.UPSTREAM_REQUESTS) == []


def test_an_identity_another_account_holds_is_not_moved(client, app, accounts, demo, mailbox, corp):
    bob = accounts.create(email="bob@corp.example")
    Links(accounts).link(bob.login, corp["upstream"], corp["idp"].entity_id, "bob@corp.example")
    sign_in(client, mailbox, "ann@home.example")
    refused = connect(client, app, corp, "bob@corp.example")
    assert refused.status_code == 400 and "already connected to another account" in refused.text
    assert Links(accounts).find(corp["idp"].entity_id, "bob@corp.example").login == bob.login


def test_a_posted_link_to_is_not_taken_from_the_form(client, app, accounts, demo, mailbox, corp):
    """Only account settings may name the account to link: a `link_to` in a sign-in form is ignored."""
    victim = accounts.create(email="vic@home.example")
    page = client.get("/signin")
    moved = client.post("/signin/saml/begin", data={"csrf": csrf_of(page.text), "upstream": corp["upstream"]["id"],
                                                    "link_to": victim.login})
    assert moved.status_code == 200
    [rid] = demo.store.list(layout.TRANSIENT, layout.UPSTREAM_REQUESTS)
    assert demo.store.transient(layout.UPSTREAM_REQUESTS).get(rid)["link_to"] is None
