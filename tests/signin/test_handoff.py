"""The hand-off protocol on its own, without Flask: issue, redeem once, and each refusal's code."""

import json
import os

import pytest

from codeb.errors import SignInFailed
from codeb.signin import handoff
from codeb.store import Store, layout
from tests.support.clock import Clock

TENANT = "newco"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    return Store(str(tmp_path / TENANT), clock=clock)


def issued(store):
    return handoff.issue(store, tenant=TENANT, request_id="a" * 32, browser="b" * 64, login="founder",
                         verified_at=int(store.clock()) - 30)


def test_a_token_is_the_admins_identity_once(store):
    value = issued(store)
    identity = handoff.redeem(store, value, tenant=TENANT)
    assert (identity.login, identity.method, identity.amr) == ("founder", "handoff", ("otp",))
    assert identity.auth_time == int(store.clock()) - 30  # when the mailed link was opened
    assert identity.detail == {"request": "a" * 32}
    with pytest.raises(SignInFailed) as replay:
        handoff.redeem(store, value, tenant=TENANT)
    assert replay.value.message_id == "error.handoff.used"


def test_only_the_tokens_hash_is_stored(store):
    value = issued(store)
    token = value.split(".", 1)[1]
    folder = store.folder(layout.TRANSIENT, layout.HANDOFFS)
    stored = "".join(open(os.path.join(folder, name)).read() for name in os.listdir(folder) if name.endswith(".json"))
    assert token not in stored and json.loads(stored)["login"] == "founder"


def test_a_token_lives_one_minute(store, clock):
    value = issued(store)
    clock.advance(handoff.LIFETIME + 1)
    with pytest.raises(SignInFailed) as late:
        handoff.redeem(store, value, tenant=TENANT)
    assert late.value.message_id == "error.handoff.expired"
    with pytest.raises(SignInFailed) as again:  # spent by the late try: never good afterwards
        handoff.redeem(store, value, tenant=TENANT)
    assert again.value.message_id == "error.handoff.used"


def test_after_its_record_is_gone_a_token_is_unknown(store, clock):
    value = issued(store)
    clock.advance(handoff.KEPT + 1)
    with pytest.raises(SignInFailed) as gone:
        handoff.redeem(store, value, tenant=TENANT)
    assert gone.value.message_id == "error.handoff.invalid"


def test_a_token_of_another_tenant_is_never_looked_up(store, tmp_path, clock):
    other = Store(str(tmp_path / "acme"), clock=clock)
    value = issued(store)
    with pytest.raises(SignInFailed) as elsewhere:
        handoff.redeem(other, value, tenant="acme")
    assert elsewhere.value.message_id == "error.handoff.other_tenant"
    assert handoff.redeem(store, value, tenant=TENANT).login == "founder"  # untouched at home


@pytest.mark.parametrize("value", [None, 7, "", "newco", "newco.", ".token", "New Co.token", "newco.a/b",
                                   "newco.a b", "newco." + "a" * 300])
def test_a_malformed_token_is_invalid(store, value):
    with pytest.raises(SignInFailed) as bad:
        handoff.redeem(store, value, tenant=TENANT)
    assert bad.value.message_id == "error.handoff.invalid"


def test_the_checks_in_order():
    presented = handoff.Presented(tenant=TENANT, token="t")
    record = {"tenant": TENANT, "login": "founder", "valid_until": 100, "verified_at": 40, "request": "r"}

    def code(**facts):
        with pytest.raises(SignInFailed) as failure:
            handoff.verify(**{"presented": presented, "expected_tenant": TENANT, "record": record, "taken": True,
                              "now": 50, **facts})
        return failure.value.message_id

    assert code(expected_tenant="acme") == "error.handoff.other_tenant"
    assert code(record=None) == "error.handoff.invalid"
    assert code(record={**record, "tenant": "acme"}) == "error.handoff.invalid"
    assert code(taken=False) == "error.handoff.used"
    assert code(now=101) == "error.handoff.expired"
    assert handoff.verify(presented=presented, expected_tenant=TENANT, record=record, taken=True,
                          now=100).auth_time == 40
