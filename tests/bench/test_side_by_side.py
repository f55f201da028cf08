"""`make bench`'s side-by-side machinery, run very briefly: every server answers, every figure prints.

One-second runs without warm-up, through the same code `make bench` runs (three server
processes on loopback, wrk as the load client). Nothing here asserts a speed: only that
each figure counted only 2xx answers and that the output carries every figure.
"""

import re
import shutil

import pytest

from tests.support.codebase import ROOT

BENCH = str(ROOT / "bench")
NODE_PEER = ROOT / "tests" / "node" / "node_modules" / "oidc-provider"
SERVERS = {"refresh": ("CodeB", "bare", "bare_durable", "peer"), "code": ("CodeB", "bare", "bare_durable", "peer"),
           "discovery": ("CodeB", "bare", "peer"), "userinfo": ("CodeB", "bare", "peer")}


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(BENCH)
    import load
    import side_by_side

    return side_by_side, load


def figure(load, **changes):
    fields = {"requests": 100, "seconds": 1.0, "non2xx": 0, "socket_errors": 0, "timeouts": 0, "exhausted": 0,
              "first_error": None, "p50_ms": 1.0, "p99_ms": 2.0}
    return load.Figure(**{**fields, **changes})


@pytest.mark.parametrize(("changes", "says"), [
    ({"non2xx": 3, "first_error": "400 invalid_grant"}, "3 non-2xx answers (first: 400 invalid_grant)"),
    ({"socket_errors": 2}, "2 socket errors"),
    ({"timeouts": 1}, "1 timeouts"),
    ({"exhausted": 4}, "4 connections ran out of pre-issued codes"),
    ({"requests": 0}, "no request completed"),
])
def test_a_figure_with_errors_is_invalid_and_says_why(bench, changes, says):
    _, load = bench
    assert says in figure(load, **changes).problem
    assert figure(load, warmup=True, **changes).problem.startswith("in the warm-up, ")
    assert figure(load).problem is None
    assert figure(load, warmup=True).problem is None


def test_a_ratio_over_an_invalid_figure_is_printed_as_invalid(bench):
    side_by_side, load = bench
    result = side_by_side.SideBySide(figures={kind: {name: figure(load) for name in names}
                                              for kind, names in SERVERS.items()})
    result.figures["refresh"]["peer"] = figure(load, non2xx=5, first_error="400 invalid_grant")
    lines = []
    side_by_side.report(result, lines.append)
    peer = next(line for line in lines if line.startswith("refresh grant, peer"))
    assert "INVALID: 5 non-2xx answers" in peer
    assert "invalid" in next(line for line in lines if line.startswith("ratio refresh grant, CodeB / peer"))
    bare_ratio = next(line for line in lines if line.startswith("ratio refresh grant, CodeB / bare"))
    assert re.search(r":\s+1\.00$", bare_ratio), bare_ratio


@pytest.mark.skipif(shutil.which("node") is None or not NODE_PEER.is_dir(),
                    reason="node and the locked npm packages (make node-deps) run the peer")
def test_every_server_answers_2xx_and_every_figure_is_printed(bench, monkeypatch):
    side_by_side, _ = bench
    # The served CodeB inherits the environment: no site binding, no pickup folder of another test.
    monkeypatch.delenv("CODEB_MAIL_PICKUP", raising=False)
    monkeypatch.delenv("CODEB_TENANT", raising=False)
    lines = []
    result = side_by_side.run_side_by_side(seconds=1, warmup=0, out=lines.append)

    for kind, names in SERVERS.items():
        for name in names:
            got = result.figures[kind][name]
            assert got.requests > 0, (kind, name)
            assert got.problem is None, (kind, name, got.problem)
    text = "\n".join(lines)
    assert re.search(r"^openssl speed .*RSA-2048 sign [\d,]+/s, P-256 sign [\d,]+/s, verify [\d,]+/s$", text, re.M)
    for kind, (title, labels) in side_by_side.LABELS.items():
        for name in SERVERS[kind]:
            assert re.search(rf"^{re.escape(f'{title}, {labels[name]}')}\s+:\s+[\d.]+ /s", text, re.M), (kind, name)
        for other in side_by_side.RATIOS[kind]:
            assert re.search(rf"^ratio {re.escape(title)}, CodeB / {other}\s+:\s+[\d.]+$", text, re.M), (kind, other)
    assert "INVALID" not in text
