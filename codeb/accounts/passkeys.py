"""Passkeys of an account: registration, the challenges of both ceremonies, management.

Every passkey lives inside its account document (`users/<login>.json`), and
the `credential` index maps a credential id to the login so a sign-in finds
the account in one read however many accounts exist. Ceremonies use
py_webauthn; this module only decides what to expect and what to keep.
py_webauthn is imported inside the functions that run a ceremony: loading it
costs about a quarter of a second (pyOpenSSL, pyasn1, cbor2), which a process
pays at its first ceremony, not at start-up; base64url, which every passkey
record uses, is py_webauthn's own two lines, here.
Challenges are single use, five minutes, and bound to the browser that asked
for them (the hash of its session's CSRF token); they are stateless until spent
(`Challenges`): nothing is stored when one is handed out.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInput, Conflict, NotFound, RateLimited, SignInFailed
from ..store import layout, secret_id
from ..tenants.secrets import named_secret
from . import Account, authenticators

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticatorData, AuthenticatorTransport


def base64url_to_bytes(value: str) -> bytes:
    """py_webauthn's decoder (padding optional; too much padding is ignored)."""
    return base64.urlsafe_b64decode(f"{value}===")


def bytes_to_base64url(value: bytes) -> str:
    """py_webauthn's encoder: base64url without padding."""
    return base64.urlsafe_b64encode(value).decode("utf-8").rstrip("=")

CHALLENGE_LIFETIME = 300
MAX_NAME = 60
MAX_CREDENTIAL_ID = 1023  # WebAuthn L3 §5.1: credential ids are at most 1023 bytes
UV_POLICIES = ("required", "preferred", "discouraged")
ATTESTATION_POLICIES = ("none", "direct")
AAGUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_PER_ACCOUNT = 100
# Challenges one client network may have created, each (how many, per seconds): the sign-in
# page asks once for the autofill and once per button press, so an office of 300 behind one
# NAT address fits; a flood of fresh browsers does not.
CHALLENGES_PER_CLIENT = (
    (120, 60),   # a burst: two a second for a minute
    (900, 900),  # the ceiling per quarter hour
)


@dataclass(frozen=True)
class Policy:
    """A tenant's passkey rules (`passkeys` in tenant.json)."""

    user_verification: str = "required"
    attestation: str = "none"
    allowed_aaguids: tuple = ()
    max_per_account: int = 10

    @classmethod
    def of(cls, tenant) -> "Policy":
        raw = tenant.setting("passkeys", default={}) or {}
        uv = raw.get("user_verification", "required")
        attestation = raw.get("attestation", "none")
        return cls(
            user_verification=uv if uv in UV_POLICIES else "required",
            attestation=attestation if attestation in ATTESTATION_POLICIES else "none",
            allowed_aaguids=tuple(a.lower() for a in raw.get("allowed_aaguids", ()) or ()),
            max_per_account=int(raw.get("max_per_account", 10)),
        )

    @property
    def uv_required(self) -> bool:
        return self.user_verification == "required"

    @staticmethod
    def validate(*, user_verification, attestation, allowed_aaguids, max_per_account) -> dict:
        """The policy an admin submitted, checked, as it is stored in tenant.json."""
        if user_verification not in UV_POLICIES or attestation not in ATTESTATION_POLICIES:
            raise BadInput("error.bad_request")
        aaguids = sorted({a.strip().lower() for a in allowed_aaguids or () if a.strip()})
        if any(not AAGUID_PATTERN.fullmatch(a) for a in aaguids):
            raise BadInput("error.settings_aaguid")
        try:
            limit = int(max_per_account)
        except (TypeError, ValueError):
            raise BadInput("error.settings_numbers") from None
        if not 1 <= limit <= MAX_PER_ACCOUNT:
            raise BadInput("error.settings_numbers")
        return {"user_verification": user_verification, "attestation": attestation,
                "allowed_aaguids": aaguids, "max_per_account": limit}


@dataclass(frozen=True)
class Passkey:
    doc: dict

    id = property(lambda self: self.doc["id"])
    name = property(lambda self: self.doc.get("name") or "")
    aaguid = property(lambda self: self.doc.get("aaguid"))
    sign_count = property(lambda self: int(self.doc.get("sign_count", 0)))
    created = property(lambda self: self.doc.get("created"))
    last_used = property(lambda self: self.doc.get("last_used"))
    backup_eligible = property(lambda self: bool(self.doc.get("backup_eligible")))
    backed_up = property(lambda self: bool(self.doc.get("backed_up")))

    @property
    def authenticator(self) -> str | None:
        return authenticators.name_of(self.aaguid)

    @property
    def public_key(self) -> bytes:
        return base64url_to_bytes(self.doc["public_key"])


def passkeys_of(account) -> list[Passkey]:
    return [Passkey(p) for p in account.doc.get("passkeys", [])]  # this package reads the document


def find(account, credential_id: str) -> Passkey | None:
    return next((p for p in passkeys_of(account) if p.id == credential_id), None)


def user_handle(account) -> bytes:
    """The WebAuthn user handle: random, not the login or email (WebAuthn L3 §14.6.1)."""
    return base64url_to_bytes(account.doc["webauthn_user_id"])  # this package reads the document


def accepted_credentials(account) -> tuple[str, list[str]] | None:
    """(user handle, credential ids) as base64url: what the WebAuthn Signal API tells the
    browser still counts (`signalAllAcceptedCredentials`), or None before any passkey."""
    handle = account.doc.get("webauthn_user_id")  # this package reads the document
    return (handle, [p.id for p in passkeys_of(account)]) if handle else None


def check_credential_id(value) -> str:
    """A credential id from a request: base64url text of at most 1023 bytes."""
    if not isinstance(value, str) or not value or len(value) > (MAX_CREDENTIAL_ID * 4 + 2) // 3:
        raise SignInFailed("error.passkey_invalid")
    try:
        if bytes_to_base64url(base64url_to_bytes(value)) != value:
            raise ValueError(value)
    except (ValueError, TypeError, binascii.Error):
        raise SignInFailed("error.passkey_invalid") from None
    return value


# -- challenges --------------------------------------------------------------

class Challenges:
    """Stateless challenges: the challenge id carries a random id, the challenge, its expiry and
    a MAC over them and what it is bound to (the purpose, the browser, the login), under the tenant's
    `webauthn-challenge` key. Issuing one stores nothing, so anonymous requests cannot pile
    records up however many they make (issue 9, finding 6), and one client network still
    creates at most `CHALLENGES_PER_CLIENT`. Taking one spends it: an exclusive create of a
    marker that lives until the challenge expires, so each is accepted once, across processes."""

    # The id's parts in bytes: a random id, the challenge, its expiry (seconds, big-endian), the MAC.
    RANDOM, CHALLENGE, EXPIRY, MAC = 8, 32, 5, 16
    BODY = RANDOM + CHALLENGE + EXPIRY  # what the MAC covers, with what the challenge is bound to
    CID_LENGTH = 2 * (BODY + MAC)  # in hex

    def __init__(self, store):
        self.store = store
        self.records = store.transient(layout.WEBAUTHN_CHALLENGES)

    def issue(self, *, purpose: str, browser: str, client: str, login: str | None = None) -> tuple[str, bytes]:
        """A new challenge for `browser`; `client` is the network it asks from (an IPv4
        address or an IPv6 /64), RateLimited (429) past its limits."""
        wait = self.store.counter(layout.WEBAUTHN_PER_CLIENT).hit_rules(client, CHALLENGES_PER_CLIENT)
        if wait:
            raise RateLimited(wait, "error.passkey_rate_limited")
        challenge = secrets.token_bytes(self.CHALLENGE)
        expires = int(self.store.clock() + CHALLENGE_LIFETIME)
        body = secrets.token_bytes(self.RANDOM) + challenge + expires.to_bytes(self.EXPIRY, "big")
        return (body + self._mac(body, purpose, browser, login)).hex(), challenge

    def _mac(self, body: bytes, purpose: str, browser: str, login: str | None) -> bytes:
        bound = json.dumps([purpose, secret_id(browser), login]).encode("utf-8")
        key = named_secret(self.store, layout.WEBAUTHN_CHALLENGE_KEY)
        return hmac.new(key, b"webauthn-challenge\0" + body + bound, hashlib.sha256).digest()[:self.MAC]

    def take(self, cid, *, purpose: str, browser: str, login: str | None = None) -> bytes:
        """The challenge, spent: single use, unexpired, same purpose, same browser, this tenant."""
        if (not isinstance(cid, str) or len(cid) != self.CID_LENGTH
                or not all(c in "0123456789abcdef" for c in cid)):
            raise SignInFailed("error.passkey_challenge")
        raw = bytes.fromhex(cid)
        body, mac = raw[:self.BODY], raw[self.BODY:]
        left = int.from_bytes(body[self.RANDOM + self.CHALLENGE:], "big") - self.store.clock()
        if not hmac.compare_digest(mac, self._mac(body, purpose, browser, login)) or left <= 0:
            raise SignInFailed("error.passkey_challenge")
        if not self.records.create(secret_id(body.hex()), {}, ttl=left):
            raise SignInFailed("error.passkey_challenge")  # spent before, here or in another process
        return body[self.RANDOM:self.RANDOM + self.CHALLENGE]


# -- why a ceremony was refused ------------------------------------------------

WRONG_SITE, UV_MISSING, INVALID = "wrong_site", "uv_missing", "invalid"


def refusal(credential: dict, *, ceremony: str, challenge: bytes, rp_id: str, origin: str,
            uv_required: bool) -> str:
    """Why py_webauthn refused a ceremony, read from the data the browser sent, to
    tell the person what to do: WRONG_SITE (origin or RP ID of another site), UV_MISSING
    (no PIN or biometric where the policy needs one), or INVALID.

    The checks run in the order of WebAuthn L3 §7.1 / §7.2 (client data type,
    challenge, origin, RP ID hash, user presence, user verification), so the reason
    is the first step that failed. The verdict itself is py_webauthn's: this only
    picks the message, and a credential it accepted is never classified.
    """
    from webauthn.helpers import (  # noqa: PLC0415 -- py_webauthn loads on first use (see above)
        parse_attestation_object,
        parse_authenticator_data,
        parse_client_data_json,
    )
    from webauthn.helpers.structs import ClientDataType  # noqa: PLC0415

    try:
        response = credential["response"]
        client = parse_client_data_json(base64url_to_bytes(response["clientDataJSON"]))
        if ceremony == "create":
            data = parse_attestation_object(base64url_to_bytes(response["attestationObject"])).auth_data
            expected_type = ClientDataType.WEBAUTHN_CREATE
        else:
            data = parse_authenticator_data(base64url_to_bytes(response["authenticatorData"]))
            expected_type = ClientDataType.WEBAUTHN_GET
    except Exception:  # noqa: BLE001 -- anything unreadable is simply invalid
        return INVALID
    return _first_failed_step(client, data, expected_type=expected_type, challenge=challenge,
                              rp_id=rp_id, origin=origin, uv_required=uv_required)


def _first_failed_step(client, data: "AuthenticatorData", *, expected_type, challenge: bytes, rp_id: str,
                       origin: str, uv_required: bool) -> str:
    if client.type != expected_type or client.challenge != challenge:
        return INVALID
    if client.origin != origin or data.rp_id_hash != hashlib.sha256(rp_id.encode("utf-8")).digest():
        return WRONG_SITE
    if not data.flags.up:
        return INVALID
    if uv_required and not data.flags.uv:
        return UV_MISSING
    return INVALID


# -- registration ------------------------------------------------------------

def ensure_user_handle(accounts, login: str):
    with accounts.update(login) as doc:
        doc.setdefault("webauthn_user_id", bytes_to_base64url(secrets.token_bytes(32)))
        doc.setdefault("passkeys", [])
    return accounts.require(login)


def registration_options(*, account, rp_id: str, rp_name: str, policy: Policy, challenge: bytes) -> dict:
    """PublicKeyCredentialCreationOptions as JSON, excluding passkeys already registered."""
    from webauthn import generate_registration_options, options_to_json  # noqa: PLC0415 -- see above
    from webauthn.helpers.structs import (  # noqa: PLC0415
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=user_handle(account),
        user_name=account.email or account.login,
        user_display_name=account.display_name,
        challenge=challenge,
        timeout=CHALLENGE_LIFETIME * 1000,
        attestation=AttestationConveyancePreference(policy.attestation),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement(policy.user_verification),
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.id),
                                          transports=_transports(p.doc.get("transports")))
            for p in passkeys_of(account)
        ],
    )
    return json.loads(options_to_json(options))


def _transports(values) -> list["AuthenticatorTransport"]:
    from webauthn.helpers.structs import AuthenticatorTransport  # noqa: PLC0415 -- py_webauthn on first use

    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(v) for v in values or () if v in known]


def verify_registration(*, credential: dict, challenge: bytes, rp_id: str, origin: str,
                        policy: Policy, now: int, name: str | None = None) -> dict:
    """Verify navigator.credentials.create()'s result (WebAuthn L3 §7.1); the passkey to keep."""
    from webauthn import verify_registration_response  # noqa: PLC0415 -- py_webauthn on first use
    from webauthn.helpers.exceptions import WebAuthnException  # noqa: PLC0415
    from webauthn.helpers.structs import CredentialDeviceType  # noqa: PLC0415

    if not isinstance(credential, dict):
        raise BadInput("error.passkey_registration_failed")
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, require_user_verification=policy.uv_required)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = refusal(credential, ceremony="create", challenge=challenge, rp_id=rp_id, origin=origin,
                         uv_required=policy.uv_required)
        raise BadInput("error.passkey_uv_required" if reason == UV_MISSING
                       else "error.passkey_registration_failed") from exc
    aaguid = str(verified.aaguid).lower()
    if policy.allowed_aaguids and aaguid not in policy.allowed_aaguids:
        raise BadInput("error.passkey_authenticator_not_allowed")
    if policy.attestation == "direct" and verified.fmt == "none":
        raise BadInput("error.passkey_attestation_required")
    transports = (credential.get("response") or {}).get("transports") or []
    return {
        "id": bytes_to_base64url(verified.credential_id),
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "sign_count": verified.sign_count,
        "aaguid": aaguid,
        "fmt": str(getattr(verified.fmt, "value", verified.fmt)),
        "transports": [t for t in transports if isinstance(t, str)][:8],
        "backup_eligible": verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        "backed_up": bool(verified.credential_backed_up),
        "user_verified": bool(verified.user_verified),
        "name": typed_name(name) or authenticators.name_of(aaguid) or "",
        "created": now,
        "last_used": None,
    }


# -- management --------------------------------------------------------------

ZWJ = "\u200d"  # joins emoji sequences (a family, a flag): printable in effect


def clean_name(value) -> str:
    """Printable text on one line: other whitespace becomes a space, control characters go."""
    if not isinstance(value, str):
        return ""
    kept = "".join(c if c.isprintable() or c == ZWJ else " " if c.isspace() else "" for c in value)
    return " ".join(kept.split())


def typed_name(value) -> str:
    """The name typed for a new passkey: "" when nothing was typed (the authenticator's name is
    used), else the cleaned name; one that cleans to nothing or is too long is refused rather
    than dropped or cut (BadInput, field "name")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    cleaned = clean_name(value)
    if not cleaned or len(cleaned) > MAX_NAME:
        raise BadInput("error.passkey_name", field="name")
    return cleaned


class Passkeys:
    """The passkeys of a tenant's accounts, with their credential-id index."""

    def __init__(self, tenant, accounts):
        self.tenant = tenant
        self.accounts = accounts
        self.index = tenant.store.index(layout.BY_CREDENTIAL)
        self.policy = Policy.of(tenant)

    def owner(self, credential_id: str):
        """The account a credential id belongs to (one index read), or None."""
        login = self.index.get(credential_id)
        account = self.accounts.get(login) if login else None
        if account is None or find(account, credential_id) is None:
            return None
        return account

    def add(self, login: str, passkey: dict) -> Passkey:
        with self.accounts.update(login) as doc:
            existing = doc.setdefault("passkeys", [])
            if any(p["id"] == passkey["id"] for p in existing):
                raise Conflict("error.passkey_registered")
            if len(existing) >= self.policy.max_per_account:
                raise Conflict("error.passkey_limit", limit=self.policy.max_per_account)
            if not self.index.claim(passkey["id"], login):
                raise Conflict("error.passkey_registered")
            existing.append(passkey)
        return Passkey(passkey)

    def rename(self, login: str, credential_id: str, name: str) -> None:
        cleaned = clean_name(name)
        if not cleaned or len(cleaned) > MAX_NAME:
            raise BadInput("error.passkey_name")
        with self.accounts.update(login) as doc:
            target = next((p for p in doc.get("passkeys", []) if p["id"] == credential_id), None)
            if target is None:
                raise NotFound("error.passkey_not_found")
            target["name"] = cleaned

    def remove(self, login: str, credential_id: str, *, can_sign_in) -> None:
        """Remove a passkey, unless it is the account's only way in: `can_sign_in(account)`
        says whether the account, without it, can still sign in by a method of the tenant
        (`codeb.signin.can_sign_in`)."""
        with self.accounts.update(login) as doc:
            remaining = [p for p in doc.get("passkeys", []) if p["id"] != credential_id]
            if len(remaining) == len(doc.get("passkeys", [])):
                raise NotFound("error.passkey_not_found")
            if not remaining and not can_sign_in(Account({**doc, "passkeys": remaining})):
                raise Conflict("error.passkey_last")
            doc["passkeys"] = remaining
        self.index.remove(credential_id, login)


@dataclass(frozen=True)
class PasskeyUse:
    """What a sign-in changed in its passkey, applied to the account document under its
    lock: only that. A synced passkey always reports 0 (WebAuthn L3 §6.1.1), so its counter
    is not rewritten, and the last use is kept to LAST_USE_GRANULARITY: a sign-in that
    changes nothing leaves the document as it was (and so writes nothing)."""

    credential_id: str
    sign_count: int
    backed_up: bool
    now: int

    def __call__(self, doc: dict) -> None:
        for passkey in doc.get("passkeys", []):
            if passkey["id"] == self.credential_id:
                _note_use(passkey, sign_count=self.sign_count, backed_up=self.backed_up, now=self.now)


LAST_USE_GRANULARITY = 3600  # the account page shows the day a passkey was last used


def _note_use(passkey: dict, *, sign_count: int, backed_up: bool, now: int) -> None:
    if int(passkey.get("sign_count", 0)) != sign_count:
        passkey["sign_count"] = sign_count
    if bool(passkey.get("backed_up")) != backed_up:
        passkey["backed_up"] = backed_up
    last = passkey.get("last_used")
    if last is None or not 0 <= now - last < LAST_USE_GRANULARITY:
        passkey["last_used"] = now
