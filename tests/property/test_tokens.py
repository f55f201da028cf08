"""JWTs from outside: access tokens at the resource endpoints, ID token hints at /authorize
and logout. Whatever arrives, the verifiers answer claims or InvalidToken, nothing else."""

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import example, given, settings
from hypothesis import strategies as st
from joserfc.jwk import KeySet, RSAKey

from codeb.oidc.tokens import InvalidToken, verify_access_token, verify_id_token_hint
from tests.property.strategies import b64url, field_text, json_values

ISSUER = "https://login.example"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
KEYS = KeySet([KEY])
NOW = 1_800_000_000

# Header and claims with a valid signature: what someone holding a key of ours, or a
# future bug of ours, could produce. Every field may hold any JSON value.
headers = st.fixed_dictionaries(
    {"alg": st.just("RS256"), "kid": st.just("k1")},
    optional={"typ": json_values | st.sampled_from(["at+jwt", "JWT", "application/at+jwt"]),
              "crit": json_values, "cty": json_values},
)
claim_values = {name: json_values | st.integers(NOW - 10_000, NOW + 10_000) for name in ("exp", "iat", "nbf")}
claims = st.fixed_dictionaries(
    {},
    optional={"iss": json_values | st.just(ISSUER), "sub": json_values, "aud": json_values,
              "client_id": json_values, "scope": json_values, "jti": json_values, **claim_values},
)


def signed(header: dict, payload: dict) -> str:
    """Signed with our key whatever the header holds (joserfc refuses to encode some of it)."""
    signing_input = f"{segment(header)}.{segment(payload)}".encode()
    signature = KEY.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(signature)}"


def segment(value) -> str:
    return b64url(json.dumps(value).encode())


def forged(header, payload, signature: bytes) -> str:
    """Three base64url segments of any JSON, with any signature bytes."""
    return f"{segment(header)}.{segment(payload)}.{b64url(signature)}"


def verify_both(token) -> None:
    for verify in (lambda t: verify_access_token(t, keys=KEYS, issuers=[ISSUER], now=NOW),
                   lambda t: verify_id_token_hint(t, keys=KEYS, issuers={ISSUER})):
        try:
            result = verify(token)
        except InvalidToken:
            continue
        assert result is not None


@settings(max_examples=100)
@given(field_text | st.text(alphabet="ab.-_=", max_size=40))
@example("..")
@example("a.b.c")
@example("e30.e30.")
def test_any_text_is_a_token_or_invalid(token):
    verify_both(token)


@settings(max_examples=100)
@given(json_values, json_values, st.binary(max_size=300))
def test_any_json_segments_are_a_token_or_invalid(header, payload, signature):
    verify_both(forged(header, payload, signature))


@settings(max_examples=100)
@given(headers, claims)
@example({"alg": "RS256", "kid": "k1", "typ": 1}, {"iss": ISSUER, "sub": "s"})  # typ not text
@example({"alg": "RS256", "kid": "k1"}, {"iss": [ISSUER], "sub": "s", "aud": "c"})  # iss unhashable
@example({"alg": "RS256", "kid": "k1", "typ": "at+jwt"},
         {"iss": ISSUER, "sub": "s", "exp": "soon", "iat": NOW})  # exp not a number
@example({"alg": "RS256", "kid": "k1", "crit": None}, {})  # joserfc: TypeError
@example({"alg": "RS256", "kid": "k1", "crit": [None]}, {})  # joserfc: TypeError in its message
def test_signed_tokens_with_any_claims_verify_or_are_invalid(header, payload):
    verify_both(signed(header, payload))


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_valid_access_token_round_trips_its_claims(sub, scope):
    token = signed({"alg": "RS256", "kid": "k1", "typ": "at+jwt"},
                   {"iss": ISSUER, "sub": sub, "scope": scope, "iat": NOW, "exp": NOW + 3600})
    claims = verify_access_token(token, keys=KEYS, issuers=[ISSUER], now=NOW)
    assert (claims.sub, claims.scope) == (sub, scope)


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_valid_id_token_hint_round_trips_its_subject(sub, aud):
    token = signed({"alg": "RS256", "kid": "k1"}, {"iss": ISSUER, "sub": sub, "aud": aud})
    assert verify_id_token_hint(token, keys=KEYS, issuers={ISSUER})["sub"] == sub
