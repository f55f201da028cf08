"""The magic-link method on its own, without Flask: begin, complete, and the attacks."""

import os
from urllib.parse import urlsplit

import pytest

from codeb import invites
from codeb.accounts import Accounts
from codeb.errors import BadInput, RateLimited, SignInFailed, SignUpRefused
from codeb.notify.mail import Mailer
from codeb.signin import enabled
from codeb.signin.base import SignInContext, VerifiedIdentity
from codeb.signin.magic_link import (
    CODE_ATTEMPTS,
    LINK,
    LINK_LIFETIME,
    PER_CLIENT,
    PER_MAILBOX,
    MagicLink,
    code_digest,
    read_code,
)
from codeb.tenants import Tenants
from tests.support.clock import Clock
from tests.support.mailbox import Mailbox


@pytest.fixture
def world(tenants, data_root):
    clock = Clock()
    registry = Tenants(str(data_root), clock=clock)
    tenant = registry.get("demo")
    pickup = os.path.join(str(data_root), "_mail", "pickup")
    ctx = SignInContext(tenant=tenant, accounts=Accounts(tenant.store, "localhost"),
                        mailer=Mailer(pickup=pickup, sender="no-reply@localhost", sender_name="Demo"),
                        base_url="http://localhost:8000", client_ip="192.0.2.1", language="en")
    return ctx, Mailbox(pickup), clock


def link_of(mailbox, email):
    return urlsplit(mailbox.last_link(to=email)).path[len("/link/"):]


def set_policy(ctx, policy, domains=()):
    with ctx.store.update("tenant") as doc:
        doc["signup"] = {"policy": policy, "domains": list(domains)}
    ctx.tenant.settings["signup"] = {"policy": policy, "domains": list(domains)}


def test_link_signs_up_a_new_person_once(world):
    ctx, mailbox, _ = world
    MagicLink().begin(ctx, {"email": "Alice@Example.com", "i": "ab" * 16})
    link = link_of(mailbox, "alice@example.com")
    identity = MagicLink().complete(ctx, {"link": link})
    assert isinstance(identity, VerifiedIdentity)
    assert identity.method == "magic_link" and identity.amr == ("otp",) and identity.created
    assert identity.interaction == "ab" * 16
    account = ctx.accounts.get(identity.login)
    assert account.email == "alice@example.com" and account.doc["email_verified"]
    with pytest.raises(SignInFailed) as used:
        MagicLink().complete(ctx, {"link": link})
    assert used.value.message_id == "error.link_used"


def test_existing_account_signs_in_without_creating_another(world):
    ctx, mailbox, _ = world
    existing = ctx.accounts.create(email="bob@example.com")
    MagicLink().begin(ctx, {"email": "bob@example.com"})
    identity = MagicLink().complete(ctx, {"link": link_of(mailbox, "bob@example.com")})
    assert identity.login == existing.login and not identity.created
    assert ctx.accounts.list() == [existing.login]


def test_link_expires_after_five_minutes(world):
    ctx, mailbox, clock = world
    MagicLink().begin(ctx, {"email": "carol@example.com"})
    link = link_of(mailbox, "carol@example.com")
    clock.advance(LINK_LIFETIME + 1)
    with pytest.raises(SignInFailed) as expired:
        MagicLink().complete(ctx, {"link": link})
    assert expired.value.message_id == "error.link_expired"


@pytest.mark.parametrize("link", ["", "x", "a.b.c", "../../etc/passwd", "A" * 5000])
def test_garbage_links_are_refused_before_the_store(world, link):
    ctx, _, _ = world
    with pytest.raises(SignInFailed) as refused:
        MagicLink().complete(ctx, {"link": link})
    assert refused.value.message_id == "error.link_invalid"


def test_link_signed_by_another_tenant_is_invalid(world, tenants, data_root):
    ctx, mailbox, _ = world
    acme = tenants.get("acme")
    acme_ctx = SignInContext(tenant=acme, accounts=Accounts(acme.store, "acme.localhost"),
                             mailer=ctx.mailer, base_url="http://acme.localhost", client_ip="192.0.2.1",
                             language="en")
    MagicLink().begin(acme_ctx, {"email": "dave@example.com"})
    with pytest.raises(SignInFailed) as refused:
        MagicLink().complete(ctx, {"link": link_of(mailbox, "dave@example.com")})
    assert refused.value.message_id == "error.link_invalid"


def test_only_the_hash_of_the_token_is_stored(world):
    ctx, mailbox, _ = world
    MagicLink().begin(ctx, {"email": "erin@example.com"})
    token = invites.token_of(ctx.store, link_of(mailbox, "erin@example.com"), (LINK,))
    for folder, _, files in os.walk(ctx.store.root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                assert token.encode() not in f.read(), f"token found in {name}"
            assert token not in name


def test_invalid_email_is_refused_with_a_clear_message(world):
    ctx, _, _ = world
    for bad in ("", "no-at-sign", "a@b", "a b@example.com", "<a@example.com>", "a@-x.com", 42):
        with pytest.raises(BadInput) as refused:
            MagicLink().begin(ctx, {"email": bad})
        assert refused.value.message_id == "error.invalid_email"


def test_invite_policy_sends_a_no_account_note_and_refuses_sign_up(world):
    ctx, mailbox, _ = world
    set_policy(ctx, "invite")
    MagicLink().begin(ctx, {"email": "frank@example.com"})
    assert mailbox.last().message["Subject"].startswith("Sign-in attempt")
    assert mailbox.last().link is None
    ctx.accounts.create(email="grace@example.com")
    MagicLink().begin(ctx, {"email": "grace@example.com"})
    assert mailbox.last_link(to="grace@example.com")


def test_domains_policy(world):
    ctx, mailbox, _ = world
    set_policy(ctx, "domains", ["example.org"])
    MagicLink().begin(ctx, {"email": "heidi@example.org"})
    assert mailbox.last_link(to="heidi@example.org")
    MagicLink().begin(ctx, {"email": "ivan@example.com"})
    assert mailbox.last().link is None
    # A link issued while the policy was open cannot sign up after it closed.
    set_policy(ctx, "open")
    MagicLink().begin(ctx, {"email": "judy@example.com"})
    link = link_of(mailbox, "judy@example.com")
    set_policy(ctx, "invite")
    with pytest.raises(SignUpRefused):
        MagicLink().complete(ctx, {"link": link})
    assert ctx.accounts.find_by_email("judy@example.com") is None


def test_disabled_account_gets_no_link(world):
    ctx, mailbox, _ = world
    account = ctx.accounts.create(email="mallory@example.com")
    with ctx.accounts.update(account.login) as doc:
        doc["disabled"] = True
    MagicLink().begin(ctx, {"email": "mallory@example.com"})
    assert mailbox.last().link is None


def test_rate_limits_per_address_and_per_client(world):
    ctx, _, clock = world
    [(per_mailbox, window)] = PER_MAILBOX
    for _ in range(per_mailbox):
        MagicLink().begin(ctx, {"email": "kim@example.com"})
    with pytest.raises(RateLimited) as limited:
        MagicLink().begin(ctx, {"email": "kim@example.com"})
    assert limited.value.retry_after > 0
    clock.advance(window + 1)
    MagicLink().begin(ctx, {"email": "kim@example.com"})

    ctx.client_ip = "198.51.100.7"
    burst = min(limit for limit, _ in PER_CLIENT)
    for n in range(burst):
        MagicLink().begin(ctx, {"email": f"user{n}@example.com"})
    with pytest.raises(RateLimited):
        MagicLink().begin(ctx, {"email": "another@example.com"})


def test_registry_lists_enabled_methods(world):
    ctx, _, _ = world
    assert list(enabled(ctx.tenant)) == ["passkey", "magic_link"]  # in the sign-in page's order
    ctx.tenant.settings["methods"] = []
    assert enabled(ctx.tenant) == {}


def test_plus_tags_and_case_count_against_one_mailbox(world):
    """Finding 14: `name+1@…`, `name+2@…` got more links to one mailbox past the per-address
    limit; the limit counts the mailbox, while each mail still goes to the address given."""
    ctx, mailbox, _ = world
    sent = []
    refused = None
    for n in range(20):  # bounded: the limit is a handful per quarter hour
        address = f"Name+{n}@Example.com" if n % 2 else f"name+{n}@example.com"
        try:
            MagicLink().begin(ctx, {"email": address})
        except RateLimited as limited:
            refused = limited
            break
        sent.append(address.lower())
    assert refused is not None and refused.retry_after > 0 and len(sent) <= 5
    assert [mail.message["To"] for mail in mailbox.messages()] == sent
    with pytest.raises(RateLimited):
        MagicLink().begin(ctx, {"email": "NAME@example.com"})
    MagicLink().begin(ctx, {"email": "name@example.org"})  # another mailbox is not affected


class Sent:
    """A mailer that only counts (these tests are about the counters, not the mail)."""

    def __init__(self):
        self.to = []

    def send(self, kind, *, to, **_):
        self.to.append(to)


def test_an_office_behind_one_nat_address_signs_in_at_nine(world):
    """Finding 14: 20 requests per IP per quarter hour stopped an office behind one NAT
    address; 300 sign-ins from one address within 15 minutes pass."""
    ctx, _, clock = world
    ctx.client_ip, ctx.mailer = "203.0.113.9", Sent()
    for n in range(300):
        MagicLink().begin(ctx, {"email": f"person{n}@office.example"})
        clock.advance(2)  # 300 people in ten minutes
    assert len(set(ctx.mailer.to)) == 300


def test_a_flood_from_one_address_is_still_stopped(world):
    """Finding 14: the generous per-IP ceiling still stops a flood: a burst is cut off within
    the minute, and a steady stream under the burst limit at the ceiling within the quarter hour."""
    ctx, _, clock = world
    ctx.client_ip, ctx.mailer = "203.0.113.66", Sent()
    burst = 0
    with pytest.raises(RateLimited) as stopped:
        for burst in range(1000):  # bounded: without a limit the loop would end without a raise
            MagicLink().begin(ctx, {"email": f"burst{burst}@victims.example"})
    assert 30 <= burst <= 150 and stopped.value.retry_after <= 60
    clock.advance(15 * 60)
    steady = 0
    with pytest.raises(RateLimited) as ceiling:
        for steady in range(3000):
            MagicLink().begin(ctx, {"email": f"steady{steady}@victims.example"})
            clock.advance(1.2)  # 50 a minute, under the burst limit
    assert 300 <= steady <= 1000 and ceiling.value.retry_after > 60


def test_an_ipv6_client_is_counted_by_its_64(world):
    """Finding 14: one IPv6 subscriber holds a whole /64; rotating through it does not get
    past the per-client limit."""
    ctx, _, _ = world
    ctx.mailer = Sent()
    with pytest.raises(RateLimited):
        for n in range(300):  # bounded: well past the burst limit
            ctx.client_ip = f"2001:db8:1:2::{n:x}"
            MagicLink().begin(ctx, {"email": f"v6-{n}@victims.example"})
    assert len(ctx.mailer.to) <= 150
    ctx.client_ip = "2001:db8:1:3::1"  # the neighbouring /64 is someone else
    MagicLink().begin(ctx, {"email": "neighbour@example.com"})


# -- the waiting browser: its pending sign-in, the code, number matching (no Flask) ----------

def test_typed_codes_are_read_as_crockford_base32():
    assert read_code("abcd-efgh") == "ABCDEFGH"
    assert read_code(" 0oIl 1LiO ") == "00111110"  # O/I/L read as 0/1/1, spaces ignored
    for bad in ("", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFGU", "ÄBCD-EFGH", None, 12345678, "A" * 500):
        assert read_code(bad) is None


def test_code_digest_is_keyed_per_pending_sign_in(world):
    ctx, _, _ = world
    assert code_digest(ctx.store, "a" * 32, "ABCDEFGH") != code_digest(ctx.store, "b" * 32, "ABCDEFGH")
    assert code_digest(ctx.store, "a" * 32, "ABCDEFGH") == code_digest(ctx.store, "a" * 32, "ABCDEFGH")
    assert "ABCDEFGH" not in code_digest(ctx.store, "a" * 32, "ABCDEFGH")


def test_code_attempts_are_limited_per_client_network(world):
    """Wrong codes spread over many pending sign-ins (each allows CODE_ATTEMPTS) still meet the
    per-client limit: one network cannot guess codes faster than it could ask for mails."""
    ctx, mailbox, _ = world
    burst = min(limit for limit, _ in PER_CLIENT)
    pendings = []
    for n in range(burst // (CODE_ATTEMPTS - 1) + 2):  # bounded: just past the burst
        ctx.client_ip, ctx.browser = f"198.51.100.{n}", f"browser-{n}"
        pendings.append((ctx.browser, MagicLink().begin(ctx, {"email": f"p{n}@example.com"}).data["waiting_id"]))
    ctx.client_ip = "203.0.113.5"
    tried = 0
    with pytest.raises(RateLimited):
        for browser, pid in pendings:
            ctx.browser = browser
            for _ in range(CODE_ATTEMPTS - 1):
                tried += 1
                with pytest.raises(SignInFailed):
                    MagicLink().complete(ctx, {"pending": pid, "code": "ZZZZZZZZ"})
    assert tried == burst + 1


def test_number_matching_hands_the_pending_sign_in_to_the_asker_only(world):
    ctx, mailbox, _ = world
    ctx.browser = "asking-browser"
    pid = MagicLink().begin(ctx, {"email": "olga@example.com", "i": "cd" * 16})
    pid = pid.data["waiting_id"]
    number = MagicLink().waiting(ctx, pid)["number"]
    record = invites.peek(ctx.store, link_of(mailbox, "olga@example.com"), (LINK,))
    ctx.browser = "opening-browser"
    asker = MagicLink().asker(ctx, record)
    assert number in asker["choices"] and len(asker["choices"]) == 3
    opener = MagicLink().complete(ctx, {"link": link_of(mailbox, "olga@example.com"), "match": str(number)})
    assert opener.interaction is None  # the waiting app belongs to the browser that asked
    with pytest.raises(SignInFailed):  # the opener cannot take the asker's sign-in
        MagicLink().complete(ctx, {"pending": pid})
    ctx.browser = "asking-browser"
    assert MagicLink().status(ctx, pid)["state"] == "approved"
    asked = MagicLink().complete(ctx, {"pending": pid})
    assert asked.login == opener.login and asked.interaction == "cd" * 16
    with pytest.raises(SignInFailed):
        MagicLink().complete(ctx, {"pending": pid})
