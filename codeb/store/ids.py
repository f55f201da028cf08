"""Names derived from secrets and keys: what the store files a record under."""

import hashlib


def secret_id(secret: str) -> str:
    """The name under which a secret's record is stored: its SHA-256, never itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_id(key: str) -> str:
    """A short, path-safe name for any key (an email with `/`, a base64 credential id)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
