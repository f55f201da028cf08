"""ejabberd's external authentication program, driven as ejabberd drives it (codeb.native.xmpp_auth).

`python -m codeb --data DIR xmpp-auth TENANT` runs as a child process with pipes: each
request is written length-prefixed (2 bytes, big-endian) and each reply read as ejabberd's
src/extauth.erl reads it, 2 bytes of length (always 2) and a 2-byte result (1 yes, 0 no).
The real ejabberd and Prosody come with their own tests (issue 16).
"""

import os
import select
import statistics
import struct
import subprocess
import sys
import time

import pytest

from codeb import audit
from codeb.accounts import Accounts, app_passwords
from codeb.native import xmpp_auth
from codeb.native.failures import Failures
from codeb.store import layout
from tests.support.clock import Clock
from tests.support.web import HOST, OTHER_HOST

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 20


class Extauth:
    """The program as ejabberd holds it: a child with its stdin and stdout."""

    def __init__(self, data_root, tenant: str, log_path):
        self.stderr = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "codeb", "--data", str(data_root), "xmpp-auth", tenant],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def reply(self) -> int:
        length, result = struct.unpack(">HH", self.read(4))
        assert length == 2 and result in (0, 1)
        return result

    def read(self, size: int) -> bytes:
        assert self.proc.stdout is not None
        fd, data, deadline = self.proc.stdout.fileno(), b"", time.monotonic() + TIMEOUT
        while len(data) < size:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "no reply in time"
            chunk = os.read(fd, size - len(data))
            assert chunk, "the program closed its stdout"
            data += chunk
        return data

    def ask(self, request: str | bytes) -> int:
        body = request.encode() if isinstance(request, str) else request
        self.send(struct.pack(">H", len(body)) + body)
        return self.reply()

    def timed(self, request: str) -> tuple[int, float]:
        start = time.perf_counter()
        result = self.ask(request)
        return result, (time.perf_counter() - start) * 1000

    def log(self) -> str:
        with open(self.stderr.name, encoding="utf-8") as f:
            return f.read()

    def close(self) -> int:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self.stderr.close()


@pytest.fixture
def extauth(data_root, tmp_path, tenants):
    started = []

    def start(tenant="demo"):
        program = Extauth(data_root, tenant, tmp_path / f"extauth-{tenant}-{len(started)}.log")
        started.append(program)
        return program
    yield start
    for program in started:
        if program.proc.poll() is None:
            program.proc.kill()
            program.proc.wait()
        program.stderr.close()


def xmpp_password(accounts, login, purposes=("xmpp",), name="Conversations"):
    return app_passwords.create(accounts, login, name=name, purposes=list(purposes), realm=HOST)


@pytest.fixture
def people(accounts, tenants):
    """ann and frank (XMPP app passwords), sam (SIP only), walt (web only), dave (disabled),
    and erin of the other tenant with an XMPP app password of hers."""
    secrets = {}
    for login in ("ann", "frank", "sam", "walt", "dave", "gone"):
        accounts.create(email=f"{login}@example.com", login=login)
    for login in ("ann", "frank", "dave", "gone"):
        secrets[login] = xmpp_password(accounts, login)[1]
    secrets["sam"] = xmpp_password(accounts, "sam", purposes=("sip",), name="Phone")[1]
    accounts.set_disabled("dave", True)
    acme = tenants.get("acme")
    Accounts(acme.store, acme.hosts[0]).create(email="erin@acme.example", login="erin")
    secrets["erin"] = xmpp_password(Accounts(acme.store, acme.hosts[0]), "erin")[1]
    return secrets


def refusals(store):
    return [e for e in audit.read_all(store) if e["event"] == "xmpp.auth_refused"]


def test_the_right_app_password_is_yes_a_wrong_one_no_and_each_check_is_timed(extauth, people, demo):
    program = extauth()
    ann = people["ann"]
    assert program.ask(f"auth:ann:{HOST}:{ann}") == 1
    # ejabberd may pass the user part as typed; a phone may drop the dashes or shout
    assert program.ask(f"auth:Ann:{HOST.upper()}:{ann.replace('-', '').upper()}") == 1
    assert program.ask(f"auth:ann:{HOST}:{people['frank']}") == 0  # frank's, not ann's
    assert program.ask(f"auth:ann:{HOST}:") == 0
    right = [program.timed(f"auth:frank:{HOST}:{people['frank']}") for _ in range(20)]
    wrong = [program.timed(f"auth:frank:{HOST}:{app_passwords.generate()}") for _ in range(5)]
    unknown = [program.timed(f"auth:nobody:{HOST}:{app_passwords.generate()}") for _ in range(5)]
    assert [r for r, _ in right] == [1] * 20 and [r for r, _ in wrong + unknown] == [0] * 10
    for label, runs in (("right", right), ("wrong", wrong), ("unknown account", unknown)):
        times = [ms for _, ms in runs]
        print(f"extauth auth, {label}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
              f"over {len(times)}")
    assert program.close() == 0
    reasons = {(e.get("login"), e["reason"]) for e in refusals(demo.store)}
    assert reasons == {("ann", "wrong"), ("frank", "wrong"), (None, "unknown")}
    assert all(e["via"] == "extauth" and "ip" not in e for e in refusals(demo.store))


def test_a_revoked_app_password_and_a_deleted_account_are_refused_at_once(extauth, people, accounts, demo):
    program = extauth()
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1
    assert program.ask(f"auth:gone:{HOST}:{people['gone']}") == 1
    (listed,) = app_passwords.listed(accounts.require("ann"))
    app_passwords.revoke(accounts, "ann", listed.id)
    accounts.delete("gone")
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 0
    assert program.ask(f"auth:gone:{HOST}:{people['gone']}") == 0
    assert program.ask(f"isuser:gone:{HOST}") == 0
    assert program.close() == 0
    assert {e["reason"] for e in refusals(demo.store)} == {"no_app_password", "unknown"}


def test_another_tenants_host_and_another_tenants_account_are_refused(extauth, people, tenants, demo):
    program = extauth()
    assert program.ask(f"auth:ann:{OTHER_HOST}:{people['ann']}") == 0   # ann is demo's, not acme's
    assert program.ask(f"auth:erin:{HOST}:{people['erin']}") == 0        # erin is acme's
    assert program.ask(f"auth:erin:{OTHER_HOST}:{people['erin']}") == 0  # acme's host: not this program's
    assert program.ask(f"isuser:erin:{OTHER_HOST}") == 0
    assert program.close() == 0
    assert {e["reason"] for e in refusals(demo.store)} == {"host", "unknown"}
    acme = extauth("acme")
    assert acme.ask(f"auth:erin:{OTHER_HOST}:{people['erin']}") == 1
    assert acme.ask(f"auth:ann:{OTHER_HOST}:{people['ann']}") == 0
    assert acme.close() == 0


def test_disabled_web_only_and_sip_only_accounts_are_refused(extauth, people, demo):
    program = extauth()
    assert program.ask(f"auth:dave:{HOST}:{people['dave']}") == 0   # his own, but disabled
    assert program.ask(f"auth:walt:{HOST}:{people['ann']}") == 0    # signs in on the web only: nothing to give
    assert program.ask(f"auth:sam:{HOST}:{people['sam']}") == 0     # a SIP app password is not one for XMPP
    assert program.close() == 0
    reasons = {e["login"]: e["reason"] for e in refusals(demo.store)}
    assert reasons == {"dave": "disabled", "walt": "no_app_password", "sam": "no_app_password"}


def test_a_password_is_the_rest_of_the_request_colons_and_all(extauth, people, demo):
    program = extauth()
    ann = people["ann"]
    assert program.ask(f"auth:ann:{HOST}:{ann}:") == 0
    assert program.ask(f"auth:ann:{HOST}:a:b:c") == 0
    assert program.ask(f"auth:ann:{HOST}:{ann}") == 1  # and the stream is still in step
    assert program.close() == 0
    # both were read as ann's passwords, not as malformed requests: wrong ones of hers
    assert [(e["login"], e["reason"]) for e in refusals(demo.store)] == [("ann", "wrong")]
    assert program.log().count("refused: wrong") == 2


def test_isuser_is_yes_for_an_enabled_account_of_the_tenant_only(extauth, people):
    program = extauth()
    assert program.ask(f"isuser:ann:{HOST}") == 1
    assert program.ask(f"isuser:ANN:{HOST}") == 1
    assert program.ask(f"isuser:walt:{HOST}") == 1  # exists; whether he can sign in is auth's question
    assert program.ask(f"isuser:dave:{HOST}") == 0
    assert program.ask(f"isuser:nobody:{HOST}") == 0
    assert program.ask(f"isuser:ann:{OTHER_HOST}") == 0
    assert program.ask(f"isuser:ann:{HOST}:extra") == 0  # isuser has two fields
    assert program.close() == 0


def test_setpass_tryregister_and_removeuser_are_always_refused(extauth, people, accounts):
    program = extauth()
    new = app_passwords.generate()
    assert program.ask(f"setpass:ann:{HOST}:{new}") == 0
    assert program.ask(f"tryregister:newbie:{HOST}:{new}") == 0
    assert program.ask(f"removeuser:ann:{HOST}") == 0
    assert program.ask(f"removeuser3:ann:{HOST}:{people['ann']}") == 0
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1 and program.ask(f"auth:ann:{HOST}:{new}") == 0
    assert program.close() == 0
    assert accounts.get("ann") is not None and accounts.get("newbie") is None


MALFORMED = (b"", b"auth", b"auth:ann", b"auth:ann:localhost", b"isuser:ann", b"frobnicate:ann:localhost:x",
             b"AUTH:ann:localhost:x", b"auth:ann:localhost:\xff\xfe", b"\x00\x00\x00", b"auth:../../etc:localhost:x",
             b"auth:" + b"a" * 900 + b":localhost:x", b"isuser:" + b"\xc3" * 10 + b":localhost")


def test_a_malformed_request_is_no_and_the_next_is_answered(extauth, people):
    program = extauth()
    for request in MALFORMED:
        assert program.ask(request) == 0, request
        assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1, request
    assert program.close() == 0


def test_an_oversized_request_is_read_whole_and_refused(extauth, people):
    program = extauth()
    huge = f"auth:ann:{HOST}:{people['ann']}".encode() + b"x" * (xmpp_auth.MAX_REQUEST * 8)
    assert program.ask(huge) == 0
    assert program.ask(b"y" * 65535) == 0  # the largest a 2-byte length can say
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1
    assert program.close() == 0


def test_a_request_arriving_in_pieces_is_read_whole(extauth, people):
    program = extauth()
    body = f"auth:ann:{HOST}:{people['ann']}".encode()
    framed = struct.pack(">H", len(body)) + body
    for piece in (framed[:1], framed[1:2], framed[2:9], framed[9:]):
        program.send(piece)
        time.sleep(0.05)
    assert program.reply() == 1
    assert program.close() == 0


def test_a_burst_beyond_the_limit_is_refused_even_with_the_right_password(extauth, people, demo):
    program = extauth()
    limit, _ = xmpp_auth.ACCOUNT_FAILURES
    assert [program.ask(f"auth:ann:{HOST}:{app_passwords.generate()}") for _ in range(limit)] == [0] * limit
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 0  # locked until the window is over
    assert program.ask(f"auth:ANN:{HOST}:{people['ann']}") == 0  # however the login is spelled
    assert program.ask(f"auth:frank:{HOST}:{people['frank']}") == 1  # another account is not
    assert program.close() == 0
    assert [e["reason"] for e in refusals(demo.store) if e.get("login") == "ann"] == ["wrong", "rate_limited"]


def test_failures_before_a_success_are_cleared_by_it(extauth, people):
    program = extauth()
    limit, _ = xmpp_auth.ACCOUNT_FAILURES
    for _ in range(limit - 1):
        assert program.ask(f"auth:ann:{HOST}:{app_passwords.generate()}") == 0
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1
    for _ in range(limit - 1):
        assert program.ask(f"auth:ann:{HOST}:{app_passwords.generate()}") == 0
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1
    assert program.close() == 0


def test_no_secret_reaches_the_audit_log_or_stderr(extauth, people, demo, tmp_path):
    program = extauth()
    wrong = app_passwords.generate()
    assert program.ask(f"auth:ann:{HOST}:{wrong}") == 0
    assert program.ask(f"auth:{wrong}:{HOST}:{wrong}") == 0  # a password typed as the user name
    assert program.ask(f"auth:ann:{HOST}:{people['ann']}") == 1
    assert program.close() == 0
    logs = "".join(p.read_text() for p in tmp_path.glob("extauth-*.log"))
    written = "".join(p.read_text() for p in (tmp_path / "App_Data" / "demo" / "audit").glob("*.jsonl"))
    assert "refused" in logs and refusals(demo.store)
    for secret in (wrong, people["ann"]):
        assert secret not in logs and secret not in written


def test_the_program_ends_cleanly_when_stdin_closes_even_inside_a_request(extauth, people):
    program = extauth()
    assert program.ask(f"isuser:ann:{HOST}") == 1
    assert program.close() == 0
    assert program.proc.stdout is not None and program.proc.stdout.read() == b""  # nothing but replies
    cut = extauth()
    cut.send(struct.pack(">H", 40) + b"auth:ann")
    assert cut.close() == 0
    half = extauth()
    half.send(b"\x00")
    assert half.close() == 0


def test_an_unknown_tenant_is_refused_at_start_on_stderr(data_root, tenants):
    result = subprocess.run([sys.executable, "-m", "codeb", "--data", str(data_root), "xmpp-auth", "nosuch"],
                            cwd=ROOT, input=b"", capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 2 and result.stdout == b"" and b"error" in result.stderr


def test_a_parallel_burst_from_several_programs_checks_no_more_than_the_limit(extauth, people, demo):
    """ejabberd may run a pool of programs: their failures are counted in one window."""
    programs = [extauth() for _ in range(3)]
    limit, _ = xmpp_auth.ACCOUNT_FAILURES
    for _ in range(limit):
        for program in programs:  # each program has a request in flight while the others answer
            body = f"auth:ann:{HOST}:{app_passwords.generate()}".encode()
            program.send(struct.pack(">H", len(body)) + body)
        assert [program.reply() for program in programs] == [0, 0, 0]
    assert [p.ask(f"auth:ann:{HOST}:{people['ann']}") for p in programs] == [0, 0, 0]
    assert [p.close() for p in programs] == [0, 0, 0]
    logs = "".join(p.log() for p in programs)
    assert logs.count("refused: wrong") == limit  # checked; every other attempt was refused unchecked
    assert logs.count("refused: rate_limited") == 2 * limit + 3


def test_a_failure_window_counts_attempts_takes_back_the_right_ones_and_ends(demo):
    demo.store.clock = clock = Clock()
    window = Failures(demo.store, layout.XMPP_FAILURES_PER_ACCOUNT, limit=3, window=300)
    assert [window.admit("ann") for _ in range(3)] == [0, 0, 0]
    assert window.admit("ann") == 300 and window.admit("bob") == 0
    window.forgive("ann")
    assert window.admit("ann") == 0 and window.admit("ann") == 300
    clock.advance(299)
    assert window.admit("ann") == 1
    clock.advance(1)
    assert window.admit("ann") == 0  # a new window
    window.clear("ann")
    assert [window.admit("ann") for _ in range(3)] == [0, 0, 0]
    assert {layout.XMPP_FAILURES_PER_ACCOUNT, layout.XMPP_FAILURES_PER_SOURCE} <= layout.NOT_DURABLE


def test_the_audit_sentence_names_an_account_only_when_there_is_one():
    assert audit.sentence({"event": "xmpp.auth_refused", "login": "ann", "reason": "wrong"})[0] == \
        "audit.s.xmpp.auth_refused"
    assert audit.sentence({"event": "xmpp.auth_refused", "reason": "unknown"})[0] == \
        "audit.s.xmpp.auth_refused_unknown"


def test_one_refusal_is_one_audit_line(extauth, people, demo):
    """The bridge's own line says why, from where and through which server; the app password
    check it asks does not add a second one (`app_passwords.verify(..., audited=False)`)."""
    program = extauth()
    assert program.ask(f"auth:ann:{HOST}:{app_passwords.generate()}") == 0
    assert program.close() == 0
    events = [e["event"] for e in audit.read_all(demo.store)]
    assert "xmpp.auth_refused" in events and "app_password.refused" not in events
