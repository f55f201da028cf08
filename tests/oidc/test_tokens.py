"""The verification of our own JWTs (codeb.oidc.tokens): exactly RS256 with a key of ours, by
its kid; every other shape is InvalidToken, checked without Flask or disk."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from codeb.oidc.tokens import InvalidToken, verify_access_token, verify_id_token_hint

ISSUER = "https://login.example"
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256"})
KEYS = KeySet.import_key_set({"keys": [KEY.as_dict(private=False)]})
CLAIMS = {"iss": ISSUER, "sub": "s" * 32, "aud": "rp", "client_id": "rp", "scope": "openid",
          "iat": NOW, "exp": NOW + 3600}
HEADER = {"alg": "RS256", "kid": "k1", "typ": "at+jwt"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value) -> str:
    return b64(json.dumps(value).encode())


def signed(header=HEADER, claims=CLAIMS, key=KEY) -> str:
    signing_input = f"{part(header)}.{part(claims)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def verify(token):
    return verify_access_token(token, keys=KEYS, issuers=[ISSUER], now=NOW)


def test_a_token_of_ours_verifies_as_joserfc_would_issue_it():
    token = jwt.encode(HEADER, CLAIMS, KEY, algorithms=["RS256"])
    assert verify(token).sub == CLAIMS["sub"]
    assert verify(signed()).claims == CLAIMS


def hs256_with_the_public_key() -> str:
    """The classic confusion: HMAC keyed with the RSA public key's bytes."""
    header = {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}
    signing_input = f"{part(header)}.{part(CLAIMS)}".encode()
    mac = hmac.HMAC(json.dumps(KEY.as_dict(private=False)).encode(), hashes.SHA256())
    mac.update(signing_input)
    return f"{signing_input.decode()}.{b64(mac.finalize())}"


@pytest.mark.parametrize("token", [
    pytest.param(f"{part({'alg': 'none', 'kid': 'k1', 'typ': 'at+jwt'})}.{part(CLAIMS)}.", id="alg none"),
    pytest.param(hs256_with_the_public_key(), id="alg confusion"),
    pytest.param(signed(key=OTHER, header={**HEADER, "kid": "k2"}), id="unknown kid"),
    pytest.param(signed(key=OTHER), id="another key under our kid"),
    pytest.param(signed(header={"alg": "RS256", "typ": "at+jwt"}), id="no kid"),
    pytest.param(signed(header={**HEADER, "kid": 1}), id="kid not a string"),
    pytest.param(signed(header={**HEADER, "crit": ["b64"], "b64": False}), id="crit"),
    pytest.param(signed(header={**HEADER, "typ": 7}), id="typ not a string"),
    pytest.param(signed(header=["RS256"]), id="header not an object"),
    pytest.param(signed(claims=["not", "an", "object"]), id="claims not an object"),
    pytest.param(signed() + "A", id="signature one character longer"),
    pytest.param(signed()[:-4] + "AAAA", id="signature changed"),
    pytest.param("=" + signed(), id="padding"),
    pytest.param(signed().replace(".", ".+", 1), id="outside base64url"),
    pytest.param("a.b", id="two segments"),
    pytest.param("x" * 9000 + "..", id="too long"),
    pytest.param(None, id="not a string"),
    pytest.param(["a.b.c"], id="a list"),
])
def test_everything_else_is_invalid(token):
    with pytest.raises(InvalidToken):
        verify(token)
    with pytest.raises(InvalidToken):
        verify_id_token_hint(token, keys=KEYS, issuers={ISSUER})


def test_the_payload_is_what_was_signed():
    good = signed()
    head, _, signature = good.split(".")
    tampered = f"{head}.{part({**CLAIMS, 'sub': 'someone else'})}.{signature}"
    with pytest.raises(InvalidToken):
        verify(tampered)


def test_a_remembered_signature_counts_only_with_the_keys_that_checked_it():
    """The memo of checked signatures (tokens._verified) saves the RSA check of a token seen
    before, never another check: the lifetime and issuer are checked on every use, and a key
    set without the token's key (a retired key) refuses it although it was remembered."""
    token = signed()
    assert verify(token).sub == CLAIMS["sub"]
    assert verify(token).sub == CLAIMS["sub"]  # remembered
    with pytest.raises(InvalidToken):
        verify_access_token(token, keys=KEYS, issuers=[ISSUER], now=NOW + 3600 + 120)
    with pytest.raises(InvalidToken):
        verify_access_token(token, keys=KEYS, issuers=["https://another.example"], now=NOW)
    without = KeySet.import_key_set({"keys": [OTHER.as_dict(private=False)]})
    with pytest.raises(InvalidToken):
        verify_access_token(token, keys=without, issuers=[ISSUER], now=NOW)
    rotated = KeySet.import_key_set({"keys": [KEY.as_dict(private=False), OTHER.as_dict(private=False)]})
    assert verify_access_token(token, keys=rotated, issuers=[ISSUER], now=NOW).sub == CLAIMS["sub"]
    with pytest.raises(InvalidToken):
        verify(signed(header={**HEADER, "typ": "JWT"}))  # an ID token's type, signed by our key
