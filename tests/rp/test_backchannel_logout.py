"""Back-Channel Logout 1.0 from the relying party's side, against the served provider.

Each relying party here is a tiny HTTP server on a loopback port, its back-channel logout
URI, which validates every Logout Token as §2.6 asks of an RP, with nothing of the
provider's code: the signature against the provider's `/jwks.json` (the discovery
document's `jwks_uri`), `typ` `logout+jwt`, `iss`, `aud`, `iat` and `exp`, the `events` member,
no `nonce`, a `sub` and/or a `sid`, the `sid` one of its own sessions' ID tokens carried, and
each `jti` used once. A valid token logs that session out and is answered 200 (§2.8), an
invalid one 400. The person's browser is a `requests.Session` (`user_agent`).

The served app delivers with its own courier thread, after the sign-out's response; the tests
wait for it with events and by joining it (it ends once the queue is empty), never by time.
"""

import itertools
import json
import os
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from codeb import audit
from codeb.oidc import backchannel, backchannel_delivery
from codeb.oidc.clients import Clients
from codeb.tenants import Tenants
from codeb.web import context
from tests.support import loopback_http
from tests.support.factories import closing_all
from tests.support.oidc import authorize_params
from tests.support.processes import free_port
from tests.support.user_agent import Browser, hidden_value
from tests.support.web import RP, pkce_pair, query_of

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LEEWAY = 60  # seconds of clock skew the RP accepts on iat and exp
MAX_AGE = 300  # how old an iat the RP still accepts
CALLBACK = "http://127.0.0.1:9999/cb"  # never followed: the browser stops at the redirect
WAIT = 30  # the bound on every wait below: a failing test ends, a passing one never waits it out


class Refused(Exception):
    """The Logout Token fails a check of §2.6 (answered 400, §2.8)."""


def validate_logout_token(token: str, *, keys: KeySet, issuer: str, client_id: str, now: float,
                          sessions: dict, seen: set) -> dict:
    """§2.6, step by step, as an RP must: the token's claims, or Refused naming the step."""
    try:  # 2. the signature, with the OP's keys and the algorithm the RP expects (RS256)
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except (JoseError, ValueError) as error:
        raise Refused("signature") from error
    header, claims = decoded.header, decoded.claims
    if header.get("typ") != "logout+jwt":  # §2.4, §4.1: explicitly typed, never taken for an ID token
        raise Refused("typ")
    if claims.get("iss") != issuer:  # 2. (and 7.: the issuer of the ID tokens it logs out)
        raise Refused("iss")
    aud = claims.get("aud")
    if client_id not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise Refused("aud")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not now - MAX_AGE <= iat <= now + LEEWAY:
        raise Refused("iat")
    if not isinstance(exp, int) or exp + LEEWAY < now:
        raise Refused("exp")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) or isinstance(sid, str)):  # 3.
        raise Refused("sub or sid")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):  # 4.
        raise Refused("events")
    if "nonce" in claims:  # 5.
        raise Refused("nonce")
    jti = claims.get("jti")
    if not isinstance(jti, str) or jti in seen:  # 6. one use of each jti
        raise Refused("jti")
    seen.add(jti)
    if sid is not None and (sid not in sessions or (sub is not None and sessions[sid] != sub)):  # 8.
        raise Refused("sid")
    if sid is None and sub not in sessions.values():  # 8.
        raise Refused("sub")
    return claims


class RelyingParty:
    """An RP with a back-channel logout endpoint: its sessions (sid → sub, from ID tokens it
    validated) and what its endpoint accepted and refused. `status` is what it answers after a
    valid token (500: it fails to log out); `gate`, if given, holds every answer until set."""

    def __init__(self, *, client, issuer: str, keys: KeySet, clock, status: int = 200, gate=None):
        self.client, self.issuer, self.keys, self.clock = client, issuer, keys, clock
        self.status, self.gate = status, gate
        self.sessions: dict[str, str] = {}
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self.seen: set[str] = set()
        self.changed = threading.Condition()
        self.arrived, self.answered = threading.Event(), threading.Event()
        self.server = loopback_http.start(_Endpoint, rp=self)
        self.url = loopback_http.url(self.server, "/backchannel?rp=1")  # §2.2: a query is allowed

    def signed_in(self, id_token: str) -> dict:
        claims = jwt.decode(id_token, self.keys, algorithms=["RS256"]).claims
        assert claims["iss"] == self.issuer and claims["aud"] == self.client.client_id and claims["sid"]
        self.sessions[claims["sid"]] = claims["sub"]
        return claims

    def receive(self, content_type: str, body: bytes) -> int:
        if content_type != "application/x-www-form-urlencoded":  # §2.5
            return self._refuse("content type")
        tokens = parse_qs(body.decode("ascii")).get("logout_token", [])
        try:
            claims = validate_logout_token(tokens[0] if len(tokens) == 1 else "", keys=self.keys,
                                           issuer=self.issuer, client_id=self.client.client_id, now=self.clock(),
                                           sessions=self.sessions, seen=self.seen)
        except Refused as refused:
            return self._refuse(str(refused))
        with self.changed:
            self.accepted.append(claims)
            if self.status == 200:  # §2.7: log that session out (every session of the sub without a sid)
                self.sessions = {s: u for s, u in self.sessions.items()
                                 if not (s == claims.get("sid") or ("sid" not in claims and u == claims["sub"]))}
            self.changed.notify_all()
        return self.status

    def _refuse(self, reason: str) -> int:
        with self.changed:
            self.refused.append(reason)
            self.changed.notify_all()
        return 400

    def wait_for(self, accepted: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.accepted) >= accepted, WAIT), (self.accepted, self.refused)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        loopback_http.stop(self.server)


class _Endpoint(loopback_http.Handler):
    def do_POST(self):  # http.server calls it by this name
        rp: RelyingParty = self.server.rp  # type: ignore[attr-defined]
        body = self.body()
        rp.arrived.set()
        if rp.gate is not None:
            assert rp.gate.wait(WAIT)
        self.answer(rp.receive(self.headers.get("Content-Type", ""), body), Cache_Control="no-store")  # §2.8
        rp.answered.set()


@pytest.fixture
def provider_keys(served) -> KeySet:
    meta = requests.get(served + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True
    assert "sid" in meta["claims_supported"]
    return KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())


@pytest.fixture
def relying_parties(served, demo, clock, provider_keys):
    """`make(status=200, gate=None)`: a new RP registered with the demo tenant, its
    back-channel logout URI its own endpoint."""
    numbers = itertools.count()

    def make(status=200, gate=None) -> RelyingParty:
        client, secret = Clients(demo.store).add(name=f"RP {next(numbers)}", redirect_uris=[CALLBACK])
        client.secret = secret
        rp = RelyingParty(client=client, issuer=served, keys=provider_keys, clock=clock, status=status, gate=gate)
        Clients(demo.store).configure(client.client_id, backchannel_logout_uri=rp.url)
        return rp

    with closing_all(make, RelyingParty.close) as factory:
        yield factory


@pytest.fixture
def store(data_root, clock, served):
    """The demo tenant's store on the app's clock."""
    return Tenants(str(data_root), clock=clock).get("demo").store


def code_flow(served, browser: Browser, rp: RelyingParty, email="alice@example.com", **extra) -> dict:
    """The authorization code flow of `rp` in `browser`, signing in if it is not yet; the token response."""
    verifier, challenge = pkce_pair()
    registered = RP(rp.client.client_id, rp.client.secret, CALLBACK)
    url = served + "/authorize?" + urlencode(authorize_params(registered, challenge, **extra))
    first = browser.get(url)
    location = first.headers["Location"] if first.status_code == 302 else browser.sign_in(url, email)
    answer = requests.post(served + "/token", auth=(registered.client_id, registered.secret), timeout=10, data={
        "grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    assert answer.status_code == 200, answer.text
    return answer.json()


def sign_in_to(served, browser: Browser, rp: RelyingParty, email="alice@example.com") -> dict:
    """`rp` signs the person in: the validated ID token's claims, kept as its session."""
    return rp.signed_in(code_flow(served, browser, rp, email)["id_token"])


def csrf_from(served, browser: Browser) -> str:
    page = browser.get(served + "/account")
    assert page.status_code == 200, page.status_code
    return hidden_value(page.text, "csrf")


def courier_finished(store) -> None:
    """Wait for the served app's courier to end: it ends once nothing is left in the queue."""
    courier = backchannel_delivery.courier_of(store)
    if courier is not None:
        courier.join(WAIT)
        assert not courier.is_alive()


def test_rp_initiated_logout_reaches_the_rps_that_session_signed_in_and_no_other(
        served, user_agent, mailbox, relying_parties, store):
    first, second, stranger = relying_parties(), relying_parties(), relying_parties()
    here = sign_in_to(served, user_agent, first)
    assert sign_in_to(served, user_agent, second)["sid"] == here["sid"]  # one browser session, one sid
    elsewhere = Browser(mailbox)
    there = sign_in_to(served, elsewhere, stranger)  # the same person, another browser
    hint = code_flow(served, user_agent, first, prompt="none")["id_token"]

    out = user_agent.get(served + "/logout?" + urlencode({"id_token_hint": hint}))
    assert out.status_code == 200
    first.wait_for(accepted=1)
    second.wait_for(accepted=1)
    courier_finished(store)
    for rp in (first, second):
        (claims,) = rp.accepted
        assert (claims["sid"], claims["sub"]) == (here["sid"], here["sub"]) and rp.refused == []
        assert rp.sessions == {}  # logged out
    assert stranger.accepted == [] and stranger.refused == [] and stranger.sessions == {there["sid"]: there["sub"]}
    delivered = [e for e in audit.read_all(store) if e["event"] == "backchannel.delivered"]
    assert sorted(e["client_id"] for e in delivered) == sorted([first.client.client_id, second.client.client_id])


def sign_out_everywhere(served, browser, accounts) -> None:
    done = browser.post(served + "/account/sessions/end-all", data={"csrf": csrf_from(served, browser)})
    assert done.status_code == 303


def disable(served, browser, accounts) -> None:
    accounts.set_disabled("alice", True)  # what the admin's Disable button calls


def delete(served, browser, accounts) -> None:
    accounts.delete("alice")  # what the admin's Delete button calls (GDPR erasure)


@pytest.mark.parametrize("end", [sign_out_everywhere, disable, delete])
def test_the_end_of_an_account_reaches_every_rp_of_every_session(
        served, user_agent, mailbox, relying_parties, store, data_root, clock, end):
    first, second = relying_parties(), relying_parties()
    elsewhere = Browser(mailbox)
    here = sign_in_to(served, user_agent, first)
    there = sign_in_to(served, elsewhere, first)
    sign_in_to(served, elsewhere, second)
    # The wired accounts, as the web layer makes them (codeb.web.context), on the app's clock.
    end(served, user_agent, context.accounts_of(Tenants(str(data_root), clock=clock).get("demo")))
    first.wait_for(accepted=2)
    second.wait_for(accepted=1)
    courier_finished(store)
    assert {(c["sid"], c["sub"]) for c in first.accepted} == {(here["sid"], here["sub"]), (there["sid"], here["sub"])}
    assert [c["sid"] for c in second.accepted] == [there["sid"]]
    assert first.sessions == second.sessions == {} and first.refused == second.refused == []
    assert elsewhere.get(served + "/account").status_code == 303  # that browser's session ended too
    courier_finished(store)
    assert len(first.accepted) == 2 and len(second.accepted) == 1  # and nobody was told twice


def closed_port() -> str:
    return f"http://127.0.0.1:{free_port()}/backchannel"


@pytest.mark.parametrize("receiver", ["down", "failing"])
def test_an_rp_that_is_down_or_fails_gets_retries_then_a_failed_audit_line(
        served, user_agent, relying_parties, store, clock, demo, monkeypatch, receiver):
    monkeypatch.setattr(backchannel, "wake", lambda store: None)  # the test drives every attempt
    rp = relying_parties(status=500)
    sign_in_to(served, user_agent, rp)
    if receiver == "down":
        Clients(demo.store).configure(rp.client.client_id, backchannel_logout_uri=closed_port())
    assert user_agent.post(served + "/signout", data={"csrf": csrf_from(served, user_agent)}).status_code == 303
    counts = [backchannel_delivery.deliver_due(store).counts]
    for delay in backchannel_delivery.BACKOFF:
        clock.advance(delay)
        counts.append(backchannel_delivery.deliver_due(store).counts)
    attempts = backchannel_delivery.ATTEMPTS
    assert counts == [{"retrying": 1}] * (attempts - 1) + [{"failed": 1}]
    (line,) = [e for e in audit.read_all(store) if e["event"] == "backchannel.failed"]
    assert line["client_id"] == rp.client.client_id and line["attempts"] == attempts
    assert line["reason"] == ("unreachable" if receiver == "down" else "refused")
    if receiver == "failing":  # every attempt was a valid token of its own (a fresh jti each time)
        assert len(rp.accepted) == attempts and rp.refused == []
    assert backchannel_delivery.deliver_due(store).counts == {}


def test_a_slow_rp_does_not_slow_the_sign_out(served, user_agent, relying_parties, store):
    gate = threading.Event()
    rp = relying_parties(gate=gate)
    sign_in_to(served, user_agent, rp)
    out = user_agent.post(served + "/signout", data={"csrf": csrf_from(served, user_agent)})
    assert out.status_code == 303  # the person is signed out and answered...
    assert not rp.answered.is_set()  # ...while the RP has not answered its logout
    gate.set()
    rp.wait_for(accepted=1)
    courier_finished(store)
    assert rp.sessions == {}


def test_two_deliverers_never_send_one_job_twice_at_once(
        served, user_agent, relying_parties, store, data_root, monkeypatch):
    monkeypatch.setattr(backchannel, "wake", lambda store: None)  # no courier: two deliverers of our own
    gate = threading.Event()
    rp = relying_parties(gate=gate)
    sign_in_to(served, user_agent, rp)
    assert user_agent.post(served + "/signout", data={"csrf": csrf_from(served, user_agent)}).status_code == 303
    first: list = []
    patient = threading.Thread(target=lambda: first.append(backchannel_delivery.deliver_due(
        store, send=lambda uri, token: backchannel_delivery.post(uri, token, timeout=WAIT))))
    patient.start()
    assert rp.arrived.wait(WAIT)  # the first deliverer holds the job, its POST waiting for the RP
    second = cli_deliver(data_root)  # another process, as a scheduled task would run it
    assert second["busy"] == 1 and second["delivered"] == 0
    gate.set()
    patient.join(WAIT)
    assert first[0].counts == {"delivered": 1}
    assert len(rp.accepted) == 1 and rp.refused == []
    assert cli_deliver(data_root) == {"tenant": "demo", "delivered": 0, "retrying": 0, "failed": 0, "busy": 0,
                                      "waiting": 0}


def cli_deliver(data_root) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-m", "codeb", "--data", str(data_root), "backchannel", "deliver", "demo"],
                          cwd=root, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)
