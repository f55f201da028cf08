"""GDPR erasure and export of one account's data (Art. 17 and Art. 20).

Call recordings, transcripts and chat archives live per person under the
tenant, `<kind>/<person>/`, where the person is named by the account's `sub`
(`layout.person`), never by the login: a login can be given to someone else
after its account is deleted, and that person inherits nothing. Erasing one
kind removes the person's folder in one step (the store renames it aside
first, so nobody sees a half-erased folder) and answers with what went: how
many files, how many bytes, never their content. Deleting an account erases
all of it, unless an admin keeps it for legal hold: then it stays under the
old sub, with a record that says whose it was, until an admin erases it.
The export is one document, the same whoever asks for it (the person from
their account page, an admin for them). A person's chat messages (codeb.rooms) are in it;
deleting the account erases their texts too, unless a legal hold keeps the files.
"""

from .. import audit
from ..errors import BadInput, Conflict, NotFound
from ..rooms.channels import Channels
from ..store import layout
from . import authenticators

KINDS = layout.ERASABLE

# What the export shows of an account document: an allow-list, so that a field added
# later (a secret, a verifier, bookkeeping) stays out until someone decides it belongs.
# Never exported: the password's PBKDF2 salt and hash and its SIP HA1 values (HA1 is
# password-equivalent for SIP digest), passkey credential ids and public keys, the
# WebAuthn user handle, session ids, `sessions_not_before`, `tokens_not_before`.
ACCOUNT_FIELDS = ("login", "sub", "email", "email_verified", "display_name", "nickname", "language",
                  "roles", "ext", "sip", "created", "profile_confirmed", "disabled", "links")
PASSKEY_FIELDS = ("name", "created", "last_used")
SESSION_FIELDS = ("created", "ip", "agent", "method", "passkey")
APP_PASSWORD_FIELDS = ("name", "purposes", "created", "last_used")  # never a hash (codeb.accounts.app_passwords)


def folder(kind: str, sub: str) -> tuple[str, str]:
    """The store folder of one person's files of one kind."""
    if kind not in KINDS:
        raise BadInput("error.erasure_kind")
    return kind, layout.person(sub)


def inventory(store, sub: str) -> dict[str, dict]:
    """Per kind: how many files the person with this sub has and their total size."""
    return {kind: store.usage(*folder(kind, sub)) for kind in KINDS}


def erase(store, sub: str, kind: str, *, releasing: bool = False) -> dict:
    """Delete the person's files of one kind; return what was erased (counts, not content).
    Refused while a legal hold keeps them, unless `releasing` is that hold's own end."""
    where = folder(kind, sub)
    if not releasing and held(store, sub):
        raise Conflict("error.erase_held")
    counted = store.usage(*where)
    store.remove_tree(*where)
    return counted


def erase_all(store, sub: str, *, releasing: bool = False) -> dict[str, dict]:
    """Delete every kind of the person's files (an account's deletion); what went, per kind."""
    if not releasing and held(store, sub):
        raise Conflict("error.erase_held")
    return {kind: erase(store, sub, kind, releasing=releasing) for kind in KINDS}


# -- legal hold: files an admin keeps, of a live account or past its deletion -----------------
#
# One record per person, `legal-holds/<person>.json`. On a live account it says who placed
# it, when and why; while it stands, nothing erases the person's files: not the admin's
# erasure, not the person's "Delete my account", not an admin's deletion that would erase
# them (deleting while keeping the files is allowed: the hold then carries on past it, with
# the time of the deletion added).

REASON_MAX = 500


def clean_reason(value) -> str:
    reason = " ".join(str(value or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise BadInput("error.hold_reason", field="reason", max=REASON_MAX)
    return reason


def place_hold(store, account, *, by: str, reason) -> dict:
    """Keep the live account's files from any erasure until an admin lifts the hold."""
    reason = clean_reason(reason)
    with store.lock(layout.LEGAL_HOLDS, layout.person(account.sub)):
        if store.exists(layout.LEGAL_HOLDS, layout.person(account.sub)):
            raise Conflict("error.hold_exists")
        record = {"sub": account.sub, "login": account.login, "placed": int(store.clock()), "by": by,
                  "reason": reason}
        store.write(layout.LEGAL_HOLDS, layout.person(account.sub), doc=record)
    return record


def hold_of(store, sub: str) -> dict | None:
    """The legal hold on this person's files, if there is one."""
    return store.read(layout.LEGAL_HOLDS, layout.person(sub))


def lift_hold(store, account, *, reason) -> dict:
    """End the hold on a live account (its files stay; they are only no longer protected)."""
    reason = clean_reason(reason)
    with store.lock(layout.LEGAL_HOLDS, layout.person(account.sub)):
        record = hold_of(store, account.sub)
        if record is None:
            raise NotFound("error.hold_missing")
        store.delete(layout.LEGAL_HOLDS, layout.person(account.sub))
    return {**record, "lift_reason": reason}


def hold(store, account, *, by: str) -> None:
    """Keep the account's files past its deletion, and note whose they were and who kept them
    (a hold placed on the live account before carries on, with its reason)."""
    with store.lock(layout.LEGAL_HOLDS, layout.person(account.sub)):
        earlier = hold_of(store, account.sub) or {}
        store.write(layout.LEGAL_HOLDS, layout.person(account.sub),
                    doc={**earlier, "sub": account.sub, "login": account.login, "deleted": int(store.clock()),
                         "by": earlier.get("by") or by})


def held(store, sub: str) -> bool:
    """Whether an admin keeps this person's files for legal hold: then the person cannot
    delete the account themselves (erasing would destroy what the hold keeps)."""
    return store.exists(layout.LEGAL_HOLDS, layout.person(sub))


def holds(store) -> list[dict]:
    """The held files of deleted accounts, newest deletion first: record, id and what is kept.
    (A hold on a live account is shown on that account's page.)"""
    found = []
    for name in store.list(layout.LEGAL_HOLDS):
        record = store.read(layout.LEGAL_HOLDS, name)
        if record and "deleted" in record:
            found.append({**record, "id": name, "files": inventory(store, record["sub"])})
    return sorted(found, key=lambda h: h["deleted"], reverse=True)


def release(store, hold_id: str) -> dict:
    """End a legal hold: erase the files it kept and its record; the hold record, as it was."""
    if hold_id not in store.list(layout.LEGAL_HOLDS):
        raise NotFound()
    record = store.read(layout.LEGAL_HOLDS, hold_id) or {}
    if "sub" not in record or "deleted" not in record:  # a live account's hold is lifted, not erased
        raise NotFound()
    record["erased"] = erase_all(store, record["sub"], releasing=True)
    record["messages_erased"] = erase_messages(store, record["sub"])
    store.delete(layout.LEGAL_HOLDS, hold_id)
    return record


def erase_messages(store, sub: str) -> int:
    """A deleted person's chat messages: their texts leave the disk, each keeping its place in
    the thread as a deleted message (codeb.rooms.channels.erase_person). How many."""
    return Channels(store).erase_person(sub)


def _pick(record: dict, fields) -> dict:
    return {k: record[k] for k in fields if k in record}


def exported_account(doc: dict) -> dict:
    """The account as a person recognises it: profile and addresses, what each passkey is
    called and when it was made and used, that a password is set and since when, where they
    signed in, which app passwords exist. Secrets and their verifiers never (see ACCOUNT_FIELDS)."""
    password = doc.get("password")
    return {
        **_pick(doc, ACCOUNT_FIELDS),
        "password": {"set": bool(password), "since": password.get("set") if password else None},
        "passkeys": [{**_pick(p, PASSKEY_FIELDS), "authenticator": authenticators.name_of(p.get("aaguid"))}
                     for p in doc.get("passkeys", [])],
        "sessions": [_pick(s, SESSION_FIELDS) for s in doc.get("sessions", [])],
        "app_passwords": [_pick(a, APP_PASSWORD_FIELDS) for a in doc.get("app_passwords", [])],
        # The apps the person allowed their data (codeb.oidc.consent); erased with the document.
        "consents": [{"client_id": client_id, **_pick(record, ("scopes", "granted"))}
                     for client_id, record in (doc.get("consents") or {}).items() if isinstance(record, dict)],
    }


def export(store, tenant_name: str, account) -> dict:
    """Everything the tenant holds about the account, machine-readable: the account as
    `exported_account` shows it, what files it has, and its security events."""
    return {
        "tenant": tenant_name,
        "exported": int(store.clock()),
        "account": exported_account(account.doc),
        "files": inventory(store, account.sub),
        "messages": Channels(store).export_of(account.sub),
        "security_events": audit.of_account(store, account),
    }


def export_filename(tenant_name: str, login: str) -> str:
    return f"codeb-{tenant_name}-{login}.json"
