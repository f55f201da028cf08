"""`make bench` keeps working: each measurement runs once, tiny, and yields a positive rate."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import run as bench  # noqa: E402


def test_the_whole_report_prints(capsys):
    bench.main(rounds=1, exchanges=4, sizes=(20,))
    report = capsys.readouterr().out
    assert "ratio exchange / bare crypto" in report and "ratio sign-in / bare crypto" in report
    assert "ratio exchange / bare crypto and write" in report and "ratio sign-in / bare crypto and writes" in report
    assert "user list at N accounts" in report and "cold start" in report


def test_every_benchmark_runs(tmp_path):
    tenant, app, browser, client, secret, account = bench.setup(str(tmp_path))
    assert bench.exchange_rate(browser, client, secret, n=3) > 0
    assert bench.bare_signature_rate(tenant) > 0
    authenticator = bench.passkey_setup(app, tenant, account)
    assertions, sign_ins = bench.passkey_rates(app, client, secret, authenticator, n=2)
    assert assertions > 0 and sign_ins > 0
    assert all(rate > 0 for rate in bench.bare_passkey_crypto(tenant, n=5))
    assert all(rate > 0 for rate in bench.bare_durable_rates(tenant, str(tmp_path), n=3))
    assert os.listdir(tmp_path).count("chain.json") == 1 and not any(n.endswith(".tmp") for n in os.listdir(tmp_path))
    [(size, page, search, changed, cold)] = bench.directory_rates((50,))
    assert size == 50 and min(page, search, changed, cold) > 0
