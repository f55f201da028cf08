"""What a person allowed an app: remembered consents, in the account's own document.

`consents` maps a client id to the scopes the person allowed it and when. It lives in
the account document, so it goes with the account (erasure deletes the document; the
export lists it), and a person's decision is one locked write of their own record.
The protocol decides what a remembered consent covers (`codeb.oidc.consent`).
"""

import builtins

from . import Accounts


def remembered(account) -> dict[str, dict]:
    """client id → {"scopes": [...], "granted": time} of every app the person allowed."""
    consents = account.doc.get("consents") if account is not None else None
    return {k: v for k, v in (consents or {}).items() if isinstance(v, dict)}


def remember(accounts: Accounts, login: str, client_id: str, scopes: builtins.list[str], *, now: int) -> None:
    """Remember that the person allowed `client_id` these scopes (added to what it had)."""
    with accounts.update(login) as doc:
        consents = doc.setdefault("consents", {})
        before = set((consents.get(client_id) or {}).get("scopes", ()))
        consents[client_id] = {"scopes": sorted(before | set(scopes)), "granted": int(now)}


def revoke(accounts: Accounts, login: str, client_id) -> bool:
    """Forget the consent to `client_id`: its next sign-in asks again. False if there was none."""
    if not isinstance(client_id, str):
        return False
    with accounts.update(login) as doc:
        consents = doc.get("consents") or {}
        if client_id not in consents:
            return False
        del consents[client_id]
        doc["consents"] = consents
    return True
