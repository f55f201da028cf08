"""Upstream identities linked to accounts: (issuer, subject) → login.

An account document lists its links (`links`: the upstream's id and name, its
issuer, the subject there, since when); the `upstream` index finds the account
from the pair. As with every index, an entry is trusted only when the account
it names lists the pair. The rule for *when* a link is made lives with the
sign-in method (`codeb.signin.upstream`); this module only keeps them.
"""

import json
from dataclasses import replace

from ..errors import Conflict, NotFound
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

    def link(self, login: str, upstream: dict, issuer: str, subject: str, *, verified: dict | None = None) -> None:
        """Link the identity to the account: the index entry is claimed first (Conflict if
        another account holds the identity), then the account lists it. `verified`: the link
        proves who the person is (an EU Wallet's PID: level, issuer, credential type, when)."""
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
                              "subject": subject, "since": int(self.accounts.store.clock()),
                              **({"verified": verified} if verified else {})})
                doc["links"] = links
        except BaseException:
            if holder is None:
                self.index.remove(key, login)
            raise

    def unlink(self, login: str, issuer: str, subject: str, *, can_sign_in) -> dict:
        """Remove a link, unless it is the account's only way in: `can_sign_in(account)` answers
        for the account without it (`codeb.signin.can_sign_in`). NotFound if there is no such
        link; returns the link removed."""
        with self.accounts.update(login) as doc:
            before = doc.get("links", [])
            removed = [x for x in before if _same(x, issuer, subject)]
            if not removed:
                raise NotFound()
            remaining = [x for x in before if not _same(x, issuer, subject)]
            if not can_sign_in(replace(self.accounts.require(login), doc={**doc, "links": remaining})):
                raise Conflict("error.upstream.link_last")
            doc["links"] = remaining
        self.index.remove(link_key(issuer, subject), login)
        return removed[0]


def _same(link, issuer: str, subject: str) -> bool:
    return isinstance(link, dict) and link.get("issuer") == issuer and link.get("subject") == subject
