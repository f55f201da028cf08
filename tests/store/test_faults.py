"""The store under faults: a full volume, a Windows sharing violation, a lock holder killed.

A full disk is injected in-process here (tests/support/full_disk.py); the HTTP-level test on
a real size-limited tmpfs is tests/soak/test_full_disk.py.
"""

import errno
import json
import multiprocessing
import os
import time

import pytest

from codeb.errors import StorageFull, StoreBusy
from codeb.store import Store, files, layout, spool
from codeb.store import lock as lock_module
from tests.support.full_disk import FullDisk, no_space

CTX = multiprocessing.get_context("spawn")


@pytest.fixture
def disk(monkeypatch):
    return FullDisk(monkeypatch)


def temp_files(root):
    return [os.path.join(folder, name)
            for folder, _, names in os.walk(root) for name in names if files.is_temp(name)]


# -- a full volume ------------------------------------------------------------------

@pytest.mark.parametrize("durable", [True, False])
def test_a_write_on_a_full_disk_is_storage_full_and_keeps_the_old_document(store, disk, durable):
    store.write("users", "alice", doc={"v": 1})
    disk.full = True
    with pytest.raises(StorageFull):
        store.write("users", "alice", doc={"v": 2, "pad": "x" * 4000}, durable=durable)
    assert disk.refused == 1
    assert store.read("users", "alice")["v"] == 1
    assert temp_files(store.root) == []


def test_a_create_on_a_full_disk_leaves_no_temporary_file_and_no_document(store, disk):
    disk.full = True
    with pytest.raises(StorageFull):
        store.create("users", "bob", doc={"v": 1})
    assert not store.exists("users", "bob")
    assert temp_files(store.root) == []


def test_an_update_on_a_full_disk_changes_nothing_and_releases_the_lock(store, disk):
    store.write("counters", "c", doc={"n": 1})
    disk.full = True
    with pytest.raises(StorageFull), store.update("counters", "c") as doc:
        doc["n"] += 1
    disk.full = False
    with store.update("counters", "c") as doc:  # not blocked by the failed update
        doc["n"] += 10
    assert store.read("counters", "c")["n"] == 11


def test_an_audit_line_on_a_full_disk_is_storage_full(store, disk):
    audit = store.log(layout.AUDIT)
    audit.append("2026-12", {"event": "a"})
    disk.full = True
    with pytest.raises(StorageFull):
        audit.append("2026-12", {"event": "b"})
    disk.full = False
    audit.append("2026-12", {"event": "c"})
    assert [e["event"] for e in audit.read("2026-12")] == ["a", "c"]


def test_a_short_log_write_is_storage_full(store, monkeypatch):
    monkeypatch.setattr(os, "write", lambda fd, data: len(data) // 2)
    with pytest.raises(StorageFull):
        store.log(layout.AUDIT).append("2026-12", {"event": "cut"})


def test_the_line_after_a_cut_short_one_is_still_read(store, monkeypatch):
    """A short write (full disk, power cut) leaves a piece without its newline; the next
    append lands right behind it on the same line. The piece is lost, the next event is not."""
    audit = store.log(layout.AUDIT)
    audit.append("2026-12", {"event": "a", "n": 1})
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(StorageFull):
        audit.append("2026-12", {"event": "cut", "text": '{"event": "not one"}'})
    monkeypatch.setattr(os, "write", real_write)
    audit.append("2026-12", {"event": "b", "n": 2})
    audit.append("2026-12", {"event": "c", "n": 3})
    assert [e["event"] for e in audit.read("2026-12")] == ["a", "b", "c"]


def test_a_folder_or_lock_file_that_cannot_be_created_is_storage_full(store, monkeypatch):
    def makedirs(path, exist_ok=False):
        raise no_space(path)

    monkeypatch.setattr(os, "makedirs", makedirs)
    with pytest.raises(StorageFull):
        store.write("new-folder", "doc", doc={"v": 1})
    with pytest.raises(StorageFull), store.lock("new-folder", "doc"):
        pass


def test_other_os_errors_are_not_mistaken_for_a_full_disk(store, monkeypatch):
    def write_new(tmp, data, durable):
        raise OSError(errno.EIO, "I/O error", tmp)

    monkeypatch.setattr(files, "_write_new", write_new)
    with pytest.raises(OSError) as caught:
        store.write("users", "alice", doc={"v": 1})
    assert not isinstance(caught.value, StorageFull) and caught.value.errno == errno.EIO


def test_quota_exceeded_counts_as_full(store, monkeypatch):
    def write_new(tmp, data, durable):
        raise OSError(errno.EDQUOT, "Disk quota exceeded", tmp)

    monkeypatch.setattr(files, "_write_new", write_new)
    with pytest.raises(StorageFull):
        store.write("users", "alice", doc={"v": 1})


def test_a_mail_that_does_not_fit_leaves_nothing_in_staging_or_the_spool(tmp_path, disk):
    staging, pickup = tmp_path / "staging", tmp_path / "pickup"
    disk.full = True
    with pytest.raises(OSError):
        spool.deliver(staging=str(staging), spool=str(pickup), name="m.eml", data=b"x" * 1000)
    assert os.listdir(staging) == [] and os.listdir(pickup) == []


def test_storage_full_is_a_temporary_server_condition_in_both_languages():
    error = StorageFull()
    assert error.status == 503 and error.oauth_error == "temporarily_unavailable" and error.retry_after > 0
    with open("codeb/i18n/de.json", encoding="utf-8") as f:
        assert json.load(f)[error.message_id] != str(error)


# -- a Windows sharing violation ------------------------------------------------------

def flaky(monkeypatch, name, failures):
    """`os.<name>` fails with a sharing violation (PermissionError) `failures` times."""
    real, calls = getattr(os, name), []

    def step(*args):
        calls.append(args)
        if len(calls) <= failures:
            raise PermissionError(13, "The process cannot access the file because it is being "
                                      "used by another process")
        return real(*args)

    monkeypatch.setattr(os, name, step)
    return calls


@pytest.fixture
def windows(monkeypatch):
    monkeypatch.setattr(files, "_IS_WINDOWS", True)
    monkeypatch.setattr(files, "SHARING_PAUSE", 0)


def test_a_replace_retries_a_sharing_violation_on_windows(store, monkeypatch, windows):
    store.write("users", "alice", doc={"v": 1})
    calls = flaky(monkeypatch, "replace", 3)
    store.write("users", "alice", doc={"v": 2})
    assert len(calls) == 4 and store.read("users", "alice")["v"] == 2


def test_a_sharing_violation_that_lasts_fails_and_keeps_the_old_document(store, monkeypatch, windows):
    store.write("users", "alice", doc={"v": 1})
    calls = flaky(monkeypatch, "replace", 10_000)
    with pytest.raises(PermissionError):
        store.write("users", "alice", doc={"v": 2})
    assert len(calls) == files.SHARING_RETRIES
    monkeypatch.undo()
    assert store.read("users", "alice")["v"] == 1 and temp_files(store.root) == []


def test_a_read_retries_a_sharing_violation_on_windows(store, monkeypatch, windows):
    store.write("users", "alice", doc={"v": 1})
    real_open, calls = open, []

    def opening(path, *args, **kwargs):
        calls.append(path)
        if len(calls) <= 2:
            raise PermissionError(13, "pending deletion")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", opening)
    assert store.read("users", "alice")["v"] == 1 and len(calls) == 3


def test_on_posix_a_permission_error_is_raised_at_once(store, monkeypatch):
    monkeypatch.setattr(files, "_IS_WINDOWS", False)
    store.write("users", "alice", doc={"v": 1})
    calls = flaky(monkeypatch, "replace", 10_000)
    with pytest.raises(PermissionError):
        store.write("users", "alice", doc={"v": 2})
    assert len(calls) == 1


# -- a lock holder killed ---------------------------------------------------------------

def _hold_lock_forever(root, held):
    store = Store(root)
    with store.lock("users", "alice"):
        held.set()
        time.sleep(600)  # bounded; the test kills it long before


def test_a_lock_held_by_a_killed_process_is_released_by_the_os(store):
    held = CTX.Event()
    holder = CTX.Process(target=_hold_lock_forever, args=(store.root, held), daemon=True)
    holder.start()
    try:
        assert held.wait(30), "the holder never took the lock"
        with pytest.raises(StoreBusy), lock_module.file_lock(store._lock_path("users", "alice"), 0.2):
            pass  # held by a live process: busy
    finally:
        holder.kill()  # SIGKILL: the holder's finally blocks never run
        holder.join(timeout=10)
    with lock_module.file_lock(store._lock_path("users", "alice"), 2.0):  # the OS released it
        pass
