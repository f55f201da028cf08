"""The tenant's SIP server for browsers (codeb.tenants.sip): a wss:// URL (ws:// to loopback
only) and the realm, checked, set by `python -m codeb tenant sip-server` and the admin's
settings page, and named in the office shell's CSP `connect-src` only."""

import json

import pytest

from codeb.accounts.passwords import sip_realm
from codeb.cli import main as cli
from codeb.errors import BadInput
from codeb.tenants import settings, sip
from tests.support.web import HOST, csrf_of, signed_in_admin

GOOD_URLS = ["wss://sip.example.com", "wss://sip.example.com/ws", "wss://sip.example.com:8443/ws/a-b_c.d~e",
             "ws://127.0.0.1:8088", "ws://localhost:5066/ws", "ws://pbx.localhost", "ws://[::1]:8088",
             "wss://10.0.0.5:443"]
BAD_URLS = ["ws://sip.example.com/ws", "https://sip.example.com", "wss://", "wss://user:pw@sip.example.com",
            "wss://sip.example.com/ws?x=1", "wss://sip.example.com/#a", "wss://sip.example.com:0",
            "wss://sip.example.com:99999", "wss://sip example.com", " wss://sip.example.com",
            "wss://sip.example.com/ws;script-src *", "wss://sip.exämple.com", "wss://-bad-.example.com",
            "wss://sip.example.com/" + "a" * 300, "ws://192.168.1.5:8088", 42]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_a_secure_websocket_url_or_a_plain_one_to_loopback_is_a_sip_server(url):
    assert sip.check_ws_url(url) == url


@pytest.mark.parametrize("url", BAD_URLS)
def test_anything_else_is_refused_with_its_message(url):
    with pytest.raises(BadInput) as refused:
        sip.check_ws_url(url)
    assert refused.value.message_id == "error.sip_ws_url"


@pytest.mark.parametrize("realm", ["", "a b", "-x.example.com", "example.com.", "example..com", "ex;ample",
                                   "é.example", "x" * 64 + ".example.com", 7])
def test_a_realm_is_a_host_like_name(realm):
    with pytest.raises(BadInput) as refused:
        sip.check_realm(realm)
    assert refused.value.message_id == "error.sip_realm"


def test_the_origin_is_what_connect_src_names():
    assert sip.origin("wss://sip.example.com:8443/ws") == "wss://sip.example.com:8443"
    assert sip.origin("ws://127.0.0.1:8088") == "ws://127.0.0.1:8088"


def test_settings_part_sets_unsets_and_leaves_alone():
    assert sip.settings_part("wss://sip.example.com/ws", "Example.COM") == {
        "sip_ws_url": "wss://sip.example.com/ws", "sip_realm": "example.com"}
    assert sip.settings_part("", "  ") == {"sip_ws_url": None, "sip_realm": None}
    assert sip.settings_part(None, None) == {}
    for bad in ({"ws_url": 42, "realm": None}, {"ws_url": None, "realm": ["example.com"]}):
        with pytest.raises(BadInput):
            sip.settings_part(**bad)


def test_a_stored_url_that_is_no_longer_valid_is_no_sip_server(tenants, caplog):
    settings.save(tenants.get("demo"), {"sip_ws_url": "http://sip.example.com"})
    assert sip.ws_url(tenants.get("demo")) is None
    assert "sip_ws_url" in caplog.text


def run(data_root, capsys, *args):
    code = cli(["--data", str(data_root), "tenant", "sip-server", "demo", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def test_the_cli_shows_sets_and_unsets_the_sip_server(data_root, tenants, capsys):
    assert run(data_root, capsys) == (0, {"tenant": "demo", "ws_url": None, "realm": "localhost"})
    code, shown = run(data_root, capsys, "--ws-url", "wss://sip.example.com/ws", "--realm", "example.com")
    assert code == 0 and shown == {"tenant": "demo", "ws_url": "wss://sip.example.com/ws", "realm": "example.com"}
    demo = tenants.get("demo")
    assert sip.ws_url(demo) == "wss://sip.example.com/ws" and sip_realm(demo) == "example.com"
    code, message = run(data_root, capsys, "--ws-url", "ws://sip.example.com")
    assert code != 0 and "ws://" in message
    assert sip.ws_url(tenants.get("demo")) == "wss://sip.example.com/ws"  # refused: nothing changed
    assert run(data_root, capsys, "--ws-url", "")[1]["ws_url"] is None
    assert sip_realm(tenants.get("demo")) == "example.com"  # the realm was not named: it stays


def settings_form(page_html: str, **changes) -> dict:
    form = {"csrf": csrf_of(page_html), "methods": ["magic_link", "passkey"], "signup": "open", "domains": "",
            "user_verification": "required", "attestation": "none", "allowed_aaguids": "", "max_passkeys": "10",
            "ext_low": "600", "ext_high": "699", "app_passwords": "allowed", "time_zone": "Europe/Berlin"}
    return {**form, **changes}


def test_the_admin_sets_the_sip_server_on_the_settings_page(app, mailbox, accounts, tenants):
    admin = signed_in_admin(app, mailbox, accounts)
    page = admin.get("/admin/settings", headers={"Host": HOST})
    assert 'name="sip_ws_url"' in page.text and 'name="sip_realm"' in page.text
    bad = admin.post("/admin/settings", data=settings_form(page.text, sip_ws_url="ws://sip.example.com",
                                                           sip_realm="example.com"), headers={"Host": HOST})
    assert bad.status_code == 400 and 'id="sip-ws-url-error"' in bad.text
    assert 'value="ws://sip.example.com"' in bad.text  # shown again as typed
    assert tenants.get("demo").setting("sip_ws_url") is None and tenants.get("demo").setting("sip_realm") is None
    bad = admin.post("/admin/settings", data=settings_form(page.text, sip_ws_url="wss://sip.example.com",
                                                           sip_realm="no realm"), headers={"Host": HOST})
    assert bad.status_code == 400 and 'id="sip-realm-error"' in bad.text
    saved = admin.post("/admin/settings", data=settings_form(page.text, sip_ws_url="wss://sip.example.com/ws",
                                                             sip_realm="example.com"), headers={"Host": HOST})
    assert saved.status_code == 303, saved.text
    demo = tenants.get("demo")
    assert sip.ws_url(demo) == "wss://sip.example.com/ws" and sip_realm(demo) == "example.com"
    assert 'value="wss://sip.example.com/ws"' in admin.get("/admin/settings", headers={"Host": HOST}).text
    cleared = admin.post("/admin/settings", data=settings_form(page.text, sip_ws_url="", sip_realm=""),
                         headers={"Host": HOST})
    assert cleared.status_code == 303 and sip.ws_url(tenants.get("demo")) is None
    assert sip_realm(tenants.get("demo")) == "localhost"


def test_only_the_shell_page_may_connect_to_the_sip_server(client, tenants):
    def connect_src(path):
        policy = client.get(path, headers={"Host": HOST}).headers["Content-Security-Policy"]
        return next(d for d in policy.split("; ") if d.startswith("connect-src"))

    assert connect_src("/office.html") == "connect-src 'self'"
    settings.save(tenants.get("demo"), sip.settings_part("wss://sip.example.com:8443/ws", "example.com"))
    assert connect_src("/office.html") == "connect-src 'self' wss://sip.example.com:8443"
    policy = client.get("/office.html", headers={"Host": HOST}).headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy  # the rest as tight as before
    for other in ("/signin", "/", "/offline.html"):
        assert connect_src(other) == "connect-src 'self'", other
