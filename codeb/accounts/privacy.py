"""GDPR erasure and export of one account's data (Art. 17 and Art. 20).

Call recordings, transcripts and chat archives live per account under the
tenant, `<kind>/<login>/`. Erasing one kind removes the account's folder in one
step (the store renames it aside first, so nobody sees a half-erased folder)
and answers with what went: how many files, how many bytes, never their
content. The export is one document, the same whoever asks for it (the person
from their account page, an admin for them).
"""

from .. import audit
from ..errors import BadInput
from ..store import layout, names
from . import authenticators

KINDS = layout.ERASABLE

# What the export shows of an account document: an allow-list, so that a field added
# later (a secret, a verifier, bookkeeping) stays out until someone decides it belongs.
# Never exported: the password's PBKDF2 salt and hash and its SIP HA1 values (HA1 is
# password-equivalent for SIP digest), passkey credential ids and public keys, the
# WebAuthn user handle, session ids, `sessions_not_before`.
ACCOUNT_FIELDS = ("login", "sub", "email", "email_verified", "display_name", "nickname", "language",
                  "roles", "ext", "sip", "created", "profile_confirmed", "disabled")
PASSKEY_FIELDS = ("name", "created", "last_used")
SESSION_FIELDS = ("created", "ip", "agent", "method", "passkey")


def _folder(kind: str, login: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise BadInput("error.erasure_kind")
    return kind, names.login_name(login)


def inventory(store, login: str) -> dict[str, dict]:
    """Per kind: how many files the account has and their total size."""
    return {kind: store.usage(*_folder(kind, login)) for kind in KINDS}


def erase(store, login: str, kind: str) -> dict:
    """Delete the account's files of one kind; return what was erased (counts, not content)."""
    folder = _folder(kind, login)
    counted = store.usage(*folder)
    store.remove_tree(*folder)
    return counted


def _pick(record: dict, fields) -> dict:
    return {k: record[k] for k in fields if k in record}


def exported_account(doc: dict) -> dict:
    """The account as a person recognises it: profile and addresses, what each passkey is
    called and when it was made and used, that a password is set and since when, where they
    signed in. Secrets and their verifiers never (see ACCOUNT_FIELDS)."""
    password = doc.get("password")
    return {
        **_pick(doc, ACCOUNT_FIELDS),
        "password": {"set": bool(password), "since": password.get("set") if password else None},
        "passkeys": [{**_pick(p, PASSKEY_FIELDS), "authenticator": authenticators.name_of(p.get("aaguid"))}
                     for p in doc.get("passkeys", [])],
        "sessions": [_pick(s, SESSION_FIELDS) for s in doc.get("sessions", [])],
    }


def export(store, tenant_name: str, account) -> dict:
    """Everything the tenant holds about the account, machine-readable: the account as
    `exported_account` shows it, what files it has, and its security events."""
    return {
        "tenant": tenant_name,
        "exported": int(store.clock()),
        "account": exported_account(account.doc),
        "files": inventory(store, account.login),
        "security_events": audit.of_account(store, account.login),
    }


def export_filename(tenant_name: str, login: str) -> str:
    return f"codeb-{tenant_name}-{login}.json"
