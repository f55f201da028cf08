"""The phone card's API (`GET /api/phone`, codeb.web.phone) with the shell's token: the extension
and SIP address always; a SIP server's WebSocket URL, realm, address and auth_ephemeral
credentials (with TURN servers) only when the tenant names one and its operator made the
secret; never for someone signed in nowhere, a relying party's token or a guest."""

import base64
import hashlib
import hmac

import pytest

from codeb.accounts import app_passwords
from codeb.native.sip_credentials import kamailio_secret
from codeb.rooms import turn
from codeb.store import layout
from codeb.tenants import settings, sip
from codeb.tenants.secrets import make_secret
from tests.support.oidc import tokens_for
from tests.support.web import HOST
from tests.support.workspace import sub_of

WS_URL = "wss://sip.example.com/ws"


@pytest.fixture
def secret(demo) -> bytes:
    return make_secret(demo.store, layout.SIP_EPHEMERAL_SECRET)


def offer_sip_server(tenants, url=WS_URL, realm="example.com"):
    settings.save(tenants.get("demo"), sip.settings_part(url, realm))


def test_without_a_sip_server_the_card_gets_the_extension_address_and_the_native_guide(alice, demo):
    answer = alice.get("/api/phone")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    me = alice.get("/api/me").json
    assert answer.json == {"phone": "native", "ext": me["ext"], "sip": me["sip"], "app_passwords": True,
                           "display_name": me["display_name"]}
    assert me["sip"] == f"{alice.login}@localhost"
    settings.save(demo, app_passwords.settings_part("forbidden"))
    assert alice.get("/api/phone").json["app_passwords"] is False  # the guide says whom to ask instead


def test_a_sip_server_without_its_secret_says_so_and_mints_nothing(alice, tenants):
    offer_sip_server(tenants)
    answer = alice.get("/api/phone")
    assert answer.status_code == 200 and answer.json["phone"] == "no_secret"
    assert "password" not in answer.json and "username" not in answer.json


def test_with_the_secret_the_card_gets_what_sip_js_registers_with(alice, tenants, secret, clock):
    offer_sip_server(tenants)
    answer = alice.get("/api/phone")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert body["phone"] == "browser" and body["ws_url"] == WS_URL and body["realm"] == "example.com"
    assert body["aor"] == f"sip:{alice.login}@example.com"
    expiry, user = body["username"].split(":", 1)
    assert user == alice.login and int(expiry) == body["expires"] == int(clock()) + body["ttl"]
    assert 0 < body["ttl"] <= 3600
    key = kamailio_secret(secret).encode()
    digest = hmac.new(key, body["username"].encode(), hashlib.sha1).digest()
    assert body["password"] == base64.b64encode(digest).decode()
    assert body["ice_servers"] == []  # no TURN server offered by this tenant


def test_the_turn_servers_of_the_meetings_come_along(alice, tenants, secret):
    offer_sip_server(tenants)
    settings.save(tenants.get("demo"), turn.settings_part(tenants.get("demo"), uris=["turn:turn.example.com:3478"]))
    [server] = alice.get("/api/phone").json["ice_servers"]
    assert server["urls"] == ["turn:turn.example.com:3478"]
    assert server["username"].split(":", 1)[1] == layout.person(sub_of(alice))  # the meetings' TURN user


def test_the_realm_defaults_to_the_tenants_host(alice, tenants, secret):
    offer_sip_server(tenants, url="ws://127.0.0.1:8088", realm="")
    body = alice.get("/api/phone").json
    assert body["realm"] == "localhost" and body["aor"] == f"sip:{alice.login}@localhost"


def test_someone_signed_in_nowhere_gets_nothing(client, tenants, secret):
    offer_sip_server(tenants)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = client.get("/api/phone", headers={"Host": HOST, **headers})
        assert answer.status_code == 401 and "password" not in answer.text


def test_a_relying_partys_token_gets_nothing(client, mailbox, rp, tenants, secret):
    """RFC 9068 §4: the token's audience is that app, not the shell's API."""
    offer_sip_server(tenants)
    access = tokens_for(client, mailbox, rp, scope="openid")["access_token"]
    answer = client.get("/api/phone", headers={"Host": HOST, "Authorization": f"Bearer {access}"})
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_disabled_account_gets_no_more_credentials(alice, accounts, tenants, secret):
    offer_sip_server(tenants)
    assert alice.get("/api/phone").status_code == 200
    accounts.set_disabled(alice.login, True)
    answer = alice.get("/api/phone")
    assert answer.status_code == 401 and "password" not in answer.text


def test_a_meeting_guest_has_no_phone(app, alice, tenants, secret):
    """A guest has no account: no SIP address to register, and their browser reaches only their meeting."""
    offer_sip_server(tenants)
    meeting = alice.send("POST", "/api/meetings", {"name": "Review"}).json["meeting"]["id"]
    made = alice.send("POST", "/api/guests/invites", {"scope": {"kind": "meeting", "id": meeting}, "ttl": 3600,
                                                      "multi": False})
    assert made.status_code == 201, made.text
    token = made.json["link"].split("#", 1)[1]
    guest = app.test_client()
    assert guest.post("/api/guest/join", json={"token": token, "name": "Gina"},
                      headers={"Host": HOST}).status_code == 201
    assert guest.get("/api/turn", headers={"Host": HOST}).status_code == 200  # what a guest may have
    answer = guest.get("/api/phone", headers={"Host": HOST})
    assert answer.status_code == 403 and "password" not in answer.text


def test_the_shell_page_carries_the_card_and_its_words(client, tenants):
    html = client.get("/office.html", headers={"Host": HOST}).text
    for element in ('id="card-phone"', 'id="phone-state"', 'id="phone-dial"', 'id="phone-answer"',
                    'id="phone-decline"', 'id="phone-hangup"', 'id="phone-audio"', 'id="phone-native"',
                    'href="/account/devices#app-passwords"'):
        assert element in html, element
    for key in ("phone_registered", "phone_in_call", "phone_incoming", "phone_call_failed"):
        assert f'"{key}"' in html, key
    german = client.get("/office.html", headers={"Host": HOST, "Accept-Language": "de"}).text
    assert "Durchwahl" in german and '"phone_registered": "Bereit f\\u00fcr Anrufe"' in german
