"""SIP digest from CodeB's HA1 values (codeb.native.sip_digest, codeb.accounts.app_passwords):
a SIP server that has only the HA1 computes the same digest responses as the RFCs' examples and
as an independent client implementation (requests' HTTPDigestAuth) that has the password.

The response is computed here per RFC 7616 §3.4.1 (RFC 2617 §3.2.2.1 for qop=auth), from the
HA1 alone: KD(HA1, nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri)). The real SIP server
and phone, Kamailio and baresip, are tests/rooms/test_kamailio.py.
"""

import hashlib
import re

import pytest
from requests.auth import HTTPDigestAuth

from codeb.accounts import Account, Accounts, app_passwords, passwords
from codeb.native import sip_digest
from tests.support.web import HOST

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def response_from_ha1(ha1: str, *, algorithm: str, nonce: str, nc: str, cnonce: str, qop: str, method: str,
                      uri: str) -> str:
    """RFC 7616 §3.4.1: response = KD(H(A1), nonce:nc:cnonce:qop:H(A2)), A2 = method:uri (qop=auth)."""
    h = lambda text: HASHES[algorithm](text.encode()).hexdigest()  # noqa: E731
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{h(f'{method}:{uri}')}")


def codeb_ha1(algorithm: str, username: str, realm: str, password: str) -> set[str]:
    """The HA1 CodeB stores for this password, as each of its writers makes it (one value, or a bug)."""
    key = "ha1_md5" if algorithm == "MD5" else "ha1_sha256"
    made = {passwords.ha1(algorithm, username, realm, password),
            app_passwords.hashed(password, login=username, realm=realm)["sip"][key],
            passwords.hash_password(password, login=username, realm=realm, now=0)["sip"][key]}
    assert len(made) == 1, made
    return made


def test_rfc_2617_section_3_5():
    (ha1,) = codeb_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    assert response_from_ha1(ha1, algorithm="MD5", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", nc="00000001",
                             cnonce="0a4f113b", qop="auth", method="GET", uri="/dir/index.html") \
        == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc_7616_section_3_9_1(algorithm, expected):
    (ha1,) = codeb_ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
    assert response_from_ha1(ha1, algorithm=algorithm, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                             nc="00000001", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop="auth",
                             method="GET", uri="/dir/index.html") == expected


def client_digest(username: str, password: str, *, realm: str, algorithm: str, method: str,
                  uri: str = "/dir/index.html") -> dict:
    """The Authorization header requests' HTTPDigestAuth builds for a challenge, as its fields. It
    is an HTTP client, so the digest-uri is a path; the HA1 (all CodeB gives) does not depend on it."""
    auth = HTTPDigestAuth(username, password)
    auth.init_per_thread_state()
    auth._thread_local.chal = {"realm": realm, "nonce": "b1c4e7f2a9d0", "qop": "auth", "algorithm": algorithm}
    header = auth.build_digest_header(method, f"https://example.org{uri}")
    assert header is not None and header.startswith("Digest ")
    return {m.group(1): m.group(2) or m.group(3) for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', header)}


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_an_independent_client_with_the_password_agrees_with_the_ha1(algorithm):
    sent = client_digest("Mufasa", "Circle of Life", realm="http-auth@example.org", algorithm=algorithm,
                         method="REGISTER")
    (ha1,) = codeb_ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
    assert sent["uri"] == "/dir/index.html" and sent["username"] == "Mufasa"
    assert response_from_ha1(ha1, algorithm=algorithm, nonce=sent["nonce"], nc=sent["nc"], cnonce=sent["cnonce"],
                             qop=sent["qop"], method="REGISTER", uri=sent["uri"]) == sent["response"]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_the_lookup_gives_the_ha1_a_phone_with_the_app_password_is_checked_against(demo, algorithm):
    """Without Flask: the DigestLookup's answer for ann checks a phone's digest made with her app password
    as it was shown, and no other."""
    accounts = Accounts(demo.store, HOST)
    accounts.create(email="ann@example.com", login="ann")
    _, secret = app_passwords.create(accounts, "ann", name="Desk phone", purposes=["sip"], realm=HOST)
    entry = sip_digest.DigestLookup(demo).lookup(sip_digest.query("ann", HOST, "192.0.2.1"))
    values = entry.ha1_md5 if algorithm == "MD5" else entry.ha1_sha256
    assert len(values) == 1 and entry.login == "ann" and entry.extension == accounts.require("ann").ext

    def checks(password: str) -> bool:
        sent = client_digest("ann", password, realm=HOST, algorithm=algorithm, method="REGISTER")
        return any(response_from_ha1(ha1, algorithm=algorithm, nonce=sent["nonce"], nc=sent["nc"],
                                     cnonce=sent["cnonce"], qop="auth", method="REGISTER", uri=sent["uri"])
                   == sent["response"] for ha1 in values)

    assert checks(secret)
    assert not checks(secret.upper())  # digest hashes exactly what the phone was given
    assert not checks(app_passwords.generate())


@pytest.mark.parametrize(("user", "realm", "ip", "reason"), [
    (None, HOST, None, "user"), ("", HOST, None, "user"), ("a" * 257, HOST, None, "user"), (5, HOST, None, "user"),
    ("ann", None, None, "realm"), ("ann", "a b", None, "realm"), ("ann", HOST, "::zz", "ip"),
    ("ann", HOST, ["1.2.3.4"], "ip"),
])
def test_a_malformed_query_is_refused_by_name(user, realm, ip, reason):
    with pytest.raises(sip_digest.BadQuery) as raised:
        sip_digest.query(user, realm, ip)
    assert raised.value.reason == reason


def test_a_query_keeps_the_phones_network():
    assert sip_digest.query("ann", "LocalHost", "2001:db8::5").source == "2001:db8::/64"
    assert sip_digest.query("ann", "LocalHost", "::ffff:192.0.2.7") == sip_digest.Query("ann", "localhost", "192.0.2.7")
    assert sip_digest.query("ann", HOST, "").source is None


@pytest.mark.parametrize(("nickname", "display_name", "shown"), [
    ("Annie", "Ann Smith", "Annie"), (None, "Ann Smith", "Ann Smith"), (None, None, "ann"),
    (None, 'Ann "the boss" \\ Smith\r\nX-Evil: 1', "Ann the boss  SmithX-Evil: 1"), (None, "Ä" * 80, "Ä" * 64),
    ('"', None, "ann"),
])
def test_the_caller_id_name_is_fit_for_a_sip_quoted_string(nickname, display_name, shown):
    doc = {"login": "ann", "sub": "s", "nickname": nickname, "display_name": display_name}
    assert sip_digest.caller_id_name(Account(doc)) == shown
