"""The optional password: stored twice, never in plaintext (DESIGN invariant 3).

Only when a tenant admin allows it. The password is kept as
- PBKDF2-HMAC-SHA256, 600,000 iterations, a 16-byte salt per account (the
  OWASP Password Storage Cheat Sheet's figure for PBKDF2-HMAC-SHA256), for
  signing in here; and
- SIP digest HA1 = H(username ":" realm ":" password), with MD5 (RFC 2617
  §3.2.2.2) and with SHA-256 (RFC 7616 §3.4.2, RFC 8760), for the tenant's SIP
  server, which authenticates phones by digest and needs HA1, not the password.
`change` is the one way a password reaches an account: it checks the current
one, the repetition and the strength, and stores only the hashes.
"""

import base64
import hashlib
import hmac
import secrets
from typing import Any

from ..errors import BadInput, concerning

ITERATIONS = 600_000
SALT_BYTES = 16
MIN_LENGTH = 12
MAX_LENGTH = 256


def ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """SIP digest HA1 in lowercase hex: MD5 (RFC 2617) or SHA-256 (RFC 7616)."""
    data = f"{username}:{realm}:{password}".encode()
    if algorithm == "MD5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if algorithm == "SHA-256":
        return hashlib.sha256(data).hexdigest()
    raise ValueError(algorithm)


def check_strength(password, *, login: str, email: str | None) -> str:
    """Length and obvious guesses (NIST SP 800-63B §3.1.1.2); BadInput with the reason."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise BadInput("error.password_short", minimum=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise BadInput("error.password_long", maximum=MAX_LENGTH)
    lowered = password.lower()
    if (login and login.lower() in lowered) or (email and email.split("@")[0].lower() in lowered):
        raise BadInput("error.password_personal")
    if len(set(password)) < 5:
        raise BadInput("error.password_guessable")
    return password


def hash_password(password: str, *, login: str, realm: str, now: int) -> dict:
    """The record to store for a password: PBKDF2 plus both HA1 values."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, ITERATIONS)
    return {
        "pbkdf2": {"algorithm": "pbkdf2-sha256", "iterations": ITERATIONS,
                   "salt": base64.b64encode(salt).decode(), "hash": base64.b64encode(derived).decode()},
        "sip": {"realm": realm, "username": login,
                "ha1_md5": ha1("MD5", login, realm, password),
                "ha1_sha256": ha1("SHA-256", login, realm, password)},
        "set": now,
    }


def verify_password(record: dict | None, password) -> bool:
    """Constant-time check against the PBKDF2 value; a missing record still costs the same."""
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        password = ""
    stored = (record or {}).get("pbkdf2") or DUMMY
    salt = base64.b64decode(stored["salt"])
    derived = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, int(stored["iterations"]))
    return record is not None and hmac.compare_digest(derived, base64.b64decode(stored["hash"]))


# Compared against when there is no account or no password, so the time taken
# does not tell whether the account exists.
DUMMY: dict[str, Any] = {"salt": base64.b64encode(b"codeb-no-account").decode(), "iterations": ITERATIONS,
         "hash": base64.b64encode(bytes(32)).decode()}


def sip_realm(tenant) -> str:
    """The SIP digest realm: the tenant's setting, else its first host."""
    return tenant.setting("sip_realm") or tenant.hosts[0]


def change(accounts, login: str, *, current, new, repeat, realm: str) -> None:
    """Set or replace the account's password: all checks first, then one write of the hashes."""
    account = accounts.require(login)
    if account.has_password and not verify_password(account.password, current):
        raise BadInput("error.password_current", field="current")
    if new != repeat:
        raise BadInput("error.password_mismatch", field="repeat")
    with concerning("new"):
        check_strength(new, login=account.login, email=account.email)
    record = hash_password(new, login=account.login, realm=realm, now=int(accounts.store.clock()))
    with accounts.update(login) as doc:
        doc["password"] = record


def remove(accounts, login: str) -> None:
    with accounts.update(login) as doc:
        doc.pop("password", None)
