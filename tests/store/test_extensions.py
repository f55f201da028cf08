"""Extensions: unique numbers from the tenant's range, also under concurrency."""

import multiprocessing
import os
import signal

import pytest

from codeb.accounts import Accounts
from codeb.accounts.directory import Directory
from codeb.accounts.extensions import GRACE
from codeb.store import Store
from codeb.store.index import Index


def tenant_store(root, lo=600, hi=699):
    store = Store(str(root))
    store.write("tenant", doc={"hosts": ["login.example"], "extension_range": [lo, hi]})
    return store


def test_extensions_come_from_the_range_in_order_and_are_indexed(tmp_path):
    accounts = Accounts(tenant_store(tmp_path, 610, 612), "login.example")
    made = [accounts.create(email=f"u{n}@example.com") for n in range(4)]
    assert [a.doc["ext"] for a in made] == [610, 611, 612, None]  # the fourth finds the range full
    assert accounts.find_by_extension(611).login == made[1].login
    assert accounts.get(made[0].login).doc["ext"] == 610


def test_a_deleted_accounts_extension_is_free_again(tmp_path):
    accounts = Accounts(tenant_store(tmp_path, 610, 611), "login.example")
    first = accounts.create(email="a@example.com")
    accounts.create(email="b@example.com")
    accounts.delete(first.login)
    assert accounts.find_by_extension(610) is None
    assert accounts.create(email="c@example.com").doc["ext"] == 610


def test_a_stale_index_entry_does_not_block_the_number(tmp_path):
    store = tenant_store(tmp_path, 610, 611)
    store.index("ext").put("610", "ghost")  # left by a crash: no such account
    assert Accounts(store, "login.example").create(email="a@example.com").doc["ext"] == 610


def _create_many(root, worker, count, queue):
    accounts = Accounts(Store(root), "login.example")
    made = []
    for n in range(count):
        made.append(accounts.create(email=f"w{worker}-{n}@example.com").doc["ext"])
    queue.put(made)


def test_four_processes_creating_200_accounts_get_200_distinct_extensions(tmp_path):
    root = str(tmp_path)
    tenant_store(root, 1000, 1999)
    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    queue = context.Queue()
    workers = [context.Process(target=_create_many, args=(root, w, 50, queue)) for w in range(4)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    extensions = [e for made in results for e in made]
    assert len(extensions) == 200 and None not in extensions
    assert len(set(extensions)) == 200
    assert set(extensions) == set(range(1000, 1200))
    accounts = Accounts(Store(root), "login.example")
    for number in extensions:
        assert accounts.find_by_extension(number) is not None


@pytest.mark.parametrize("bounds", [None, [5], ["a", "b"]])
def test_no_usable_range_means_no_extension(tmp_path, bounds):
    store = Store(str(tmp_path))
    store.write("tenant", doc={"hosts": ["x.example"], "extension_range": bounds})
    assert Accounts(store, "x.example").create(email="a@example.com").doc["ext"] is None


# -- a worker killed in the middle of a sign-up (the soak kills one with SIGKILL) -------------

STEPS = {  # where the killed creation stops: a method of its store's index or of the store
    "claiming the extension": ("index", "claim"),
    "indexing the subject": ("index", "put"),
    "writing the account": ("store", "create"),
    "listing it in the directory": ("directory", "put"),
}


def _killed_at(root, step):
    """Create an account in this process and die with SIGKILL at `step`: no rollback runs."""
    accounts = Accounts(Store(root), "login.example")
    owner, name = STEPS[step]
    cls = {"index": Index, "store": Store, "directory": Directory}[owner]
    real = getattr(cls, name)

    def kill(self, *args, **kwargs):
        if owner == "store" and args[:1] != ("users",):
            return real(self, *args, **kwargs)
        if owner == "index" and name == "claim" and self.name != "ext":
            return real(self, *args, **kwargs)
        if owner == "directory":
            real(self, *args, **kwargs)  # the last step done, the process dies after it
        os.kill(os.getpid(), signal.SIGKILL)
        return None  # not reached

    setattr(cls, name, kill)
    accounts.create(email="killed@example.com")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="kills a forked child")
@pytest.mark.parametrize("step", list(STEPS))
def test_a_creation_killed_at_any_step_leaves_no_account_or_a_whole_one(tmp_path, step):
    """No rollback runs in a killed process: what it leaves is either no account at all or
    the whole account, its extension in it (the soak once found an account without one)."""
    root = str(tmp_path)
    tenant_store(root, 600, 601)
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_killed_at, args=(root, step))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL  # killed at the step, not finished nor failed

    clock = [1e10]
    store = Store(root, clock=lambda: clock[0])
    accounts = Accounts(store, "login.example")
    left = [accounts.get(login) for login in accounts.list()]
    if step == "listing it in the directory":
        [account] = left
        assert account.ext == 600 and accounts.find_by_extension(600).login == account.login
        assert accounts.find_by_email("killed@example.com").login == account.login
        assert accounts.find_by_sub(account.sub).login == account.login
        return
    assert left == []
    assert accounts.find_by_email("killed@example.com") is None
    # The person tries again: the address is free, and the killed creation's claim on 600
    # (the same login asks) is taken over at once.
    again = accounts.create(email="killed@example.com")
    assert again.ext == 600 and accounts.find_by_extension(600).login == again.login
    assert accounts.create(email="other@example.com").ext == 601


def test_a_fresh_claim_without_its_account_stands_until_the_grace_ends(tmp_path):
    """A claim whose account is not written yet is an account being created right now (in
    another process): the number is not taken from it; after GRACE it was left by a crash."""
    clock = [1e9]
    store = Store(str(tmp_path), clock=lambda: clock[0])
    store.write("tenant", doc={"hosts": ["login.example"], "extension_range": [600, 601]})
    accounts = Accounts(store, "login.example")
    assert store.index("ext").claim("600", "being-made")
    assert accounts.create(email="a@example.com").ext == 601
    assert accounts.create(email="b@example.com").ext is None  # the range is full meanwhile
    clock[0] += GRACE + 1
    assert accounts.create(email="c@example.com").ext == 600
    assert accounts.find_by_extension(600).email == "c@example.com"


def test_a_number_being_moved_to_is_not_taken_by_a_new_account(tmp_path):
    """The admin moves an account to 601: the claim comes first, the account's document
    after it; a sign-up in between must not take 601 (the account still shows its old number)."""
    clock = [1e9]
    store = Store(str(tmp_path), clock=lambda: clock[0])
    store.write("tenant", doc={"hosts": ["login.example"], "extension_range": [600, 602]})
    accounts = Accounts(store, "login.example")
    mover = accounts.create(email="mover@example.com")
    assert mover.ext == 600
    accounts.extensions.claim(mover.login, 601)  # ... and the process is between the two steps
    assert accounts.create(email="new@example.com").ext == 602


def test_the_admin_may_give_a_number_a_killed_process_left_claimed(tmp_path):
    clock = [1e9]
    store = Store(str(tmp_path), clock=lambda: clock[0])
    store.write("tenant", doc={"hosts": ["login.example"], "extension_range": [600, 605]})
    accounts = Accounts(store, "login.example")
    person = accounts.create(email="p@example.com")
    assert store.index("ext").claim("603", "ghost")
    clock[0] += GRACE + 1
    assert accounts.extensions.assign(person.login, 603) == 603
    assert accounts.find_by_extension(603).login == person.login
