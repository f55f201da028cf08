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

KINDS = layout.ERASABLE
BOOKKEEPING = ("sessions_not_before",)  # in the account document, but not personal data


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


def export(store, tenant_name: str, account) -> dict:
    """Everything the tenant holds about the account, machine-readable: the account
    document (without bookkeeping), what files it has, and its security events."""
    return {
        "tenant": tenant_name,
        "exported": int(store.clock()),
        "account": {k: v for k, v in account.doc.items() if k not in BOOKKEEPING},
        "files": inventory(store, account.login),
        "security_events": audit.of_account(store, account.login),
    }


def export_filename(tenant_name: str, login: str) -> str:
    return f"codeb-{tenant_name}-{login}.json"
