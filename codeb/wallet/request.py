"""What CodeB asks an EU Digital Identity Wallet for: the OpenID4VP 1.0 request (HAIP 1.0).

A sign-in asks for the person identification data (PID) in either format a wallet may
hold it in, SD-JWT VC (`dc+sd-jwt`, `vct` `urn:eudi:pid:1` and the national types the
tenant adds) or mdoc (`mso_mdoc`, docType `eu.europa.ec.eudi.pid.1`), in one DCQL query
whose `credential_sets` let either answer, and only for the claims the tenant names
(`CLAIMS`; by default given name, family name, birth date), none of them to be retained.

The request is a signed request object (JAR, RFC 9101): `typ` `oauth-authz-req+jwt`,
ES256 by the tenant's verifier key, `x5c` its certificate and intermediates (not the
root). The client identifier is `x509_hash:` and the SHA-256 of that certificate
(OpenID4VP §5.9.3), or, as a tenant option, `x509_san_dns:` and the host. The answer
comes back encrypted (`direct_post.jwt`) to an ECDH-ES P-256 key made for this one
request, whose public half is in `client_metadata.jwks`; plain `direct_post` is a
tenant option for development only. Over the browser's Digital Credentials API the same
signed request goes with `response_mode` `dc_api.jwt` and `expected_origins`.

The wallet is invoked with a URL carrying only `client_id` and `request_uri`
(`authorization_url`); it fetches the request object there, by GET, or by POST with
its `wallet_nonce`, which the object then repeats.
"""

import base64
import urllib.parse
from collections.abc import Sequence

from joserfc import jwt
from joserfc.jwk import ECKey

PID_VCT = "urn:eudi:pid:1"
PID_DOCTYPE = "eu.europa.ec.eudi.pid.1"
SD_JWT, MDOC = "dc+sd-jwt", "mso_mdoc"
SD_JWT_QUERY, MDOC_QUERY = "pid_sd_jwt", "pid_mdoc"  # the DCQL credential query ids

# The claims a tenant may ask for, by CodeB's name: (its path in the SD-JWT VC PID, its
# element in the mdoc PID's namespace), per the PID rulebook of the EUDI Wallet ARF.
CLAIMS: dict[str, tuple[tuple[str, ...], str]] = {
    "given_name": (("given_name",), "given_name"),
    "family_name": (("family_name",), "family_name"),
    "birth_date": (("birthdate",), "birth_date"),
    "personal_administrative_number": (("personal_administrative_number",), "personal_administrative_number"),
    "nationality": (("nationalities",), "nationality"),
    "email": (("email",), "email_address"),
}
DEFAULT_CLAIMS = ("given_name", "family_name", "birth_date")
# What names the person at every sign-in (`codeb.signin.wallet.link_subject`): always asked for,
# whatever else the tenant adds; the personal administrative number too where the PID has it
# (the query's first claim set: a wallet answers with it if it can, else with the second).
IDENTITY_CLAIMS = DEFAULT_CLAIMS
LINK_CLAIM = "personal_administrative_number"

RESPONSE_ENC = ("A128GCM", "A256GCM")  # HAIP: the content encryption a wallet may choose
ALGORITHMS = ("ES256",)                # what the request is signed with, and what we accept from wallets
SCHEMES = ("openid4vp", "haip-vp", "eudi-openid4vp")  # the URL schemes wallets register
REQUEST_LIFETIME = 300                 # seconds a request object is valid (`exp`)
WALLET_AUDIENCE = "https://self-issued.me/v2"  # RFC 9101 `aud` of a request object for "any wallet" (§5.8)


def requested(claims: Sequence[str]) -> list[str]:
    """The claims a sign-in asks for: the identity claims, then the tenant's others, and the
    link claim (optional in the query), each once, in `CLAIMS`' order."""
    chosen = set(IDENTITY_CLAIMS) | {name for name in claims if name in CLAIMS} | {LINK_CLAIM}
    return [name for name in CLAIMS if name in chosen]


def dcql_query(claims: Sequence[str], *, vct_values: Sequence[str] = (PID_VCT,), sd_jwt: bool = True,
               mdoc: bool = True) -> dict:
    """The DCQL query for the PID with `claims` (CodeB's names; `requested`), in each format
    asked for; two claim sets, with the link claim and without it (OpenID4VP §6.4.1)."""
    named = requested(claims)
    sets = [named, [name for name in named if name != LINK_CLAIM]]
    credentials: list[dict] = []
    if sd_jwt:
        credentials.append({"id": SD_JWT_QUERY, "format": SD_JWT, "meta": {"vct_values": list(vct_values)},
                            "claims": [{"id": name, "path": list(CLAIMS[name][0])} for name in named],
                            "claim_sets": sets})
    if mdoc:
        credentials.append({"id": MDOC_QUERY, "format": MDOC, "meta": {"doctype_value": PID_DOCTYPE},
                            "claims": [{"id": name, "path": [PID_DOCTYPE, CLAIMS[name][1]], "intent_to_retain": False}
                                       for name in named],
                            "claim_sets": sets})
    return {"credentials": credentials, "credential_sets": [{"options": [[c["id"]] for c in credentials]}]}


def claims_of(fmt: str, claims: dict) -> dict:
    """A verified credential's claims (`Presented.claims`) by CodeB's names, those present."""
    found = claims.get(PID_DOCTYPE, {}) if fmt == MDOC else claims
    if not isinstance(found, dict):
        return {}
    out = {}
    for name, (path, element) in CLAIMS.items():
        value = found.get(element) if fmt == MDOC else _at(found, path)
        if value is not None:
            out[name] = value
    return out


def _at(claims: dict, path: Sequence[str]):
    value: object = claims
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def client_metadata(encryption_key: dict | None, *, client_name: str | None = None) -> dict:
    """What the wallet learns of the verifier with the request: the formats and algorithms it
    takes and, for an encrypted answer, the request's public ECDH-ES key (`use` enc, `kid`)."""
    meta: dict = {"vp_formats_supported": {
        SD_JWT: {"sd-jwt_alg_values": list(ALGORITHMS), "kb-jwt_alg_values": list(ALGORITHMS)},
        MDOC: {"issuerauth_alg_values": [-7, -9], "deviceauth_alg_values": [-7, -9]},
    }}
    if encryption_key is not None:
        meta["jwks"] = {"keys": [encryption_key]}
        meta["encrypted_response_enc_values_supported"] = list(RESPONSE_ENC)
    if client_name:
        meta["client_name"] = client_name
    return meta


def client_id(prefix: str, *, x509_hash: str, host: str) -> str:
    """The full client identifier (`x509_hash:<hash>` or `x509_san_dns:<host>`): also the `aud`
    a wallet's key binding names, and part of an mdoc's session transcript."""
    return f"x509_san_dns:{host}" if prefix == "x509_san_dns" else f"x509_hash:{x509_hash}"


def request_object(*, key, chain: Sequence[bytes], claims: dict, now: int) -> str:
    """The signed request object (JAR) with `claims` (the request parameters): `typ`
    `oauth-authz-req+jwt`, ES256, `x5c` the verifier's chain (leaf first, no root)."""
    header = {"alg": "ES256", "typ": "oauth-authz-req+jwt",
              "x5c": [base64.b64encode(bytes(der)).decode("ascii") for der in chain]}
    body = {"aud": WALLET_AUDIENCE, "iat": now, "exp": now + REQUEST_LIFETIME, **claims}
    return jwt.encode(header, body, ECKey.import_key(key), algorithms=list(ALGORITHMS))


def parameters(*, client_id: str, response_uri: str | None, nonce: str, state: str | None, dcql: dict,
               metadata: dict, response_mode: str, wallet_nonce: str | None = None,
               expected_origins: Sequence[str] | None = None) -> dict:
    """The request parameters a request object carries (OpenID4VP §5, and §A for the DC API)."""
    params: dict = {"client_id": client_id, "response_type": "vp_token", "response_mode": response_mode,
                    "nonce": nonce, "dcql_query": dcql, "client_metadata": metadata}
    if response_uri is not None:
        params["response_uri"] = response_uri
    if state is not None:
        params["state"] = state
    if wallet_nonce is not None:
        params["wallet_nonce"] = wallet_nonce
    if expected_origins is not None:
        params["expected_origins"] = list(expected_origins)
    return params


def authorization_url(scheme: str, *, client_id: str, request_uri: str, method: str = "post") -> str:
    """What invokes the wallet (a link, a QR code): `<scheme>://?client_id=…&request_uri=…`."""
    query = urllib.parse.urlencode({"client_id": client_id, "request_uri": request_uri,
                                    "request_uri_method": method})
    return f"{scheme}://?{query}"
