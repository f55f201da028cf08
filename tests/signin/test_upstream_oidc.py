"""Corporate SSO over OpenID Connect, end to end: a second CodeB tenant is the company's
identity provider ("corp" on 127.0.0.1) of the demo tenant (on localhost), both served by
waitress on one loopback port. The person's browser is a `requests.Session`; the demo
tenant's server talks to corp's discovery, token, JWKS and userinfo endpoints over HTTP.
"""

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from codeb import audit
from codeb.accounts import Accounts, privacy
from codeb.accounts.links import Links
from codeb.cli import main as cli
from codeb.errors import SignInFailed
from codeb.oidc.clients import Clients
from codeb.provisioning import create_tenant
from codeb.signin import federation, upstream_oidc
from codeb.signin.base import SignInContext
from codeb.store import layout
from codeb.upstreams import Upstreams, client_key
from codeb.upstreams import oidc as protocol
from tests.support.oidc import authorize_params
from tests.support.upstream_idp import UpstreamIdP
from tests.support.user_agent import Browser
from tests.support.web import csrf_of, pkce_pair

CORP_HOST = "127.0.0.1"


@pytest.fixture(autouse=True)
def _fresh_caches():
    protocol._discovered.clear()
    protocol._key_sets.clear()
    yield
    protocol._discovered.clear()
    protocol._key_sets.clear()


@pytest.fixture
def corp(tenants, served, demo):
    """The company's identity provider, and the demo tenant federated with it."""
    port = urlsplit(served).port
    provisioned = create_tenant(tenants, "corp", [CORP_HOST], display_name="Corp")
    store = provisioned.tenant.store
    client, secret = Clients(store).add(name="Demo login", redirect_uris=[f"{served}/signin/oidc/callback"])
    issuer = f"http://{CORP_HOST}:{port}"
    upstream = Upstreams(demo.store).add(name="Corp", issuer=issuer, client_id=client.client_id,
                                         client_secret=secret, domains=["corp.example"])
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["passkey", "oidc", "magic_link"]
    return {"issuer": issuer, "upstream": upstream, "store": store, "accounts": Accounts(store, CORP_HOST)}


def start(browser: Browser, served: str, **form) -> str:
    """Press "Sign in with Corp" (or "Continue" with an email): the URL the page moves on to."""
    page = browser.get(f"{served}/signin")
    assert page.status_code == 200
    path = "/signin/continue" if "email" in form else "/signin/oidc/begin"
    moved = browser.post(f"{served}{path}", data={"csrf": csrf_of(page.text), **form})
    assert moved.status_code == 200, moved.text[:500]
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', moved.text)
    assert refresh, moved.text[:500]
    return unescape(refresh.group(1))


def through_corp(browser: Browser, served: str, corp: dict, email: str, **form) -> str:
    """The whole way out and back: the callback URL corp sends the browser to."""
    authorization = start(browser, served, **(form or {"upstream": corp["upstream"]["id"]}))
    assert authorization.startswith(corp["issuer"] + "/authorize?"), authorization
    return browser.sign_in(authorization, email)


def test_a_person_signs_in_with_the_company_account_and_gets_a_linked_account(served, corp, demo, mailbox):
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    assert "Sign in with Corp" in page.text

    callback = through_corp(browser, served, corp, "ada@corp.example")
    query = parse_qs(urlsplit(callback).query)
    assert urlsplit(callback).path == "/signin/oidc/callback"
    assert query["iss"] == [corp["issuer"]]  # RFC 9207: checked by the demo tenant
    landed = browser.get(callback)
    assert landed.status_code == 303, landed.text[:500]
    assert urlsplit(landed.headers["Location"]).path == "/welcome"  # the first sign-in's profile step
    welcome = browser.get(urljoin(served, landed.headers["Location"]))
    assert 'value="RP Test Person"' in welcome.text  # prefilled with the name corp gave

    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    assert account is not None and account.email_verified  # corp verified it (its magic link)
    corp_sub = corp["accounts"].find_by_email("ada@corp.example").sub
    assert Links(accounts).find(corp["issuer"], corp_sub).login == account.login
    [link] = account.doc["links"]
    assert link["upstream"] == corp["upstream"]["id"] and link["subject"] == corp_sub
    [signed_in] = [e for e in audit.read_all(demo.store) if e["event"] == "signin"]
    assert signed_in["method"] == "oidc" and signed_in["created"] is True

    # The next time the link is the identity: the same account, not a new one.
    again = Browser(mailbox)
    landed = again.get(through_corp(again, served, corp, "ada@corp.example"))
    assert landed.status_code == 303 and urlsplit(landed.headers["Location"]).path == "/welcome"
    assert accounts.list().count(account.login) == 1 and len(accounts.list()) == 1


def test_home_realm_discovery_sends_a_claimed_domain_to_its_upstream(served, corp, mailbox):
    browser = Browser(mailbox)
    authorization = start(browser, served, email="Bob@Corp.example")
    assert authorization.startswith(corp["issuer"] + "/authorize?")
    assert parse_qs(urlsplit(authorization).query)["login_hint"] == ["bob@corp.example"]
    # Any other address gets the mailed link, as before.
    page = browser.get(f"{served}/signin")
    sent = browser.post(f"{served}/signin/continue", data={"csrf": csrf_of(page.text), "email": "eve@else.example"})
    assert sent.status_code == 303 and sent.headers["Location"] == "/signin/sent"


def test_a_replayed_answer_and_an_answer_in_another_browser_are_refused(served, corp, demo, mailbox):
    browser = Browser(mailbox)
    callback = through_corp(browser, served, corp, "ada@corp.example")
    thief = Browser(mailbox)
    thief.get(f"{served}/signin")  # a session of its own
    stolen = thief.get(callback)
    assert stolen.status_code == 400 and "expired or was already used" in stolen.text
    # The state was spent by the thief's try: the rightful browser must start again too.
    replay = browser.get(callback)
    assert replay.status_code == 400 and "expired or was already used" in replay.text
    reasons = [e["reason"] for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
    assert reasons == ["state of another browser", "unknown or spent state"]
    assert Accounts(demo.store, "localhost").list() == []


def test_a_forged_state_and_a_denied_sign_in_get_clear_pages(served, corp, demo, mailbox):
    browser = Browser(mailbox)
    authorization = start(browser, served, upstream=corp["upstream"]["id"])
    state = parse_qs(urlsplit(authorization).query)["state"][0]
    forged = browser.get(f"{served}/signin/oidc/callback?state=forged&code=x")
    assert forged.status_code == 400 and "expired or was already used" in forged.text
    denied = browser.get(f"{served}/signin/oidc/callback?state={state}&error=access_denied&iss={corp['issuer']}")
    assert denied.status_code == 400 and "cancelled at your company" in denied.text
    no_state = browser.get(f"{served}/signin/oidc/callback?code=x")
    assert no_state.status_code == 400
    assert "access_denied" in [e["reason"].split()[-1] for e in audit.read_all(demo.store)
                               if e["event"] == "upstream.refused"]


def test_a_mixed_up_issuer_in_the_response_is_refused(served, corp, demo, mailbox):
    browser = Browser(mailbox)
    callback = through_corp(browser, served, corp, "ada@corp.example")
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"iss": "https://evil.example"}
    mixed = parts._replace(query=urlencode(query)).geturl()
    answer = browser.get(mixed)
    assert answer.status_code == 400 and "did not come from your company" in answer.text
    assert Accounts(demo.store, "localhost").list() == []


def test_an_existing_account_is_entered_only_through_an_authoritative_upstream(served, corp, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    mine = accounts.create(email="ada@corp.example")
    browser = Browser(mailbox)
    refused = browser.get(through_corp(browser, served, corp, "ada@corp.example"))
    assert refused.status_code == 400 and "not trusted to sign in to it" in refused.text
    assert "links" not in accounts.require(mine.login).doc

    with demo.store.update(layout.UPSTREAMS, corp["upstream"]["id"]) as doc:
        doc["authoritative"] = True
    browser = Browser(mailbox)
    landed = browser.get(through_corp(browser, served, corp, "ada@corp.example"))
    assert landed.status_code == 303
    assert [x["upstream"] for x in accounts.require(mine.login).doc["links"]] == [corp["upstream"]["id"]]
    assert len(accounts.list()) == 1
    assert any(e["event"] == "upstream.linked" and e["login"] == mine.login for e in audit.read_all(demo.store))


def test_an_invite_only_tenant_creates_no_account_from_an_upstream(served, corp, demo, mailbox):
    with demo.store.update(layout.TENANT) as doc:
        doc["signup"] = {"policy": "invite", "domains": []}
    browser = Browser(mailbox)
    refused = browser.get(through_corp(browser, served, corp, "ada@corp.example"))
    assert refused.status_code == 403 and "need an invitation" in refused.text
    assert Accounts(demo.store, "localhost").list() == []


def test_an_unreachable_upstream_is_a_clear_page_not_an_error(served, demo, tenants, mailbox):
    upstream = Upstreams(demo.store).add(name="Gone", issuer="http://127.0.0.1:9", client_id="x")
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["oidc", "magic_link"]
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    answer = browser.post(f"{served}/signin/oidc/begin", data={"csrf": csrf_of(page.text), "upstream": upstream["id"]})
    assert answer.status_code == 400 and "could not be reached" in answer.text


def test_a_flood_of_requests_from_one_network_is_held_back(served, demo, mailbox, monkeypatch):
    monkeypatch.setattr(federation, "PER_CLIENT", ((2, 60),))
    upstream = Upstreams(demo.store).add(name="Gone", issuer="http://127.0.0.1:9", client_id="x")
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["oidc", "magic_link"]
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    form = {"csrf": csrf_of(page.text), "upstream": upstream["id"]}
    answers = [browser.post(f"{served}/signin/oidc/begin", data=form).status_code for _ in range(3)]
    assert answers == [400, 400, 429]  # unreachable twice, then held back before any request
    assert demo.store.list(layout.TRANSIENT, layout.UPSTREAM_REQUESTS) == []


def test_amr_says_fed_plus_what_the_upstream_names_of_rfc_8176(tenants, demo):
    """A relying party learns that the sign-in was federated, and the upstream's own `amr`
    where it is one of RFC 8176's values (its other values are dropped)."""
    idp = UpstreamIdP()  # sends amr ["pwd", "mfa", "not-a-method"]
    try:
        upstream = Upstreams(demo.store).add(name="Corp", issuer=idp.issuer, client_id=idp.client_id)
        ctx = SignInContext(tenant=demo, accounts=Accounts(demo.store, "localhost"), mailer=None,
                            base_url="http://localhost", client_ip="192.0.2.1", language="en", browser="b")
        method = upstream_oidc.UpstreamOIDC()
        answer = idp.authenticate(method.begin(ctx, {"upstream": upstream["id"]}).redirect, sub="s1",
                                  email="ada@corp.example")
        identity = method.complete(ctx, answer)
        assert identity.amr == ("fed", "mfa", "pwd") and identity.created
        assert identity.detail == {"upstream": upstream["id"], "upstream_name": "Corp"}
    finally:
        idp.stop()


def keyed_sign_in(demo, idp: UpstreamIdP) -> tuple[upstream_oidc.UpstreamOIDC, SignInContext, dict]:
    """A company sign-in at `idp`, which knows CodeB by private_key_jwt, up to its answer."""
    upstream = Upstreams(demo.store).add(name="Corp", issuer=idp.issuer, client_id=idp.client_id,
                                         token_auth="private_key_jwt")
    ctx = SignInContext(tenant=demo, accounts=Accounts(demo.store, "localhost"), mailer=None,
                        base_url="http://localhost", client_ip="192.0.2.1", language="en", browser="b")
    method = upstream_oidc.UpstreamOIDC()
    answer = idp.authenticate(method.begin(ctx, {"upstream": upstream["id"]}).redirect, sub="s1",
                              email="ada@corp.example")
    return method, ctx, answer


def test_a_private_key_jwt_upstream_gets_a_short_assertion_signed_by_the_tenants_key(tenants, demo):
    """RFC 7523 §3, OIDC Core §9: iss = sub = the client id, aud = the token endpoint, a jti, a
    short life, and the kid of the key /signin/oidc/jwks publishes."""
    idp = UpstreamIdP()
    try:
        key = client_key.load(demo.store)
        idp.client_keys = KeySet.import_key_set(json.loads(key.published[0]))
        method, ctx, answer = keyed_sign_in(demo, idp)
        assert method.complete(ctx, answer).created
        [sent] = idp.assertions
        assert sent["header"]["kid"] == key.kid and sent["header"]["alg"] == "RS256"
        claims = sent["claims"]
        assert claims["iss"] == claims["sub"] == idp.client_id and claims["aud"] == f"{idp.issuer}/token"
        assert 0 < claims["exp"] - claims["iat"] <= protocol.ASSERTION_LIFETIME and len(claims["jti"]) >= 32
    finally:
        idp.stop()


def test_an_assertion_the_upstream_refuses_is_a_clear_refusal_with_its_reason_audited(tenants, demo):
    """The upstream knows another key under the tenant's key id (the admin registered an old
    one, say): a 400 the person reads, the exact reason for the admin, no account."""
    idp = UpstreamIdP()
    try:
        idp.client_keys = KeySet([RSAKey.generate_key(2048, parameters={"kid": client_key.load(demo.store).kid})])
        method, ctx, answer = keyed_sign_in(demo, idp)
        with pytest.raises(SignInFailed) as refused:
            method.complete(ctx, answer)
        assert refused.value.status == 400 and refused.value.message_id == "error.upstream.refused"
        [event] = [e for e in audit.read_all(demo.store) if e["event"] == "upstream.refused"]
        assert event["reason"] == "token endpoint: invalid_client" and event["name"] == "Corp"
        assert idp.assertions == [] and Accounts(demo.store, "localhost").list() == []
    finally:
        idp.stop()


def test_the_cli_adds_lists_and_removes_upstreams_without_printing_secrets(tenants, data_root, capsys):
    args = ["--data", str(data_root), "upstream", "add", "demo", "--name", "Acme Entra",
            "--oidc-issuer", "https://login.microsoftonline.com/organizations/v2.0", "--client-id", "abc",
            "--client-secret", "s3cret", "--domain", "acme.example", "--preset", "entra"]
    assert cli(args) == 2  # a multi-tenant issuer without the directories that may use it
    assert "list the directory IDs" in capsys.readouterr().err
    assert cli(args[:-2] + ["--tenant-id", "6F9619FF-8B86-D011-B42D-00C04FC964FF"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["redirect_uri"] == "http://localhost/signin/oidc/callback"  # what corp's admin registers
    assert "client_secret" not in added and added["has_client_secret"] is True
    assert added["tenant_ids"] == ["6f9619ff-8b86-d011-b42d-00c04fc964ff"]
    assert "oidc" in tenants.get("demo").setting("methods")
    assert cli(["--data", str(data_root), "upstream", "list", "demo"]) == 0
    assert [u["id"] for u in json.loads(capsys.readouterr().out)] == [added["id"]]
    assert cli(["--data", str(data_root), "upstream", "remove", "demo", added["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] is True
    assert Upstreams(tenants.get("demo").store).list() == []


def test_the_cli_edits_only_what_it_is_given_and_checks_it_as_add_does(tenants, data_root, capsys):
    upstream = ["--data", str(data_root), "upstream"]
    assert cli([*upstream, "add", "demo", "--name", "Corp", "--oidc-issuer", "https://idp.example", "--client-id",
                "abc", "--client-secret", "s3cret", "--domain", "corp.example"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["token_auth"] == "client_secret_basic" and "jwks_uri" not in added
    uid = added["id"]
    assert cli([*upstream, "edit", "demo", uid, "--name", "Corp SSO", "--domain", "corp.example", "--domain",
                "Corp.test", "--authoritative", "--role", "CN=Admins,OU=Groups = admin", "--claim", "email=upn",
                "--scope", "openid", "--scope", "email", "--token-auth", "client_secret_post"]) == 0
    edited = json.loads(capsys.readouterr().out)
    assert edited["name"] == "Corp SSO" and edited["domains"] == ["corp.example", "corp.test"]
    assert edited["authoritative"] is True and edited["roles"] == {"CN=Admins,OU=Groups": "admin"}
    assert edited["claims"] == {"email": "upn", "name": "name", "groups": "groups", "login": "preferred_username"}
    assert edited["scopes"] == ["openid", "email"] and edited["token_auth"] == "client_secret_post"
    assert edited["has_client_secret"] is True and "client_secret" not in edited  # the secret stayed, unprinted
    assert (edited["id"], edited["created"], edited["kind"]) == (uid, added["created"], "oidc")
    store = tenants.get("demo").store
    assert Upstreams(store).get(uid)["client_secret"] == "s3cret"

    # What is not given stays; the opposites clear.
    assert cli([*upstream, "edit", "demo", uid, "--no-authoritative", "--no-roles", "--token-auth",
                "private_key_jwt"]) == 0
    edited = json.loads(capsys.readouterr().out)
    assert edited["authoritative"] is False and edited["roles"] == {} and edited["name"] == "Corp SSO"
    assert edited["token_auth"] == "private_key_jwt" and edited["has_client_secret"] is False  # no secret kept unused
    assert edited["jwks_uri"] == "http://localhost/signin/oidc/jwks"  # what to register there

    before = Upstreams(store).get(uid)
    for wrong, says in ((["--domain", "not_a_domain"], "is not an email domain"),
                        (["--token-auth", "client_secret_basic"], "sends the client secret"),
                        (["--role", "Admins = emperor"], "is not a line"),
                        (["--claim", "colour=blue"], "is not a claim name"),
                        (["--oidc-issuer", "http://idp.example"], "must start with https://")):
        assert cli([*upstream, "edit", "demo", uid, *wrong]) == 2, wrong
        assert says in capsys.readouterr().err
    assert Upstreams(store).get(uid) == before  # nothing written
    assert cli([*upstream, "edit", "demo", "nosuchupstrm", "--name", "X"]) != 0

    assert cli([*upstream, "add", "demo", "--name", "Keyed", "--oidc-issuer", "https://idp2.example", "--client-id",
                "k", "--token-auth", "private_key_jwt"]) == 0
    keyed = json.loads(capsys.readouterr().out)
    assert keyed["token_auth"] == "private_key_jwt" and keyed["jwks_uri"].endswith("/signin/oidc/jwks")


def signed_in_through_corp(served, corp, mailbox, email="ada@corp.example") -> Browser:
    browser = Browser(mailbox)
    landed = browser.get(through_corp(browser, served, corp, email))
    browser.past_first_sign_in(urljoin(served, landed.headers["Location"]))
    return browser


def test_the_account_page_lists_the_company_account_and_disconnects_it(served, corp, demo, mailbox):
    browser = signed_in_through_corp(served, corp, mailbox)
    page = browser.get(f"{served}/account/sign-in")
    assert page.status_code == 200 and "Company accounts" in page.text and "<h3 id=\"link-1\">Corp</h3>" in page.text
    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    [link] = account.links
    form = {"csrf": csrf_of(page.text), "issuer": link["issuer"], "subject": link["subject"]}

    with demo.store.update(layout.TENANT) as doc:  # company sign-in alone: the link is the only way in
        doc["methods"] = ["oidc"]
    refused = browser.post(f"{served}/account/links/remove", data=form)
    assert refused.status_code == 409 and "last way to sign in" in refused.text
    assert accounts.require(account.login).links == [link]

    with demo.store.update(layout.TENANT) as doc:  # with mailed links, the address is a way in too
        doc["methods"] = ["oidc", "magic_link"]
    removed = browser.post(f"{served}/account/links/remove", data=form)
    assert removed.status_code == 303 and removed.headers["Location"].endswith("m=link_removed")
    assert accounts.require(account.login).links == []
    assert Links(accounts).find(link["issuer"], link["subject"]) is None
    again = browser.post(f"{served}/account/links/remove", data=form)
    assert again.status_code == 400 and "not connected" in again.text
    assert any(e["event"] == "upstream.unlinked" for e in audit.read_all(demo.store))


def test_deleting_the_account_leaves_no_trace_of_the_company_identity(served, corp, demo, mailbox):
    signed_in_through_corp(served, corp, mailbox)
    accounts = Accounts(demo.store, "localhost")
    account = accounts.find_by_email("ada@corp.example")
    [link] = account.links
    exported = json.dumps(privacy.exported_account(account.doc))
    assert link["subject"] in exported  # the privacy export shows the link
    accounts.delete(account.login)
    assert demo.store.list(layout.INDEX, layout.BY_UPSTREAM) == []


def test_an_admin_role_that_requires_the_upstream_signs_in_only_through_it(served, corp, demo, mailbox):
    accounts = Accounts(demo.store, "localhost")
    boss = accounts.create(email="boss@corp.example", roles=["user", "admin"])
    with demo.store.update(layout.UPSTREAMS, corp["upstream"]["id"]) as doc:
        # Its people may use the other methods too: only the administrators' rule stands in the way.
        doc.update(authoritative=True, required_for=["admin"], others_allowed=True)
    # A mailed link proves the mailbox, but an administrator must come through Corp.
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    sent = browser.post(f"{served}/signin/continue", data={"csrf": csrf_of(page.text), "email": "boss@corp.example",
                                                          "method": "magic_link"})
    assert sent.status_code == 303
    link = mailbox.last_link(to="boss@corp.example")
    button = browser.get(link)
    refused = browser.post(f"{served}/signin/magic-link/complete",
                           data={"csrf": csrf_of(button.text), "link": link.rsplit("/link/", 1)[1]})
    assert refused.status_code == 400 and "must sign in with Corp" in refused.text
    assert accounts.require(boss.login).listed_sessions == []
    [failed] = [e for e in audit.read_all(demo.store) if e["event"] == "signin.failed"]
    assert failed["reason"] == "error.upstream.required" and failed["method"] == "magic_link"
    # Through Corp it works (and links the account: Corp is authoritative for corp.example).
    other = Browser(mailbox)
    landed = other.get(through_corp(other, served, corp, "boss@corp.example"))
    assert landed.status_code == 303 and len(accounts.require(boss.login).listed_sessions) == 1


@pytest.mark.parametrize("path, status", [
    ("/signin/oidc/callback?state=" + "x" * 5000 + "&code=y", 400),
    ("/signin/oidc/callback?state=%00%ff&code=%ff", 400),
    ("/signin/oidc/callback?state=&code=", 400),
    ("/signin/passkey/callback?state=x", 404),      # no other method is called back
    ("/signin/no-such-method/callback?state=x", 404),
])
def test_a_broken_callback_is_a_clear_4xx(served, corp, mailbox, path, status):
    browser = Browser(mailbox)
    assert browser.get(f"{served}{path}").status_code == status


def test_an_unknown_upstream_and_company_sign_in_switched_off(served, corp, demo, mailbox):
    browser = Browser(mailbox)
    page = browser.get(f"{served}/signin")
    unknown = browser.post(f"{served}/signin/oidc/begin", data={"csrf": csrf_of(page.text), "upstream": "nosuchupstrm"})
    assert unknown.status_code == 400 and "not available" in unknown.text
    callback = through_corp(browser, served, corp, "ada@corp.example")
    with demo.store.update(layout.TENANT) as doc:
        doc["methods"] = ["passkey", "magic_link"]
    off = browser.get(callback)
    assert off.status_code == 400 and Accounts(demo.store, "localhost").list() == []


def test_a_relying_party_of_codeb_receives_amr_fed(served, corp, demo, mailbox, rp):
    """An app of the demo tenant asks for a sign-in; the person chooses "Sign in with Corp";
    the app's ID token says the sign-in was federated."""
    browser = Browser(mailbox)
    verifier, challenge = pkce_pair()
    asked = browser.get(f"{served}/authorize?" + urlencode(authorize_params(rp, challenge)))
    assert asked.status_code == 303
    signin_page = urljoin(served, asked.headers["Location"])
    iid = parse_qs(urlsplit(signin_page).query)["i"][0]
    page = browser.get(signin_page)
    assert f'name="i" value="{iid}"' in page.text and "Sign in with Corp" in page.text
    moved = browser.post(f"{served}/signin/oidc/begin",
                         data={"csrf": csrf_of(page.text), "upstream": corp["upstream"]["id"], "i": iid})
    authorization = unescape(re.search(r'content="0;url=([^"]+)"', moved.text).group(1))
    landed = browser.get(browser.sign_in(authorization, "ada@corp.example"))
    resume = browser.past_first_sign_in(urljoin(served, landed.headers["Location"]))
    assert urlsplit(resume).path == "/authorize/resume"
    back = browser.get(resume)
    assert back.status_code == 302 and back.headers["Location"].startswith(rp.redirect_uri)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = requests.post(f"{served}/token", auth=(rp.client_id, rp.secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    keys = KeySet.import_key_set(requests.get(f"{served}/jwks.json", timeout=10).json())
    claims = jwt.decode(tokens.json()["id_token"], keys).claims
    assert "fed" in claims["amr"] and claims["aud"] == rp.client_id
    assert claims["sub"] == Accounts(demo.store, "localhost").find_by_email("ada@corp.example").sub


def test_signing_out_offers_to_sign_out_at_the_upstream_too(served, corp, demo, mailbox):
    """RP-Initiated Logout at the upstream (here a CodeB tenant): the ID token it issued as
    `id_token_hint`, back to the demo tenant's post-logout redirect URI with its state."""
    with corp["store"].update(layout.CLIENTS, corp["upstream"]["client_id"]) as doc:
        doc["post_logout_redirect_uris"] = [f"{served}/signin/oidc/signed-out"]
    browser = signed_in_through_corp(served, corp, mailbox)
    assert browser.get(f"{corp['issuer']}/account").status_code == 200  # signed in at corp too
    page = browser.get(f"{served}/account")
    out = browser.post(f"{served}/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 200 and "Sign out of Corp too" in out.text
    url = unescape(re.search(r'href="([^"]+)" id="signout-elsewhere"', out.text).group(1))
    assert url.startswith(f"{corp['issuer']}/logout?")
    query = parse_qs(urlsplit(url).query)
    assert query["post_logout_redirect_uri"] == [f"{served}/signin/oidc/signed-out"]
    assert jwt.decode(query["id_token_hint"][0], KeySet.import_key_set(
        requests.get(f"{corp['issuer']}/jwks.json", timeout=10).json())).claims["aud"] == corp["upstream"]["client_id"]
    left = browser.get(url)
    assert left.status_code in (302, 303) and left.headers["Location"].startswith(f"{served}/signin/oidc/signed-out?")
    back = browser.get(left.headers["Location"])
    assert back.status_code == 200 and "You are signed out of Corp too." in back.text
    assert browser.get(f"{corp['issuer']}/account").status_code == 303  # signed out at corp
    assert browser.get(f"{served}/account").status_code == 303  # and here
    assert browser.get(left.headers["Location"]).status_code == 303  # the state was spent: just the sign-in page

