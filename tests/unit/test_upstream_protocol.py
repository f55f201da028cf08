"""The upstream OIDC checks (codeb.upstreams.oidc), one attack each, without a network:
tokens signed here with joserfc as an upstream would sign them."""

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from codeb.errors import BadInput
from codeb.store import Store
from codeb.upstreams import Upstreams, client_key
from codeb.upstreams import oidc as protocol
from codeb.upstreams.oidc import UpstreamError

ISSUER = "https://idp.example"
CLIENT = "codeb-demo"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same kid, another key
KEYS = KeySet([KEY])
METADATA = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize", "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks", "response_types_supported": ["code"]}
ENTRA = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def claims(**changes) -> dict:
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "exp": NOW + 300, "iat": NOW, "nonce": NONCE,
            "email": "ada@corp.example", "email_verified": True}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict, key=KEY, alg="RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, payload, key, algorithms=[alg])


def verify(token: str, metadata=METADATA, nonce=NONCE, tenant_ids=()) -> dict:
    return protocol.verify_id_token(token, metadata=metadata, keys=KEYS, client_id=CLIENT, nonce=nonce, now=NOW,
                                    tenant_ids=tenant_ids)


def refused(token: str, **kwargs) -> str:
    with pytest.raises(UpstreamError) as caught:
        verify(token, **kwargs)
    return caught.value.reason


def test_a_good_id_token_passes():
    assert verify(signed(claims()))["sub"] == "248289761001"
    assert verify(signed(claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


@pytest.mark.parametrize("change, reason", [
    ({"iss": "https://evil.example"}, "iss"),
    ({"aud": "another-client"}, "aud"),
    ({"nonce": None}, "nonce"),
    ({"nonce": "replayed-from-another-request"}, "nonce"),
    ({"exp": NOW - protocol.SKEW - 1}, "exp"),
    ({"iat": NOW + protocol.SKEW + 60}, "future"),
    ({"sub": None}, "sub"),
    ({"aud": [CLIENT, "other"]}, "azp"),                 # several audiences and no azp
    ({"azp": "other"}, "azp"),                           # an ID token for another client
])
def test_each_wrong_claim_is_refused(change, reason):
    assert reason in refused(signed(claims(**change)))


def test_a_signature_by_another_key_is_refused():
    assert "signature" in refused(signed(claims(), key=OTHER_KEY))


def test_alg_none_is_refused():
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(UpstreamError):
        verify(f"{header}.{body}.")


def test_an_hmac_signed_with_the_public_key_is_refused():
    """The classic confusion: HS256 keyed with the upstream's public key, which anyone has."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + "." + b64(json.dumps(claims()).encode())
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    assert "signature" in refused(f"{signing_input}.{b64(mac)}")


def test_an_es256_key_of_the_set_verifies():
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    token = jwt.encode({"alg": "ES256", "kid": "e1"}, claims(), ec, algorithms=["ES256"])
    got = protocol.verify_id_token(token, metadata=METADATA, keys=KeySet([ec]), client_id=CLIENT, nonce=NONCE,
                                   now=NOW)
    assert got["nonce"] == NONCE


def test_garbage_is_refused_not_raised():
    for token in ("", "a.b", "a.b.c", "x" * 5000):
        with pytest.raises(UpstreamError):
            verify(token)
    assert protocol.kid_of("a.b.c") is None
    assert protocol.kid_of(signed(claims())) == "k1"


def test_entra_multi_tenant_issuer_accepts_only_listed_directories():
    template = {**METADATA, "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    mine = signed(claims(iss=f"https://login.microsoftonline.com/{ENTRA}/v2.0", tid=ENTRA))
    assert verify(mine, metadata=template, tenant_ids=[ENTRA])["tid"] == ENTRA
    assert "not allowed" in refused(mine, metadata=template, tenant_ids=[])
    other = "11111111-2222-3333-4444-555555555555"
    lying = signed(claims(iss=f"https://login.microsoftonline.com/{other}/v2.0", tid=ENTRA))
    assert "iss" in refused(lying, metadata=template, tenant_ids=[ENTRA])  # iss must match its own tid
    assert "tid" in refused(signed(claims(iss=ISSUER)), metadata=template, tenant_ids=[ENTRA])


def test_discovery_must_name_the_configured_issuer_and_https_endpoints():
    assert protocol.checked_metadata(dict(METADATA), ISSUER)["issuer"] == ISSUER
    with pytest.raises(UpstreamError, match="names issuer"):
        protocol.checked_metadata({**METADATA, "issuer": "https://evil.example"}, ISSUER)
    with pytest.raises(UpstreamError, match="not https"):
        protocol.checked_metadata({**METADATA, "token_endpoint": "http://idp.example/token"}, ISSUER)
    with pytest.raises(UpstreamError, match="no authorization code"):
        protocol.checked_metadata({**METADATA, "response_types_supported": ["id_token"]}, ISSUER)
    organizations = "https://login.microsoftonline.com/organizations/v2.0"
    template = {**METADATA, "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    assert protocol.checked_metadata(template, organizations)["issuer"] == template["issuer"]
    assert protocol.check_url("http://127.0.0.1:8080", "x") and protocol.check_url("http://a.localhost", "x")
    for bad in ("http://idp.example", "ftp://idp.example", "https://", "https://idp.example/#x", 5):
        with pytest.raises(UpstreamError):
            protocol.check_url(bad, "the issuer")


def test_the_response_issuer_rfc_9207():
    protocol.check_response_issuer({"iss": ISSUER}, METADATA, ISSUER)
    protocol.check_response_issuer({}, METADATA, ISSUER)  # not sent, not promised
    with pytest.raises(UpstreamError, match="names issuer"):
        protocol.check_response_issuer({"iss": "https://evil.example"}, METADATA, ISSUER)
    promised = {**METADATA, "authorization_response_iss_parameter_supported": True}
    with pytest.raises(UpstreamError, match="promised"):
        protocol.check_response_issuer({}, promised, ISSUER)


def test_the_authorization_request_carries_pkce_state_nonce_and_the_hint():
    upstream = {"client_id": CLIENT, "client_secret": None, "scopes": ["openid", "email"],
                "hosted_domain": "corp.example"}
    url = protocol.authorization_url(upstream, METADATA, redirect_uri="https://login.demo/signin/oidc/callback",
                                     state="st", nonce="no", code_verifier="v" * 50, login_hint="ada@corp.example")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{ISSUER}/authorize?")
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["state"] == "st" and query["nonce"] == "no" and query["client_id"] == CLIENT
    assert query["login_hint"] == "ada@corp.example" and query["hd"] == "corp.example"
    assert "v" * 50 not in url  # the verifier stays here; only its S256 challenge travels


def test_an_upstream_is_validated_before_anything_is_written(tmp_path):
    upstreams = Upstreams(Store(str(tmp_path), clock=time.time))
    for bad in ({"issuer": "http://idp.example"}, {"client_id": ""}, {"domains": ["not a domain"]},
                {"name": ""}, {"scopes": ["email"]}, {"authoritative": True}, {"preset": "nope"},
                {"issuer": "https://login.microsoftonline.com/common/v2.0"}, {"tenant_ids": ["x"]},
                {"roles": {"admins": "emperor"}}):
        with pytest.raises(BadInput):
            upstreams.add(**{"name": "Corp", "issuer": ISSUER, "client_id": CLIENT, **bad})
    assert upstreams.list() == []
    first = upstreams.add(name="Corp", issuer=ISSUER, client_id=CLIENT, domains=["Corp.example"],
                          roles={"it-admins": "admin"})
    assert first["domains"] == ["corp.example"] and first["roles"] == {"it-admins": "admin"}
    with pytest.raises(BadInput) as taken:
        upstreams.add(name="Other", issuer=ISSUER, client_id=CLIENT, domains=["corp.example"])
    assert taken.value.message_id == "error.upstream.domain_taken"
    assert upstreams.for_domain("corp.example")["id"] == first["id"]
    google = upstreams.add(name="G", issuer="", client_id=CLIENT, preset="google", hosted_domain="Corp.example")
    assert google["issuer"] == "https://accounts.google.com" and google["hosted_domain"] == "corp.example"
    assert "groups" in upstreams.add(name="O", issuer=ISSUER, client_id=CLIENT, preset="okta")["scopes"]
    with pytest.raises(BadInput):
        upstreams.add(name="K", issuer="", client_id=CLIENT, preset="keycloak")  # no issuer of its own
    upstreams.set_enabled(first["id"], False)
    assert upstreams.for_domain("corp.example") is None
    assert upstreams.get("../../etc") is None


def test_required_for_takes_known_roles_only(tmp_path):
    upstreams = Upstreams(Store(str(tmp_path), clock=time.time))
    with pytest.raises(BadInput):
        upstreams.add(name="Corp", issuer=ISSUER, client_id=CLIENT, required_for=["emperor"])
    corp = upstreams.add(name="Corp", issuer=ISSUER, client_id=CLIENT, required_for=["admin"])
    assert [u["id"] for u in upstreams.required_for(["user", "admin"])] == [corp["id"]]
    assert upstreams.required_for(["user"]) == []
    upstreams.set_enabled(corp["id"], False)  # switched off, it binds no one
    assert upstreams.required_for(["admin"]) == []


def test_an_edit_is_checked_as_an_addition_and_written_whole_or_not_at_all(tmp_path):
    upstreams = Upstreams(Store(str(tmp_path), clock=time.time))
    corp = upstreams.add(name="Corp", issuer=ISSUER, client_id=CLIENT, client_secret="s3cret",
                         domains=["corp.example"], preset="adfs")
    other = upstreams.add(name="Other", issuer=ISSUER, client_id=CLIENT, domains=["other.example"])
    before = upstreams.get(corp["id"])
    for bad, message_id in (({"domains": ["other.example"]}, "error.upstream.domain_taken"),
                            ({"domains": [], "authoritative": True}, "error.upstream.authoritative_needs_domain"),
                            ({"issuer": "https://login.microsoftonline.com/common/v2.0"},
                             "error.upstream.tenant_ids_needed"),
                            ({"name": " "}, "error.upstream.name"),
                            ({"roles": {"it": "emperor"}}, "error.invalid_role"),
                            ({"token_auth": "tls_client_auth"}, "error.upstream.token_auth"),
                            ({"token_auth": "none", "client_secret": "new"}, "error.upstream.client_secret_unused"),
                            ({"id": "aaaaaaaaaaaa"}, "error.upstream.not_editable"),
                            ({"kind": "saml"}, "error.upstream.not_editable"),
                            ({"created": 0}, "error.upstream.not_editable")):
        with pytest.raises(BadInput) as refused:
            upstreams.update(corp["id"], **{"name": "Renamed", **bad})
        assert refused.value.message_id == message_id, bad
    assert upstreams.get(corp["id"]) == before  # not even the name of the refused edits

    kept = upstreams.update(corp["id"], domains=["Corp.example", "sub.corp.example"], claims={"email": "mail"})
    assert kept["domains"] == ["corp.example", "sub.corp.example"]  # its own domain stays its own
    assert kept["claims"] == {"email": "mail", "name": "unique_name", "groups": "group",
                              "login": "upn"}  # the preset's for the rest
    assert kept["client_secret"] == "s3cret" and kept["token_auth"] == "client_secret_basic"
    assert upstreams.update(corp["id"], client_secret="n3w")["client_secret"] == "n3w"
    public = upstreams.update(corp["id"], remove_client_secret=True)
    assert public["client_secret"] is None and public["token_auth"] == "none"  # a public client now
    with pytest.raises(BadInput) as needs:
        upstreams.update(corp["id"], token_auth="client_secret_post")
    assert needs.value.message_id == "error.upstream.client_secret_needed"
    keyed = upstreams.update(corp["id"], token_auth="private_key_jwt")
    assert keyed["token_auth"] == "private_key_jwt" and keyed["client_secret"] is None
    assert (keyed["id"], keyed["created"], keyed["kind"], keyed["preset"]) == (
        corp["id"], corp["created"], "oidc", "adfs")
    assert upstreams.get(other["id"])["domains"] == other["domains"]


def test_an_old_upstream_without_a_chosen_method_authenticates_as_before(tmp_path):
    upstreams = Upstreams(Store(str(tmp_path), clock=time.time))
    assert protocol.token_auth({"client_secret": "s"}) == "client_secret_basic"
    assert protocol.token_auth({"client_secret": None}) == "none"
    added = upstreams.add(name="Corp", issuer=ISSUER, client_id=CLIENT, client_secret="s3cret")
    assert added["token_auth"] == "client_secret_basic"
    with pytest.raises(BadInput) as unused:
        upstreams.add(name="Keyed", issuer=ISSUER, client_id=CLIENT, client_secret="s", token_auth="private_key_jwt")
    assert unused.value.message_id == "error.upstream.client_secret_unused"


@pytest.mark.parametrize("method, sends", [
    ("client_secret_basic", "header"), ("client_secret_post", "body"), ("none", "client_id"),
    ("private_key_jwt", "assertion"),
])
def test_the_token_request_authenticates_as_the_upstream_was_told(tmp_path, method, sends):
    """Authlib's own client authentication, per `token_auth` (OIDC Core §9)."""
    store = Store(str(tmp_path), clock=time.time)
    upstream = {"client_id": CLIENT, "client_secret": None if method in ("none", "private_key_jwt") else "s3cret",
                "scopes": ["openid"], "token_auth": method}
    key = protocol.assertion_key(store, upstream)
    assert (key is not None) == (method == "private_key_jwt")
    with protocol.session(upstream, "https://login.demo/signin/oidc/callback", key=key) as client:
        if key is not None:
            client.register_client_auth_method(protocol.client_assertion(METADATA["token_endpoint"], key))
        _, headers, body = client.client_auth(method).prepare("POST", METADATA["token_endpoint"], {},
                                                              "grant_type=authorization_code&code=c")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    assert ("Authorization" in headers) == (sends == "header")
    assert ("client_secret" in form) == (sends == "body") and "s3cret" not in str(form.get("client_assertion"))
    if sends == "assertion":
        assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        public = KeySet.import_key_set(json.loads(key.published[0]))
        token = jwt.decode(form["client_assertion"], public, algorithms=["RS256"])
        assert token.header["kid"] == key.kid and token.claims["aud"] == METADATA["token_endpoint"]
        assert token.claims["iss"] == token.claims["sub"] == CLIENT and token.claims["exp"] - time.time() <= 60
        assert "d" not in json.loads(key.published[0])["keys"][0]  # the JWKS holds the public half only
        assert client_key.load(store).kid == key.kid  # one key per tenant, kept
