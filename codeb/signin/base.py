"""The interface every sign-in method implements (DESIGN: the sign-in flow, step 3).

A method runs its ceremony in two steps. `begin` hands out what the person or
their browser must answer (a `Challenge`: a page to show, or options for the
page's script); `complete` checks the answer and returns a `VerifiedIdentity`,
or raises `SignInFailed` with the reason. A method never creates a session or
a token: `codeb.signin.flow` does that the same way for every method, so the
protocol code never learns how the person proved who they are.

A submission a method does not recognise (not its fields) raises `NotMine`,
so a dispatcher can offer it to the next method: what home-realm discovery for
corporate SSO needs ("this email's domain belongs to an upstream").
"""

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import RateLimited


@dataclass(frozen=True)
class VerifiedIdentity:
    login: str
    method: str                 # the module's name, e.g. "magic_link"
    amr: tuple[str, ...]        # RFC 8176 values for the ID token
    auth_time: int
    detail: dict = field(default_factory=dict)   # e.g. which passkey
    interaction: str | None = None               # the authorization request to resume
    created: bool = False                        # the account was created by this sign-in
    # What the sign-in changed in the account document (a passkey's counter and last use),
    # a function of the document: `flow.finish` applies it in the same locked update that
    # lists the new session, so a sign-in writes the account once.
    account_change: Callable[[dict], None] | None = None
    # What signing out at the identity provider it came through needs (a company's: its ID
    # token, the NameID and SessionIndex, and which upstream): the session keeps it.
    sign_out: dict | None = None


@dataclass(frozen=True)
class Challenge:
    """What `begin` hands out: `data` for the page's script (a method that answers
    JSON), or a page to show, `templates/signin/<method>/<view>.html`, with `data`.
    `sent`: the step sent something (a mail), so the page must survive a reload without
    sending again: the POST is answered with a redirect to a GET that shows it.
    `redirect`: the browser goes elsewhere to answer (an upstream identity provider).
    `then`: a page of ours the browser goes on to with a 303 (the EU Wallet's request, shown
    from its transaction, so that a reload asks for nothing again)."""

    data: dict
    view: str | None = None
    sent: bool = False
    redirect: str | None = None
    then: str | None = None


@dataclass
class SignInContext:
    """What a method may use: the tenant and its accounts, mail, limits, where links point,
    and the browser that asks (challenges are bound to it)."""

    tenant: Any
    accounts: Any
    mailer: Any
    base_url: str      # the issuer as the browser reached it; also the WebAuthn origin
    client_ip: str
    language: str
    browser: str = ""  # what binds a challenge to this browser (its session's CSRF token)
    rp_id: str = ""    # the WebAuthn RP ID: the host the person sees
    agent: str = ""    # the browser's User-Agent header (what a mail says about who asked)
    # Set only by account settings ("Connect a company account", after a recent sign-in): the
    # login the company identity this sign-in proves is to be linked to, whatever its email.
    linking: str | None = None

    @property
    def store(self):
        return self.tenant.store

    @property
    def client_network(self) -> str:
        return client_network(self.client_ip)

    def now(self) -> int:
        return int(self.tenant.store.clock())


def client_network(ip: str) -> str:
    """What a per-client rate limit counts: an IPv4 address, or an IPv6 address's /64,
    which one subscriber holds whole (RFC 6177), so it cannot rotate through it."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return str(ip)[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# How often a link may be mailed (a magic sign-in link, a sign-up link), each rule (how many,
# per seconds). A mailbox is the address without its +tag and case (`Name+1@x` and `name+2@x`
# are one); a client is an IPv4 address or an IPv6 /64 (`client_network`).
MAILED_PER_MAILBOX = ((5, 900),)  # five links to one mailbox per quarter hour
MAILED_PER_CLIENT = (
    (120, 60),                    # a burst: two a second for a minute, then wait
    (600, 900),                   # the ceiling: an office of 300 behind one NAT address signs in twice over
)


def hit_limits(store, kind: str, key: str, rules, message_id: str | None = None) -> None:
    """Count one event of `key` against each (limit, window) rule; RateLimited if any is full."""
    wait = store.counter(kind).hit_rules(key, rules)
    if wait:
        raise RateLimited(wait, message_id)


class Continue(Exception):
    """`complete` verified the person, and a further page of the method's own follows before
    any account signs in: `then`, a path of this site (the EU Wallet's sign-up, which asks the
    email a new account needs)."""

    def __init__(self, then: str):
        self.then = then
        super().__init__(then)


class NotMine(Exception):
    """The submission is not for this method (it lacks the method's fields)."""


def submitted_field(submitted: Mapping, name: str):
    """A field the method needs; NotMine when the submission does not carry it at all."""
    if not isinstance(submitted, Mapping) or name not in submitted:
        raise NotMine(name)
    return submitted[name]


class SignInMethod(ABC):
    """One way to prove who you are. Subclasses set `name` and implement the steps; the
    class attributes below say how the web layer talks to the method."""

    name: ClassVar[str]
    # "page": its steps are form posts answered with pages; "json": calls of the page's script.
    answers: ClassVar[str] = "page"
    # Its `complete` is reached even while the method is off: it decides itself which of
    # its challenges still complete (a mailed invitation does, its own sign-in link does not).
    completes_while_disabled: ClassVar[bool] = False
    # Where a failed `complete` is shown: None for the sign-in page, else a view of its own.
    complete_failure_view: ClassVar[str | None] = None
    # It mails links that open at /link/<link> (`peek` shows one before it is spent).
    opens_links: ClassVar[bool] = False
    # It can be the next step after the identifier-first email field (`claims`).
    takes_identifier: ClassVar[bool] = False
    # Its part of the sign-in page is forms of its own beside the email form (buttons that
    # begin it), even when it may also follow the email (home-realm discovery).
    stands_apart: ClassVar[bool] = False
    # The browser comes back from elsewhere to `GET /signin/<method>/callback` with the
    # answer in the query (an upstream's authorization response); `complete` takes it.
    calls_back: ClassVar[bool] = False
    # The upstream's page posts the answer to `POST /signin/<method>/acs` from its own site
    # (SAML's HTTP-POST binding): no cookie of ours comes with it, so `arrive` checks what
    # needs no browser, keeps the result for it and names it; the browser is then sent on
    # to the callback with that name, where `complete` checks it is the browser that began.
    posts_back: ClassVar[bool] = False

    @abstractmethod
    def begin(self, ctx: SignInContext, submitted: Mapping) -> Challenge:
        """What the person or their browser must answer; NotMine without the method's fields."""

    @abstractmethod
    def complete(self, ctx: SignInContext, submitted: Mapping) -> VerifiedIdentity:
        """The verified identity, or SignInFailed; NotMine without the method's fields."""

    @abstractmethod
    def usable_by(self, account) -> bool:
        """Whether this account could sign in by this method (it holds what the method checks)."""

    def claims(self, ctx: SignInContext, identifier: str) -> bool:
        """Whether this method takes the next step for the email typed into the identifier-first
        field. It may look at the address and the tenant's settings (a claimed domain, for
        corporate SSO), never at whether an account exists: the answer must not tell who has
        one. NotMine, or False, lets the next method in the registry's order answer."""
        return self.takes_identifier

    def page_part(self, tenant) -> dict:
        """What the method's part of the sign-in page shows (`signin/<method>/form.html`)."""
        return {}

    def settings(self, submitted: Mapping) -> dict:
        """The method's part of the tenant settings from the admin's form, validated."""
        return {}

    def arrive(self, ctx: SignInContext, form: Mapping) -> dict:
        """A posted answer (methods that post back): the query of the callback to go on to."""
        raise NotMine("nothing posts back to this method")

    def published(self, ctx: SignInContext, uid: str) -> tuple[str, str]:
        """(media type, body) of what the method publishes for one upstream's admin (SAML: the
        tenant's signed SP metadata); NotFound when there is no such upstream."""
        raise NotMine("this method publishes nothing")

    def peek(self, ctx: SignInContext, link) -> dict | None:
        """A mailed link's pending record, without spending it (methods that open links)."""
        raise NotMine("this method mails no links")

    # A method whose `begin` leaves a browser waiting ("check your inbox") for what it mailed:
    # its page shows `waiting`, polls `status`, offers `resend`; an opened link shows `asker`.

    def waiting(self, ctx: SignInContext, pid) -> dict | None:
        """What the waiting page shows of its pending sign-in (None if not this browser's)."""
        raise NotMine("this method leaves no browser waiting")

    def status(self, ctx: SignInContext, pid, *, signed_in_by: str | None = None) -> dict:
        """The waiting page's poll; `signed_in_by`: the pending sign-in that signed this session in."""
        raise NotMine("this method leaves no browser waiting")

    def resend(self, ctx: SignInContext, sent: dict) -> Challenge:
        """Send again what the waiting page (`sent`: the data `begin` handed it) waits for."""
        raise NotMine("this method leaves no browser waiting")

    def asker(self, ctx: SignInContext, record: dict) -> dict | None:
        """Who asked for an opened link, if another browser than the opening one."""
        return None
