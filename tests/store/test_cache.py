"""Per-process memos of documents (codeb.store.cache): reused while a file is unchanged, and a
change made behind their back (another process, another Store on the folder) seen at once."""

import os

import pytest

from codeb.store import Store, cache, files


@pytest.fixture
def memo():
    return cache.Memo(size=4)


def counting(made):
    def make(doc):
        made.append(doc["v"])
        return ("parsed", doc["v"])
    return make


def test_a_document_is_parsed_once_while_it_is_unchanged(store, memo):
    store.write("things", "a", doc={"v": 1})
    made = []
    assert store.derived(memo, "things", "a", make=counting(made)) == ("parsed", 1)
    assert store.derived(memo, "things", "a", make=counting(made)) == ("parsed", 1)
    assert made == [1]


def test_another_stores_write_is_seen_on_the_next_use(store, memo):
    store.write("things", "a", doc={"v": 1})
    made = []
    store.derived(memo, "things", "a", make=counting(made))
    Store(store.root).write("things", "a", doc={"v": 2})  # another process, as far as the memo knows
    assert store.derived(memo, "things", "a", make=counting(made)) == ("parsed", 2)
    assert made == [1, 2]


def test_a_rewrite_in_place_of_the_same_size_is_seen(store, memo):
    """Not through the store at all, keeping the inode and the size: the time still tells."""
    store.write("things", "a", doc={"v": 1})
    path = store.doc_path("things", "a")
    before = os.stat(path)
    store.derived(memo, "things", "a", make=counting([]))
    with open(path, "r+b") as f:
        f.write(files.encode({"schema": 1, "v": 7}))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    assert os.stat(path).st_ino == before.st_ino and os.stat(path).st_size == before.st_size
    assert store.derived(memo, "things", "a", make=counting([])) == ("parsed", 7)


def test_an_atomic_replace_is_seen_even_with_the_same_time_and_size(store, memo):
    """The replace brings a new inode: a clock too coarse to tell two writes apart does not matter."""
    store.write("things", "a", doc={"v": 1})
    path = store.doc_path("things", "a")
    before = os.stat(path)
    store.derived(memo, "things", "a", make=counting([]))
    files.write_bytes_atomic(path, files.encode({"schema": 1, "v": 8}))  # behind the store's back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    assert store.derived(memo, "things", "a", make=counting([])) == ("parsed", 8)


def test_a_removed_document_is_absent_at_once(store, memo):
    store.write("things", "a", doc={"v": 1})
    store.derived(memo, "things", "a", make=counting([]))
    os.unlink(store.doc_path("things", "a"))
    assert store.derived(memo, "things", "a", make=counting([])) is None


def test_the_stores_own_write_drops_the_memo_before_it_replaces(store, memo):
    store.write("things", "a", doc={"v": 1})
    store.derived(memo, "things", "a", make=counting([]))
    path = store.doc_path("things", "a")
    assert memo.get(path, cache.stamp_of(path)) is not cache.MISSING
    store.write("things", "a", doc={"v": 2})
    assert memo.get(path, cache.stamp_of(path)) is cache.MISSING


def test_a_memo_keeps_at_most_its_size(store, memo):
    for n in range(10):
        store.write("things", f"d{n}", doc={"v": n})
        store.derived(memo, "things", f"d{n}", make=counting([]))
    kept = [n for n in range(10)
            if memo.get(store.doc_path("things", f"d{n}"), store.stamp("things", f"d{n}")) is not cache.MISSING]
    assert kept == [6, 7, 8, 9]


def test_a_corrupt_document_is_refused_not_remembered(store, memo):
    from codeb.errors import StoreCorrupt

    path = store.doc_path("things", "a")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(b"{not json")
    for _ in range(2):
        with pytest.raises(StoreCorrupt):
            store.derived(memo, "things", "a", make=counting([]))
