"""OpenID Connect Back-Channel Logout 1.0 on the provider's side (codeb.oidc.backchannel*).

The sign-outs are made over HTTP with Flask's test client; delivery is driven here, by
`deliver_due` with a recorded `send` and the test clock (no courier thread: `wake` is
recorded). The real HTTP receiver, the courier and a second process are in
tests/rp/test_backchannel_logout.py.
"""

import json
import threading
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from joserfc import jwt

from codeb import audit
from codeb.oidc import backchannel, backchannel_delivery, keys
from codeb.oidc.backchannel_delivery import BACKOFF, BUSY, DELIVERED, FAILED, RETRYING, WAITING, deliver_due
from codeb.oidc.backchannel_queue import EVENT, Queue
from codeb.oidc.clients import Clients
from codeb.store import layout, secret_id
from codeb.tenants import Tenants
from tests.support.oidc import tokens_for
from tests.support.web import HOST, RP, csrf_of, sign_in, signed_in_admin

BC = "http://127.0.0.1:9/bc"  # never contacted here: `send` is recorded
ISSUER = "http://localhost"  # the test client's issuer (Host: localhost, port 80)


@pytest.fixture(autouse=True)
def woken(monkeypatch):
    """The stores whose courier a sign-out woke; no thread runs."""
    roots = []
    monkeypatch.setattr(backchannel, "wake", lambda store: roots.append(store.root))
    return roots


@pytest.fixture
def store(data_root, clock, app):
    """The demo tenant's store on the test clock, as the app sees it."""
    return Tenants(str(data_root), clock=clock).get("demo").store


@pytest.fixture
def apps(demo, rp):
    """`rp` and `other` take back-channel logouts; `plain` does not."""
    clients = Clients(demo.store)
    clients.configure(rp.client_id, backchannel_logout_uri=BC + "/rp")
    other, other_secret = clients.add(name="Other RP", redirect_uris=["http://127.0.0.1:9998/cb"])
    clients.configure(other.client_id, backchannel_logout_uri=BC + "/other")
    plain, plain_secret = clients.add(name="Plain RP", redirect_uris=["http://127.0.0.1:9997/cb"])
    return SimpleNamespace(rp=rp, other=RP(other.client_id, other_secret, "http://127.0.0.1:9998/cb"),
                           plain=RP(plain.client_id, plain_secret, "http://127.0.0.1:9997/cb"))


class Receiver:
    """A recorded `send`: every (uri, logout token), answered with `status`."""

    def __init__(self, status=200):
        self.status = status
        self.posted: list[tuple[str, str]] = []

    def __call__(self, uri, token):
        self.posted.append((uri, token))
        return self.status


def claims_of(store, token, typ):
    decoded = jwt.decode(token, keys.load(store).verifying, algorithms=["RS256"])
    assert decoded.header["typ"] == typ and decoded.header["kid"] == keys.load(store).kid
    return decoded.claims


def jobs(store) -> list[dict]:
    queue = Queue(store)
    return [queue.read(job_id) for job_id in queue.ids()]


def told(store) -> set[tuple[str, str | None]]:
    return {(job["client_id"], job.get("sid")) for job in jobs(store)}


def sid_of(browser) -> str:
    return backchannel.session_id(secret_id(browser.get_cookie("codeb", domain=HOST).value))


def audit_lines(store, event):
    return [e for e in audit.read_all(store) if e["event"] == event]


# -- sid in ID tokens (§2.1, §2.4) ----------------------------------------------------------

def test_the_id_token_names_its_browser_session_by_a_derived_sid(app, client, mailbox, rp, store):
    first = claims_of(store, tokens_for(client, mailbox, rp)["id_token"], "JWT")
    cookie = client.get_cookie("codeb", domain=HOST).value
    assert first["sid"] == backchannel.session_id(secret_id(cookie))
    assert first["sid"] not in (cookie, secret_id(cookie))  # neither the secret nor the store's key
    again = claims_of(store, tokens_for(client, mailbox, rp)["id_token"], "JWT")
    assert again["sid"] == first["sid"]  # stable for the session's life
    elsewhere = app.test_client()
    other = claims_of(store, tokens_for(elsewhere, mailbox, rp)["id_token"], "JWT")
    assert other["sub"] == first["sub"] and other["sid"] != first["sid"]  # another browser, another session


def test_only_clients_with_a_logout_uri_cost_a_write(client, mailbox, apps, store, clock):
    tokens_for(client, mailbox, apps.plain)
    assert store.list(layout.TRANSIENT, layout.BACKCHANNEL_QUEUE) == []
    tokens_for(client, mailbox, apps.rp)
    (record,) = store.list(layout.TRANSIENT, layout.BACKCHANNEL_QUEUE)
    before = store.read(layout.TRANSIENT, layout.BACKCHANNEL_QUEUE, record)
    clock.advance(10)
    tokens_for(client, mailbox, apps.rp)  # the same session and client again: nothing new, no write
    assert store.read(layout.TRANSIENT, layout.BACKCHANNEL_QUEUE, record) == before


# -- one session ends -----------------------------------------------------------------------

def test_rp_initiated_logout_tells_the_clients_that_session_signed_in_and_no_others(
        app, client, mailbox, apps, store, woken):
    tokens = tokens_for(client, mailbox, apps.rp)
    tokens_for(client, mailbox, apps.plain)
    elsewhere = app.test_client()  # the same person in another browser, signed in to both
    tokens_for(elsewhere, mailbox, apps.rp)
    tokens_for(elsewhere, mailbox, apps.other)
    id_token = claims_of(store, tokens["id_token"], "JWT")

    out = client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]}), headers={"Host": HOST})
    assert out.status_code == 200
    assert told(store) == {(apps.rp.client_id, id_token["sid"])}
    assert woken == [store.root]

    receiver = Receiver()
    assert deliver_due(store, send=receiver).counts == {DELIVERED: 1}
    ((uri, token),) = receiver.posted
    assert uri == BC + "/rp"
    claims = claims_of(store, token, "logout+jwt")
    assert claims["iss"] == ISSUER and claims["aud"] == apps.rp.client_id
    assert claims["sub"] == id_token["sub"] and claims["sid"] == id_token["sid"]
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims and claims["jti"]
    assert claims["exp"] - claims["iat"] == 120
    (line,) = audit_lines(store, "backchannel.delivered")
    assert line["client_id"] == apps.rp.client_id and line["sub"] == id_token["sub"] and line["attempts"] == 1
    assert token not in json.dumps(audit.read_all(store))
    assert jobs(store) == []


def test_signing_out_here_and_ending_a_device_tell_that_sessions_clients(app, client, mailbox, apps, store):
    tokens_for(client, mailbox, apps.rp)
    elsewhere = app.test_client()
    tokens_for(elsewhere, mailbox, apps.other)
    page = client.get("/account", headers={"Host": HOST})
    ended = client.post("/account/sessions/end", data={"csrf": csrf_of(page.text), "id": secret_id(
        elsewhere.get_cookie("codeb", domain=HOST).value)}, headers={"Host": HOST})
    assert ended.status_code == 303
    assert told(store) == {(apps.other.client_id, sid_of(elsewhere))}
    deliver_due(store, send=Receiver())
    sid = sid_of(client)
    assert client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST}).status_code == 303
    assert told(store) == {(apps.rp.client_id, sid)}


# -- the whole account ----------------------------------------------------------------------

def test_sign_out_everywhere_tells_every_client_of_every_session_once(app, client, mailbox, apps, store):
    sub = claims_of(store, tokens_for(client, mailbox, apps.rp)["id_token"], "JWT")["sub"]
    elsewhere = app.test_client()
    tokens_for(elsewhere, mailbox, apps.rp)
    tokens_for(elsewhere, mailbox, apps.other)
    here, there = sid_of(client), sid_of(elsewhere)
    page = client.get("/account", headers={"Host": HOST})
    assert client.post("/account/sessions/end-all", data={"csrf": csrf_of(page.text)},
                       headers={"Host": HOST}).status_code == 303
    expected = {(apps.rp.client_id, here), (apps.rp.client_id, there), (apps.other.client_id, there)}
    assert told(store) == expected
    assert elsewhere.get("/account", headers={"Host": HOST}).status_code == 303  # that session is over too...
    assert told(store) == expected and len(jobs(store)) == 3  # ...and its apps were told once
    receiver = Receiver()
    assert deliver_due(store, send=receiver).counts == {DELIVERED: 3}
    assert {claims_of(store, t, "logout+jwt")["sub"] for _, t in receiver.posted} == {sub}


@pytest.fixture
def bob(app, mailbox, accounts, apps):
    """bob, signed in to `rp` in his browser; an admin (boss) in hers."""
    accounts.create(email="bob@example.com", login="bob")
    browser = app.test_client()
    tokens = tokens_for(browser, mailbox, apps.rp, email="bob@example.com")
    return SimpleNamespace(browser=browser, sid=sid_of(browser), sub=accounts.get("bob").sub, tokens=tokens,
                           admin=signed_in_admin(app, mailbox, accounts))


def test_disabling_an_account_tells_its_clients(bob, apps, store):
    page = bob.admin.get("/admin/users/bob", headers={"Host": HOST})
    assert bob.admin.post("/admin/users/bob/disable", data={"csrf": csrf_of(page.text)},
                          headers={"Host": HOST}).status_code == 303
    assert told(store) == {(apps.rp.client_id, bob.sid)}
    assert bob.browser.get("/account", headers={"Host": HOST}).status_code == 303
    assert len(jobs(store)) == 1  # his session's own end told nobody twice
    receiver = Receiver()
    deliver_due(store, send=receiver)
    assert claims_of(store, receiver.posted[0][1], "logout+jwt")["sub"] == bob.sub


def test_deleting_an_account_tells_its_clients_and_keeps_nothing_of_them(bob, apps, store):
    page = bob.admin.get("/admin/users/bob", headers={"Host": HOST})
    assert bob.admin.post("/admin/users/bob/delete", data={"csrf": csrf_of(page.text), "confirm": "bob"},
                          headers={"Host": HOST}).status_code == 303
    assert told(store) == {(apps.rp.client_id, bob.sid)}
    assert backchannel.person_record(bob.sub) not in store.list(layout.TRANSIENT, layout.BACKCHANNEL_QUEUE)
    receiver = Receiver()
    deliver_due(store, send=receiver)
    claims = claims_of(store, receiver.posted[0][1], "logout+jwt")
    assert (claims["sub"], claims["sid"]) == (bob.sub, bob.sid)


def test_a_client_given_tokens_by_a_session_no_longer_known_is_told_by_sub_alone(bob, apps, store, clock, accounts,
                                                                                   demo):
    Clients(demo.store).configure(apps.plain.client_id, backchannel_logout_uri=BC + "/plain")
    # A token from a session whose grant note was lost, and one session too many for the record.
    backchannel.remember(store, client_id=apps.other.client_id, issuer=ISSUER, sub=bob.sub, login="bob", sid=None,
                         now=int(clock()))
    for n in range(backchannel.SIDS_KEPT + 1):
        backchannel.remember(store, client_id=apps.plain.client_id, issuer=ISSUER, sub=bob.sub, login="bob",
                             sid=f"s{n:02}", now=int(clock()) + n)
    backchannel.account_signed_out(store, accounts.require("bob"))
    sent = told(store)
    assert (apps.rp.client_id, bob.sid) in sent and (apps.rp.client_id, None) not in sent
    assert (apps.other.client_id, None) in sent
    plain = {sid for client_id, sid in sent if client_id == apps.plain.client_id}
    assert plain == {None} | {f"s{n:02}" for n in range(1, backchannel.SIDS_KEPT + 1)}  # s00 forgotten: sub alone
    receiver = Receiver()
    assert deliver_due(store, send=receiver).counts == {DELIVERED: len(sent)}
    sub_only = [claims_of(store, t, "logout+jwt") for _, t in receiver.posted]
    assert all(c["sub"] == bob.sub for c in sub_only)
    assert sum("sid" not in c for c in sub_only) == 2


# -- delivery ---------------------------------------------------------------------------------

def signed_out(client, mailbox, apps, store):
    tokens_for(client, mailbox, apps.rp)
    page = client.get("/account", headers={"Host": HOST})
    client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST})
    assert len(jobs(store)) == 1


@pytest.mark.parametrize("status", [200, 204])
def test_200_and_204_are_success(client, mailbox, apps, store, status):
    signed_out(client, mailbox, apps, store)
    assert deliver_due(store, send=Receiver(status)).counts == {DELIVERED: 1}
    assert jobs(store) == [] and audit_lines(store, "backchannel.delivered")[0]["status"] == status


@pytest.mark.parametrize(("status", "reason"), [(500, "refused"), (302, "refused"), (None, "unreachable")])
def test_a_client_that_does_not_confirm_is_retried_with_backoff_then_given_up(
        client, mailbox, apps, store, clock, status, reason):
    signed_out(client, mailbox, apps, store)
    receiver = Receiver(status)
    assert deliver_due(store, send=receiver).counts == {RETRYING: 1}
    assert deliver_due(store, send=receiver).counts == {WAITING: 1} and len(receiver.posted) == 1  # not yet due
    for delay in BACKOFF[:-1]:
        clock.advance(delay - 1)
        assert deliver_due(store, send=receiver).counts == {WAITING: 1}
        clock.advance(1)
        assert deliver_due(store, send=receiver).counts == {RETRYING: 1}
    clock.advance(BACKOFF[-1])
    assert deliver_due(store, send=receiver).counts == {FAILED: 1}
    assert len(receiver.posted) == backchannel_delivery.ATTEMPTS and jobs(store) == []
    # Each attempt signs its own token: the first would have expired by the second.
    assert len({claims_of(store, t, "logout+jwt")["jti"] for _, t in receiver.posted}) == len(receiver.posted)
    (line,) = audit_lines(store, "backchannel.failed")
    assert (line["attempts"], line["status"], line["reason"]) == (backchannel_delivery.ATTEMPTS, status, reason)
    assert line["client_id"] == apps.rp.client_id and not audit_lines(store, "backchannel.delivered")
    assert not any(t in json.dumps(audit.read_all(store)) for _, t in receiver.posted)
    assert audit.sentence(line)[0] == "audit.s.backchannel.failed"


def test_a_process_hands_what_a_recycled_one_left_waiting_to_its_courier(client, mailbox, apps, store, woken,
                                                                         monkeypatch):
    signed_out(client, mailbox, apps, store)
    assert deliver_due(store, send=Receiver(500)).counts == {RETRYING: 1}  # the retry is due later
    woken.clear()
    monkeypatch.setattr(backchannel, "_resumed", set())  # a new process: it has not looked yet
    client.get("/", headers={"Host": HOST})
    client.get("/", headers={"Host": HOST})
    assert woken == [store.root]  # its first request looked, and only that one
    # With nothing queued, a new process's first request starts no courier.
    Queue(store).remove(Queue(store).ids()[0])
    monkeypatch.setattr(backchannel, "_resumed", set())
    woken.clear()
    client.get("/", headers={"Host": HOST})
    assert woken == []


def test_a_send_that_raises_is_an_unreachable_attempt_not_a_stuck_job(client, mailbox, apps, store):
    """A URI saved before the checks were stricter (a non-ASCII one, which http.client cannot put
    in a request line) fails its attempts and is given up like any unreachable client."""
    signed_out(client, mailbox, apps, store)

    def broken(uri, token):
        raise UnicodeEncodeError("ascii", "ü", 0, 1, "not ASCII")

    assert deliver_due(store, send=broken).counts == {RETRYING: 1}
    assert jobs(store)[0]["attempts"] == 1 and jobs(store)[0]["status"] is None


def test_a_client_that_no_longer_takes_logouts_is_given_up_unsent(client, mailbox, apps, store, demo):
    signed_out(client, mailbox, apps, store)
    Clients(demo.store).configure(apps.rp.client_id, backchannel_logout_uri="")
    receiver = Receiver()
    assert deliver_due(store, send=receiver).counts == {FAILED: 1} and receiver.posted == []
    assert audit_lines(store, "backchannel.failed")[0]["reason"] == "unregistered"


def test_two_deliverers_never_send_one_job_at_once(client, mailbox, apps, store):
    signed_out(client, mailbox, apps, store)
    inside, release = threading.Event(), threading.Event()

    def slow(uri, token):
        inside.set()
        assert release.wait(30)
        return 200

    first: list = []
    worker = threading.Thread(target=lambda: first.append(deliver_due(store, send=slow)))
    worker.start()
    assert inside.wait(30)  # the first deliverer holds the job, in the middle of its POST
    other = Receiver()
    assert deliver_due(store, send=other).counts == {BUSY: 1} and other.posted == []
    release.set()
    worker.join(30)
    assert first[0].counts == {DELIVERED: 1}
    assert deliver_due(store, send=other).counts == {} and other.posted == []


def test_a_logout_token_names_a_sub_or_a_sid(store):
    with pytest.raises(ValueError):
        backchannel_delivery.logout_token(keys.load(store), issuer=ISSUER, client_id="c", sub=None, sid=None, now=1)


def test_a_session_that_signed_in_no_such_client_queues_nothing(client, mailbox, apps, store, woken):
    sign_in(client, mailbox, "carol@example.com")
    page = client.get("/account", headers={"Host": HOST})
    assert client.post("/signout", data={"csrf": csrf_of(page.text)}, headers={"Host": HOST}).status_code == 303
    assert jobs(store) == [] and woken == []
