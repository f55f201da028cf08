"""The sign-up spool and its worker: journaled idempotent steps, crashes at every step, two
workers at once, the Windows plan, and the subdomain rule."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from codeb.accounts import Accounts
from codeb.errors import BadInput, Conflict
from codeb.oidc import keys
from codeb.provisioning import plan, spool, worker
from codeb.provisioning.names import check_subdomain
from codeb.store import layout
from codeb.tenants import Tenants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PARENT = "codeb.example"
EMAIL = "it@acme.example"


def submit(registry, subdomain="acme", email=EMAIL):
    return spool.submit(registry, subdomain=subdomain, parent=PARENT, organisation="Acme  GmbH", admin_email=email,
                        ip="203.0.113.7")


def codeb(data_root, *args, check=True):
    env = {**os.environ, "CODEB_DATA": str(data_root)}
    result = subprocess.run([sys.executable, "-m", "codeb", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def assert_one_complete_tenant(data_root, name="acme", email=EMAIL):
    registry = Tenants(str(data_root))
    assert registry.names() == [name]
    tenant = registry.get(name)
    assert tenant.hosts == [f"{name}.{PARENT}"] and tenant.display_name == "Acme GmbH"
    assert tenant.setting("signup", "policy") == "invite"
    assert keys.load(tenant.store).kid
    for secret in (layout.SESSION_SECRET, layout.TURN, layout.VAPID, layout.WALLET_VERIFIER):
        assert tenant.store.exists(layout.KEYS, secret), secret
    accounts = Accounts(tenant.store, tenant.hosts[0])
    assert len(accounts.list()) == 1  # one admin, never a second one
    admin = accounts.find_by_email(email)
    assert admin is not None and "admin" in admin.roles and admin.email_verified
    assert registry.data.host_claims() == {f"{name}.{PARENT}": name}
    return registry, tenant, admin


def test_a_request_is_drained_into_one_complete_tenant_and_journaled(data_root):
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    queued = spool.get(registry, request_id)
    assert queued["state"] == "queued" and queued["organisation"] == "Acme GmbH" and queued["ip"] == "203.0.113.7"
    assert registry.names() == []  # the web process's request makes no tenant
    assert worker.drain(registry) == {request_id: "python_done"}
    _, tenant, admin = assert_one_complete_tenant(data_root)
    done = spool.get(registry, request_id)
    assert done["state"] == "python_done"
    python = [s for s in done["steps"] if s["by"] == "python"]
    assert [s["name"] for s in python] == list(spool.PYTHON_STEPS)
    assert all(s["state"] == "done" and s["attempts"] == 1 and not s["resumed"] and s["finished"] for s in python)
    assert [(s["name"], s["state"]) for s in done["steps"] if s["by"] == "windows"] == [
        ("iis", "pending"), ("tls", "pending"), ("dns_check", "pending")]
    assert done["handoff"] == {"tenant": "acme", "host": "acme.codeb.example", "issuer": "https://acme.codeb.example",
                               "admin": admin.login, "ready": done["handoff"]["ready"]}
    assert spool.step(done, "turn")["outcome"] == {"realm": "acme.codeb.example"}
    # A second pass changes nothing: the request is no longer open.
    assert worker.drain(registry) == {}
    assert spool.get(registry, request_id)["steps"] == done["steps"]


CRASH = """
import os, sys
from codeb.provisioning import worker
from codeb.tenants import Tenants

step, phase = sys.argv[2], sys.argv[3]

def crash(request_id, name, at):
    if (name, at) == (step, phase):
        os._exit(137)  # as a kill does: no cleanup, no finally, locks dropped by the OS

worker.drain(Tenants(sys.argv[1]), on_step=crash)
sys.exit(3)  # the crash point was never reached
"""


@pytest.mark.parametrize("phase", ["started", "worked"])
@pytest.mark.parametrize("step", spool.PYTHON_STEPS)
def test_a_worker_killed_at_each_step_and_run_again_makes_one_complete_tenant(data_root, step, phase):
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(data_root), step, phase], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 137, crashed.stderr
    journal = spool.get(registry, request_id)
    assert journal["state"] == "working" and spool.step(journal, step)["state"] == "started"
    assert worker.drain(registry) == {request_id: "python_done"}
    assert_one_complete_tenant(data_root)
    resumed = spool.get(registry, request_id)
    for entry in resumed["steps"]:
        if entry["by"] != "python":
            continue
        before = spool.PYTHON_STEPS.index(entry["name"]) < spool.PYTHON_STEPS.index(step)
        if entry["name"] == step:
            assert entry["attempts"] == 2 and entry["resumed"] is True and entry["state"] == "done"
        else:
            assert entry["attempts"] == 1 and entry["resumed"] is False, (entry, before)


def test_a_worker_process_killed_mid_run_then_run_again_gives_one_tenant(data_root):
    """A real `provision run` SIGKILLed as soon as its journal shows the settings step started."""
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    path = data_root / layout.HOST_SITE / layout.PROVISIONING / layout.PROVISIONING_REQUESTS / f"{request_id}.json"
    env = {**os.environ, "CODEB_DATA": str(data_root)}
    proc = subprocess.Popen([sys.executable, "-m", "codeb", "provision", "run", "--once"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = None
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            doc = json.loads(path.read_bytes())
            started = [s["name"] for s in doc["steps"] if s["state"] != "pending"]
            if "folder_and_keys" in started:
                seen = started
                break
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert seen is not None or proc.returncode == 0, "the worker never reached folder_and_keys"
    worker.drain(registry)
    assert spool.get(registry, request_id)["state"] == "python_done"
    assert_one_complete_tenant(data_root)


def test_two_workers_at_once_process_each_request_once(data_root):
    registry = Tenants(str(data_root))
    ids = [submit(registry, name, f"it@{name}.example") for name in ("acme", "bravo", "carol")]
    env = {**os.environ, "CODEB_DATA": str(data_root)}
    procs = [subprocess.Popen([sys.executable, "-m", "codeb", "provision", "run", "--once"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert registry.names() == ["acme", "bravo", "carol"]
    for request_id in ids:
        journal = spool.get(registry, request_id)
        assert journal["state"] == "python_done"
        assert all(s["attempts"] == 1 for s in journal["steps"] if s["by"] == "python")


def test_two_requests_for_one_subdomain_give_one_tenant_and_one_refusal(data_root):
    """The web page refuses a subdomain with an open request; if two got through at once, the
    worker's claim decides, and the loser's undo leaves the winner's tenant alone."""
    registry = Tenants(str(data_root))
    first = submit(registry)
    with pytest.raises(Conflict) as pending:
        submit(registry, email="other@acme.example")
    assert pending.value.message_id == "error.subdomain.pending"
    twin = {k: v for k, v in spool.get(registry, first).items() if k not in ("id", "schema")}
    twin.update(admin_email="other@acme.example", created=twin["created"] + 1)
    second = "f" * 32
    assert registry.data.requests().add(second, twin)
    assert worker.drain(registry) == {first: "python_done", second: "failed"}
    refused = spool.get(registry, second)
    assert spool.step(refused, "claim")["state"] == "failed"
    assert spool.step(refused, "claim")["error"]["id"] == "error.tenant_exists"
    assert spool.step(refused, "settings")["state"] == "pending"
    assert_one_complete_tenant(data_root)


def test_a_taken_subdomain_is_refused_at_submission(tenants):
    spool.submit(tenants, subdomain="fresh", parent="localhost", organisation="Fresh", admin_email="a@fresh.example",
                 ip="::1")
    with pytest.raises(Conflict) as taken:
        submit(tenants, subdomain="acme")
    assert taken.value.message_id == "error.tenant_exists"


@pytest.mark.parametrize(("value", "message_id"), [
    ("ab", "error.subdomain.length"),
    ("a" * 41, "error.subdomain.length"),
    ("acme_corp", "error.subdomain.characters"),
    ("acme.corp", "error.subdomain.characters"),
    ("аcme", "error.subdomain.characters"),        # a Cyrillic а
    ("-acme", "error.subdomain.hyphen_edge"),
    ("acme-", "error.subdomain.hyphen_edge"),
    ("xn--acme-9ra", "error.subdomain.punycode"),
    ("ab--cd", "error.subdomain.punycode"),
    ("acme--corp", "error.subdomain.double_hyphen"),
    ("12345", "error.subdomain.digits_only"),
    ("www", "error.subdomain.reserved"),
    ("admin", "error.subdomain.reserved"),
    ("login", "error.subdomain.reserved"),
    ("mail", "error.subdomain.reserved"),
    ("api", "error.subdomain.reserved"),
    ("con", "error.subdomain.reserved"),
    ("adm1n", "error.subdomain.confusable"),
    ("l0gin", "error.subdomain.confusable"),
    ("rnail", "error.subdomain.confusable"),
    ("vvww", "error.subdomain.confusable"),
])
def test_a_bad_subdomain_is_refused_with_its_reason(value, message_id):
    with pytest.raises(BadInput) as refused:
        check_subdomain(value)
    assert refused.value.message_id == message_id and refused.value.field == "subdomain"


@pytest.mark.parametrize(("value", "expected"), [("acme", "acme"), (" Acme-Corp ", "acme-corp"), ("a1b", "a1b"),
                                                 ("x" * 40, "x" * 40), ("mail-archive", "mail-archive")])
def test_a_good_subdomain_is_taken_trimmed_and_lowercase(value, expected):
    assert check_subdomain(value) == expected


@pytest.mark.parametrize(("kwargs", "message_id"), [
    ({"organisation": " "}, "error.provisioning.organisation"),
    ({"organisation": "x" * 101}, "error.provisioning.organisation"),
    ({"ip": "not an address"}, "error.provisioning.address"),
    ({"admin_email": "nobody"}, "error.invalid_email"),
    ({"subdomain": "www"}, "error.subdomain.reserved"),
])
def test_a_bad_request_is_refused_and_nothing_is_queued(data_root, kwargs, message_id):
    registry = Tenants(str(data_root))
    fields = {"subdomain": "acme", "parent": PARENT, "organisation": "Acme", "admin_email": EMAIL, "ip": "::1",
              **kwargs}
    with pytest.raises(BadInput) as refused:
        spool.submit(registry, **fields)
    assert refused.value.message_id == message_id
    assert spool.requests(registry) == []


# -- the plan the Windows scripts follow ---------------------------------------------------


def items(doc) -> dict:
    return {item["item"]: (item["state"], item["action"]) for item in doc["items"]}


def test_the_plan_of_a_new_a_half_finished_and_a_finished_tenant(data_root):
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    new = plan.plan(registry, "acme")
    assert new["python"] == "pending" and not new["ready"] and new["request"] == request_id
    assert items(new)["settings"] == ("missing", "create") and items(new)["site"] == ("missing", "wait")

    crashed = subprocess.run([sys.executable, "-c", CRASH, str(data_root), "first_admin", "started"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 137, crashed.stderr
    half = json.loads(codeb(data_root, "provision", "plan", "acme").stdout)
    assert half["python"] == "pending" and not half["ready"]
    assert items(half)["settings"] == ("present", "none") and items(half)["keys"] == ("present", "none")
    assert items(half)["first_admin"] == ("missing", "create") and items(half)["app_pool"] == ("missing", "wait")

    worker.drain(registry)
    ready = plan.plan(registry, "acme")
    assert ready["python"] == "done" and ready["ready"]
    assert set(ready["changes"]) == {"app_pool", "acl", "site", "bindings", "turn_server", "certificate", "dns"}
    by_item = {item["item"]: item for item in ready["items"]}
    assert by_item["app_pool"]["name"] == "codeb-acme"
    assert by_item["acl"]["identity"] == "IIS AppPool\\codeb-acme" and by_item["acl"]["path"] == str(data_root / "acme")
    assert by_item["bindings"]["bindings"][0] == {"protocol": "https", "host": "acme.codeb.example", "port": 443,
                                                  "sni": True}
    assert by_item["certificate"]["source"] == "self-signed"  # .example: no public CA issues for it
    assert by_item["turn_server"]["realm"] == "acme.codeb.example"

    for step in spool.WINDOWS_STEPS:
        codeb(data_root, "provision", "report", request_id, step, "ok", "--detail", f"{step} made")
    assert spool.get(registry, request_id)["state"] == "done"
    rerun = json.loads(codeb(data_root, "provision", "plan", "acme").stdout)
    assert rerun["changes"] == [] and all(state == "present" for state, _ in items(rerun).values())


def test_a_report_names_a_windows_step_and_waits_for_the_python_ones(data_root):
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    with pytest.raises(Conflict) as early:
        spool.report(registry, request_id, "iis", "ok")
    assert early.value.message_id == "error.provisioning.not_ready"
    worker.drain(registry)
    with pytest.raises(BadInput):
        spool.report(registry, request_id, "settings", "ok")
    failed = spool.report(registry, request_id, "tls", "failed", "ACME: HTTP-01\nchallenge refused")
    assert failed["state"] == "failed" and spool.step(failed, "tls")["error"] == "ACME: HTTP-01 challenge refused"
    assert plan.plan(registry, "acme")["items"][-2]["item"] == "certificate"


def test_a_tenant_made_by_the_cli_has_windows_parts_to_check(tenants):
    doc = plan.plan(tenants, "demo")
    assert doc["python"] == "done" and doc["request"] is None
    assert items(doc)["site"] == ("unknown", "ensure")


# -- removal -----------------------------------------------------------------------------------


def test_tenant_remove_exports_first_and_refuses_without_yes(data_root, tmp_path):
    registry = Tenants(str(data_root))
    request_id = submit(registry)
    worker.drain(registry)
    for step in spool.WINDOWS_STEPS:
        spool.report(registry, request_id, step, "ok")
    export = tmp_path / "acme.zip"
    before = json.loads(codeb(data_root, "provision", "plan", "acme", "--remove").stdout)
    assert items(before)["site"] == ("present", "remove") and items(before)["app_pool"] == ("present", "remove")
    assert items(before)["certificate"] == ("present", "remove")
    assert items(before)["folder"] == ("present", "remove") and items(before)["host_index"] == ("present", "remove")

    refused = codeb(data_root, "tenant", "remove", "acme", "--export", str(export), check=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert not export.exists() and registry.names() == ["acme"]

    removed = json.loads(codeb(data_root, "tenant", "remove", "acme", "--export", str(export), "--yes").stdout)
    assert removed["hosts_released"] == ["acme.codeb.example"] and removed["export"]["files"] > 5
    import zipfile

    with zipfile.ZipFile(export) as archive:
        listed = archive.namelist()
        settings = json.loads(archive.read("acme/tenant.json"))
    assert settings["hosts"] == ["acme.codeb.example"] and "acme/keys/signing.json" in listed
    assert not any("/.locks/" in name for name in listed)
    assert not (data_root / "acme").exists() and registry.data.host_claims() == {}
    after = plan.plan(registry, "acme", remove=True)
    assert items(after)["folder"] == ("missing", "none") and items(after)["host_index"] == ("missing", "none")
    assert {"site", "app_pool", "certificate"} <= set(after["changes"])

    again = codeb(data_root, "tenant", "remove", "acme", "--export", str(tmp_path / "b.zip"), "--yes", check=False)
    assert again.returncode == 2  # nothing left to remove


def test_an_export_never_replaces_a_file(tenants, tmp_path):
    taken = tmp_path / "taken.zip"
    taken.write_bytes(b"keep me")
    result = codeb(tenants.root, "tenant", "remove", "demo", "--export", str(taken), "--yes", check=False)
    assert result.returncode == 2 and "exists already" in result.stderr
    assert taken.read_bytes() == b"keep me" and tenants.names() == ["acme", "demo"]


def test_the_polling_worker_sleeps_longer_while_idle_and_stops_when_interrupted(data_root):
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        worker.run(Tenants(str(data_root)), once=False, sleep=sleep)
    assert pauses == [2.0, 4.0, 8.0, 10.0, 10.0] and max(pauses) <= worker.MAX_SLEEP
