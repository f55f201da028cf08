"""The store under several threads and processes (DESIGN invariant 1).

IIS runs several Python processes per site, each with several threads, and
kills them at will. These tests race real processes against one tenant folder:
no lost update, single use stays single, one account per email, and a killed
writer leaves the old or the new document, never half of one.

Every test bounds its own run time: workers report through a queue read with a
deadline, joins have timeouts, and anything still alive at the end is killed.
"""

import hashlib
import multiprocessing
import os
import queue
import random
import signal
import threading
import time
import traceback

import pytest

from codeb.accounts import Accounts
from codeb.errors import Conflict
from codeb.store import SCHEMA, Store, files
from codeb.store.lock import file_lock

CTX = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
PROCESSES = 4
BARRIER_TIMEOUT = 20


# -- running workers with a deadline ---------------------------------------------


def _guarded(results, number, target, args):
    try:
        results.put((number, True, target(*args)))
    except BaseException:  # report everything, including the worker's assertion errors
        results.put((number, False, traceback.format_exc()))


def run_processes(target, args_per_process, timeout):
    """Run `target(*args)` in one process per args; return their results in order.

    Fails (never hangs) if a worker raises, dies, or the deadline passes.
    """
    results = CTX.Queue()
    procs = [CTX.Process(target=_guarded, args=(results, n, target, args), daemon=True)
             for n, args in enumerate(args_per_process)]
    deadline = time.monotonic() + timeout
    answers = {}
    try:
        for p in procs:
            p.start()
        while len(answers) < len(procs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                number, ok, value = results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    break
                continue
            answers[number] = (ok, value)
    finally:
        for p in procs:
            p.join(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    failures = [value for ok, value in answers.values() if not ok]
    assert not failures, "a worker failed:\n" + "\n".join(failures)
    missing = [n for n in range(len(procs)) if n not in answers]
    assert not missing, (f"workers {missing} gave no answer within {timeout}s "
                         f"(exit codes {[procs[n].exitcode for n in missing]})")
    return [answers[n][1] for n in range(len(procs))]


def run_threads(target, args_per_thread, timeout):
    answers, failures = {}, []

    def guarded(number, args):
        try:
            answers[number] = target(*args)
        except BaseException:
            failures.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(n, args), daemon=True)
               for n, args in enumerate(args_per_thread)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not failures, "a thread failed:\n" + "\n".join(failures)
    assert not any(t.is_alive() for t in threads), f"threads still running after {timeout}s"
    return [answers[n] for n in range(len(threads))]


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "tenant"
    path.mkdir()
    return str(path)


# -- read-modify-write: no lost update ---------------------------------------------


INCREMENTS = 500


def _increment(root, barrier, worker):
    store = Store(root)
    barrier.wait(BARRIER_TIMEOUT)
    for _ in range(INCREMENTS):
        with store.update("counters", "shared", default={"n": 0, "by": {}}) as doc:
            doc["n"] += 1
            doc["by"][str(worker)] = doc["by"].get(str(worker), 0) + 1
    return os.getpid()


def test_four_processes_lose_no_update(root):
    barrier = CTX.Barrier(PROCESSES)
    pids = run_processes(_increment, [(root, barrier, w) for w in range(PROCESSES)], timeout=90)
    assert len(set(pids)) == PROCESSES, "the workers must be separate processes"
    doc = Store(root).read("counters", "shared")
    assert doc["n"] == PROCESSES * INCREMENTS, f"lost {PROCESSES * INCREMENTS - doc['n']} updates"
    assert doc["by"] == {str(w): INCREMENTS for w in range(PROCESSES)}
    assert doc["schema"] == SCHEMA
    assert [n for n in os.listdir(os.path.join(root, "counters")) if files.is_temp(n)] == []


def test_threads_lose_no_update(root):
    store = Store(root)
    barrier = threading.Barrier(6)

    def work():
        barrier.wait(BARRIER_TIMEOUT)
        for _ in range(100):
            with store.update("counters", "threads", default={"n": 0}) as doc:
                doc["n"] += 1

    run_threads(work, [()] * 6, timeout=60)
    assert store.read("counters", "threads")["n"] == 600


# -- single use: take ----------------------------------------------------------------


ROUNDS = 25


def _take_rounds(root, barrier, rounds):
    records = Store(root).transient("codes")
    won = []
    for r in range(rounds):
        barrier.wait(BARRIER_TIMEOUT)
        doc = records.take(f"code{r}")
        if doc is not None:
            assert doc["round"] == r
            won.append(r)
    return won


def _put_rounds(root, rounds):
    records = Store(root).transient("codes")
    for r in range(rounds):
        records.put(f"code{r}", {"round": r, "secret": "x" * 2000}, ttl=600)


def _assert_each_round_won_once(wins, rounds, root):
    tally = {}
    for won in wins:
        for r in won:
            tally[r] = tally.get(r, 0) + 1
    assert tally == dict.fromkeys(range(rounds), 1), (
        f"every record must be taken exactly once; rounds won more or less than once: "
        f"{ {r: tally.get(r, 0) for r in range(rounds) if tally.get(r, 0) != 1} }")
    assert sorted(os.listdir(os.path.join(root, "transient", "codes"))) == [".purged"]


def test_take_under_thread_contention_has_one_winner(root):
    _put_rounds(root, ROUNDS)
    barrier = threading.Barrier(8)
    wins = run_threads(_take_rounds, [(root, barrier, ROUNDS)] * 8, timeout=60)
    _assert_each_round_won_once(wins, ROUNDS, root)


def test_take_under_process_contention_has_one_winner(root):
    _put_rounds(root, ROUNDS)
    barrier = CTX.Barrier(PROCESSES)
    wins = run_processes(_take_rounds, [(root, barrier, ROUNDS)] * PROCESSES, timeout=60)
    _assert_each_round_won_once(wins, ROUNDS, root)


# -- rate limits and index claims across processes ---------------------------------------


def _hit(root, barrier, times):
    counter = Store(root).counter("signin")
    barrier.wait(BARRIER_TIMEOUT)
    return [counter.hit("alice@example.com", limit=23, window=3600) for _ in range(times)]


def test_counter_allows_exactly_the_limit_across_processes(root):
    barrier = CTX.Barrier(PROCESSES)
    answers = run_processes(_hit, [(root, barrier, 15)] * PROCESSES, timeout=60)
    allowed = sum(1 for waits in answers for wait in waits if wait == 0)
    assert allowed == 23
    assert all(wait > 3000 for waits in answers for wait in waits if wait)


def _claim(root, barrier, value, keys):
    index = Store(root).index("email")
    won = []
    for key in keys:
        barrier.wait(BARRIER_TIMEOUT)
        if index.claim(key, value):
            won.append(key)
    return won


def test_index_claims_agree_on_one_winner(root):
    keys = [f"user{n}@example.com" for n in range(15)]
    barrier = CTX.Barrier(PROCESSES)
    wins = run_processes(_claim, [(root, barrier, f"login{w}", keys) for w in range(PROCESSES)], timeout=60)
    index = Store(root).index("email")
    for key in keys:
        winners = [w for w, won in enumerate(wins) if key in won]
        assert len(winners) == 1, f"{key} claimed by {winners}"
        assert index.get(key) == f"login{winners[0]}"


# -- crash safety: SIGKILL in the middle of writes --------------------------------------


def _version(run, seq):
    """The deterministic document written as version `seq` of `run`: 1 KB to 200 KB."""
    digest = hashlib.sha256(f"{run}:{seq}".encode()).hexdigest()
    size = 1024 + int(digest[:8], 16) % (199 * 1024)
    pad = (digest * (size // 64 + 1))[:size]
    return {"run": run, "seq": seq, "size": size, "pad": pad, "tail": "end"}


def _rewrite_forever(root, run, ready):
    store = Store(root)
    stop = time.monotonic() + 20  # a safety net: the test kills it long before
    seq = 0
    while time.monotonic() < stop:
        doc = _version(run, seq)
        if seq % 2:
            with store.update("docs", "crash") as current:
                current.clear()
                current.update(doc)
        else:
            store.write("docs", "crash", doc=doc)
        if seq == 0:
            ready.set()
        seq += 1


KILLS = 30


def test_a_killed_writer_leaves_a_whole_document(root):
    store = Store(root)
    store.write("docs", "crash", doc=_version(-1, 0))
    rng = random.Random()
    seen_seqs = []
    for run in range(KILLS):
        ready = CTX.Event()
        writer = CTX.Process(target=_rewrite_forever, args=(root, run, ready), daemon=True)
        writer.start()
        try:
            assert ready.wait(15), "the writer never completed its first write"
            time.sleep(rng.uniform(0, 0.04))
            writer.kill()  # SIGKILL on POSIX: no cleanup, no finally blocks
            writer.join(timeout=10)
        finally:
            if writer.is_alive():
                writer.kill()
                writer.join(timeout=5)
        if hasattr(signal, "SIGKILL"):
            assert writer.exitcode == -signal.SIGKILL, (
                f"run {run}: the writer ended by itself (exit code {writer.exitcode}) before it was killed")

        doc = store.read("docs", "crash")  # StoreCorrupt here would be a torn write
        assert doc is not None
        body = {k: v for k, v in doc.items() if k != "schema"}
        assert doc["schema"] == SCHEMA
        assert body["run"] == run, f"run {run}: found a document of run {body['run']}"
        assert body == _version(body["run"], body["seq"]), f"run {run}: document is not a version written"
        seen_seqs.append(body["seq"])

        # the OS released the dead writer's lock (if it was killed before its first
        # locked update, the lock folder may not exist yet)
        lock_path = store._lock_path("docs", "crash")
        os.makedirs(os.path.dirname(lock_path), exist_ok=True)
        with file_lock(lock_path, timeout=2):
            pass

    assert max(seen_seqs) > 0, "the writer was always killed before its second write"
    assert store.list("docs") == ["crash"], "stray temp files must not show up as documents"


# -- accounts created from several processes ------------------------------------------


def _create_accounts(root, barrier, emails):
    accounts = Accounts(Store(root), "example.org")
    outcome = []
    for email in emails:
        barrier.wait(BARRIER_TIMEOUT)
        try:
            outcome.append(("created", email, accounts.create(email=email).login))
        except Conflict:
            outcome.append(("conflict", email, None))
    return outcome


def _assert_consistent(root):
    """Every account is reachable by email and sub, and no index entry is dangling."""
    store = Store(root)
    accounts = Accounts(store, "example.org")
    logins = accounts.list()
    subs = set()
    for login in logins:
        account = accounts.get(login)
        assert account.login == login
        assert accounts.find_by_email(account.email).login == login
        assert accounts.find_by_sub(account.sub).login == login
        subs.add(account.sub)
    assert len(subs) == len(logins), "every account has its own sub"
    assert len(store.list("index", "email")) == len(logins)
    assert len(store.list("index", "sub")) == len(logins)
    return logins


def test_the_same_email_from_four_processes_makes_one_account(root):
    emails = [f"person{n}@example.com" for n in range(5)]
    barrier = CTX.Barrier(PROCESSES)
    outcomes = run_processes(_create_accounts, [(root, barrier, emails)] * PROCESSES, timeout=60)
    for email in emails:
        results = [o for worker in outcomes for o in worker if o[1] == email]
        created = [o for o in results if o[0] == "created"]
        assert len(created) == 1, f"{email}: {results}"
        assert sum(1 for o in results if o[0] == "conflict") == PROCESSES - 1
    logins = _assert_consistent(root)
    assert logins == sorted(f"person{n}" for n in range(5))


def test_the_same_local_part_from_four_processes_gets_distinct_logins(root):
    barrier = CTX.Barrier(PROCESSES)
    # `jorg+desk`: the login is derived (tag dropped); non-ASCII local parts are refused (issue 9, 13)
    args = [(root, barrier, [f"{name}@host{w}.example" for name in ("alice", "bob", "jorg+desk")])
            for w in range(PROCESSES)]
    outcomes = run_processes(_create_accounts, args, timeout=60)
    created = [o for worker in outcomes for o in worker]
    assert all(kind == "created" for kind, _, _ in created), created
    for name in ("alice", "bob", "jorg"):
        logins = sorted(login for _, email, login in created if login.startswith(name))
        assert logins == sorted([name] + [f"{name}{n}" for n in range(2, PROCESSES + 1)])
    logins = _assert_consistent(root)
    assert len(logins) == 3 * PROCESSES
    accounts = Accounts(Store(root), "example.org")
    for _, email, login in created:
        assert accounts.find_by_email(email).login == login
        assert accounts.get(login).doc["sip"] == f"{login}@example.org"


# -- the last admin ---------------------------------------------------------------------


@pytest.mark.parametrize("change", ["demote", "disable", "delete"])
def test_two_admins_removing_each_other_at_once_leave_one_admin(root, change):
    """Finding 8: two admins demoting each other at the same instant left no admin: each checked
    "another admin remains" before either change was written. Check and change now happen under
    one tenant-wide lock, so one of the two always stays an admin (repeated: a race is a chance)."""
    for run in range(6):
        run_root = os.path.join(root, str(run))
        setup = Accounts(Store(run_root), "example.org")
        for login in ("ann", "ben"):
            setup.create(email=f"{login}@example.org", login=login, roles=["user", "admin"])
        barrier = threading.Barrier(2)

        def remove(login, run_root, barrier):
            accounts = Accounts(Store(run_root), "example.org")  # a request of its own
            accounts.admins()  # each process keeps its directory warm
            barrier.wait(BARRIER_TIMEOUT)
            try:
                if change == "demote":
                    accounts.set_roles(login, ["user"])
                elif change == "disable":
                    accounts.set_disabled(login, True)
                else:
                    accounts.delete(login)
                return "done"
            except Conflict as refused:
                return refused.message_id

        outcomes = run_threads(remove, [("ann", run_root, barrier), ("ben", run_root, barrier)], timeout=30)
        assert sorted(outcomes) == ["done", "error.last_admin"], (run, outcomes)
        after = Accounts(Store(run_root), "example.org")
        enabled_admins = [login for login in after.list()
                          if "admin" in after.get(login).roles and not after.get(login).disabled]
        assert len(enabled_admins) == 1 and after.admins() == enabled_admins, run
