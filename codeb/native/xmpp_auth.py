"""The XMPP auth bridge: the tenant's chat server asks whether `login@host` may sign in with
a password, and whether such an account exists; the answer is yes or no, nothing more.

Two servers, one set of answers (`Bridge`):
- ejabberd's external authentication (`extauth_program`), spoken here on stdin/stdout by
  `serve` (`python -m codeb xmpp-auth TENANT`). ejabberd's src/extauth.erl frames each
  request as a 2-byte big-endian length and then that many bytes of UTF-8,
  `auth:User:Server:Password`, `isuser:User:Server`, `setpass:User:Server:Password`,
  `tryregister:User:Server:Password`, `removeuser:User:Server` or
  `removeuser3:User:Server:Password`, and reads each reply as a 2-byte length (always 2)
  and a 2-byte big-endian result, 1 for yes and 0 for no. The password is the last field
  and may itself hold `:`: the fields are split from the left only as many times as the
  operation has fields.
- Prosody, through CodeB's module (deploy/prosody/mod_auth_codeb.lua) or the community's
  `mod_auth_http` (codeb.web.xmpp is the HTTP adapter): `check_password` and
  `user_exists`, answered `true` or `false`; with CodeB's module also `check_token`, the
  SASL OAUTHBEARER sign-in with an access token of the tenant's office shell (`check_token`).

Only `auth` (`check_password`) and `isuser` (`user_exists`) can be yes. Registration,
password changes and removal belong to CodeB's own pages, so the server is always told no.

`check_password` is an ordered list of small checks (`CHECKS`): the server is one of the
tenant's hosts, the user part is a login, the account's and the source's failure windows
have room (codeb.native.failures), and the password is one of the account's app passwords
for XMPP (codeb.accounts.app_passwords.verify: the tenant allows them, the account exists
and is enabled, the app password is not revoked; web sign-in secrets are never accepted).
Every refusal is audited as `xmpp.auth_refused` with its reason, never with the password,
and a login is named only when it is an account's (someone may type a password into the
user field). A success is not audited (`verify` notes the app password's last use).
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from .. import audit
from ..accounts import Account, Accounts, app_passwords
from ..store import layout
from ..store.names import LOGIN_PATTERN
from ..tenants import Tenant
from .failures import Failures

log = logging.getLogger("codeb.native.xmpp")

PURPOSE = "xmpp"
# (failures, seconds): after ten failures for one account in five minutes, even the right
# password is refused until the window is over. A source is the address that asks: for the
# HTTP endpoint that is the XMPP server itself, so its limit bounds guessing over all of the
# tenant's accounts without locking everyone out at the first few typos. ejabberd passes no
# address, so its program counts per account only.
ACCOUNT_FAILURES = (10, 300)
SOURCE_FAILURES = (200, 300)
MAX_REQUEST = 1024  # bytes of one extauth request: a login, a host name and a password fit many times
REPLY = struct.Struct(">HH")
HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")  # what of a JID's domain an audit line keeps
OPERATIONS = {  # extauth operation -> how many fields follow it (the last may hold ':')
    "auth": 3, "isuser": 2, "setpass": 3, "tryregister": 3, "removeuser": 2, "removeuser3": 3,
}


class Refused(Exception):
    """A check said no; `reason` goes into the audit line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Attempt:
    """One sign-in as the server asked it, and what the checks learn along the way."""

    user: str
    server: str
    password: str
    source: str | None  # the client network that asked (HTTP), None for extauth
    via: str            # "extauth" or "http"
    login: str = ""
    account: Account | None = None
    source_counted: bool = False  # admitted to its source's failure window (to take back if right)


class Bridge:
    """The answers for one tenant."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.store = tenant.store
        self.accounts = Accounts(tenant.store, tenant.hosts[0])
        self.per_account = Failures(tenant.store, layout.XMPP_FAILURES_PER_ACCOUNT, *ACCOUNT_FAILURES)
        self.per_source = Failures(tenant.store, layout.XMPP_FAILURES_PER_SOURCE, *SOURCE_FAILURES)

    def check_password(self, user, server, password, *, via: str, source: str | None = None) -> bool:
        """Whether `user@server` may sign in with `password` now."""
        if not all(isinstance(v, str) for v in (user, server, password)):
            return False
        attempt = Attempt(user=user, server=server, password=password, source=source, via=via)
        try:
            for check in CHECKS:
                check(self, attempt)
        except Refused as refusal:
            self.refused(attempt, refusal.reason)
            return False
        self.per_account.clear(attempt.login)  # the right password: this account's failures are over
        if attempt.source_counted and attempt.source is not None:
            self.per_source.forgive(attempt.source)
        return True

    def check_token(self, user, server, token, *, bearer: Callable[[str], Account | None], via: str,
                    source: str | None = None) -> bool:
        """Whether `user@server` may sign in with `token`, an access token of the tenant's own
        office shell (SASL OAUTHBEARER, RFC 7628). `bearer` checks the token as every resource
        of the shell does and names its account, or None (codeb.web.xmpp: signature,
        lifetime, tenant, the grant not revoked, the shell's audience, its browser session
        alive, the account enabled). The same order of checks and failure windows as a password."""
        if not all(isinstance(v, str) for v in (user, server, token)):
            return False
        attempt = Attempt(user=user, server=server, password=token, source=source, via=via)
        try:
            for check in CHECKS[:-1]:
                check(self, attempt)
            check_token(attempt, bearer)
        except Refused as refusal:
            self.refused(attempt, refusal.reason)
            return False
        self.per_account.clear(attempt.login)
        if attempt.source_counted and attempt.source is not None:
            self.per_source.forgive(attempt.source)
        return True

    def user_exists(self, user, server) -> bool:
        """Whether `user@server` is an enabled account of this tenant."""
        if not isinstance(user, str) or not isinstance(server, str) or not self.serves(server):
            return False
        login = user.lower()
        account = self.accounts.get(login) if LOGIN_PATTERN.fullmatch(login) else None
        return account is not None and not account.disabled

    def serves(self, server: str) -> bool:
        return server.lower() in self.tenant.hosts

    def refused(self, attempt: Attempt, reason: str) -> None:
        """The audit line of a refusal: who (an account's login only), why, from where."""
        server = attempt.server.lower()
        facts: dict = {"via": attempt.via, "reason": reason, "host": server if HOST_NAME.fullmatch(server) else "?"}
        if attempt.account is not None:
            facts.update(login=attempt.account.login, sub=attempt.account.sub)
        if attempt.source is not None:
            facts["ip"] = attempt.source
        audit.append(self.store, "xmpp.auth_refused", **facts)
        log.info("xmpp sign-in refused: %s", reason)


# -- the checks of check_password, in order -------------------------------------------

def check_host(bridge: Bridge, attempt: Attempt) -> None:
    """The JID's domain is one of this tenant's hosts (another tenant's host is never ours)."""
    if not bridge.serves(attempt.server):
        raise Refused("host")


def check_login(bridge: Bridge, attempt: Attempt) -> None:
    """The user part is a login. Logins are lowercase; a server may send it as it was typed."""
    login = attempt.user.lower()
    if not LOGIN_PATTERN.fullmatch(login):
        raise Refused("login")
    attempt.login = login
    attempt.account = bridge.accounts.get(login)


def admit_account(bridge: Bridge, attempt: Attempt) -> None:
    """Room in the account's failure window (counted now, taken back if the password is right)."""
    if bridge.per_account.admit(attempt.login):
        raise Refused("rate_limited")


def admit_source(bridge: Bridge, attempt: Attempt) -> None:
    """Room in the source's failure window, if a source is known; else this attempt is not
    the account's failure either (it was never checked)."""
    if attempt.source is None:
        return
    if bridge.per_source.admit(attempt.source):
        bridge.per_account.forgive(attempt.login)
        raise Refused("rate_limited_source")
    attempt.source_counted = True


def check_app_password(bridge: Bridge, attempt: Attempt) -> None:
    """One of the account's XMPP app passwords (verify: one PBKDF2 run whatever the outcome)."""
    if app_passwords.verify(bridge.accounts, attempt.login, attempt.password, purpose=PURPOSE,
                            audited=False) is not None:  # the refusal's line is xmpp.auth_refused
        return
    account = attempt.account
    if account is None:
        raise Refused("unknown")
    if account.disabled:
        raise Refused("disabled")
    if not app_passwords.allowed(bridge.store):
        raise Refused("forbidden")
    if not any(PURPOSE in e.get("purposes", ()) for e in account.app_passwords):
        raise Refused("no_app_password")
    raise Refused("wrong")


CHECKS: tuple[Callable[[Bridge, Attempt], None], ...] = (
    check_host, check_login, admit_account, admit_source, check_app_password)


def check_token(attempt: Attempt, bearer: Callable[[str], Account | None]) -> None:
    """The token is the shell's, valid now, and its account is the one signing in."""
    if attempt.account is None:
        raise Refused("unknown")
    holder = bearer(attempt.password)
    if holder is None:
        raise Refused("token")
    if holder.sub != attempt.account.sub:
        raise Refused("token_other")


# -- ejabberd's extauth protocol --------------------------------------------------------

class _End(Exception):
    """stdin closed (before or inside a request): the program ends."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, however many reads they take; _End if the stream closes first."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise _End()
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_request(stream: BinaryIO) -> bytes | None:
    """The next request's bytes; None for one longer than MAX_REQUEST, read and dropped so
    that the next one is framed right. _End when stdin closes."""
    (length,) = struct.unpack(">H", _read_exactly(stream, 2))
    if length <= MAX_REQUEST:
        return _read_exactly(stream, length)
    while length:
        length -= len(_read_exactly(stream, min(length, 4096)))
    return None


def answer(bridge: Bridge, request: bytes | None) -> bool:
    """The answer to one extauth request; anything malformed is no."""
    try:
        text = request.decode("utf-8") if request is not None else ""
    except UnicodeDecodeError:
        return False
    operation, _, rest = text.partition(":")
    fields = OPERATIONS.get(operation)
    if fields is None:
        return False
    parts = rest.split(":", fields - 1)
    if len(parts) != fields:
        return False
    if operation == "auth":
        return bridge.check_password(parts[0], parts[1], parts[2], via="extauth")
    if operation == "isuser":
        return bridge.user_exists(parts[0], parts[1])
    return False  # setpass, tryregister, removeuser, removeuser3: CodeB's own pages do these


def serve(bridge_for: Callable[[], Bridge], stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests until stdin closes. `bridge_for` gives the tenant's bridge for each
    request (the tenant's settings as they are now). Nothing but replies reaches stdout;
    a request that fails in any way is answered no and the next one is read."""
    while True:
        try:
            request = read_request(stdin)
        except _End:
            return
        if request is None:
            log.warning("extauth request longer than %d bytes: refused", MAX_REQUEST)
        try:
            result = answer(bridge_for(), request)
        except Exception:  # the store, the disk, a damaged document: no, and keep serving
            log.exception("extauth request failed")
            result = False
        try:
            stdout.write(REPLY.pack(2, 1 if result else 0))
            stdout.flush()
        except (BrokenPipeError, ValueError):  # ejabberd went away
            return
