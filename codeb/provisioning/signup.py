"""The host site's sign-up: nothing is made before the first admin's email is verified (issue 15).

`ask` checks the form whole (the subdomain's rule and that it is free, the
organisation, the email, the operator's terms), counts it against the
operator's limits (codeb.provisioning.site: per client address, mailbox and
mail domain, and the host's daily cap, each per hour and per day) and keeps a
verification record under the hash of a new random token
(`_host/transient/site-verifications/`, thirty minutes): the mailed link is the
only copy of the token. `peek` reads a link's record without spending it (a
mail scanner's GET spends nothing); `confirm` spends it exactly once (`take`),
queues the request (`spool.submit`, which checks everything again: a subdomain
taken meanwhile is refused) bound to the browser that confirmed it, and leaves
a marker of what the link made (`site-verified`, a day), so a link opened again
is told as used, with the way to its progress page for that browser.

The browser binding: `confirm` makes a random secret for the confirming
browser's cookie and stores only its hash in the request (`spool.bind_browser`);
`holds` compares in constant time. The progress page, its poll and the hand-off
answer that browser only.
"""

import hmac
import secrets
from dataclasses import dataclass

from ..accounts import normalize_email
from ..accounts.profile import mailbox_of
from ..errors import BadInput, CodebError, Conflict, NotFound, RateLimited
from ..signin.base import client_network
from ..store import layout, secret_id
from ..tenants import Tenants
from . import spool
from .names import check_subdomain
from .site import DAY, HostSite, rules

LINK_LIFETIME = 1800   # seconds a verification link lives
SPENT_KEPT = DAY       # how long a used link is still recognised as used
TOKEN_BYTES = 32
CHECKS_PER_CLIENT = ((120, 60), (2000, 3600))  # the live subdomain check: typing, not scanning
MAX_TOKEN = 100


@dataclass(frozen=True)
class Asked:
    token: str     # goes into the mailed link, nowhere else
    email: str
    host: str
    organisation: str


@dataclass(frozen=True)
class Confirmed:
    request_id: str
    browser_secret: str  # for the confirming browser's cookie; only its hash is stored


def check_name(tenants: Tenants, site: HostSite, subdomain) -> tuple[str, str]:
    """(subdomain, host) if the subdomain follows the rule and is free; BadInput or Conflict
    (about the field `subdomain`) saying why not."""
    name = check_subdomain(subdomain)
    host = site.host_for(name)
    try:
        spool.check_available(tenants, name, host)
    except BadInput as error:
        error.field = "subdomain"
        raise
    except Conflict as error:  # taken by a tenant or its host, or a request under way: said of the field
        if error.message_id == "error.subdomain.pending":
            raise BadInput("error.subdomain.pending", field="subdomain", name=name) from None
        raise BadInput("error.subdomain.taken", field="subdomain", name=name) from None
    return name, host


def count_check(tenants: Tenants, ip: str) -> None:
    """The live check's own limit per client network (RateLimited)."""
    _hit(tenants, layout.SITE_CHECKS_PER_CLIENT, client_network(ip), CHECKS_PER_CLIENT)


def _hit(tenants: Tenants, kind: str, key: str, limit_rules, message_id: str | None = None) -> None:
    wait = tenants.data.site().counter(kind).hit_rules(key, limit_rules)
    if wait:
        raise RateLimited(wait, message_id)


def ask(tenants: Tenants, site: HostSite, *, subdomain, organisation, email, accepted_terms: bool, ip: str,
        language: str) -> Asked:
    """Check a sign-up form and keep its verification record; what to mail. Nothing is made."""
    name, host = check_name(tenants, site, subdomain)
    try:
        organisation_name = spool.check_organisation(organisation)
    except BadInput as error:
        error.field = "organisation"
        raise
    try:
        address = normalize_email(email)
    except BadInput as error:
        error.field = "email"
        raise
    if site.terms_url and not accepted_terms:
        raise BadInput("error.get_tenant.terms", field="terms")
    count(tenants, site, ip=ip, email=address)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    record = {"subdomain": name, "parent": site.parent, "organisation": organisation_name, "email": address,
              "ip": ip, "language": language, "asked": int(tenants.clock())}
    _verifications(tenants).put(secret_id(token), record, ttl=LINK_LIFETIME)
    return Asked(token=token, email=address, host=host, organisation=organisation_name)


def count(tenants: Tenants, site: HostSite, *, ip: str, email: str) -> None:
    """One sign-up against each limit, in this order; RateLimited with the limit's own message."""
    _hit(tenants, layout.SITE_SIGNUP_PER_CLIENT, client_network(ip), rules(site.per_ip),
         "error.get_tenant.limit_ip")
    _hit(tenants, layout.SITE_SIGNUP_PER_ADDRESS, mailbox_of(email), rules(site.per_email),
         "error.get_tenant.limit_email")
    _hit(tenants, layout.SITE_SIGNUP_PER_DOMAIN, email.rsplit("@", 1)[1], rules(site.per_domain),
         "error.get_tenant.limit_domain")
    _hit(tenants, layout.SITE_SIGNUPS, "host", ((site.daily_cap, DAY),), "error.get_tenant.daily_cap")


def _verifications(tenants: Tenants):
    return tenants.data.site().transient(layout.SITE_VERIFICATIONS)


def _spent(tenants: Tenants):
    return tenants.data.site().transient(layout.SITE_VERIFIED)


def _record_id(token) -> str:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
        raise NotFound("error.get_tenant.link_invalid")
    return secret_id(token)


def peek(tenants: Tenants, token) -> dict | None:
    """The link's record if it can still be used, without spending it."""
    return _verifications(tenants).get(_record_id(token))


def used_for(tenants: Tenants, token) -> str | None:
    """The request a used link made (within SPENT_KEPT), None if it was not used."""
    marker = _spent(tenants).get(_record_id(token))
    return marker.get("request") if marker else None


def confirm(tenants: Tenants, token) -> Confirmed:
    """Spend the link and queue its request; NotFound if it was used or has expired (see `used_for`)."""
    rid = _record_id(token)
    record = _verifications(tenants).take(rid)
    if record is None:
        raise NotFound("error.get_tenant.link_used" if used_for(tenants, token) else "error.get_tenant.link_invalid")
    try:
        request_id = spool.submit(tenants, subdomain=record["subdomain"], parent=record["parent"],
                                  organisation=record["organisation"], admin_email=record["email"], ip=record["ip"])
    except CodebError as error:
        if error.status == 503:  # the store could not take it now: the link works again
            _verifications(tenants).put(rid, record, ttl=max(1, record["expires"] - int(tenants.clock())))
        elif error.field is None and isinstance(error, Conflict):
            raise BadInput("error.get_tenant.taken_meanwhile", name=record["subdomain"]) from None
        raise
    browser_secret = secrets.token_urlsafe(TOKEN_BYTES)
    spool.bind_browser(tenants, request_id, secret_id(browser_secret))
    _spent(tenants).put(rid, {"request": request_id}, ttl=SPENT_KEPT)
    return Confirmed(request_id=request_id, browser_secret=browser_secret)


def holds(request: dict, browser_secret) -> bool:
    """Whether a browser's secret is the one the request is bound to."""
    bound = request.get("browser")
    if not isinstance(bound, str) or not isinstance(browser_secret, str) or not browser_secret:
        return False
    return hmac.compare_digest(bound, secret_id(browser_secret))
