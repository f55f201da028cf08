"""Upstream identities linked to accounts: (issuer, subject) → login.

An account document lists its links (`links`: the upstream's id and name, its
issuer, the subject there, since when); the `upstream` index finds the account
from the pair. As with every index, an entry is trusted only when the account
it names lists the pair. The rule for *when* a link is made lives with the
sign-in method (`codeb.signin.upstream`); this module only keeps them.
"""

import json

from ..errors import Conflict
from ..store import layout


def link_key(issuer: str, subject: str) -> str:
    return json.dumps([issuer, subject], separators=(",", ":"))


class Links:
    def __init__(self, accounts):
        self.accounts = accounts
        self.index = accounts.store.index(layout.BY_UPSTREAM)

    def find(self, issuer: str, subject: str):
        """The account linked to this upstream identity, or None."""
        login = self.index.get(link_key(issuer, subject))
        account = self.accounts.get(login) if login else None
        if account is None or not any(_same(link, issuer, subject) for link in account.links):
            return None
        return account

    def link(self, login: str, upstream: dict, issuer: str, subject: str) -> None:
        """Link the identity to the account: the index entry is claimed first (Conflict if
        another account holds the identity), then the account lists it."""
        key = link_key(issuer, subject)
        holder = self.find(issuer, subject)
        if holder is not None and holder.login != login:
            raise Conflict("error.upstream.linked_elsewhere")
        if holder is None:
            self.index.remove(key)  # an entry no account lists: left by a crash or an unlink
        if not self.index.claim(key, login):
            raise Conflict("error.upstream.linked_elsewhere")
        try:
            with self.accounts.update(login) as doc:
                links = [x for x in doc.get("links", []) if not _same(x, issuer, subject)]
                links.append({"upstream": upstream["id"], "name": upstream["name"], "issuer": issuer,
                              "subject": subject, "since": int(self.accounts.store.clock())})
                doc["links"] = links
        except BaseException:
            if holder is None:
                self.index.remove(key, login)
            raise

    def unlink(self, login: str, issuer: str, subject: str) -> bool:
        with self.accounts.update(login) as doc:
            before = doc.get("links", [])
            doc["links"] = [x for x in before if not _same(x, issuer, subject)]
            removed = len(doc["links"]) != len(before)
        self.index.remove(link_key(issuer, subject), login)
        return removed


def _same(link, issuer: str, subject: str) -> bool:
    return isinstance(link, dict) and link.get("issuer") == issuer and link.get("subject") == subject
