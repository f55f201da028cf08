"""Segments: numbered append-only logs (codeb.store.segments), in one process and in several.

What is proved: seqs are gap-free and in file order, also with four processes appending at
once; a new segment every SEGMENT_EVENTS; a line cut short by a power cut is skipped and
the next record starts a line of its own; `last()` sees what another process appended,
and a file replaced or changed in place behind its back; a rewrite keeps every seq and
replaces only the segments it changed; a removed log is not brought back by an append.
"""

import json
import os
import threading

import pytest

from codeb.errors import NotFound, StorageFull
from codeb.store import Store, cache
from codeb.store import segments as segments_module
from tests.store.test_concurrency import BARRIER_TIMEOUT, CTX, PROCESSES, run_processes
from tests.support.clock import Clock

FOLDER = ("channels", "c1", "messages")


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)


@pytest.fixture
def store(tmp_path, clock):
    root = tmp_path / "tenant"
    root.mkdir()
    return Store(str(root), clock=clock)


@pytest.fixture
def log(store):
    os.makedirs(store.folder(*FOLDER[:-1]))  # the channel's folder: what the log belongs to
    return store.segments(*FOLDER)


@pytest.fixture
def small(monkeypatch):
    """Three records per segment, so that rotation is seen with a few appends."""
    monkeypatch.setattr(segments_module, "SEGMENT_EVENTS", 3)
    return 3


def files_of(log):
    return sorted(os.listdir(log.path))


def lines_of(log, name):
    with open(os.path.join(log.path, name), "rb") as f:
        return f.read().split(b"\n")


def cut_short(log, name, piece=b'{"op":"post","seq":'):
    """What a power cut leaves: the start of a line, without its newline."""
    with open(os.path.join(log.path, name), "ab") as f:
        f.write(piece)


def seqs(records):
    return [r["seq"] for r in records]


# -- appending -----------------------------------------------------------------------------


def test_appends_number_records_gap_free_with_the_store_clock(log, clock):
    assert log.last() == 0
    assert log.after(0) == []
    first = log.append({"op": "post", "text": "hallo"})
    clock.advance(5)
    second = log.append({"op": "post", "text": "zwei"})
    assert first == {"op": "post", "text": "hallo", "seq": 1, "at": 1_800_000_000}
    assert second["seq"] == 2 and second["at"] == 1_800_000_005
    assert log.after(0) == [first, second]
    assert log.last() == 2
    assert files_of(log) == ["0000000001.jsonl"]
    on_disk = [json.loads(line) for line in lines_of(log, "0000000001.jsonl") if line]
    assert on_disk == [first, second]


def test_the_log_gives_seq_and_at_itself(log):
    with pytest.raises(ValueError):
        log.append({"op": "post", "seq": 7})
    with pytest.raises(ValueError):
        log.append({"op": "post", "at": 7})
    assert log.last() == 0


def test_a_new_segment_every_segment_events(log, small):
    written = [log.append({"n": n}) for n in range(8)]
    assert seqs(written) == list(range(1, 9))
    assert files_of(log) == ["0000000001.jsonl", "0000000004.jsonl", "0000000007.jsonl"]
    assert log.last() == 8
    assert seqs(log.after(0)) == list(range(1, 9))
    for seq in range(9):
        assert seqs(log.after(seq)) == list(range(seq + 1, 9)), seq
    assert seqs(log.after(2, limit=3)) == [3, 4, 5]
    assert seqs(log.after(8)) == []
    assert [seqs(chunk) for chunk in log.newest_first()] == [[7, 8], [4, 5, 6], [1, 2, 3]]


def test_files_that_are_no_segments_are_not_read(log):
    log.append({"n": 1})
    for stray in ("~0000000002.jsonl.abc.tmp", "notes.jsonl", "12.jsonl", "000000000x.jsonl", "rewritten"):
        with open(os.path.join(log.path, stray), "w") as f:
            f.write('{"seq": 99}\n')
    assert log.last() == 1
    assert seqs(log.after(0)) == [1]
    assert log.append({"n": 2})["seq"] == 2


def test_threads_of_one_process_take_distinct_seqs(log):
    barrier = threading.Barrier(4)
    taken: list[int] = []

    def work():
        barrier.wait(BARRIER_TIMEOUT)
        for _ in range(25):
            taken.append(log.append({"op": "post"})["seq"])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert sorted(taken) == list(range(1, 101))
    assert seqs(log.after(0)) == list(range(1, 101))


# -- a power cut: the last line cut short -------------------------------------------------------


def test_a_cut_line_is_skipped_and_the_next_record_starts_a_line(log):
    log.append({"n": 1})
    log.append({"n": 2})
    cut_short(log, "0000000001.jsonl")
    assert log.last() == 2
    assert seqs(log.after(0)) == [1, 2]
    third = log.append({"n": 3})
    assert third["seq"] == 3, "the cut line took no seq"
    lines = lines_of(log, "0000000001.jsonl")
    assert lines[2] == b'{"op":"post","seq":', "the cut piece stays a line of its own"
    assert json.loads(lines[3]) == third
    assert seqs(log.after(0)) == [1, 2, 3]
    assert log.last() == 3


def test_a_cut_line_is_found_though_this_process_remembered_the_file(log, store):
    """The cache of the tail says the file ended in a newline; the cut came after (another
    process's append, cut by a full disk): the next append still starts a new line."""
    log.append({"n": 1})
    assert log.last() == 1  # remembered
    cut_short(log, "0000000001.jsonl", b'{"n":2,"se')
    other = Store(store.root, clock=store.clock).segments(*FOLDER)
    assert other.last() == 1
    assert other.append({"n": 3})["seq"] == 2
    assert [r["n"] for r in log.after(0)] == [1, 3]


def test_a_cut_first_line_of_a_new_segment(log, small):
    for n in range(3):
        log.append({"n": n})
    with open(os.path.join(log.path, "0000000004.jsonl"), "wb") as f:
        f.write(b'{"n":3,"seq":4,')  # the first line of the next segment, cut by a power cut
    assert log.last() == 3
    fourth = log.append({"n": 3})
    assert fourth["seq"] == 4
    assert files_of(log) == ["0000000001.jsonl", "0000000004.jsonl"], "it goes on in that segment"
    assert seqs(log.after(0)) == [1, 2, 3, 4]
    assert seqs(log.after(3)) == [4]


def test_an_append_cut_by_a_full_disk_takes_no_seq(log, monkeypatch):
    log.append({"n": 1})
    real_write = os.write

    def short_write(fd, data):
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(segments_module.os, "write", short_write)
    with pytest.raises(StorageFull):
        log.append({"n": 2, "text": "x" * 100})
    monkeypatch.setattr(segments_module.os, "write", real_write)
    assert log.last() == 1
    assert log.append({"n": 3})["seq"] == 2
    assert [r["n"] for r in log.after(0)] == [1, 3]


# -- last(): cheap, and never trusting memory alone ----------------------------------------------


def _append_some(root, count):
    log = Store(root).segments(*FOLDER)
    return [log.append({"pid": os.getpid()})["seq"] for _ in range(count)]


def test_last_sees_what_another_process_appended(log, store):
    log.append({"n": 1})
    assert log.last() == 1
    assert run_processes(_append_some, [(store.root, 3)], timeout=60) == [[2, 3, 4]]
    assert log.last() == 4
    assert Store(store.root).segments(*FOLDER).last() == 4
    assert log.append({"n": 5})["seq"] == 5


def test_last_reads_only_what_was_appended_since(log, monkeypatch):
    for n in range(5):
        log.append({"n": n})
    assert log.last() == 5
    offsets = []
    real = segments_module._read_from

    def counting(path, offset):
        offsets.append(offset)
        return real(path, offset)

    monkeypatch.setattr(segments_module, "_read_from", counting)
    assert log.last() == 5
    assert offsets == [], "unchanged: nothing read"
    size = os.path.getsize(os.path.join(log.path, "0000000001.jsonl"))
    with open(os.path.join(log.path, "0000000001.jsonl"), "ab") as f:
        f.write(b'{"n":5,"seq":6,"at":0}\n')  # what another process appended
    assert log.last() == 6
    assert offsets == [size - 1], "read from the end of what it had seen (its newline)"


def test_last_reads_a_replaced_segment_again(log, small):
    for n in range(5):
        log.append({"n": n})
    assert log.last() == 5
    newest = os.path.join(log.path, "0000000004.jsonl")
    with open(newest + ".new", "wb") as f:  # a restore from a backup: fewer records, a new file
        f.write(b'{"n":3,"seq":4,"at":0}\n')
    os.replace(newest + ".new", newest)
    assert log.last() == 4
    assert log.append({"n": 9})["seq"] == 5


def test_last_reads_a_file_changed_in_place_again(log):
    """Same inode, bigger file, but what follows is not a continuation: read again."""
    log.append({"text": "a"})
    log.append({"text": "b"})
    assert log.last() == 2
    path = os.path.join(log.path, "0000000001.jsonl")
    inode = os.stat(path).st_ino
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(b'{"seq":1,"at":0,"text":"a much longer first line than before"}\n')
        f.write(b'{"seq":2,"at":0,"text":"and a second"}\n{"seq":3,"at":0}\n')
    assert os.stat(path).st_ino == inode
    assert log.last() == 3
    assert log.append({"text": "d"})["seq"] == 4


def test_what_this_process_remembers_is_bounded(store, monkeypatch):
    monkeypatch.setattr(segments_module, "TAILS_KEPT", 5)
    for n in range(12):
        store.segments(f"log{n}").append({"n": n})
        assert store.segments(f"log{n}").last() == 1
    assert len(segments_module._tails) <= 5
    assert all(store.segments(f"log{n}").last() == 1 for n in range(12))
    assert len(segments_module._parsed._entries) <= segments_module._parsed.size


# -- stamp ---------------------------------------------------------------------------------------


def test_the_stamp_changes_with_every_append_and_rewrite(log, small):
    assert log.stamp() == "0"
    stamps = []
    for n in range(4):
        log.append({"n": n, "text": "t"})
        stamps.append(log.stamp())
        assert log.stamp() == stamps[-1], "stable while nothing changes"
    assert len(set(stamps)) == 4
    log.rewrite(lambda r: {**r, "text": None} if r["n"] == 0 else r)  # an old segment only
    assert log.stamp() not in stamps
    assert len(log.stamp()) <= 16


# -- rewrite -----------------------------------------------------------------------------------


def test_a_rewrite_keeps_the_seqs_and_replaces_only_changed_segments(log, small):
    for n in range(7):
        log.append({"n": n, "text": f"text {n}", "who": "ann" if n % 2 else "bob"})
    cut_short(log, "0000000007.jsonl")
    untouched = os.stat(os.path.join(log.path, "0000000004.jsonl")).st_ino
    assert log.last() == 7  # the tails are remembered before the rewrite

    def erase_ann(record):
        if record["who"] != "ann":
            return record
        return {**record, "text": None, "erased": True}

    # ann wrote n = 1, 3, 5: segment 1 (seq 2) and segment 4 (seq 4, 6). bob only in the last one.
    assert log.rewrite(lambda r: erase_ann(r) if r["seq"] <= 2 else r) == 1
    assert os.stat(os.path.join(log.path, "0000000004.jsonl")).st_ino == untouched
    assert log.rewrite(erase_ann) == 2
    after = log.after(0)
    assert seqs(after) == list(range(1, 8))
    assert [r["text"] for r in after] == ["text 0", None, "text 2", None, "text 4", None, "text 6"]
    assert [r.get("erased", False) for r in after] == [False, True, False, True, False, True, False]
    assert log.last() == 7
    assert log.append({"n": 7, "who": "bob"})["seq"] == 8
    assert log.rewrite(erase_ann) == 0, "nothing left to change"
    leftovers = [n for n in os.listdir(log.path) if n.endswith(".tmp")]
    assert leftovers == []


def test_a_rewrite_may_not_renumber(log):
    log.append({"n": 1})
    with pytest.raises(ValueError):
        log.rewrite(lambda r: {**r, "seq": 5})
    assert seqs(log.after(0)) == [1]


def test_a_rewrite_is_seen_by_readers_that_had_the_segment_in_memory(log):
    log.append({"text": "secret"})
    assert log.after(0)[0]["text"] == "secret"  # parsed and memoized
    log.rewrite(lambda r: {**r, "text": None})
    assert log.after(0)[0]["text"] is None
    assert [r["text"] for chunk in log.newest_first() for r in chunk] == [None]
    path = os.path.join(log.path, "0000000001.jsonl")
    assert segments_module._parsed.get(path, cache.stamp_of(path))[0]["text"] is None


# -- remove ----------------------------------------------------------------------------------------


def test_remove_takes_the_folder_and_an_append_does_not_bring_it_back(log, store):
    log.append({"n": 1})
    log.remove()
    assert not os.path.exists(log.path)
    assert log.last() == 0 and log.after(0) == [] and log.stamp() == "0"
    assert log.append({"n": 2})["seq"] == 1, "the channel's folder is still there: a new log"
    store.remove_tree(*FOLDER[:-1])  # the channel's folder goes
    with pytest.raises(NotFound):
        log.append({"n": 3})
    assert not os.path.exists(store.folder(*FOLDER[:-1]))


def test_a_log_at_the_top_of_the_tenant_folder_is_made_on_first_append(store):
    log = store.segments("notices")
    assert log.append({"n": 1})["seq"] == 1
    assert os.listdir(log.path) == ["0000000001.jsonl"]


def test_a_log_needs_a_folder_of_its_own(store):
    with pytest.raises(ValueError):
        store.segments()


# -- several processes at once -----------------------------------------------------------------------


def _append_many(root, barrier, worker, count, events):
    segments_module.SEGMENT_EVENTS = events  # a spawned child does not inherit a monkeypatch
    log = Store(root).segments(*FOLDER)
    barrier.wait(BARRIER_TIMEOUT)
    return [log.append({"worker": worker, "n": n})["seq"] for n in range(count)]


@pytest.mark.parametrize("events", [1000, 7], ids=["one-segment", "rotating"])
def test_four_processes_append_gap_free(log, store, events):
    barrier = CTX.Barrier(PROCESSES)
    taken = run_processes(_append_many, [(store.root, barrier, w, 50, events) for w in range(PROCESSES)],
                          timeout=90)
    total = PROCESSES * 50
    assert sorted(s for mine in taken for s in mine) == list(range(1, total + 1)), "gap-free, no duplicate"
    records = log.after(0)
    assert seqs(records) == list(range(1, total + 1)), "in file order"
    for w in range(PROCESSES):
        mine = [r for r in records if r["worker"] == w]
        assert [r["n"] for r in mine] == list(range(50)), "each process's records in its order"
        assert seqs(mine) == taken[w]
    assert log.last() == total
    if events == 7:
        assert files_of(log) == [f"{first:010d}.jsonl" for first in range(1, total + 1, 7)]
