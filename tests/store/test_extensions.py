"""Extensions: unique numbers from the tenant's range, also under concurrency."""

import multiprocessing
import os

import pytest

from codeb.accounts import Accounts
from codeb.store import Store


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
