"""Corporate SSO against a certified OpenID provider nobody here wrote: node-oidc-provider 9
(npm, tests/node/upstream-op.mjs) is the company's identity provider of the demo tenant.
The person's browser (a `requests.Session`) signs in on the library's own development pages;
CodeB does discovery, PKCE, the code exchange (authenticated by its client secret, or by a
private_key_jwt assertion whose key the library fetches from CodeB), the ID token's checks,
RFC 9207's `iss` and userinfo against it."""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from codeb import audit
from codeb.accounts import Accounts
from codeb.accounts.links import Links
from codeb.store import layout
from codeb.upstreams import client_key
from tests.support.company_idp import company_idp
from tests.support.web import csrf_of


@pytest.fixture
def company(served, demo):
    """node-oidc-provider on loopback, federated with the demo tenant."""
    with company_idp(served, demo) as idp:
        yield idp


def sign_in_at_the_company(served: str, company: dict, login: str, http: requests.Session | None = None):
    """Press "Sign in with Corp", sign in and consent on the library's pages; return the browser
    and CodeB's answer to the callback."""
    http = http or requests.Session()
    page = http.get(f"{served}/signin", timeout=10)
    moved = http.post(f"{served}/signin/oidc/begin", timeout=10,
                      data={"csrf": csrf_of(page.text), "upstream": company["upstream"]["id"]})
    url = unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))
    for _ in range(10):
        answer = http.get(url, allow_redirects=False, timeout=10)
        if answer.status_code in (302, 303):
            url = urljoin(url, answer.headers["Location"])
            if url.startswith(f"{served}/signin/oidc/callback"):
                return http, http.get(url, allow_redirects=False, timeout=10)
            continue
        assert answer.status_code == 200, answer.text[:500]
        prompt = re.search(r'name="prompt" value="(\w+)"', answer.text).group(1)
        action = unescape(re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1))
        form = {"prompt": prompt} | ({"login": login, "password": "any"} if prompt == "login" else {})
        posted = http.post(urljoin(url, action), data=form, allow_redirects=False, timeout=10)
        assert posted.status_code in (302, 303), posted.text[:500]
        url = urljoin(url, posted.headers["Location"])
    raise AssertionError("the company's sign-in did not end")


def test_a_person_signs_in_through_node_oidc_provider(served, company, demo):
    http, landed = sign_in_at_the_company(served, company, "ada")
    assert landed.status_code == 303, landed.text[:500]
    assert urlsplit(landed.headers["Location"]).path == "/welcome"
    welcome = http.get(urljoin(served, landed.headers["Location"]), timeout=10)
    assert 'value="ada of Corp"' in welcome.text  # the name came from its userinfo
    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    assert account.email_verified
    assert Links(accounts).find(company["issuer"], "ada").login == account.login

    # The same identity again: the same account.
    _, again = sign_in_at_the_company(served, company, "ada")
    assert again.status_code == 303 and len(accounts.list()) == 1


def test_an_unverified_email_never_enters_the_existing_account(served, company, demo):
    accounts = Accounts(demo.store, "localhost")
    mine = accounts.create(email="unverified-eve@corp.example")
    with demo.store.update(layout.UPSTREAMS, company["upstream"]["id"]) as doc:
        doc["authoritative"] = True  # even so: the upstream does not vouch for this address
    _, refused = sign_in_at_the_company(served, company, "unverified-eve")
    assert refused.status_code == 400 and "not trusted to sign in to it" in refused.text
    assert accounts.require(mine.login).links == [] and len(accounts.list()) == 1


def test_a_verified_email_of_an_authoritative_upstream_links_the_existing_account(served, company, demo):
    accounts = Accounts(demo.store, "localhost")
    mine = accounts.create(email="bob@corp.example")
    with demo.store.update(layout.UPSTREAMS, company["upstream"]["id"]) as doc:
        doc["authoritative"] = True
    _, landed = sign_in_at_the_company(served, company, "bob")
    assert landed.status_code == 303
    assert [link["subject"] for link in accounts.require(mine.login).links] == ["bob"]


def test_a_person_signs_in_through_a_provider_that_knows_codeb_by_its_key(served, demo):
    """private_key_jwt (RFC 7523 §2.2, OIDC Core §9): CodeB holds no secret; the library fetches
    CodeB's /signin/oidc/jwks (the client's `jwks_uri`) and verifies the assertion Authlib signed."""
    with company_idp(served, demo, token_auth="private_key_jwt") as company:
        assert company["upstream"]["token_auth"] == "private_key_jwt" and company["upstream"]["client_secret"] is None
        _, landed = sign_in_at_the_company(served, company, "ada")
        assert landed.status_code == 303, landed.text[:500]
        assert urlsplit(landed.headers["Location"]).path == "/welcome"
        accounts = Accounts(demo.store, "localhost")
        assert Links(accounts).find(company["issuer"], "ada").login == accounts.find_by_email("ada@corp.example").login
        # Again: a fresh assertion (its jti once only), the same account.
        _, again = sign_in_at_the_company(served, company, "ada")
        assert again.status_code == 303 and len(accounts.list()) == 1


def test_a_provider_that_refuses_codebs_assertion_is_a_clear_refusal(served, demo):
    """The provider knows another key under CodeB's key id: it answers invalid_client; the person
    reads a clear page (400, never a 500), the admin the exact reason in the audit log."""
    kid = client_key.load(demo.store).kid
    other = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    with company_idp(served, demo, token_auth="private_key_jwt", jwks={"keys": [other.as_dict(private=False)]}) \
            as company:
        _, refused = sign_in_at_the_company(served, company, "ada")
    assert refused.status_code == 400 and "did not complete the sign-in" in refused.text
    assert [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"] == [
        "token endpoint: invalid_client"]
    assert Accounts(demo.store, "localhost").list() == []
