"""SIP digest for the tenant's PBX: the SIP server reads, for a user and realm, the HA1 values
that may answer its digest challenge, and reports a digest that matched none of them.

A SIP server checks a digest response (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 8760 for SHA-256)
with H(A1) = H(username ":" realm ":" password) alone, so CodeB hands out HA1 values, never a
password, and only those (codeb.accounts.app_passwords.digest_ha1): of the account's app
passwords for SIP, while the tenant allows them, and of its optional password, made for that
realm. Nothing is written by a lookup; the server decides, so CodeB cannot tell a success.

`lookup` answers an `Entry`: the login (the digest username and the AOR's user part), the
extension, the caller-ID name, and the HA1 lists, MD5 and SHA-256. The user may be a login or
an extension (which finds the login a phone registered with). Nothing (`Entry.nothing`, empty
lists and no identity) for an unknown, disabled or malformed user. While the account's or the
source's failure window is full the lists are empty: that is the rate limit, the server then
refuses even the right password, as the XMPP bridge does (codeb.native.xmpp_auth); the login,
extension and name stay, so that a stranger's guesses do not also make the person unreachable
by extension or nameless as a caller.

`failed` is the server's report of a digest that matched no HA1 (the user as the phone sent
it, the phone's address): it is counted in the account's and the source's failure windows
(codeb.native.failures) and audited as `sip.digest_refused` with its reason, never with any
secret (the server has none to send). A source is the phone's network as the SIP server saw
it, so one office behind one address shares its window.

Bad input, which only a broken or foreign caller sends, raises `BadQuery` (a 400 for the adapter).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace

from .. import audit
from ..accounts import Account, Accounts, app_passwords
from ..accounts.passwords import sip_realm
from ..signin.base import client_network
from ..store import layout
from ..store.names import LOGIN_PATTERN
from ..tenants import Tenant
from .failures import Failures

log = logging.getLogger("codeb.native.sip")

PURPOSE = "sip"
# (failures, seconds), as for XMPP: ten wrong digests for an account in five minutes and even
# the right one is refused until the window is over. A source is a phone's address (not the SIP
# server's), so its limit bounds one address guessing over many accounts.
ACCOUNT_FAILURES = (10, 300)
SOURCE_FAILURES = (50, 300)
MAX_FIELD = 256  # characters of a user, realm or address: a SIP user part and a host name fit
EXTENSION = re.compile(r"[0-9]{1,9}")
REALM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.:-]{0,251}[A-Za-z0-9])?")  # a host name or address
METHODS = frozenset({"REGISTER", "INVITE", "SUBSCRIBE", "MESSAGE", "OPTIONS", "REFER", "NOTIFY", "PUBLISH",
                     "UPDATE", "INFO", "BYE"})


class BadQuery(ValueError):
    """A malformed lookup or report; `reason` names the field."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """What the SIP server may know of one user: no secret, only HA1 values."""

    login: str | None = None
    extension: int | None = None
    display_name: str | None = None
    ha1_md5: tuple[str, ...] = field(default_factory=tuple)
    ha1_sha256: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def nothing(cls) -> Entry:
        return cls()

    def as_json(self) -> dict:
        """The lookup's answer: every key always present, so a server's parser meets one shape."""
        return {"user": self.login, "extension": self.extension, "display_name": self.display_name,
                "ha1_md5": list(self.ha1_md5), "ha1_sha256": list(self.ha1_sha256)}


@dataclass(frozen=True)
class Query:
    """One lookup or report as the server sent it, checked."""

    user: str
    realm: str
    source: str | None  # the phone's network (codeb.signin.base.client_network), None if not sent


def query(user, realm, ip) -> Query:
    """The checked fields of a lookup or report; BadQuery for a missing or malformed one."""
    if not isinstance(user, str) or not user or len(user) > MAX_FIELD:
        raise BadQuery("user")
    if not isinstance(realm, str) or not REALM.fullmatch(realm):
        raise BadQuery("realm")
    if ip is None or ip == "":
        return Query(user=user, realm=realm.lower(), source=None)
    if not isinstance(ip, str) or len(ip) > MAX_FIELD:
        raise BadQuery("ip")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise BadQuery("ip") from None
    return Query(user=user, realm=realm.lower(), source=client_network(ip))


class DigestLookup:
    """The answers for one tenant's SIP server."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.store = tenant.store
        self.accounts = Accounts(tenant.store, tenant.hosts[0])
        self.realm = sip_realm(tenant).lower()
        self.per_account = Failures(tenant.store, layout.SIP_FAILURES_PER_ACCOUNT, *ACCOUNT_FAILURES)
        self.per_source = Failures(tenant.store, layout.SIP_FAILURES_PER_SOURCE, *SOURCE_FAILURES)

    def account_of(self, user: str) -> Account | None:
        """The account a SIP user names: its login (as typed, in any case), else its extension."""
        login = user.lower()
        account = self.accounts.get(login) if LOGIN_PATTERN.fullmatch(login) else None
        if account is None and EXTENSION.fullmatch(user):
            account = self.accounts.find_by_extension(int(user))
        return account

    def limited(self, account: Account | None, source: str | None) -> str | None:
        """Which failure window is full, if one is: "rate_limited" (the account's) or
        "rate_limited_source"; None when both have room. Reads only."""
        if account is not None and self.per_account.blocked(account.login):
            return "rate_limited"
        if source is not None and self.per_source.blocked(source):
            return "rate_limited_source"
        return None

    def lookup(self, asked: Query) -> Entry:
        """The HA1 values for `asked.user` in `asked.realm`, with its login, extension and
        caller-ID name; nothing for no usable account or while a failure window is full."""
        account = self.account_of(asked.user)
        if account is None or account.disabled or asked.realm != self.realm:
            return Entry.nothing()
        who = Entry(login=account.login, extension=account.ext, display_name=caller_id_name(account))
        if self.limited(account, asked.source) is not None:
            return who  # no HA1, so no digest passes; still reachable by extension and named as a caller
        return replace(who, ha1_md5=tuple(app_passwords.digest_ha1(self.accounts, account.login, "MD5",
                                                                   realm=self.realm)),
                       ha1_sha256=tuple(app_passwords.digest_ha1(self.accounts, account.login, "SHA-256",
                                                                 realm=self.realm)))

    def failed(self, asked: Query, method: str | None = None) -> str:
        """A digest that matched none of the HA1 values: counted for the account and the source,
        audited with its reason (returned)."""
        account = self.account_of(asked.user)
        reason = self.limited(account, asked.source) or self.reason(account, asked.realm)
        if reason not in ("rate_limited", "rate_limited_source"):
            if account is not None:
                self.per_account.admit(account.login)
            if asked.source is not None:
                self.per_source.admit(asked.source)
        facts: dict = {"reason": reason}
        if account is not None:
            facts.update(login=account.login, sub=account.sub)
        if asked.source is not None:
            facts["ip"] = asked.source
        if method in METHODS:
            facts["method"] = method
        audit.append(self.store, "sip.digest_refused", **facts)
        log.info("sip digest refused: %s", reason)
        return reason

    def reason(self, account: Account | None, realm: str) -> str:
        """Why no HA1 matched, as far as CodeB can tell (it never sees the response)."""
        if account is None:
            return "unknown"
        if account.disabled:
            return "disabled"
        if realm != self.realm:
            return "realm"
        has_password = bool(account.password and account.password.get("sip"))
        if not app_passwords.allowed(self.store) and not has_password:
            return "forbidden"
        if not has_password and not any(PURPOSE in e.get("purposes", ()) for e in account.app_passwords):
            return "no_app_password"
        return "wrong"


def caller_id_name(account: Account) -> str:
    """The name a callee's phone shows: the nickname the person chose, else their display name,
    fit for a SIP quoted-string (RFC 3261 §25.1) as Kamailio writes it: no quote, backslash or
    control character, at most 64 characters."""
    name = account.nickname or account.display_name
    kept = "".join(c for c in name if c not in '"\\' and not unicodedata.category(c).startswith("C"))
    return kept.strip()[:64] or account.login
