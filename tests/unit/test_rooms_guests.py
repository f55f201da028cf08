"""Guests (codeb.rooms.guests): signed invite links, single and multi use, guest sessions
that end the moment their invite, their conversation or their place in it ends.

Time is a test clock moved past expiries. "Two processes" are either two Store objects on
one folder (they share nothing but the files) or real forked processes racing for one
single-use link, each run bounded by a deadline.
"""

import multiprocessing
import queue
import threading
import time
import traceback

import pytest
from itsdangerous import URLSafeSerializer

from codeb.errors import BadInput, CodebError, Forbidden, Gone, NotFound, RateLimited
from codeb.rooms import Participant, Scope, new_id
from codeb.rooms import guests as guests_module
from codeb.rooms.channels import CHANNEL_DOC, Channels
from codeb.rooms.guests import (
    INVITES_PER_HOUR,
    LONGEST_INVITE,
    NAME_LIMIT,
    SALT,
    SESSION_LIFETIME,
    SHORTEST_INVITE,
    Guests,
    clean_guest_name,
)
from codeb.rooms.meetings import Meetings
from codeb.store import Store, layout, secret_id
from codeb.tenants.secrets import named_secret
from tests.support.clock import Clock

TENANT = "alpha"
ANN = Participant(sub="sub-ann", name="Ann")    # owner of the channel, invites
BOB = Participant(sub="sub-bob", name="Bob")    # a member, invites too
EVE = Participant(sub="sub-eve", name="Eve")    # an account in no channel
HOUR = 3600
CTX = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def channel_open(store):
    """The web layer's `is_open` for channels: the channel exists and is not archived."""
    channels = Channels(store)

    def is_open(scope: Scope) -> bool:
        if scope.kind == "meeting":
            return not Meetings(store).get(scope.id).is_over(store.clock())
        try:
            return not channels.get(scope.id).archived
        except NotFound:
            return False

    return is_open


def guests_on(store, tenant=TENANT) -> Guests:
    return Guests(store, tenant, is_open=channel_open(store))


@pytest.fixture
def clock():
    return Clock()


def new_store(tmp_path, clock, name=TENANT) -> Store:
    root = tmp_path / name
    root.mkdir()
    return Store(str(root), clock=clock)


@pytest.fixture
def store(tmp_path, clock):
    return new_store(tmp_path, clock)


@pytest.fixture
def channels(store):
    return Channels(store)


@pytest.fixture
def scope(channels):
    return Scope("channel", channels.create(name="Planning", by=ANN, members=["sub-bob"]).id)


@pytest.fixture
def guests(store):
    return guests_on(store)


def refused(call, error, message_id, status):
    with pytest.raises(error) as caught:
        call()
    assert (caught.value.message_id, caught.value.status) == (message_id, status)
    return caught.value


# -- the happy path ---------------------------------------------------------------------


def test_a_guest_joins_by_link_and_acts_in_that_conversation_only(guests, channels, scope, clock):
    other = channels.create(name="Board", by=ANN)
    invite, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=False, email=" Gus@Example.ORG ")
    assert (invite.by, invite.by_name, invite.multi, invite.uses, invite.revoked) == ("sub-ann", "Ann", False, 0, None)
    assert invite.expires == int(clock.now) + HOUR and invite.email == "gus@example.org"

    shown = guests.check(token)
    assert shown == invite  # what the join page shows: who invites, to what, until when

    guest, session = guests.join(token, name="  Gus   Guest ")
    assert (guest.name, guest.scope, guest.invite, guest.removed) == ("Gus Guest", scope, invite.id, None)
    assert guests.session(session) == guest
    me = guest.participant()
    assert me.is_guest and me.guest == guest.id and me.name == "Gus Guest" and me.sub is None
    assert channels.get(scope.id).role_of(me) == "guest"  # marked as a guest to everyone

    posted = channels.post(scope.id, by=me, text="Hello from outside")
    assert posted["from"] == {"guest": guest.id, "name": "Gus Guest"}
    refused(lambda: channels.post(other.id, by=me, text="and here?"), Forbidden, "error.rooms.not_in_channel", 403)
    refused(lambda: channels.history(other.id, by=me), Forbidden, "error.rooms.not_in_channel", 403)

    assert [i.uses for i in guests.invites(scope)] == [1]
    assert guests.invites(Scope("channel", other.id)) == []
    assert guests.all() == [guest] and guests.of_scope(scope) == [guest]


def test_a_guest_of_a_meeting_loses_it_when_the_meeting_ends(store, clock):
    meetings = Meetings(store)
    meeting = meetings.create(name="Interview", by=ANN, starts=int(clock.now), ends=int(clock.now) + HOUR)
    guests = guests_on(store)
    scope = Scope("meeting", meeting.id)
    _, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    guest, session = guests.join(token, name="Candidate")
    assert meetings.join(meeting.id, by=guest.participant())["peer"]  # in the room
    meetings.end(meeting.id, by=ANN)
    assert guests.session(session) is None
    refused(lambda: guests.check(token), Gone, "error.guests.conversation_over", 410)


# -- every refusal of a link, with its status -----------------------------------------


def _garbage(g, channels, scope, clock):
    return "not-a-link"


def _expired(g, channels, scope, clock):
    _, token = g.invite(by=ANN, scope=scope, ttl=SHORTEST_INVITE, multi=True)
    clock.advance(SHORTEST_INVITE)
    return token


def _revoked(g, channels, scope, clock):
    invite, token = g.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    g.revoke(invite.id, by=ANN)
    return token


def _used(g, channels, scope, clock):
    _, token = g.invite(by=ANN, scope=scope, ttl=HOUR, multi=False)
    g.join(token, name="First")
    return token


def _over(g, channels, scope, clock):
    _, token = g.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    channels.archive(scope.id, by=ANN)
    return token


def _deleted(g, channels, scope, clock):
    _, token = g.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    channels.delete(scope.id, by=ANN)
    return token


REFUSALS = [
    ("garbage", _garbage, NotFound, "error.guests.link_invalid", 404),
    ("expired", _expired, Gone, "error.guests.link_expired", 410),
    ("revoked", _revoked, Gone, "error.guests.link_revoked", 410),
    ("used", _used, Gone, "error.guests.link_used", 410),
    ("over", _over, Gone, "error.guests.conversation_over", 410),
    ("deleted", _deleted, Gone, "error.guests.conversation_over", 410),
]


@pytest.mark.parametrize(("make", "error", "message_id", "status"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_a_link_that_cannot_be_redeemed_is_refused_saying_why(guests, channels, scope, clock, make, error,
                                                            message_id, status):
    token = make(guests, channels, scope, clock)
    refused(lambda: guests.check(token), error, message_id, status)
    refused(lambda: guests.join(token, name="Late"), error, message_id, status)
    assert all(g.name != "Late" for g in guests.all())


def test_a_link_is_good_until_the_second_it_expires(guests, scope, clock):
    _, token = guests.invite(by=ANN, scope=scope, ttl=SHORTEST_INVITE, multi=True)
    clock.advance(SHORTEST_INVITE - 1)
    assert guests.check(token).uses == 0
    clock.advance(1)
    refused(lambda: guests.check(token), Gone, "error.guests.link_expired", 410)


def test_gone_is_a_410():
    assert issubclass(Gone, CodebError) and Gone("error.guests.link_used").status == 410


# -- tampering -------------------------------------------------------------------------


def _edited(token: str, at: int) -> str:
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1:]


def test_a_link_edited_anywhere_in_its_payload_or_signature_names_nothing(guests, scope):
    _, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    payload, signature = token.rsplit(".", 1)
    for at in sorted({0, 5, len(payload) // 2, len(payload) - 2, len(payload) + 3, len(token) - 2}):
        edited = _edited(token, at)
        refused(lambda edited=edited: guests.check(edited), NotFound, "error.guests.link_invalid", 404)
        refused(lambda edited=edited: guests.join(edited, name="Mallory"), NotFound,
                "error.guests.link_invalid", 404)
    refused(lambda: guests.check(payload), NotFound, "error.guests.link_invalid", 404)  # signature cut off
    refused(lambda: guests.check(token + "x" * 2000), NotFound, "error.guests.link_invalid", 404)
    for not_a_link in (None, 42, "", ["x"]):
        refused(lambda v=not_a_link: guests.check(v), NotFound, "error.guests.link_invalid", 404)
    assert guests.all() == []


def test_a_link_forged_for_another_scope_or_time_with_the_tenants_key_names_nothing(store, guests, channels,
                                                                                   scope):
    """Even someone holding the key cannot turn an invite into one for another conversation or
    a longer time: the record keeps the hash of the one link it was made with, and its scope."""
    secret = channels.create(name="Secret", by=ANN)
    invite, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    signer = URLSafeSerializer(named_secret(store, layout.GUEST_INVITE_KEY), salt=SALT)
    payload = signer.loads(token)
    for change in ({"s": secret.id}, {"k": "meeting"}, {"e": payload["e"] + 30 * 86400}, {"n": "other"},
                   {"i": new_id()}, {"extra": 1}):
        forged = signer.dumps({**payload, **change})
        refused(lambda forged=forged: guests.join(forged, name="Mallory"), NotFound,
                "error.guests.link_invalid", 404)
    assert channels.get(secret.id).guests == {}
    # Another salt (another kind of signed value of the tenant) does not verify as an invite.
    other_kind = URLSafeSerializer(named_secret(store, layout.GUEST_INVITE_KEY), salt="codeb.other").dumps(payload)
    refused(lambda: guests.check(other_kind), NotFound, "error.guests.link_invalid", 404)
    assert guests.check(token).id == invite.id  # the real link still works


def test_another_tenants_link_fails_on_its_key(tmp_path, clock, guests, scope):
    beta = new_store(tmp_path, clock, "beta")
    beta_scope = Scope("channel", Channels(beta).create(name="Planning", by=ANN).id)
    _, beta_token = guests_on(beta, "beta").invite(by=ANN, scope=beta_scope, ttl=HOUR, multi=True)
    refused(lambda: guests.check(beta_token), NotFound, "error.guests.link_invalid", 404)


def test_a_tenant_folder_copied_under_another_name_does_not_take_the_old_tenants_links(tmp_path, clock, store,
                                                                                     guests, scope):
    """Same key, same records, same channel: only the tenant named in the link differs."""
    invite, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    beta = new_store(tmp_path, clock, "beta")
    for parts in ((layout.KEYS, layout.GUEST_INVITE_KEY), (layout.GUESTS, layout.GUEST_INVITES, invite.id),
                  (layout.CHANNELS, scope.id, CHANNEL_DOC)):
        beta.write(*parts, doc=store.read(*parts))
    copy = guests_on(beta, "beta")
    refused(lambda: copy.check(token), NotFound, "error.guests.link_invalid", 404)
    assert guests_on(beta, TENANT).check(token).id == invite.id  # the copy is faithful but for the name


def test_no_token_reaches_the_disk(store, guests, scope):
    invite, token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=False)
    guest, session = guests.join(token, name="Gus")
    payload, signature = token.rsplit(".", 1)
    invite_bytes = open(store.doc_path(layout.GUESTS, layout.GUEST_INVITES, invite.id), "rb").read()
    assert secret_id(token).encode() in invite_bytes  # the hash is what it keeps
    for secret in (token, payload, signature, session):
        assert secret.encode() not in invite_bytes
    for parts in ((layout.GUESTS, guest.id), (layout.TRANSIENT, layout.GUEST_SESSIONS, secret_id(session))):
        data = open(store.doc_path(*parts), "rb").read()
        assert token.encode() not in data and session.encode() not in data and signature.encode() not in data


# -- single use, raced ---------------------------------------------------------------------


def _join_or_refusal(guests: Guests, token: str, name: str) -> str:
    try:
        guests.join(token, name=name)
        return "joined"
    except Gone as refusal:
        return refusal.message_id


def test_two_threads_racing_for_a_single_use_link_let_in_one_guest(guests, scope):
    for _ in range(8):
        invite, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)
        barrier, answers = threading.Barrier(2), []

        def race(name, token=token, barrier=barrier, answers=answers):
            barrier.wait(10)
            answers.append(_join_or_refusal(guests, token, name))

        threads = [threading.Thread(target=race, args=(n,), daemon=True) for n in ("One", "Two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert not any(t.is_alive() for t in threads)
        assert sorted(answers) == ["error.guests.link_used", "joined"]
        assert [i.uses for i in guests.invites() if i.id == invite.id] == [1]
        assert len([g for g in guests.all() if g.invite == invite.id]) == 1


def _race_in_a_process(root, tokens, barrier, results, number):
    try:
        store = Store(root)  # a process of its own: the real clock, its own caches
        guests = guests_on(store)
        answers = []
        for token in tokens:
            barrier.wait(20)
            answers.append(_join_or_refusal(guests, token, f"P{number}"))
        results.put((number, answers))
    except BaseException:
        results.put((number, traceback.format_exc()))


def test_two_processes_racing_for_single_use_links_let_in_one_guest_each(store, scope, clock):
    clock.now = time.time()  # the children run on the real clock
    guests = guests_on(store)
    made = [guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=False) for _ in range(5)]
    tokens = [token for _, token in made]
    barrier, results = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=_race_in_a_process, args=(store.root, tokens, barrier, results, n), daemon=True)
             for n in range(2)]
    answers = {}
    deadline = time.monotonic() + 60
    try:
        for p in procs:
            p.start()
        while len(answers) < 2 and time.monotonic() < deadline:
            try:
                number, value = results.get(timeout=1.0)
            except queue.Empty:
                continue
            answers[number] = value
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    assert sorted(answers) == [0, 1], f"no answer within 60 s: {answers}"
    assert all(isinstance(a, list) for a in answers.values()), answers
    for round_ in range(len(tokens)):
        assert sorted(answers[n][round_] for n in (0, 1)) == ["error.guests.link_used", "joined"]
    for invite, _ in made:
        assert len([g for g in guests.all() if g.invite == invite.id]) == 1
    assert [i.uses for i in guests.invites()] == [1] * len(made)


# -- multi use -----------------------------------------------------------------------------


def test_a_multi_use_link_lets_in_many_guests_each_their_own(guests, channels, scope):
    invite, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    joined = [guests.join(token, name=name) for name in ("One", "Two", "Three")]
    assert len({guest.id for guest, _ in joined}) == 3
    assert all(guests.session(session) == guest for guest, session in joined)
    assert guests.check(token).uses == 3
    assert set(channels.get(scope.id).guests) == {guest.id for guest, _ in joined}


def test_a_multi_use_link_is_used_up_at_its_limit(guests, scope, monkeypatch):
    monkeypatch.setattr(guests_module, "MULTI_USES", 2)
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    guests.join(token, name="One")
    guests.join(token, name="Two")
    refused(lambda: guests.join(token, name="Three"), Gone, "error.guests.link_used", 410)


# -- revoking and removing -------------------------------------------------------------------


def test_revoking_an_invite_ends_its_guests_sessions_at_once_in_every_process(store, guests, channels, scope):
    invite, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    joined = [guests.join(token, name=name) for name in ("One", "Two")]
    _, other_token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)
    stayer, stayer_session = guests.join(other_token, name="Stays")
    elsewhere = guests_on(Store(store.root, clock=store.clock))  # another process: only the files
    assert all(elsewhere.session(session) for _, session in joined)

    revoked = guests.revoke(invite.id, by=BOB)
    assert revoked.revoked is not None
    assert all(elsewhere.session(session) is None for _, session in joined)
    assert all(guests.session(session) is None for _, session in joined)
    assert set(channels.get(scope.id).guests) == {stayer.id}  # off the channel's list
    assert store.list(layout.TRANSIENT, layout.GUEST_SESSIONS) == [secret_id(stayer_session)]
    assert all(g.removed == revoked.revoked for g in guests.all() if g.invite == invite.id)
    assert guests.session(stayer_session) == stayer  # another invite's guest is untouched
    refused(lambda: channels.post(scope.id, by=joined[0][0].participant(), text="still here?"), Forbidden,
            "error.rooms.not_in_channel", 403)
    refused(lambda: guests.join(token, name="Three"), Gone, "error.guests.link_revoked", 410)
    assert guests.revoke(invite.id, by=BOB) == revoked  # again: nothing changes


@pytest.mark.parametrize("cut_short", ["invite revoked", "guest removed", "invite expired"])
def test_a_session_is_judged_by_the_invite_and_the_guest_not_by_its_record_alone(store, guests, scope, clock,
                                                                               cut_short):
    """A revocation or removal written by a process killed before it deleted the session
    record, or a record that outlives its invite, still lets nobody in: `session` reads the
    guest and the invite on every call."""
    invite, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    guest, session = guests.join(token, name="Gus")
    if cut_short == "invite revoked":
        with store.update(layout.GUESTS, layout.GUEST_INVITES, invite.id) as doc:
            doc["revoked"] = int(clock.now)
    elif cut_short == "guest removed":
        with store.update(layout.GUESTS, guest.id) as doc:
            doc["removed"] = int(clock.now)
    else:
        store.transient(layout.GUEST_SESSIONS).put(secret_id(session), {"guest": guest.id}, ttl=2 * HOUR)
        clock.advance(HOUR)
    assert store.transient(layout.GUEST_SESSIONS).get(secret_id(session)) is not None  # the record lives on
    assert guests.session(session) is None


def test_a_session_record_names_its_own_guest_only(store, guests, scope):
    """A session record pointed at another guest (a record written by hand, a restored backup)
    is not that guest's session: the guest keeps the hash of the one session it was given."""
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    gus, _ = guests.join(token, name="Gus")
    forged = "forged-session-token"
    store.transient(layout.GUEST_SESSIONS).put(secret_id(forged), {"guest": gus.id}, ttl=HOUR)
    assert guests.session(forged) is None


def test_only_the_inviter_or_an_admin_revokes(guests, scope):
    invite, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    guest, _ = guests.join(token, name="Gus")
    for other in (ANN, EVE):
        refused(lambda o=other: guests.revoke(invite.id, by=o), Forbidden, "error.guests.not_inviter", 403)
    refused(lambda: guests.revoke(invite.id, by=guest.participant(), admin=True), Forbidden,
            "error.guests.not_inviter", 403)
    assert guests.check(token).revoked is None
    assert guests.revoke(invite.id, by=EVE, admin=True).revoked is not None


@pytest.mark.parametrize("invite_id", ["abcdefghijklmnop", "../../keys/x", "", None, "ABCDEFGHIJKLMNOP"],
                         ids=["unknown", "path", "empty", "none", "uppercase"])
def test_an_unknown_invite_or_guest_is_not_found(guests, store, invite_id):
    refused(lambda: guests.revoke(invite_id, by=ANN, admin=True), NotFound, "error.guests.not_found", 404)
    refused(lambda: guests.remove(invite_id, by=ANN, admin=True), NotFound, "error.guests.not_found", 404)
    assert store.list(layout.GUESTS, layout.GUEST_INVITES) == [] and store.list(layout.GUESTS) == []


def test_the_inviter_or_an_admin_removes_one_guest(guests, channels, scope):
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    (gus, gus_session), (ida, ida_session) = guests.join(token, name="Gus"), guests.join(token, name="Ida")
    for who, admin in ((ANN, False), (EVE, False), (ida.participant(), False), (ida.participant(), True)):
        refused(lambda w=who, a=admin: guests.remove(gus.id, by=w, admin=a), Forbidden,
                "error.guests.not_inviter", 403)
    removed = guests.remove(gus.id, by=BOB)
    assert removed.removed is not None and guests.session(gus_session) is None
    assert guests.session(ida_session) == ida
    assert set(channels.get(scope.id).guests) == {ida.id}
    assert guests.remove(gus.id, by=BOB) == removed  # again: nothing changes
    assert guests.remove(ida.id, by=EVE, admin=True).removed is not None
    assert guests.session(ida_session) is None
    assert {g.name: g.removed is not None for g in guests.all()} == {"Gus": True, "Ida": True}  # listed, marked
    assert guests.check(token).uses == 2  # the link itself stays good


def test_signing_out_ends_the_session_but_keeps_the_guest_listed(guests, scope):
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)
    guest, session = guests.join(token, name="Gus")
    guests.sign_out(session)
    assert guests.session(session) is None
    assert guests.all() == [guest]
    guests.sign_out("unknown")  # harmless
    guests.sign_out("x" * 5000)


@pytest.mark.parametrize("token", [None, "", "unknown", "x" * 5000, 42],
                         ids=["none", "empty", "unknown", "huge", "int"])
def test_a_session_token_that_names_nothing_is_no_guest(guests, token):
    assert guests.session(token) is None


# -- time --------------------------------------------------------------------------------------


def test_a_guest_session_ends_when_the_invite_expires(guests, scope, clock):
    _, token = guests.invite(by=BOB, scope=scope, ttl=2 * HOUR, multi=True)
    clock.advance(HOUR)
    guest, session = guests.join(token, name="Gus")
    clock.advance(HOUR - 1)
    assert guests.session(session) == guest
    clock.advance(1)
    assert guests.session(session) is None


def test_a_guest_session_lasts_twelve_hours_at_most(guests, scope, clock):
    _, token = guests.invite(by=BOB, scope=scope, ttl=LONGEST_INVITE, multi=True)
    guest, session = guests.join(token, name="Gus")
    clock.advance(SESSION_LIFETIME - 1)
    assert guests.session(session) == guest
    clock.advance(1)
    assert guests.session(session) is None
    again, new_session = guests.join(token, name="Gus")  # a long invite is redeemed again
    assert guests.session(new_session) == again


def test_archiving_the_channel_ends_its_guests_sessions(guests, channels, scope):
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    guest, session = guests.join(token, name="Gus")
    channels.archive(scope.id, by=ANN)
    assert guests.session(session) is None
    refused(lambda: guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True), Gone,
            "error.guests.conversation_over", 410)


# -- who may invite, and how --------------------------------------------------------------------


def test_a_guest_cannot_invite(guests, scope):
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    guest, _ = guests.join(token, name="Gus")
    refused(lambda: guests.invite(by=guest.participant(), scope=scope, ttl=HOUR, multi=True), Forbidden,
            "error.guests.guest_cannot_invite", 403)
    assert len(guests.invites()) == 1


def test_only_a_member_of_the_conversation_invites_to_it(guests, scope):
    refused(lambda: guests.invite(by=EVE, scope=scope, ttl=HOUR, multi=True), Forbidden,
            "error.guests.not_member", 403)
    assert guests.invites() == []


@pytest.mark.parametrize("ttl", [SHORTEST_INVITE - 1, LONGEST_INVITE + 1, 0, -HOUR, "3600", 3600.0, True, None],
                         ids=["short", "long", "zero", "negative", "text", "float", "bool", "none"])
def test_an_invite_lives_five_minutes_to_thirty_days(guests, scope, ttl):
    refused(lambda: guests.invite(by=BOB, scope=scope, ttl=ttl, multi=True), BadInput, "error.guests.ttl", 400)


def test_the_shortest_and_longest_invites_are_allowed(guests, scope, clock):
    shortest, _ = guests.invite(by=BOB, scope=scope, ttl=SHORTEST_INVITE, multi=False)
    longest, _ = guests.invite(by=BOB, scope=scope, ttl=LONGEST_INVITE, multi=True)
    assert (shortest.expires, longest.expires) == (int(clock.now) + 300, int(clock.now) + 30 * 86400)


def test_single_or_multi_use_is_a_choice_made_explicitly(guests, scope):
    refused(lambda: guests.invite(by=BOB, scope=scope, ttl=HOUR, multi="yes"), BadInput, "error.guests.multi", 400)


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.org", "gus@example.org\r\nBcc: x@y.org",
                                   "<gus@example.org>", "gus@exämple.org", "x" * 250 + "@example.org", 42],
                         ids=["word", "no-dot", "space", "header", "brackets", "non-ascii", "long", "int"])
def test_an_invitation_is_mailed_only_to_an_address(guests, scope, email):
    refused(lambda: guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False, email=email), BadInput,
            "error.guests.email", 400)
    assert guests.invites() == []


@pytest.mark.parametrize("name", ["", "   ", "x" * (NAME_LIMIT + 1), "Gus\nAdmin", "Gus\u202eadmin", "Gus\x00",
                                  "Gus\u2028Ann", None, 42],
                         ids=["empty", "blank", "long", "newline", "bidi", "nul", "line-separator", "none", "int"])
def test_a_guest_name_is_one_clean_line(guests, scope, name):
    _, token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)
    refused(lambda: guests.join(token, name=name), BadInput, "error.guests.name", 400)
    assert guests.check(token).uses == 0  # a refused name spends nothing


def test_a_guest_name_is_tidied():
    assert clean_guest_name("  Gus \t Guest ") == "Gus Guest"
    assert clean_guest_name("x" * NAME_LIMIT) == "x" * NAME_LIMIT
    assert clean_guest_name("Jo\u0308rg") == "J\u00f6rg"  # NFC


# -- rate limits -----------------------------------------------------------------------------------


def test_an_account_invites_twenty_guests_an_hour(guests, scope, clock):
    for _ in range(INVITES_PER_HOUR):
        guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)
    limited = refused(lambda: guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False), RateLimited,
                      "error.guests.too_many_invites", 429)
    assert 0 < limited.retry_after <= HOUR
    guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=False)  # another account counts on its own
    clock.advance(HOUR)
    guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=False)


def test_a_client_network_redeems_ten_links_in_ten_minutes(guests, clock):
    for _ in range(10):
        guests.count_join("198.51.100.0/24")
    limited = refused(lambda: guests.count_join("198.51.100.0/24"), RateLimited, "error.guests.too_many_joins",
                      429)
    assert 0 < limited.retry_after <= 600
    guests.count_join("203.0.113.0/24")
    clock.advance(600)
    guests.count_join("198.51.100.0/24")


# -- GDPR --------------------------------------------------------------------------------------------


def test_forgetting_an_inviter_revokes_their_invites_and_drops_their_name(guests, scope):
    anns, ann_token = guests.invite(by=ANN, scope=scope, ttl=HOUR, multi=True)
    bobs, bob_token = guests.invite(by=BOB, scope=scope, ttl=HOUR, multi=True)
    _, ann_guest_session = guests.join(ann_token, name="Gus")
    bob_guest, bob_guest_session = guests.join(bob_token, name="Ida")
    guests.forget_by("sub-ann")
    forgotten = next(i for i in guests.invites() if i.id == anns.id)
    assert forgotten.by_name == "" and forgotten.revoked is not None
    assert guests.session(ann_guest_session) is None
    assert guests.session(bob_guest_session) == bob_guest
    assert guests.check(bob_token).by_name == "Bob"
