"""TURN credentials (codeb.rooms.turn) and `python -m codeb turn`: the TURN REST API scheme of
draft-uberti-behave-turn-rest-00 checked here with hmac and hashlib, the tenant's settings
as `codeb.tenants.settings.save` writes them, and the shared secret in `keys/turn.json`.

"Another process" is another Store object on the same folder. A real coturn checks the same
credentials in tests/rooms/test_coturn.py.
"""

import argparse
import base64
import hashlib
import hmac
import json
import logging

import pytest

from codeb.cli import turn as turn_cli
from codeb.errors import BadInput, StoreCorrupt
from codeb.rooms import turn
from codeb.store import Store, layout
from codeb.tenants import Tenant, Tenants, settings
from tests.support.clock import Clock

NOW = 1_800_000_000.0
URIS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp",
        "stun:turn.example.org"]


def configure(tenants, name="demo", **part) -> Tenant:
    """The tenant with its `turn` settings part written as the admin's settings are."""
    settings.save(tenants.get(name), {"turn": part})
    return tenants.get(name)


def expected_credential(key: bytes, username: str) -> str:
    return base64.b64encode(hmac.new(key, username.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "tenant"
    root.mkdir()
    return Store(str(root), clock=Clock(NOW))


def bare_tenant(store, **part) -> Tenant:
    return Tenant(name="t", settings={"hosts": ["meet.example.org"], "turn": part}, store=store)


# -- credentials --------------------------------------------------------------------------------


def test_a_credential_is_the_hmac_sha1_of_its_username_and_expires_after_the_ttl(tenants):
    demo = configure(tenants, uris=URIS, ttl=600)
    issued = turn.credentials(demo, "p0123abc", now=NOW + 0.75)
    assert issued["username"] == f"{int(NOW) + 600}:p0123abc"
    assert issued["ttl"] == 600 and issued["uris"] == URIS
    key = turn.secret(demo.store)
    assert issued["credential"] == expected_credential(key, issued["username"])
    # the key is the text coturn is given: the stored base64 of 32 random bytes
    stored = demo.store.read(layout.KEYS, layout.TURN)
    assert key == stored["current"].encode() and len(base64.b64decode(stored["current"])) == 32
    assert stored["previous"] is None and isinstance(stored["rotated"], int)


def test_the_default_ttl_is_an_hour_and_the_clock_is_the_stores(store):
    tenant = bare_tenant(store, uris=URIS)
    issued = turn.credentials(tenant, "guest-1")
    assert issued["ttl"] == 3600 and issued["username"] == f"{int(NOW) + 3600}:guest-1"
    store.clock.advance(10)
    assert turn.credentials(tenant, "guest-1")["username"] == f"{int(NOW) + 3610}:guest-1"


@pytest.mark.parametrize(("stored", "used"), [(1, 300), (299, 300), (300, 300), (7200, 7200), (86400, 86400),
                                              (10**9, 86400), (-5, 300), (1800.9, 1800), ("soon", 3600),
                                              (True, 3600), (None, 3600), (float("inf"), 3600),
                                              (float("nan"), 3600)])
def test_the_ttl_is_clamped_to_five_minutes_and_a_day(store, stored, used):
    tenant = bare_tenant(store, uris=URIS, ttl=stored)
    issued = turn.credentials(tenant, "u", now=NOW)
    assert issued["ttl"] == used and issued["username"] == f"{int(NOW) + used}:u"


@pytest.mark.parametrize("user", ["", "a" * 65, "a:b", "a b", "ä", "a/b", "a\n", None, 5, "../x"])
def test_a_user_id_that_is_not_1_to_64_safe_characters_is_refused(store, user):
    tenant = bare_tenant(store, uris=URIS)
    with pytest.raises(ValueError):
        turn.credentials(tenant, user)
    with pytest.raises(ValueError):
        turn.ice_servers(tenant, user)
    assert not store.exists(layout.KEYS, layout.TURN)  # refused before anything was made


def test_user_ids_of_people_and_guests_are_accepted(store):
    tenant = bare_tenant(store, uris=URIS)
    for user in (layout.person("sub-ann"), "abcdefghijkmnpqr", "A_b-9", "x" * 64):
        assert turn.credentials(tenant, user, now=NOW)["username"].endswith(":" + user)


def test_ice_servers_give_the_browser_one_server_with_the_tenants_uris(tenants):
    demo = configure(tenants, uris=URIS)
    user = layout.person("sub-ann")
    [server] = turn.ice_servers(demo, user)
    assert set(server) == {"urls", "username", "credential"} and server["urls"] == URIS
    expires, named = server["username"].split(":")
    assert named == user and abs(int(expires) - (demo.store.clock() + 3600)) <= 2
    assert server["credential"] == expected_credential(turn.secret(demo.store), server["username"])


def test_a_tenant_without_turn_uris_gives_no_ice_servers(tenants, store):
    assert turn.ice_servers(tenants.get("demo"), "p1") == []     # no turn part at all
    assert turn.ice_servers(configure(tenants, uris=[]), "p1") == []
    assert turn.ice_servers(bare_tenant(store, realm="x.example"), "p1") == []
    assert not store.exists(layout.KEYS, layout.TURN)            # no secret made for nothing


def test_stored_uris_that_are_not_turn_or_stun_uris_are_skipped_with_a_warning(store, caplog):
    bad = ["http://turn.example.org", "turn:", "turn:host:99999", "turn:user@host", "turn:host?transport=sctp",
           "stuns:host", "turn:host\nrealm=evil", " turn:host", 42, None]
    good = ["turn:192.0.2.7", "turn:[2001:db8::1]:3478?transport=tcp", "stun:stun.example.org:19302",
            "turns:turn.example.org"]
    tenant = bare_tenant(store, uris=[bad[0], good[0], *bad[1:], *good[1:]])
    with caplog.at_level(logging.WARNING, logger="codeb.rooms"):
        [server] = turn.ice_servers(tenant, "p1")
    assert server["urls"] == good
    skipped = [r for r in caplog.records if "skipping turn.uris entry" in r.getMessage()]
    assert len(skipped) == len(bad)
    assert turn.ice_servers(bare_tenant(store, uris=bad), "p1") == []
    assert turn.ice_servers(bare_tenant(store, uris="turn:host"), "p1") == []  # not a list: nothing offered


# -- the shared secret ------------------------------------------------------------------------------


def test_the_secret_is_made_once_kept_and_the_same_for_another_process(store):
    first = turn.secret(store)
    assert turn.secret(store) == first
    other = Store(store.root, clock=store.clock)  # another process: shares nothing but the files
    assert turn.secret(other) == first
    turn.rotate(other)
    assert turn.secret(store) == turn.secret(other) != first  # the rotation seen from the next use


def test_rotation_keeps_the_previous_secret_and_mints_with_the_new_one(store):
    tenant = bare_tenant(store, uris=URIS)
    old = turn.secret(store)
    store.clock.advance(100)
    turn.rotate(store)
    doc = store.read(layout.KEYS, layout.TURN)
    new = turn.secret(store)
    assert new != old and doc["current"].encode() == new and doc["previous"].encode() == old
    assert doc["rotated"] == int(NOW) + 100
    issued = turn.credentials(tenant, "p1", now=NOW)
    assert issued["credential"] == expected_credential(new, issued["username"])
    assert issued["credential"] != expected_credential(old, issued["username"])
    turn.rotate(store)  # a second rotation drops the oldest
    doc = store.read(layout.KEYS, layout.TURN)
    assert doc["previous"].encode() == new and old.decode() not in json.dumps(doc)


def test_rotating_before_any_secret_makes_one_without_a_previous(store):
    turn.rotate(store)
    assert store.read(layout.KEYS, layout.TURN)["previous"] is None and len(turn.secret(store)) == 44


def test_a_damaged_secret_document_is_refused_not_replaced(store):
    store.write(layout.KEYS, layout.TURN, doc={"current": "not base64!", "previous": None, "rotated": 1})
    with pytest.raises(StoreCorrupt):
        turn.secret(store)
    with pytest.raises(StoreCorrupt):
        turn.rotate(store)
    assert store.read(layout.KEYS, layout.TURN)["current"] == "not base64!"


# -- coturn's configuration -----------------------------------------------------------------------


def test_coturn_config_names_the_secret_and_the_realm(store):
    tenant = bare_tenant(store, uris=URIS)
    lines = turn.coturn_config(tenant).splitlines()
    assert [ln for ln in lines if not ln.startswith("#")] == [
        "use-auth-secret", f"static-auth-secret={turn.secret(store).decode()}", "realm=meet.example.org"]
    assert turn.coturn_config(bare_tenant(store, realm="turn.example.org")).endswith("\nrealm=turn.example.org\n")


def test_a_realm_that_could_break_the_config_falls_back_to_the_first_host(store, caplog):
    with caplog.at_level(logging.WARNING, logger="codeb.rooms"):
        for bad in ("x\nstatic-auth-secret=mine", "", 7, "a b"):
            assert turn.realm(bare_tenant(store, realm=bad)) == "meet.example.org"
    assert len(caplog.records) == 4


def test_during_the_switch_coturn_is_given_both_secrets_then_only_the_new(store):
    tenant = bare_tenant(store)
    old = turn.secret(store).decode()
    turn.rotate(store)
    new = turn.secret(store).decode()
    secrets_given = [ln.split("=", 1)[1] for ln in turn.coturn_config(tenant).splitlines()
                     if ln.startswith("static-auth-secret=")]
    assert secrets_given == [new, old] and turn.switching(store)
    store.clock.advance(turn.MAX_TTL - 1)  # a credential minted just before the rotation may still live
    assert turn.switching(store)
    store.clock.advance(1)
    assert not turn.switching(store)
    assert [ln for ln in turn.coturn_config(tenant).splitlines()
            if ln.startswith("static-auth-secret=")] == [f"static-auth-secret={new}"]


# -- python -m codeb turn -------------------------------------------------------------------------


def run_cli(data_root, *argv, capsys) -> dict:
    """One command through the group's own parser, as `python -m codeb` builds it."""
    parser = argparse.ArgumentParser(prog="python -m codeb")
    parser.add_argument("--data")
    turn_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["--data", str(data_root), *argv])
    args.func(args)
    return json.loads(capsys.readouterr().out)


def test_turn_show_prints_the_realm_uris_ttl_and_coturn_lines(tenants, data_root, capsys):
    configure(tenants, uris=[*URIS, "ftp://nope"], ttl=100000, realm="turn.demo.example")
    shown = run_cli(data_root, "turn", "show", "demo", capsys=capsys)
    key = turn.secret(Tenants(str(data_root)).get("demo").store).decode()
    assert shown["tenant"] == "demo" and shown["realm"] == "turn.demo.example"
    assert shown["uris"] == URIS and shown["ttl"] == 86400 and shown["previous_accepted"] is False
    assert shown["coturn_config"][1:] == ["use-auth-secret", f"static-auth-secret={key}", "realm=turn.demo.example"]


def test_turn_rotate_prints_both_secrets_for_the_switch_and_is_audited(tenants, data_root, capsys):
    demo = tenants.get("demo")
    old = turn.secret(demo.store).decode()
    rotated = run_cli(data_root, "turn", "rotate", "demo", capsys=capsys)
    new = turn.secret(Tenants(str(data_root)).get("demo").store).decode()
    assert new != old and rotated["previous_accepted"] is True
    assert rotated["coturn_config"][1:] == ["use-auth-secret", f"static-auth-secret={new}",
                                            f"static-auth-secret={old}", "realm=localhost"]
    events = [line for path in (data_root / "demo" / "audit").glob("*.jsonl")
              for line in map(json.loads, path.read_text().splitlines())]
    assert [e for e in events if e["event"] == "turn.rotated"] and old not in json.dumps(events)
    shown = run_cli(data_root, "turn", "show", "demo", capsys=capsys)
    assert shown["coturn_config"] == rotated["coturn_config"] and shown["uris"] == []


def test_turn_set_names_the_server_realm_and_lifetime_and_is_audited(tenants, data_root, capsys):
    shown = run_cli(data_root, "turn", "set", "demo", "--uri", "turn:turn.demo.example:3478?transport=udp",
                    "--uri", "turns:turn.demo.example:5349", "--realm", "turn.demo.example", "--ttl", "600",
                    capsys=capsys)
    assert shown["uris"] == ["turn:turn.demo.example:3478?transport=udp", "turns:turn.demo.example:5349"]
    assert shown["realm"] == "turn.demo.example" and shown["ttl"] == 600
    assert shown["coturn_config"][-1] == "realm=turn.demo.example"
    # What is not given stays.
    assert run_cli(data_root, "turn", "set", "demo", "--ttl", "900", capsys=capsys)["uris"] == shown["uris"]
    events = [json.loads(line) for path in (data_root / "demo" / "audit").glob("*.jsonl")
              for line in path.read_text().splitlines()]
    assert [e["event"] for e in events].count("turn.changed") == 2


@pytest.mark.parametrize("argv, message", [
    (["--uri", "http://turn.example"], "error.turn_uri"),
    (["--uri", "turn:host:99999"], "error.turn_uri"),
    (["--realm", "bad realm\nuser=x"], "error.turn_realm"),
    (["--ttl", "5"], "error.turn_ttl"),
    (["--ttl", "999999"], "error.turn_ttl"),
])
def test_turn_set_refuses_what_coturn_or_a_browser_could_not_use(tenants, data_root, capsys, argv, message):
    before = tenants.get("demo").setting("turn", default={})
    with pytest.raises(BadInput) as refused:
        run_cli(data_root, "turn", "set", "demo", *argv, capsys=capsys)
    assert refused.value.message_id == message
    assert Tenants(str(data_root)).get("demo").setting("turn", default={}) == before


def test_turn_show_gives_the_windows_script_the_realm_and_secrets_as_data(tenants, data_root, capsys):
    """deploy/CodebDeploy/Turn.ps1 reads `coturn` (no parsing of config lines): the realm and every
    secret coturn must accept, the current first; during a switch the previous one too."""
    configure(tenants, realm="turn.demo.example")
    demo = tenants.get("demo")
    old = turn.secret(demo.store).decode()
    shown = run_cli(data_root, "turn", "show", "demo", capsys=capsys)
    assert shown["coturn"] == {"realm": "turn.demo.example", "static_auth_secrets": [old]}
    run_cli(data_root, "turn", "rotate", "demo", capsys=capsys)
    new = turn.secret(Tenants(str(data_root)).get("demo").store).decode()
    switching = run_cli(data_root, "turn", "show", "demo", capsys=capsys)["coturn"]
    assert switching == {"realm": "turn.demo.example", "static_auth_secrets": [new, old]}
    before = sorted(p.name for p in (data_root / "demo" / "keys").iterdir())
    run_cli(data_root, "turn", "show", "demo", capsys=capsys)
    assert sorted(p.name for p in (data_root / "demo" / "keys").iterdir()) == before, "show writes nothing"
