"""Numbered append-only segment files (codeb.store.segments): gap-free seqs across processes,
rotation, a line cut short by a power cut, erasure's rewrite."""

import multiprocessing
import os

import pytest

from codeb.errors import InvalidName
from codeb.store import Store, segments

FOLDER = ("channels", "abcdefghijklmnop", "messages")


def test_records_get_gap_free_seqs_and_read_back_in_order(store):
    log = store.segments(*FOLDER)
    assert log.last() == 0 and log.all() == [] and log.stamp() == "0"
    written = [log.append({"text": f"m{i}"}) for i in range(5)]
    assert [r["seq"] for r in written] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in log.all()] == ["m0", "m1", "m2", "m3", "m4"]
    assert [r["seq"] for r in log.after(3)] == [4, 5]
    assert [r["seq"] for r in log.before(5, 2)] == [3, 4]
    assert [r["seq"] for r in log.before(None, 2)] == [4, 5]
    assert log.last() == 5


def test_a_new_segment_every_so_many_records(store, monkeypatch):
    monkeypatch.setattr(segments, "SEGMENT_EVENTS", 3)
    log = store.segments(*FOLDER)
    for i in range(8):
        log.append({"n": i})
    assert sorted(os.listdir(log.path)) == ["0000000001.jsonl", "0000000004.jsonl", "0000000007.jsonl"]
    assert [r["seq"] for r in log.after(2)] == [3, 4, 5, 6, 7, 8]
    assert [r["seq"] for r in log.after(5, limit=2)] == [6, 7]
    assert [r["seq"] for r in log.before(7, 4)] == [3, 4, 5, 6]


def test_another_process_sees_what_was_appended_and_continues_the_seqs(tmp_path):
    one, two = Store(str(tmp_path)), Store(str(tmp_path))
    one.segments(*FOLDER).append({"by": "one"})
    stamp = one.segments(*FOLDER).stamp()
    assert two.segments(*FOLDER).last() == 1
    assert two.segments(*FOLDER).append({"by": "two"})["seq"] == 2
    assert one.segments(*FOLDER).append({"by": "one"})["seq"] == 3
    assert one.segments(*FOLDER).stamp() != stamp
    assert [r["by"] for r in one.segments(*FOLDER).all()] == ["one", "two", "one"]


def test_a_line_cut_short_is_skipped_and_the_next_record_starts_a_new_line(store):
    log = store.segments(*FOLDER)
    log.append({"text": "whole"})
    with open(os.path.join(log.path, "0000000001.jsonl"), "ab") as f:
        f.write(b'{"seq": 2, "text": "cut sh')  # what a power cut may leave
    fresh = Store(store.root).segments(*FOLDER)
    assert [r["text"] for r in fresh.all()] == ["whole"]
    assert fresh.last() == 1
    assert fresh.append({"text": "after"})["seq"] == 2
    assert [r["text"] for r in fresh.all()] == ["whole", "after"]


def test_rewrite_changes_records_in_place_and_keeps_their_seqs(store, monkeypatch):
    monkeypatch.setattr(segments, "SEGMENT_EVENTS", 2)
    log = store.segments(*FOLDER)
    for who in ("ann", "bo", "ann"):
        log.append({"who": who, "text": f"by {who}"})
    changed = log.rewrite(lambda r: {**r, "text": None} if r["who"] == "ann" else r)
    assert changed == 2
    assert [(r["seq"], r["text"]) for r in log.all()] == [(1, None), (2, "by bo"), (3, None)]
    assert log.append({"who": "cy"})["seq"] == 4
    raw = b"".join(open(os.path.join(log.path, n), "rb").read() for n in os.listdir(log.path))
    assert b"by ann" not in raw


def test_remove_takes_the_folder(store):
    log = store.segments(*FOLDER)
    log.append({"x": 1})
    log.remove()
    assert not os.path.exists(log.path) and log.all() == []


@pytest.mark.parametrize("bad", ["..", "a/b", "", "con"])
def test_a_folder_name_is_validated_before_it_becomes_a_path(store, bad):
    with pytest.raises(InvalidName):
        store.segments("channels", bad, "messages").append({"x": 1})
    assert not os.listdir(store.root) or os.listdir(store.root) == [".locks"]


def _poster(root: str, worker: int, count: int, ready, go) -> None:
    log = Store(root).segments(*FOLDER)
    ready.release()
    go.wait(10)
    for n in range(count):
        log.append({"worker": worker, "n": n})


def test_four_processes_appending_at_once_lose_and_duplicate_nothing(tmp_path):
    """The issue's concurrency case: four processes posting to one channel at the same time."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Semaphore(0), context.Event()
    workers = [context.Process(target=_poster, args=(str(tmp_path), w, 50, ready, go)) for w in range(4)]
    for process in workers:
        process.start()
    for _ in workers:
        assert ready.acquire(timeout=60)
    go.set()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    records = Store(str(tmp_path)).segments(*FOLDER).all()
    assert [r["seq"] for r in records] == list(range(1, 201))
    assert len({(r["worker"], r["n"]) for r in records}) == 200
    for worker in range(4):
        assert [r["n"] for r in records if r["worker"] == worker] == list(range(50))
    assert Store(str(tmp_path)).segments(*FOLDER).all() == records  # the order is stable
