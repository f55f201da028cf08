"""Every registered sign-in method keeps the same contract (codeb.signin.base).

Each method has a driver here that knows how to set an account up for it and
answer its challenge; the checks are the same for all:
- a submission that is not the method's (another method's fields) is `NotMine`;
- `begin` without the method's fields is `NotMine`, unless the method needs none;
- a challenge past its lifetime, or answered twice, fails with a clear message;
- a disabled account cannot sign in;
- success is a `VerifiedIdentity` for the right account, with `amr` and the
  method's name, and writes no session, no code and no token: that is the
  flow's job, the same for every method;
- a method's pages exist for every view it names.
A method added to the registry without a driver fails the first test.
"""

import os
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from codeb.accounts import Accounts, passwords
from codeb.accounts.links import Links
from codeb.accounts.passkeys import (
    CHALLENGE_LIFETIME,
    Challenges,
    Passkeys,
    ensure_user_handle,
    registration_options,
    verify_registration,
)
from codeb.errors import AccountDisabled, SignInFailed
from codeb.notify.mail import Mailer
from codeb.signin import REGISTRY, enabled
from codeb.signin.base import Challenge, NotMine, SignInContext, VerifiedIdentity
from codeb.signin.federation import REQUEST_LIFETIME
from codeb.signin.magic_link import LINK_LIFETIME
from codeb.signin.upstream_saml import ARRIVAL_LIFETIME
from codeb.signin.wallet import LINK_ISSUER, WALLET, link_subject
from codeb.signin.wallet import REQUEST_LIFETIME as WALLET_LIFETIME
from codeb.store import layout
from codeb.tenants import Tenants
from codeb.tenants.wallet import TrustList
from codeb.upstreams import Upstreams, acs_url, sp_entity_id
from tests.support import pid_mdoc
from tests.support.authenticator import SoftAuthenticator
from tests.support.clock import Clock
from tests.support.codebase import ROOT
from tests.support.eudi_wallet import check_request_object, encrypt, session_transcript
from tests.support.mailbox import Mailbox
from tests.support.pid_ca import PidCA
from tests.support.saml_idp import ForgingIdP, authn_request_of, encode, request_of
from tests.support.upstream_idp import UpstreamIdP

ORIGIN, RP_ID = "http://localhost", "localhost"
SECRET = "correct horse battery staple"
# What the flow writes after a method (sessions) and the provider after the flow (codes, tokens).
NOT_THE_METHODS = (layout.SESSIONS, layout.CODES, layout.REFRESH_TOKENS, layout.REFRESH_CHAINS, layout.GRANTS)


class MagicLinkDriver:
    fields = {"email", "link", "pending", "code"}  # the link, or the waiting tab's typed code
    expiry = LINK_LIFETIME
    expired_message = "error.link_expired"
    needs_fields_to_begin = True

    def __init__(self, world):
        self.world = world

    def enrol(self, email):
        return self.world.accounts.create(email=email)

    def challenge(self, method, account) -> dict:
        method.begin(self.world.ctx, {"email": account.email})
        return {"link": urlsplit(self.world.mailbox.last_link(to=account.email)).path[len("/link/"):]}


class PasskeyDriver:
    fields = {"challenge_id", "credential"}
    expiry = CHALLENGE_LIFETIME
    expired_message = "error.passkey_challenge"
    needs_fields_to_begin = False

    def __init__(self, world):
        self.world = world
        self.authenticator = SoftAuthenticator(ORIGIN)

    def enrol(self, email):
        accounts, tenant = self.world.accounts, self.world.tenant
        account = ensure_user_handle(accounts, accounts.create(email=email).login)
        policy = Passkeys(tenant, accounts).policy
        _, challenge = Challenges(tenant.store).issue(purpose="register", browser="b", client="192.0.2.7",
                                                  login=account.login)
        options = registration_options(account=account, rp_id=RP_ID, rp_name="Demo", policy=policy,
                                       challenge=challenge)
        passkey = verify_registration(credential=self.authenticator.create(options), challenge=challenge,
                                      rp_id=RP_ID, origin=ORIGIN, policy=policy, now=self.world.ctx.now())
        Passkeys(tenant, accounts).add(account.login, passkey)
        return accounts.require(account.login)

    def challenge(self, method, account) -> dict:
        options = method.begin(self.world.ctx, {}).data
        return {"challenge_id": options["challenge_id"], "credential": self.authenticator.get(options["publicKey"])}


class PasswordDriver:
    fields = {"email", "password"}
    expiry = None  # nothing is handed out: the password is the answer
    expired_message = None
    needs_fields_to_begin = True

    def __init__(self, world):
        self.world = world

    def enrol(self, email):
        account = self.world.accounts.create(email=email)
        passwords.change(self.world.accounts, account.login, current="", new=SECRET, repeat=SECRET,
                         realm="localhost")
        return self.world.accounts.require(account.login)

    def challenge(self, method, account) -> dict:
        method.begin(self.world.ctx, {"email": account.email})
        return {"email": account.email, "password": SECRET}


class UpstreamOIDCDriver:
    """Corporate SSO: a small OpenID provider on loopback is the company's; an account is
    enrolled by linking it to an identity there (tests/support/upstream_idp.py)."""

    fields = {"state", "code"}
    expiry = REQUEST_LIFETIME
    expired_message = "error.upstream.expired"
    needs_fields_to_begin = True

    def __init__(self, world):
        self.world = world
        self.idp = world.upstream_idp()
        self.upstream = Upstreams(world.tenant.store).add(
            name="Example Corp", issuer=self.idp.issuer, client_id=self.idp.client_id, domains=["example.com"])

    def enrol(self, email):
        account = self.world.accounts.create(email=email)
        Links(self.world.accounts).link(account.login, self.upstream, self.idp.issuer, f"sub-of-{email}")
        return self.world.accounts.require(account.login)

    def challenge(self, method, account) -> dict:
        begun = method.begin(self.world.ctx, {"upstream": self.upstream["id"]})
        return self.idp.authenticate(begun.redirect, sub=f"sub-of-{account.email}", email=account.email)


class UpstreamSAMLDriver:
    """Corporate SSO over SAML: a forging IdP signs the responses (tests/support/saml_idp.py);
    the answer `complete` takes is what the ACS (`arrive`) made of the posted response."""

    fields = {"arrival"}
    expiry = ARRIVAL_LIFETIME
    expired_message = "error.upstream.expired"
    needs_fields_to_begin = True

    def __init__(self, world):
        self.world = world
        self.idp = ForgingIdP(world.folder)
        self.upstream = Upstreams(world.tenant.store).add_saml(
            name="Example Corp SAML", metadata=self.idp.metadata(), domains=["example.com"])

    def enrol(self, email):
        account = self.world.accounts.create(email=email)
        Links(self.world.accounts).link(account.login, self.upstream, self.idp.entity_id, email)
        return self.world.accounts.require(account.login)

    def challenge(self, method, account) -> dict:
        begun = method.begin(self.world.ctx, {"upstream": self.upstream["id"]})
        response = self.idp.response(request_id=authn_request_of(begun.redirect).get("ID"),
                                     acs=acs_url(ORIGIN), audience=sp_entity_id(ORIGIN, self.upstream["id"]),
                                     name_id=account.email)
        return method.arrive(self.world.ctx, {"SAMLResponse": encode(response),
                                              "RelayState": request_of(begun.redirect)["RelayState"]})


class WalletDriver:
    """The EU Wallet: a test wallet (tests/support/eudi_wallet.py) presents an mdoc PID from a
    provider the tenant trusts, scanned from the QR code (another device); the answer
    `complete` takes is the transaction, once `respond` verified the wallet's post."""

    fields = {"t"}
    expiry = WALLET_LIFETIME
    expired_message = "error.wallet.expired"
    needs_fields_to_begin = True
    begin_submission = {"wallet": "1"}

    def __init__(self, world):
        self.world = world
        self.ca = PidCA()
        TrustList(world.tenant.store).add(self.ca.root_pem)

    def claims(self, email) -> dict:
        return {"given_name": email.split("@")[0], "family_name": "Example", "birth_date": "1990-01-01"}

    def enrol(self, email):
        account = self.world.accounts.create(email=email)
        subject = link_subject(self.world.tenant.store, anchor=self.ca.root.subject.rfc4514_string(),
                               claims=self.claims(email))
        Links(self.world.accounts).link(account.login, WALLET, LINK_ISSUER, subject)
        return self.world.accounts.require(account.login)

    def challenge(self, method, account) -> dict:
        tid = method.begin(self.world.ctx, self.begin_submission).data["transaction"]
        request = check_request_object(method.request_object(self.world.ctx, tid, via="qr", wallet_nonce=None),
                                       client_id=None)
        transcript = session_transcript(client_id=request.client_id, nonce=request.claims["nonce"],
                                        jwk=request.encryption_key, response_uri=request.claims["response_uri"])
        document = pid_mdoc.issue(self.ca, claims=self.claims(account.email))
        token = pid_mdoc.vp_token(pid_mdoc.present(document, transcript))
        answer = encrypt({"vp_token": {"pid_mdoc": [token]}, "state": request.claims["state"]},
                         request.encryption_key)
        assert method.respond(self.world.ctx, tid, {"response": answer}) == {}
        return {"t": tid}


DRIVERS = {"magic_link": MagicLinkDriver, "passkey": PasskeyDriver, "password": PasswordDriver,
           "oidc": UpstreamOIDCDriver, "saml": UpstreamSAMLDriver, "wallet": WalletDriver}


class World:
    def __init__(self, data_root):
        self.clock = Clock()
        self.folder = data_root
        self.tenant = Tenants(str(data_root), clock=self.clock).get("demo")
        self.tenant.settings["methods"] = list(REGISTRY)
        self.accounts = Accounts(self.tenant.store, "localhost")
        pickup = os.path.join(str(data_root), "_mail", "pickup")
        self.mailbox = Mailbox(pickup)
        self.ctx = SignInContext(tenant=self.tenant, accounts=self.accounts,
                                 mailer=Mailer(pickup=pickup, sender="no-reply@localhost", sender_name="Demo"),
                                 base_url=ORIGIN, client_ip="192.0.2.7", language="en", browser="this-browser",
                                 rp_id=RP_ID)

        self.idps: list[UpstreamIdP] = []

    def records(self, kind) -> list[str]:
        return self.tenant.store.list(layout.TRANSIENT, kind)

    def upstream_idp(self) -> UpstreamIdP:
        idp = UpstreamIdP(clock=self.clock)
        self.idps.append(idp)
        return idp


@pytest.fixture
def world(tenants, data_root, monkeypatch):
    monkeypatch.setattr(passwords, "ITERATIONS", 1000)  # speed; the stored count is what is checked
    monkeypatch.setattr(passwords, "DUMMY", {**passwords.DUMMY, "iterations": 1000})
    world = World(data_root)
    yield world
    for idp in world.idps:
        idp.stop()


@pytest.fixture(params=sorted(REGISTRY))
def method(request):
    return REGISTRY[request.param]()


@pytest.fixture
def driver(method, world):
    return DRIVERS[method.name](world)


def test_every_registered_method_has_a_driver_here():
    assert set(DRIVERS) == set(REGISTRY)


def test_success_is_a_verified_identity_and_nothing_more(method, driver, world):
    account = driver.enrol("alice@example.com")
    answer = driver.challenge(method, account)
    identity = method.complete(world.ctx, answer)
    assert isinstance(identity, VerifiedIdentity)
    assert identity.login == account.login and identity.method == method.name
    assert identity.amr and all(isinstance(value, str) for value in identity.amr)
    assert identity.auth_time == world.ctx.now()
    for kind in NOT_THE_METHODS:
        assert world.records(kind) == [], f"{method.name} wrote {kind}"
    assert world.accounts.require(account.login).listed_sessions == []


def test_another_methods_submission_is_not_mine(method, driver, world):
    driver.enrol("alice@example.com")
    for other, other_driver in DRIVERS.items():
        if other == method.name or other_driver.fields >= driver.fields:
            continue
        submission = dict.fromkeys(other_driver.fields - driver.fields, "x")
        with pytest.raises(NotMine):
            method.complete(world.ctx, submission)
    with pytest.raises(NotMine):
        method.complete(world.ctx, {"unrelated": "x"})


def test_begin_without_the_methods_fields(method, driver, world):
    if driver.needs_fields_to_begin:
        with pytest.raises(NotMine):
            method.begin(world.ctx, {})
    else:
        assert isinstance(method.begin(world.ctx, {}), Challenge)


def test_an_expired_challenge_fails_with_its_message(method, driver, world):
    account = driver.enrol("alice@example.com")
    answer = driver.challenge(method, account)
    if driver.expiry is None:
        # Nothing was handed out, so nothing can expire: begin wrote nothing at all.
        assert world.records(layout.WEBAUTHN_CHALLENGES) == world.records(layout.MAGIC_LINKS) == []
        return
    world.clock.advance(driver.expiry + 1)
    with pytest.raises(SignInFailed) as failure:
        method.complete(world.ctx, answer)
    assert failure.value.message_id == driver.expired_message


def test_a_challenge_answers_once(method, driver, world):
    account = driver.enrol("alice@example.com")
    answer = driver.challenge(method, account)
    method.complete(world.ctx, answer)
    if driver.expiry is None:
        return  # a password is meant to be used again
    with pytest.raises(SignInFailed):
        method.complete(world.ctx, answer)


def test_a_disabled_account_cannot_sign_in(method, driver, world):
    account = driver.enrol("alice@example.com")
    answer = driver.challenge(method, account)
    world.accounts.set_disabled(account.login, True)
    with pytest.raises(AccountDisabled) as failure:
        method.complete(world.ctx, answer)
    assert failure.value.status == 403
    for kind in NOT_THE_METHODS:
        assert world.records(kind) == []


def test_usable_by_says_what_the_account_holds(method, driver, world):
    assert method.usable_by(driver.enrol("alice@example.com"))


def test_disabled_methods_are_not_enabled(method, world):
    world.tenant.settings["methods"] = [name for name in REGISTRY if name != method.name]
    assert method.name not in enabled(world.tenant)


def test_the_methods_pages_exist(method, driver, world):
    folder = ROOT / "templates" / "signin" / method.name
    # Its part of the sign-in page: a form of its own, or buttons in the list of company sign-ins.
    assert (folder / "form.html").is_file() or "upstreams" in method.page_part(world.tenant)
    if method.complete_failure_view:
        assert (folder / f"{method.complete_failure_view}.html").is_file()
    begun = method.begin(world.ctx, _begin_submission(driver, world))
    if begun.view:
        assert (folder / f"{begun.view}.html").is_file()
    if begun.redirect:  # the browser answers elsewhere and comes back to the method's callback
        assert begun.view is None and method.calls_back and method.answers == "page"
    elif begun.then:  # a page of ours that shows the challenge (the EU Wallet's request)
        assert begun.view is None and begun.then.startswith("/") and method.answers == "page"
    else:
        assert method.answers in ("page", "json") and (begun.view is None) == (method.answers == "json")


def _begin_submission(driver, world) -> dict:
    if hasattr(driver, "begin_submission"):
        return driver.begin_submission
    return {"email": driver.enrol("bob@example.com").email} if driver.needs_fields_to_begin else {}


def test_a_method_signs_in_only_its_own_tenant(method, driver, world, tenants, data_root):
    account = driver.enrol("alice@example.com")
    answer = driver.challenge(method, account)
    acme = tenants.get("acme")
    elsewhere = replace(world.ctx, tenant=acme, accounts=Accounts(acme.store, "acme.localhost"))
    with pytest.raises(SignInFailed):
        method.complete(elsewhere, answer)
