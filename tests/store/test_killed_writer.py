"""A writer killed mid-write (SIGKILL, no chance to clean up) leaves only whole documents and
whole log lines, for the kinds written without fsync too (layout.NOT_DURABLE)."""

import json
import os
import signal
import subprocess
import sys

import pytest

from codeb.store import Store, layout

WRITER = r"""
import sys
from codeb.store import Store, layout
store = Store(sys.argv[1])
codes, sessions = store.transient(layout.CODES), store.transient(layout.SESSIONS)
audit = store.log(layout.AUDIT)
for i in range(200000):  # bounded: the test kills it long before
    body = {"n": i, "pad": "x" * (i % 5000)}
    codes.put(f"r{i % 7}", body, ttl=600)
    sessions.put(f"s{i % 3}", body, ttl=600)
    audit.append("2026-12", {"event": "test", **body})
    if i == 50:
        print("writing", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_in_a_write_loop_leaves_only_whole_documents(tmp_path):
    root = str(tmp_path / "demo")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, root], stdout=subprocess.PIPE, env=env)
    try:
        assert writer.stdout.readline() == b"writing\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    store = Store(root)
    for kind, count in ((layout.CODES, 7), (layout.SESSIONS, 3)):
        names = store.list(layout.TRANSIENT, kind)
        assert len(names) == count
        for name in names:
            doc = store.transient(kind).get(name)  # decodes, or raises StoreCorrupt
            assert doc is not None and doc["pad"] == "x" * (doc["n"] % 5000)
    path = os.path.join(root, layout.AUDIT, "2026-12.jsonl")
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    lines = raw.split("\n")
    assert lines[-1] == "" or not raw.endswith("\n")
    for line in lines[:-1]:  # every line that ended is whole
        event = json.loads(line)
        assert event["pad"] == "x" * (event["n"] % 5000)
    assert len(store.log(layout.AUDIT).read("2026-12")) == len(lines) - 1 >= 51
