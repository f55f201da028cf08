"""The data root's host index: one tenant per host, even when creations race in real processes;
tenants from before the index (or restored without their entries) are still found."""

import multiprocessing
import os
import queue
import shutil
import time

import pytest

from codeb.accounts import Accounts
from codeb.errors import Conflict
from codeb.provisioning import create_tenant
from codeb.store import layout
from codeb.tenants import Tenants

CTX = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
HOST = "login.shared.example"


def _create(root, name, start, results):
    registry = Tenants(root)
    start.wait(20)
    try:
        create_tenant(registry, name, [HOST], admin_email=f"it@{name}.example")
        results.put((name, "created"))
    except Conflict as error:
        results.put((name, error.message_id))
    except BaseException as error:  # reported, so the test fails with it instead of hanging
        results.put((name, repr(error)))


@pytest.mark.parametrize("round_", range(3))
def test_two_processes_creating_one_host_give_one_tenant_and_one_conflict(data_root, round_):
    start = CTX.Event()
    results = CTX.Queue()
    procs = [CTX.Process(target=_create, args=(str(data_root), name, start, results), daemon=True)
             for name in ("alpha", "beta")]
    for p in procs:
        p.start()
    start.set()
    answers = {}
    deadline = time.monotonic() + 60
    while len(answers) < 2 and time.monotonic() < deadline:
        try:
            name, outcome = results.get(timeout=1)
            answers[name] = outcome
        except queue.Empty:
            continue
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    assert sorted(answers.values()) == ["created", "error.host_taken"], answers
    winner = next(name for name, outcome in answers.items() if outcome == "created")
    registry = Tenants(str(data_root))
    assert registry.names() == [winner]
    assert registry.data.host_claims() == {HOST: winner}
    assert registry.for_host(HOST).name == winner
    loser = next(name for name in answers if name != winner)
    assert not (data_root / loser).exists()  # the loser's folder went again


def test_a_claim_is_exclusive_and_released_only_by_its_tenant(data_root):
    registry = Tenants(str(data_root))
    data = registry.data
    with registry.store_for("alpha").lock(layout.TENANT):
        assert data.claim_host(HOST, "alpha", by="run-1")
        assert data.claim_host(HOST, "alpha", by="run-1")  # a rerun of the same run: still its own
    create_tenant(registry, "alpha", ["other.example"])  # alpha exists now
    with registry.store_for("beta").lock(layout.TENANT):
        assert not data.claim_host(HOST, "beta", by="run-2")
    assert not data.release_host(HOST, "beta")
    assert data.host_owner(HOST) == "alpha"
    assert data.release_host(HOST, "alpha") and data.host_owner(HOST) is None


def test_a_crashed_runs_claim_is_taken_over_but_a_live_one_is_not(data_root):
    """A claim whose tenant never got its settings, by a run no longer composing it, is stale."""
    registry = Tenants(str(data_root))
    data = registry.data
    ghost = registry.store_for("ghost")
    with ghost.lock(layout.TENANT):
        assert data.claim_host(HOST, "ghost", by="crashed")
        with registry.store_for("beta").lock(layout.TENANT):
            assert not data.claim_host(HOST, "beta", by="run-2")  # ghost is being composed right now
    made = create_tenant(registry, "beta", [HOST])  # ghost's run is gone: its claim is taken over
    assert made.tenant.hosts == [HOST] and data.host_owner(HOST) == "beta"


def test_a_tenant_from_before_the_index_is_found_served_and_reindexed(tenants, data_root):
    shutil.rmtree(data_root / layout.HOST_SITE)  # the index as it was before it existed
    assert tenants.data.host_claims() == {}
    fresh = Tenants(str(data_root))
    assert fresh.for_host("localhost").name == "demo"
    with pytest.raises(Conflict) as refused:
        create_tenant(fresh, "other", ["localhost"])
    assert refused.value.message_id == "error.host_taken" and refused.value.params["tenant"] == "demo"
    served = {host: name for name in ("demo", "acme") for host in fresh.get(name).hosts}
    assert fresh.reindex() == {"claimed": sorted(served), "dropped": [], "conflicts": []}
    assert fresh.data.host_claims() == served
    assert fresh.reindex()["claimed"] == []  # a second reindex finds everything in place


def test_reindex_drops_the_entries_of_a_removed_tenant(tenants, data_root):
    hosts = tenants.get("acme").hosts
    shutil.rmtree(data_root / "acme")  # removed by hand, without `tenant remove`
    result = Tenants(str(data_root)).reindex()
    assert result["dropped"] == sorted(hosts)
    assert not set(hosts) & set(tenants.data.host_claims())


def test_a_restored_folder_serves_in_a_fresh_data_root_with_its_sub_and_keys(tenants, data_root, tmp_path):
    made = create_tenant(tenants, "corp", ["login.corp.example"], admin_email="it@corp.example")
    store = made.tenant.store
    signing = store.read(layout.KEYS, layout.SIGNING_KEYS)
    session = store.read(layout.KEYS, layout.SESSION_SECRET)
    fresh_root = tmp_path / "restored"
    fresh_root.mkdir()
    shutil.copytree(data_root / "corp", fresh_root / "corp")  # the backup: one folder copy
    restored = Tenants(str(fresh_root))
    tenant = restored.for_host("login.corp.example")
    assert tenant.name == "corp"
    admin = Accounts(tenant.store, tenant.hosts[0]).find_by_email("it@corp.example")
    assert admin is not None and admin.sub == made.admin.sub and "admin" in admin.roles
    assert tenant.store.read(layout.KEYS, layout.SIGNING_KEYS) == signing
    assert tenant.store.read(layout.KEYS, layout.SESSION_SECRET) == session
    # Its host-index entry is the one thing outside the folder: `tenant reindex` makes it again,
    # and until then the listing keeps the host to it.
    assert restored.data.host_owner("login.corp.example") is None
    with pytest.raises(Conflict):
        create_tenant(restored, "rival", ["login.corp.example"])
    assert restored.reindex()["claimed"] == ["login.corp.example"]
    assert restored.data.host_owner("login.corp.example") == "corp"
    assert sorted(os.listdir(fresh_root)) == ["_host", "corp"]


def test_the_host_sites_check_reads_no_tenants_folder(data_root, monkeypatch):
    """The sign-up page's pool may list the data root and read `_host/`, never a tenant's folder
    (on Windows no other pool can open it): its availability check holds to that."""
    from codeb.provisioning import spool

    tenants = Tenants(data_root)
    create_tenant(tenants, "acme", ["acme.codeb.test"])
    fresh = Tenants(data_root)  # another process: nothing of acme's settings in memory

    def refused(*args, **kwargs):
        raise PermissionError("a tenant's folder")
    monkeypatch.setattr(Tenants, "get", refused)
    monkeypatch.setattr(Tenants, "check_new", refused)
    spool.check_available(fresh, "globex", "globex.codeb.test")
    with pytest.raises(Conflict) as taken:
        spool.check_available(fresh, "acme", "acme2.codeb.test")
    assert taken.value.message_id == "error.tenant_exists"
    with pytest.raises(Conflict) as host:
        spool.check_available(fresh, "initech", "acme.codeb.test")
    assert host.value.message_id == "error.host_taken"
