"""The admin's user directory (issue 10): token search, the manifest that serves the first
pages, another process's changes, rebuild equal to the incremental path, two writers at once."""

import multiprocessing
import os

import pytest

from codeb.accounts import Accounts, directory
from codeb.accounts.directory import HEAD, MANIFEST, SHARD, Directory, fold, tokens
from codeb.store import Store

CTX = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


@pytest.fixture
def root(tmp_path):
    return str(tmp_path / "tenant")


def fresh_process():
    """What a freshly started process holds of any directory: nothing."""
    directory._views.clear()
    directory._manifests.clear()


def logins(result):
    return [row["login"] for row in result[1]]


def in_another_process(target, *args):
    """Run `target(*args)` in a process of its own (its own view and manifest cache)."""
    worker = CTX.Process(target=target, args=args, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():
        worker.kill()
    assert worker.exitcode == 0, worker.exitcode


def _create(root, email, login, name):
    Accounts(Store(root), "example.org").create(email=email, login=login, display_name=name)


def _rename(root, login, name):
    Accounts(Store(root), "example.org").update_profile(login, display_name=name, nickname=None,
                                                        language="en", languages=["en", "de"])


def _delete(root, login):
    Accounts(Store(root), "example.org").delete(login)


def _create_many(root, start, count):
    accounts = Accounts(Store(root), "example.org")
    for n in range(start, start + count):
        accounts.create(email=f"w{n:03d}@example.org", login=f"w{n:03d}")


@pytest.fixture
def people(root):
    accounts = Accounts(Store(root), "example.org")
    accounts.create(email="jose.garcia@example.org", login="jgarcia", display_name="José García")
    accounts.create(email="anna.mueller@firma.de", login="amueller", display_name="Anna Müller")
    accounts.create(email="strauss@example.org", login="strauss", display_name="Johann Strauß")
    accounts.create(email="bob@example.org", login="bob2000", display_name="Bob Builder")
    return accounts


def test_words_are_folded_for_case_and_accents():
    assert fold("José GARCÍA") == "jose garcia"
    assert tokens("Anna-Müller <anna.mueller@firma.de>") == ["anna", "muller", "anna", "mueller", "firma", "de"]
    assert fold("Strauß") == "strauss"  # casefold, not lower


def test_search_by_login_prefix_name_word_and_email(people):
    found = people.directory
    assert logins(found.search("jgar")) == ["jgarcia"]
    assert logins(found.search("bob2")) == ["bob2000"]
    assert logins(found.search("builder")) == ["bob2000"]
    assert logins(found.search("anna.mueller@firma.de")) == ["amueller"]
    assert logins(found.search("firma")) == ["amueller"]
    assert logins(found.search("example.org")) == ["bob2000", "jgarcia", "strauss"]
    assert logins(found.search("johann str")) == ["strauss"]
    assert logins(found.search("anna bob")) == []  # every word must match the same account
    assert logins(found.search("@@@")) == []


def test_search_ignores_case_and_accents_both_ways(people):
    found = people.directory
    assert logins(found.search("GARCIA")) == ["jgarcia"]
    assert logins(found.search("garcía")) == ["jgarcia"]
    assert logins(found.search("muller")) == ["amueller"]
    assert logins(found.search("MÜLL")) == ["amueller"]
    assert logins(found.search("STRAUSS")) == ["strauss"]


def test_paging_totals_from_the_manifest_and_from_the_shards(root):
    store = Store(root)
    entries = {f"u{n:04d}": {"name": f"Person {n}", "email": f"u{n:04d}@example.org", "roles": ["user"],
                             "disabled": False, "ext": None} for n in range(HEAD * 2 + 7)}
    Directory(store).load(entries)
    fresh_process()
    everyone = sorted(entries)
    first = Directory(store).search("", limit=50)
    assert first[0] == len(entries) and logins(first) == everyone[:50]
    assert directory._views == {}, "the first page of a fresh process reads no shard"
    assert logins(Directory(store).search("", offset=150, limit=50)) == everyone[150:200]
    assert directory._views == {}
    beyond = Directory(store).search("", offset=400, limit=50)  # past the head: from the shards
    assert beyond[0] == len(entries) and logins(beyond) == everyone[400:]
    total, page = Directory(store).search("person", offset=50, limit=50)
    assert total == len(entries) and [row["login"] for row in page] == everyone[50:100]
    total, page = Directory(store).search("Person 12")
    assert total == 11 and page[0] == {"login": "u0012", **entries["u0012"]}


def test_another_process_create_rename_and_delete_are_seen_at_the_next_request(people, root):
    found = people.directory
    assert found.search("")[0] == 4 and logins(found.search("carla")) == []  # this process is warm
    in_another_process(_create, root, "carla@example.org", "carla", "Carla Ñandú")
    assert logins(found.search("nandu")) == ["carla"]
    assert found.search("")[0] == 5 and "carla" in logins(found.search(""))
    in_another_process(_rename, root, "carla", "Carla Cruz")
    assert logins(found.search("nandu")) == [] and logins(found.search("cruz")) == ["carla"]
    assert [row["name"] for row in found.search("")[1] if row["login"] == "carla"] == ["Carla Cruz"]
    in_another_process(_delete, root, "carla")
    assert logins(found.search("carla")) == [] and found.search("")[0] == 4
    assert "carla" not in logins(found.search("")) and "carla" not in found.all()


def test_first_pages_follow_deletions_of_their_own_logins(root):
    store = Store(root)
    accounts = Accounts(store, "example.org")
    entries = {f"u{n:04d}": {"name": f"Person {n}", "email": None, "roles": ["user"],
                             "disabled": False, "ext": None} for n in range(HEAD * 2)}
    Directory(store).load(entries)
    for n in range(HEAD - 10):  # most of the manifest's head goes; the head is refilled from the shards
        accounts.directory.remove(f"u{n:04d}")
    fresh_process()
    rest = sorted(entries)[HEAD - 10:]
    total, page = Directory(store).search("", limit=50)
    assert total == len(rest) and [row["login"] for row in page] == rest[:50]
    assert logins(Directory(store).search("", offset=100, limit=50)) == rest[100:150]


def test_rebuild_from_the_accounts_equals_the_incremental_directory(people, root):
    store = people.store
    people.update_profile("bob2000", display_name="Robert Baumeister", nickname=None, language="en",
                          languages=["en", "de"])
    people.delete("strauss")
    incremental = {n: store.read(*SHARD, f"{n:02x}") for n in range(directory.SHARDS)}
    manifest = store.read(*SHARD, MANIFEST)
    searches = {q: people.directory.search(q) for q in ("", "robert", "example", "anna", "strauss")}
    for n in range(directory.SHARDS):  # a lost (or stale, restored) index
        if incremental[n] is not None:
            os.remove(store.doc_path(*SHARD, f"{n:02x}"))
    store.write(*SHARD, MANIFEST, doc={"counts": {}, "head": []})
    assert people.directory.search("")[0] == 0
    assert Directory(store).rebuild() == 3
    rebuilt = {n: store.read(*SHARD, f"{n:02x}") for n in range(directory.SHARDS)}
    assert {n: (d or {}).get("entries", {}) for n, d in rebuilt.items()} == \
        {n: (d or {}).get("entries", {}) for n, d in incremental.items()}
    assert store.read(*SHARD, MANIFEST) == manifest
    assert {q: people.directory.search(q) for q in searches} == searches
    fresh_process()
    assert {q: Directory(store).search(q) for q in searches} == searches


def test_a_directory_without_a_manifest_gets_one_at_its_next_change(people, root):
    store = people.store
    os.remove(store.doc_path(*SHARD, MANIFEST))
    fresh_process()
    assert people.directory.search("")[0] == 4  # from the shards meanwhile
    people.create(email="dora@example.org", login="dora")
    manifest = store.read(*SHARD, MANIFEST)
    assert sum(manifest["counts"].values()) == 5
    assert [login for login, _ in manifest["head"]] == ["amueller", "bob2000", "dora", "jgarcia", "strauss"]


def test_two_writing_processes_lose_no_entry(root):
    Accounts(Store(root), "example.org").create(email="first@example.org", login="first")
    workers = [CTX.Process(target=_create_many, args=(root, start, 30), daemon=True) for start in (0, 30)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        if worker.is_alive():
            worker.kill()
        assert worker.exitcode == 0
    store = Store(root)
    expected = sorted(["first"] + [f"w{n:03d}" for n in range(60)])
    assert sorted(store.list("users")) == expected
    fresh_process()
    total, page = Directory(store).search("", limit=200)
    assert total == 61 and [row["login"] for row in page] == expected
    assert directory._views == {}  # served by the manifest, which both writers kept whole
    manifest = store.read(*SHARD, MANIFEST)
    assert [login for login, _ in manifest["head"]] == expected
    assert logins(Directory(store).search("w05", limit=200)) == [f"w{n:03d}" for n in range(50, 60)]
