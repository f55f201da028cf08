"""Passkeys of an account: registration, the challenges of both ceremonies, management.

Every passkey lives inside its account document (`users/<login>.json`), and
the `credential` index maps a credential id to the login so a sign-in finds
the account in one read however many accounts exist. Ceremonies use
py_webauthn; this module only decides what to expect and what to keep.
Challenges are kept server-side, single use, five minutes, and bound to the
browser that asked for them (the hash of its session's CSRF token).
"""

import base64
import json
import secrets
from dataclasses import dataclass

from webauthn import generate_registration_options, options_to_json, verify_registration_response
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from . import authenticators
from .errors import BadInput, Conflict, NotFound, SignInFailed
from .store import secret_id

CHALLENGE_LIFETIME = 300
MAX_NAME = 60
MAX_CREDENTIAL_ID = 1023  # WebAuthn L3 §5.1: credential ids are at most 1023 bytes
UV_POLICIES = ("required", "preferred", "discouraged")
ATTESTATION_POLICIES = ("none", "direct")


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
    return [Passkey(p) for p in account.doc.get("passkeys", [])]


def find(account, credential_id: str) -> Passkey | None:
    return next((p for p in passkeys_of(account) if p.id == credential_id), None)


def user_handle(account) -> bytes:
    """The WebAuthn user handle: random, not the login or email (WebAuthn L3 §14.6.1)."""
    return base64url_to_bytes(account.doc["webauthn_user_id"])


def check_credential_id(value) -> str:
    """A credential id from a request: base64url text of at most 1023 bytes."""
    if not isinstance(value, str) or not value or len(value) > (MAX_CREDENTIAL_ID * 4 + 2) // 3:
        raise SignInFailed("error.passkey_invalid")
    try:
        if bytes_to_base64url(base64url_to_bytes(value)) != value:
            raise ValueError(value)
    except (ValueError, TypeError, base64.binascii.Error):
        raise SignInFailed("error.passkey_invalid") from None
    return value


# -- challenges --------------------------------------------------------------

class Challenges:
    def __init__(self, store):
        self.records = store.transient("webauthn")

    def issue(self, *, purpose: str, browser: str, login: str | None = None) -> tuple[str, bytes]:
        challenge = secrets.token_bytes(32)
        cid = secrets.token_hex(16)
        self.records.put(cid, {"purpose": purpose, "browser": secret_id(browser), "login": login,
                               "challenge": bytes_to_base64url(challenge)}, ttl=CHALLENGE_LIFETIME)
        return cid, challenge

    def take(self, cid, *, purpose: str, browser: str, login: str | None = None) -> bytes:
        """The challenge, spent: single use, unexpired, same purpose, same browser."""
        if not isinstance(cid, str) or len(cid) != 32 or not all(c in "0123456789abcdef" for c in cid):
            raise SignInFailed("error.passkey_challenge")
        record = self.records.take(cid)
        if (record is None or record.get("purpose") != purpose
                or record.get("browser") != secret_id(browser) or record.get("login") != login):
            raise SignInFailed("error.passkey_challenge")
        return base64url_to_bytes(record["challenge"])


# -- registration ------------------------------------------------------------

def ensure_user_handle(accounts, login: str):
    with accounts.update(login) as doc:
        doc.setdefault("webauthn_user_id", bytes_to_base64url(secrets.token_bytes(32)))
        doc.setdefault("passkeys", [])
    return accounts.require(login)


def registration_options(*, account, rp_id: str, rp_name: str, policy: Policy, challenge: bytes) -> dict:
    """PublicKeyCredentialCreationOptions as JSON, excluding passkeys already registered."""
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


def _transports(values) -> list[AuthenticatorTransport]:
    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(v) for v in values or () if v in known]


def verify_registration(*, credential: dict, challenge: bytes, rp_id: str, origin: str,
                        policy: Policy, now: int, name: str | None = None) -> dict:
    """Verify navigator.credentials.create()'s result (WebAuthn L3 §7.1); the passkey to keep."""
    if not isinstance(credential, dict):
        raise BadInput("error.passkey_registration_failed")
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origin, require_user_verification=policy.uv_required)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        if "verification is required" in str(exc).lower():
            raise BadInput("error.passkey_uv_required") from exc
        raise BadInput("error.passkey_registration_failed") from exc
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
        "name": clean_name(name)[:MAX_NAME] or authenticators.name_of(aaguid) or "",
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


class Passkeys:
    """The passkeys of a tenant's accounts, with their credential-id index."""

    def __init__(self, tenant, accounts):
        self.tenant = tenant
        self.accounts = accounts
        self.index = tenant.store.index("credential")
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

    def remove(self, login: str, credential_id: str) -> None:
        with self.accounts.update(login) as doc:
            remaining = [p for p in doc.get("passkeys", []) if p["id"] != credential_id]
            if len(remaining) == len(doc.get("passkeys", [])):
                raise NotFound("error.passkey_not_found")
            if not remaining and not self.other_ways_to_sign_in(doc):
                raise Conflict("error.passkey_last")
            doc["passkeys"] = remaining
        self.index.remove(credential_id, login)

    def other_ways_to_sign_in(self, doc: dict) -> bool:
        """Whether the account can still sign in without any passkey."""
        methods = self.tenant.setting("methods", default=[])
        if doc.get("disabled"):
            return False
        return ("magic_link" in methods and bool(doc.get("email"))
                or "password" in methods and bool(doc.get("password")))

    def record_use(self, login: str, credential_id: str, *, sign_count: int, backed_up: bool,
                   now: int) -> None:
        with self.accounts.update(login) as doc:
            for passkey in doc.get("passkeys", []):
                if passkey["id"] == credential_id:
                    passkey.update(sign_count=sign_count, backed_up=backed_up, last_used=now)
