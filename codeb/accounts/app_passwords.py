"""App passwords: what a native XMPP client or SIP phone signs in with (issue 16).

A passwordless person has nothing a native client could type, so they create a named
app password per device and purpose (`xmpp`, `sip` or both). It is random, shown once
and never stored: the account document keeps, per app password, its name, purposes,
when it was created and last used, and its hashes, the same two as the optional password
(codeb.accounts.passwords):
- PBKDF2-HMAC-SHA256 with a 16-byte salt, for `verify` (the XMPP bridge); and
- SIP digest HA1 = H(username ":" realm ":" password) with MD5 (RFC 2617 §3.2.2.2) and
  SHA-256 (RFC 7616 §3.4.2), for the tenant's SIP server (`digest_ha1`).

`ITERATIONS` is low on purpose. Key stretching protects secrets people choose, which can
be guessed (NIST SP 800-63B §5.1.1.2); an app password is 20 characters drawn at random
from 32 (100 bits), and no number of guesses an attacker can afford finds it, stretched or
not. The HA1 values beside it are fast hashes anyway (SIP digest needs them). The XMPP
bridge checks on every client login, so a check must cost well under 10 ms: 2,000
iterations take about 1.5 ms. A check runs PBKDF2 exactly once, whatever the account holds:
a short `tag` (16 bits of SHA-256 of the secret, which tells nothing useful about 100 bits)
picks the candidate, and an unknown account or secret is compared against a dummy.

App passwords are never a way into the web sign-in or OIDC: nothing there reads them (the
password sign-in checks only `Account.password`, and the token endpoint has no password grant).
The tenant's admin can forbid them (`app_passwords.enabled` in tenant.json): then none is
created and none is accepted, and those already made are kept until the admin allows them again
or the person revokes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from .. import audit
from ..errors import BadInput, CodebError, Conflict, Forbidden, concerning
from ..store import layout
from .passwords import ha1

PURPOSES = ("xmpp", "sip")
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols: no l/1, o/0; lowercase, as phones type it
GROUPS, GROUP_LENGTH = 4, 5  # 20 symbols × 5 bits = 100 bits
ITERATIONS = 2_000
SALT_BYTES = 16
MAX_PER_ACCOUNT = 10
NAME_LENGTH = 60
LAST_USED_GRANULARITY = 3600  # `last_used` is rewritten at most once an hour per app password
ALGORITHMS = ("MD5", "SHA-256")
_SHAPE = re.compile(rf"[{ALPHABET}]{{{GROUPS * GROUP_LENGTH}}}")
_DUMMY: dict[str, Any] = {"salt": base64.b64encode(b"codeb-no-app-pwd").decode(), "iterations": ITERATIONS,
          "hash": base64.b64encode(bytes(32)).decode()}


@dataclass(frozen=True)
class AppPassword:
    """One app password as the person and the admin see it (no hash, never the secret)."""

    id: str
    name: str
    purposes: tuple[str, ...]
    created: int
    last_used: int | None

    @classmethod
    def of(cls, entry: dict) -> AppPassword:
        return cls(id=entry["id"], name=entry["name"], purposes=tuple(entry.get("purposes", ())),
                   created=int(entry.get("created") or 0), last_used=entry.get("last_used"))


# -- the tenant's setting -------------------------------------------------------------

def allowed_in(settings: dict | None) -> bool:
    """Whether the tenant's settings allow app passwords (they do unless an admin forbade them)."""
    part = (settings or {}).get("app_passwords")
    return not isinstance(part, dict) or part.get("enabled", True) is not False


def allowed(store) -> bool:
    """The tenant's setting, read from its tenant.json now (another process may have changed it)."""
    return allowed_in(store.read(layout.TENANT))


def settings_part(value) -> dict:
    """The admin's choice on the settings page: `allowed` or `forbidden`; a form without the
    field leaves the setting as it is."""
    if value is None:
        return {}
    if value not in ("allowed", "forbidden"):
        raise BadInput("error.settings_app_passwords")
    return {"app_passwords": {"enabled": value == "allowed"}}


# -- the secret -----------------------------------------------------------------------

def generate() -> str:
    """A new secret: four groups of five symbols, `abcde-fghij-kmnpq-rstuv`."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(symbols[i:i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))


def canonical(secret) -> str | None:
    """The secret as it was shown (lowercase, dashes between groups) from what someone typed
    (any case, with or without dashes or spaces); None if it cannot be one of ours.
    SIP digest hashes exactly what the phone was given, so the HA1 values use this form too."""
    if not isinstance(secret, str) or len(secret) > 64:
        return None
    symbols = re.sub(r"[\s-]", "", secret).lower()
    if not _SHAPE.fullmatch(symbols):
        return None
    return "-".join(symbols[i:i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))


def _tag(secret: str) -> str:
    return hashlib.sha256(b"codeb-app-password-tag:" + secret.encode()).hexdigest()[:4]


def _derive(secret: str, stored: dict) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), base64.b64decode(stored["salt"]), int(stored["iterations"]))


def hashed(secret: str, *, login: str, realm: str) -> dict:
    """What is kept of a secret: its tag, PBKDF2 and both HA1 values."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, ITERATIONS)
    return {"tag": _tag(secret),
            "pbkdf2": {"algorithm": "pbkdf2-sha256", "iterations": ITERATIONS,
                       "salt": base64.b64encode(salt).decode(), "hash": base64.b64encode(derived).decode()},
            "sip": {"realm": realm, "username": login,
                    "ha1_md5": ha1("MD5", login, realm, secret), "ha1_sha256": ha1("SHA-256", login, realm, secret)}}


# -- what the person (or the admin) does ------------------------------------------------

def listed(account) -> list[AppPassword]:
    """The account's app passwords, newest first."""
    entries = account.app_passwords if account is not None else []
    return sorted((AppPassword.of(e) for e in entries), key=lambda a: -a.created)


def clean_name(name) -> str:
    name = unicodedata.normalize("NFC", name.strip()) if isinstance(name, str) else ""
    if not name:
        raise BadInput("error.app_password_name")
    if len(name) > NAME_LENGTH or any(unicodedata.category(c).startswith("C") for c in name):
        raise BadInput("error.app_password_name_long", maximum=NAME_LENGTH)
    return name


def clean_purposes(purposes) -> list[str]:
    chosen = [p for p in PURPOSES if p in set(purposes or ())]
    if not chosen or len(chosen) != len(set(purposes or ())):
        raise BadInput("error.app_password_purpose")
    return chosen


def create(accounts, login: str, *, name, purposes, realm: str) -> tuple[AppPassword, str]:
    """A new app password: all checks first (the tenant allows them, a name, a purpose, the
    cap), then one write of its hashes. Returns it and its secret, which the caller shows once."""
    if not allowed(accounts.store):
        raise Forbidden("error.app_passwords_forbidden")
    with concerning("name"):
        name = clean_name(name)
    with concerning("purposes"):
        purposes = clean_purposes(purposes)
    secret = generate()
    now = int(accounts.store.clock())
    entry = {"id": secrets.token_hex(8), "name": name, "purposes": purposes, "created": now, "last_used": None,
             **hashed(secret, login=login, realm=realm)}
    with accounts.update(login) as doc:
        existing = doc.setdefault("app_passwords", [])
        if len(existing) >= MAX_PER_ACCOUNT:
            raise Conflict("error.app_password_limit", limit=MAX_PER_ACCOUNT)
        if any(e["name"].casefold() == name.casefold() for e in existing):
            raise Conflict("error.app_password_name_taken", field="name", name=name)
        existing.append(entry)
    return AppPassword.of(entry), secret


def revoke(accounts, login: str, app_password_id) -> AppPassword | None:
    """Revoke one app password by its id; None if the account has none by that id."""
    if not isinstance(app_password_id, str) or not any(a.id == app_password_id for a in listed(accounts.get(login))):
        return None
    with accounts.update(login) as doc:  # written only if it changed (Store.update)
        entries = doc.get("app_passwords") or []
        gone = [e for e in entries if e["id"] == app_password_id]
        doc["app_passwords"] = [e for e in entries if e["id"] != app_password_id]
    return AppPassword.of(gone[0]) if gone else None


def revoke_all(accounts, login: str) -> int:
    """Revoke every app password of the account (sign out everywhere, if the person chose it)."""
    account = accounts.get(login)
    if account is None or not account.app_passwords:
        return 0
    with accounts.update(login) as doc:
        count = len(doc.get("app_passwords") or [])
        doc["app_passwords"] = []
    return count


# -- what the XMPP bridge and the SIP server ask ---------------------------------------

def verify(accounts, login, secret, *, purpose: str, audited: bool = True) -> AppPassword | None:
    """The app password of `login` that `secret` is, if it is one for `purpose` and may be used
    now: the tenant allows app passwords and the account exists in this tenant (`accounts` is
    one tenant's) and is enabled. One PBKDF2 run and constant-time comparisons whatever the
    outcome. `last_used` is written at most once an hour. A refusal is audited, never the
    secret, unless the caller audits it in its own words (`audited=False`: the XMPP bridge's
    `xmpp.auth_refused` says more, and one refusal is one line)."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    account = _account(accounts, login)
    typed = canonical(secret)
    candidates = [e for e in account.app_passwords if purpose in e.get("purposes", ())] if account else []
    match = None
    for entry in candidates:  # every candidate compared, no early exit
        if typed is not None and hmac.compare_digest(entry.get("tag", ""), _tag(typed)) and match is None:
            match = entry
    stored = match["pbkdf2"] if match else _DUMMY
    right = hmac.compare_digest(_derive(typed or "", stored), base64.b64decode(stored["hash"]))
    reason = ("unknown" if account is None else "disabled" if account.disabled
              else "forbidden" if not allowed(accounts.store) else None if right and match else "wrong")
    if reason is not None:
        if account is not None and audited:
            audit.append(accounts.store, "app_password.refused", login=account.login, sub=account.sub,
                         purpose=purpose, reason=reason)
        return None
    assert match is not None and account is not None
    return _used(accounts, account.login, match)


def _account(accounts, login):
    try:
        return accounts.get(login) if isinstance(login, str) else None
    except CodebError:  # not a valid login at all
        return None


def _used(accounts, login: str, entry: dict) -> AppPassword:
    """Note the use, coarsely: no write at all within an hour of the last noted one."""
    now = int(accounts.store.clock())
    if now - int(entry.get("last_used") or 0) < LAST_USED_GRANULARITY:
        return AppPassword.of(entry)
    with accounts.update(login) as doc:
        for stored in doc.get("app_passwords") or []:
            if stored["id"] == entry["id"]:
                stored["last_used"] = now
                return AppPassword.of(stored)
    return AppPassword.of(entry)  # revoked a moment ago: this use was checked before


def digest_ha1(accounts, login, algorithm: str, *, realm: str | None = None) -> list[str]:
    """The HA1 values a SIP server may accept for `login` (RFC 2617 / RFC 7616 digest): those of
    the account's `sip` app passwords, while the tenant allows them, and its optional
    password's. Empty for an unknown or disabled account. `realm`: only values made for it."""
    if algorithm not in ALGORITHMS:
        raise ValueError(algorithm)
    account = _account(accounts, login)
    if account is None or account.disabled:
        return []
    key = "ha1_md5" if algorithm == "MD5" else "ha1_sha256"
    records = [e["sip"] for e in account.app_passwords if "sip" in e.get("purposes", ())] \
        if allowed(accounts.store) else []
    if account.password and account.password.get("sip"):
        records.append(account.password["sip"])
    return [r[key] for r in records if realm is None or r.get("realm") == realm]
