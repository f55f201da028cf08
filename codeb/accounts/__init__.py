"""Accounts: one JSON document per person, `users/<login>.json` (DESIGN: accounts).

An account has a login (its file name and the local part of its SIP/XMPP
address), an opaque `sub` that is random, stable and never reused, a verified
email, roles, and a profile. Everything issued to an account (sessions, codes,
tokens) and everything kept about it (files, audit events) is bound to its
`sub`, so an account later given the same login inherits none of it; and a
deleted login is not given again silently (`deleted-logins/` keeps a hash of
it, never the login itself). Indexes map email and sub to the login; the
account document is the truth, so an index entry is trusted only when the
account it names agrees with it. Only this package edits account documents:
`Account` reads one field per property, `Accounts` and the modules beside it
(passkeys, sessions, passwords, extensions) change them under the document's lock.
"""

from __future__ import annotations

import builtins
import secrets
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import Conflict, NotFound, concerning
from ..notify import push
from ..rooms import guests
from ..store import layout, names, secret_id
from ..store.cache import Memo
from . import privacy
from .directory import Directory, entry_of
from .extensions import Extensions
from .links import link_key
from .profile import (
    ROLES,
    clean_display_name,
    clean_language,
    clean_nickname,
    clean_roles,
    login_from_email,
    normalize_email,
    suggested_login,
)

__all__ = [
    "ROLES",
    "Account",
    "Accounts",
    "clean_display_name",
    "clean_nickname",
    "login_from_email",
    "normalize_email",
]


# Parsed account documents by path, revalidated by the file's stamp on every `get`
# (codeb.store.cache): a change by any process is read on the next lookup. Updates never
# start from it: `update` reads the document under its lock.
_accounts = Memo(size=1024)


@dataclass(frozen=True)
class Account:
    doc: dict

    login = property(lambda self: self.doc["login"])
    sub = property(lambda self: self.doc["sub"])
    email = property(lambda self: self.doc.get("email"))
    email_verified = property(lambda self: bool(self.doc.get("email_verified")))
    nickname = property(lambda self: self.doc.get("nickname"))
    language = property(lambda self: self.doc.get("language"))
    roles = property(lambda self: list(self.doc.get("roles", ["user"])))
    disabled = property(lambda self: bool(self.doc.get("disabled")))
    profile_confirmed = property(lambda self: bool(self.doc.get("profile_confirmed")))
    created = property(lambda self: self.doc.get("created"))
    sip = property(lambda self: self.doc.get("sip"))
    ext = property(lambda self: self.doc.get("ext"))
    password = property(lambda self: self.doc.get("password"))  # the hashes (codeb.accounts.passwords)
    has_password = property(lambda self: bool(self.doc.get("password")))
    # The app passwords' names, purposes, times and hashes (codeb.accounts.app_passwords); they go with the document.
    app_passwords = property(lambda self: list(self.doc.get("app_passwords") or []))
    has_passkeys = property(lambda self: bool(self.doc.get("passkeys")))
    listed_sessions = property(lambda self: list(self.doc.get("sessions", [])))
    links = property(lambda self: list(self.doc.get("links", [])))  # upstream identities (codeb.accounts.links)

    @property
    def identity_verified(self) -> dict | None:
        """How the person proved who they are, if they did (a linked EU Wallet PID): level,
        issuer, credential type, when; the latest such link's."""
        found = [link["verified"] for link in self.links if isinstance(link, dict) and link.get("verified")]
        return max(found, key=lambda v: v.get("at", 0)) if found else None

    @property
    def entry(self) -> dict:
        """The account as the admin's user list shows it (its directory entry: status, last sign-in…)."""
        return entry_of(self.doc)

    @property
    def display_name(self) -> str:
        return self.doc.get("display_name") or self.login

    @property
    def given_display_name(self) -> str:
        """The name someone gave (the person, or an admin with the invitation); empty when none
        was given, rather than `display_name`'s fallback to the login."""
        return self.doc.get("display_name") or ""

    @property
    def sessions_not_before(self) -> float:
        """Sessions created at or before this time are ended (a role change, signing out everywhere)."""
        return float(self.doc.get("sessions_not_before", 0))

    @property
    def tokens_not_before(self) -> float:
        """Every code, refresh and access token whose grant began at or before this time is void
        (disabling, signing out everywhere): `Accounts.revoke_issued`."""
        return float(self.doc.get("tokens_not_before", 0))


class Accounts:
    """The accounts of one tenant."""

    def __init__(self, store, host: str, signed_out=None):
        """`signed_out(store, account)` is told when everything issued to an account is void
        (`revoke_issued`) or it is deleted, so the apps it signed in hear of it
        (codeb.oidc.backchannel, wired by the web layer)."""
        self.store = store
        self.host = host
        self.signed_out = signed_out
        self.by_email = store.index(layout.BY_EMAIL)
        self.by_sub = store.index(layout.BY_SUB)
        self.directory = Directory(store)
        self.extensions = Extensions(self)

    def get(self, login: str) -> Account | None:
        return self.store.derived(_accounts, layout.USERS, names.login_name(login), make=Account)

    def require(self, login: str) -> Account:
        account = self.get(login)
        if account is None:
            raise NotFound()
        return account

    def find_by_email(self, email: str) -> Account | None:
        login = self.by_email.get(normalize_email(email))
        account = self.get(login) if login else None
        return account if account and account.email == normalize_email(email) else None

    def find_by_sub(self, sub: str) -> Account | None:
        login = self.by_sub.get(sub) if isinstance(sub, str) else None
        account = self.get(login) if login else None
        return account if account and account.sub == sub else None

    def list(self) -> builtins.list[str]:
        return self.store.list(layout.USERS)

    def create(self, *, email: str, login: str | None = None, roles=("user",),
               display_name: str | None = None, language: str | None = None,
               reuse_login: bool = False, email_verified: bool = False, login_hint: str | None = None) -> Account:
        """Create an account; all of it or nothing (Conflict if the email is taken).
        A login derived from the email (or from `login_hint`, a user name a company's identity
        provider gave) skips deleted and taken logins; a deleted login asked for by name
        is refused unless `reuse_login` confirms it (even then the account inherits nothing).
        `email_verified`: someone trusted vouched for the address (a company's identity provider)."""
        email = normalize_email(email)
        roles = clean_roles(roles)
        with self.by_email.lock(email):
            if self.find_by_email(email):
                raise Conflict("error.email_taken", email=email)
            doc = {
                "sub": secrets.token_urlsafe(24),
                "email": email,
                "email_verified": bool(email_verified),
                # Only a name someone gave (an admin's invitation): the person chooses theirs
                # at the first sign-in, and until then `display_name` falls back to the login.
                "display_name": display_name or None,
                "nickname": None,
                "language": language,
                "roles": roles,
                "created": int(self.store.clock()),
                "profile_confirmed": False,
                "disabled": False,
                "sessions_not_before": 0,
            }
            hinted = suggested_login(login_hint) if login_hint else "user"  # "user": nothing usable in it
            base = login or (hinted if hinted != "user" else login_from_email(email))
            for candidate in self._logins(base, exact=login is not None):
                if self.was_deleted(candidate) and not reuse_login:
                    if login is not None:
                        raise Conflict("error.login_deleted", login=candidate)
                    continue
                doc.update(login=candidate, sip=f"{candidate}@{self.host}")
                if self._write_new(doc):
                    break
            else:
                raise Conflict("error.login_taken", login=login)
            try:
                self.directory.put(doc["login"], entry_of(doc))
            except BaseException:
                # Roll back what was written; the email lock is still held.
                self.directory.remove(doc["login"])
                self.store.delete(layout.USERS, doc["login"])
                self._unindex(doc)
                raise
        return Account(doc)

    def _write_new(self, doc: dict) -> bool:
        """Write the new account's document whole, its extension in it, under its login's lock;
        False if the login is taken. What points at it (its extension's claim, the email and
        subject index entries) is written first: a process killed at any step leaves either no
        account (and entries the account documents disown) or the whole account. Its directory
        entry, derived, follows; a kill before it is mended by the account's next change (its
        first sign-in) or `codeb user reindex`."""
        login = doc["login"]
        with self.store.lock(layout.USERS, login):
            if self.store.exists(layout.USERS, login):
                return False
            # No account holds `login`: a claim for it is a killed creation's, and is reused.
            doc["ext"] = self.extensions.allocate(login)
            try:
                self.by_sub.put(doc["sub"], login)
                self.by_email.put(doc["email"], login)
                if self.store.create(layout.USERS, login, doc=doc):
                    return True
            except BaseException:
                self._unindex(doc)
                raise
            self._unindex(doc)
            return False

    def _unindex(self, doc: dict) -> None:
        """Take back the index entries of an account that was not created (the caller holds
        the email's lock, under which its entry was put)."""
        self.extensions.release(doc["login"], doc.get("ext"))
        self.by_email.drop(doc["email"])
        self.by_sub.remove(doc["sub"], doc["login"])

    @staticmethod
    def _logins(wanted: str, exact: bool):
        """Candidate logins: `wanted` itself, then (unless exact) wanted2, wanted3 …"""
        yield names.login_name(wanted)
        if not exact:
            for n in range(2, 1000):
                yield names.login_name(f"{wanted[:58]}{n}")

    @contextmanager
    def update(self, login: str):
        """Lock and edit an account document (see Store.update); the directory follows.
        For this package's modules only: everyone else changes an account through them."""
        with self.store.update(layout.USERS, names.login_name(login)) as doc:
            before = entry_of(doc)
            yield doc
        if entry_of(doc) != before:
            self.directory.put(doc["login"], entry_of(doc))

    # -- what the person changes ----------------------------------------------------

    def update_profile(self, login: str, *, display_name, nickname, language, languages,
                       confirm: bool = False) -> Account:
        """Validate and store the profile fields; all of them or none."""
        with concerning("display_name"):
            display_name = clean_display_name(display_name)
        with concerning("nickname"):
            nickname = clean_nickname(nickname)
        with concerning("language"):
            language = clean_language(language, languages)
        with self.update(login) as doc:
            doc.update(display_name=display_name, nickname=nickname, language=language)
            if confirm:
                doc["profile_confirmed"] = True
        return Account(doc)

    def set_language(self, login: str, language, languages) -> Account:
        language = clean_language(language, languages)
        with self.update(login) as doc:
            doc["language"] = language
        return Account(doc)

    def mark_email_verified(self, login: str) -> Account:
        with self.update(login) as doc:
            doc["email_verified"] = True
        return Account(doc)

    # -- what an admin changes -------------------------------------------------

    def admins(self) -> builtins.list[str]:
        """Logins of the enabled admins (from the directory: one scan, no document reads)."""
        return sorted(login for login, entry in self.directory.all().items()
                      if "admin" in entry.get("roles", []) and not entry.get("disabled"))

    @staticmethod
    def _is_admin(account: Account | None) -> bool:
        return account is not None and "admin" in account.roles and not account.disabled

    @contextmanager
    def _keeping_an_admin(self, login: str, *, when: bool = True):
        """Hold the tenant-wide admin lock while a change that could take `login`'s admin
        rights away is checked and made: Conflict if `login` is the last enabled admin.
        Two admins demoting each other at once then run one after the other, and the second
        sees the first's change. The directory names the candidates; their documents decide
        (a directory a moment behind can only make the check stricter). `when` False: no check."""
        if not when:
            yield
            return
        with self.store.lock(layout.USERS, layout.ADMINS_LOCK):
            others = [other for other in self.admins() if other != login and self._is_admin(self.get(other))]
            if not others and self._is_admin(self.get(login)):
                raise Conflict("error.last_admin")
            yield

    def set_roles(self, login: str, roles) -> Account:
        """New roles. Tokens carry the roles, so everything issued before (sessions, codes,
        refresh and access tokens) ends, and the change reaches every new token at once."""
        roles = clean_roles(roles)
        with self._keeping_an_admin(login, when="admin" not in roles), self.update(login) as doc:
            changed = doc.get("roles") != roles
            doc["roles"] = roles
        if changed:
            self.revoke_issued(login)
        return self.require(login)

    def set_disabled(self, login: str, disabled: bool) -> Account:
        with self._keeping_an_admin(login, when=disabled), self.update(login) as doc:
            doc["disabled"] = bool(disabled)
        if disabled:
            self.revoke_issued(login)
        return self.require(login)

    def save_by_admin(self, login: str, *, display_name, roles, ext) -> Account:
        """The admin's user form (name, roles, extension): every field validated first, then
        all saved in one locked update of the account document, or nothing (STYLE: validate
        everything, then save everything). A new extension is claimed in its index just before
        that update and released again if the update fails; `ext` None keeps the current one."""
        with concerning("display_name"):
            display_name = clean_display_name(display_name)
        with concerning("admin"):
            roles = clean_roles(roles)
        current = self.require(login)
        with concerning("ext"):
            number = None if ext is None else self.extensions.checked(ext)
        claim = number if number is not None and number != current.ext else None
        with concerning({"error.last_admin": "admin"}), self._keeping_an_admin(login, when="admin" not in roles):
            with concerning("ext"):
                if claim is not None:
                    self.extensions.claim(login, claim)
            try:
                with self.update(login) as doc:
                    old_roles, old_ext = doc.get("roles"), doc.get("ext")
                    doc.update(display_name=display_name, roles=roles)
                    if claim is not None:
                        doc["ext"] = claim
            except BaseException:
                self.extensions.release(login, claim)
                raise
        if claim is not None:
            self.extensions.release(login, old_ext)
        if old_roles != roles:
            self.revoke_issued(login)  # as `set_roles`: no token keeps the roles it was issued with
        return self.require(login)

    def change_email(self, login: str, new: str) -> Account:
        """Move the account to a verified new address (its owner opened the link mailed there):
        the new index entry is claimed first (Conflict if another account holds it), then the
        document changes, then the old entry goes; a failed update gives the claim back."""
        new = normalize_email(new)
        with self.by_email.lock(new):
            holder = self.find_by_email(new)
            claimed = (holder is None or holder.login == login) and self.by_email.claim(new, login)
        if not claimed:
            raise Conflict("error.email_taken", email=new)
        try:
            with self.update(login) as doc:
                old = doc["email"]
                doc.update(email=new, email_verified=True)
        except BaseException:
            if holder is None:
                self.by_email.remove(new, login)
            raise
        if old != new:
            self.by_email.remove(old, login)
        return self.require(login)

    def set_display_name(self, login: str, display_name) -> Account:
        with self.update(login) as doc:
            doc["display_name"] = clean_display_name(display_name)
        return Account(doc)

    def set_extension(self, login: str, number) -> Account:
        """Give the account another extension of the tenant's range, if it is free."""
        self.extensions.assign(login, number)
        return self.require(login)

    def find_by_extension(self, number) -> Account | None:
        return self.extensions.owner(number)

    def revoke_issued(self, login: str) -> None:
        """Void everything issued to the account until now, in every process: its sessions, and
        the codes, refresh and access tokens of its grants (`tokens_not_before`). One cut-off,
        so enabling the account again later revives none of it. A session or grant that began
        in the same second as the cut-off counts as before it: token times are whole seconds."""
        with self.update(login) as doc:
            now = self.store.clock()
            doc["sessions_not_before"] = doc["tokens_not_before"] = now
        if self.signed_out is not None:
            self.signed_out(self.store, Account(doc))

    def was_deleted(self, login: str) -> bool:
        """Whether an account with this login was deleted (`deleted-logins/` holds its hash)."""
        return self.store.exists(layout.DELETED_LOGINS, secret_id(login))

    def delete(self, login: str, *, keep_an_admin: bool = True, hold: bool = False, by: str = "") -> None:
        """Remove the account, its passkeys and every index entry. Its sessions end with it, and
        so do its grants (their codes and tokens name its sub, which no account has any more).
        Its files are erased, unless `hold` keeps them for legal hold (`by` says who chose it).
        The login is remembered as deleted, so it is not handed to someone else silently."""
        with self._keeping_an_admin(login, when=keep_an_admin):
            with self.update(login) as doc:
                pass
            account = Account(doc)
            if not hold and privacy.held(self.store, account.sub):
                raise Conflict("error.delete_held")  # deleting would erase what the hold keeps
            if self.signed_out is not None:  # first: if telling the apps fails, nothing is erased yet
                self.signed_out(self.store, account)
            self.store.write(layout.DELETED_LOGINS, secret_id(account.login),
                             doc={"deleted": int(self.store.clock())})
            if hold:
                privacy.hold(self.store, account, by=by)
            else:
                privacy.erase_all(self.store, account.sub)
                privacy.erase_messages(self.store, account.sub)
            for entry in account.listed_sessions:
                self.store.transient(layout.SESSIONS).delete(entry["id"])
            push.forget_person(self.store, account.sub)  # kept by no hold: no device is told anything more
            guests.forget_inviter(self.store, account.sub)  # the guests they let in lose access
            self._remove_files(doc)

    def withdraw(self, login: str) -> None:
        """Undo a creation that never reached its person (its invitation could not be mailed):
        nothing was issued to it and it holds no data, so unlike `delete` its login is not
        remembered as deleted."""
        account = self.get(login)
        if account is not None:
            self._remove_files(account.doc)

    def _remove_files(self, doc: dict) -> None:
        self.directory.remove(doc["login"])
        self.extensions.release(doc["login"], doc.get("ext"))
        for passkey in doc.get("passkeys", []):
            self.store.index(layout.BY_CREDENTIAL).remove(passkey["id"], doc["login"])
        for link in doc.get("links", []):  # (issuer, subject) at the company: personal data too
            self.store.index(layout.BY_UPSTREAM).remove(link_key(link["issuer"], link["subject"]), doc["login"])
        self.by_email.remove(doc["email"], doc["login"])
        self.by_sub.remove(doc["sub"], doc["login"])
        self.store.delete(layout.USERS, doc["login"])
