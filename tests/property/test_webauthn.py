"""WebAuthn data from the browser: client data JSON, authenticator data, attestation
objects, with any bytes or JSON in any field, through registration, the refusal reason
and the passkey sign-in itself. Only the documented refusals come out."""

import copy
import json
import os
import types
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

import codeb.accounts.passkeys
from codeb.accounts import Accounts
from codeb.accounts.passkeys import (
    INVALID,
    UV_MISSING,
    WRONG_SITE,
    Challenges,
    Passkeys,
    Policy,
    refusal,
    verify_registration,
)
from codeb.errors import AccountDisabled, BadInput, SignInFailed
from codeb.notify.mail import Mailer
from codeb.signin.base import SignInContext
from codeb.signin.passkey import PURPOSE, PasskeySignIn
from codeb.tenants import Tenants
from tests.property.strategies import json_values
from tests.support.clock import Clock

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "webauthn", "chromium.json")
with open(FIXTURE, encoding="utf-8") as _f:
    REC = json.load(_f)
ORIGIN, RP_ID = REC["origin"], REC["rp_id"]
REG = REC["authenticators"]["a"]["registration"]
AUTH = REC["authenticators"]["a"]["authentications"][0]
BROWSER = "csrf-token-of-this-browser"


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


def challenge_of(entry) -> bytes:
    return base64url_to_bytes(entry["challenge"])


def client_data(challenge: bytes, fields: dict) -> bytes:
    doc = {"type": "webauthn.get", "challenge": b64(challenge), "origin": ORIGIN, **fields}
    return json.dumps(doc).encode()


# A field of the credential replaced: by any JSON, by any bytes, by client data with odd
# members, or by the recorded bytes with some flipped or cut.
def tampered(entry, field_names):
    def bend(credential, name, value):
        credential = copy.deepcopy(credential)
        target = credential["response"] if name in credential["response"] else credential
        target[name] = value
        return credential

    recorded = entry["credential"]
    values = st.one_of(
        json_values,
        st.binary(max_size=120).map(b64),
        st.dictionaries(st.sampled_from(["type", "challenge", "origin", "crossOrigin", "tokenBinding"]),
                        json_values, max_size=4).map(lambda f: b64(client_data(challenge_of(entry), f))),
        st.integers(0, 200).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(b64),
    )
    cut = st.sampled_from(field_names).flatmap(
        lambda name: st.integers(0, 300).map(lambda n: (name, n)))
    return st.one_of(
        st.tuples(st.sampled_from(field_names), values).map(lambda nv: bend(recorded, *nv)),
        cut.map(lambda nn: bend(recorded, nn[0], _cut(recorded, nn[0], nn[1]))),
        json_values,
    )


def _cut(credential, name, n):
    value = credential["response"].get(name, credential.get(name))
    return value[:n] if isinstance(value, str) else value


REGISTRATION_FIELDS = ["clientDataJSON", "attestationObject", "transports", "id", "rawId", "type"]
ASSERTION_FIELDS = ["clientDataJSON", "authenticatorData", "signature", "userHandle", "id", "rawId", "type"]


@settings(max_examples=150)
@given(tampered(REG, REGISTRATION_FIELDS))
def test_any_registration_is_a_passkey_or_bad_input(credential):
    try:
        passkey = verify_registration(credential=credential, challenge=challenge_of(REG), rp_id=RP_ID,
                                      origin=ORIGIN, policy=Policy(), now=0)
    except BadInput:
        return
    assert passkey["id"] and passkey["public_key"]


@settings(max_examples=150)
@given(st.sampled_from(["create", "get"]), tampered(AUTH, ASSERTION_FIELDS) | tampered(REG, REGISTRATION_FIELDS),
       st.booleans())
def test_the_refusal_reason_of_any_data_is_one_of_three(ceremony, credential, uv_required):
    reason = refusal(credential, ceremony=ceremony, challenge=challenge_of(AUTH), rp_id=RP_ID, origin=ORIGIN,
                     uv_required=uv_required)
    assert reason in (INVALID, WRONG_SITE, UV_MISSING)


@pytest.fixture
def world(tenants, data_root):
    tenant = Tenants(str(data_root), clock=Clock()).get("demo")
    accounts = Accounts(tenant.store, "localhost")
    ctx = SignInContext(tenant=tenant, accounts=accounts,
                        mailer=Mailer(pickup=os.path.join(str(data_root), "_mail", "pickup"),
                                      sender="no-reply@localhost", sender_name="Demo"),
                        base_url=ORIGIN, client_ip="192.0.2.1", language="en", browser=BROWSER, rp_id=RP_ID)
    account = accounts.create(email="alice@example.com")
    with accounts.update(account.login) as doc:
        doc["webauthn_user_id"] = REG["user_handle"]
    Passkeys(tenant, accounts).add(account.login, verify_registration(
        credential=copy.deepcopy(REG["credential"]), challenge=challenge_of(REG), rp_id=RP_ID, origin=ORIGIN,
        policy=Policy(), now=0))
    return types.SimpleNamespace(ctx=ctx, store=tenant.store)


@settings(max_examples=100)
@given(credential=tampered(AUTH, ASSERTION_FIELDS))
def test_any_assertion_signs_in_or_is_refused(world, credential):
    # The recorded challenge, handed out by Challenges.issue itself (only its random bytes are
    # the recording's), from a network of its own, spent by this very attempt.
    fake = types.SimpleNamespace(token_bytes=lambda n: challenge_of(AUTH) if n == 32 else os.urandom(n))
    with mock.patch.object(codeb.accounts.passkeys, "secrets", fake):
        cid, _ = Challenges(world.store).issue(purpose=PURPOSE, browser=BROWSER, client=os.urandom(8).hex())
    try:
        identity = PasskeySignIn().complete(world.ctx, {"challenge_id": cid, "credential": credential})
    except (SignInFailed, AccountDisabled):
        return
    assert identity.login
