"""How the screenshot tour (tests/browser/test_screenshots.py) reaches the host site's pages.

The tour's demo site (tests.support.site) is given a host site, `www.localhost`, on its own
port, with limits no tour reaches (it signs up once per page and combination from one
address). Each sign-up asks for a subdomain of its own, so that none is pending for another.
"""

import re
import secrets
from urllib.parse import urlsplit

from codeb.provisioning import site as host_site
from codeb.provisioning import worker
from codeb.tenants import Tenants

SITE = "www.localhost"
VERIFY_LINK = re.compile(r"https?://\S+/get-your-tenant/verify/\S+")
NO_LIMIT = 100_000


def site_url(visit, path: str) -> str:
    registry = Tenants(visit.site.root)
    if host_site.load(registry) is None:
        host_site.configure(registry, site=SITE, parent="localhost", terms_url="https://codeb.example/terms",
                            daily_cap=NO_LIMIT, per_ip=NO_LIMIT, per_email=NO_LIMIT, per_domain=NO_LIMIT)
    return f"http://{SITE}:{visit.site.port}{path}"


def form(visit) -> None:
    visit.go(site_url(visit, "/get-your-tenant.html"))


def fill_in(visit, subdomain: str | None = None) -> str:
    """The form filled in and sent; the address its link went to."""
    form(visit)
    email = visit.email("founder-" + secrets.token_hex(3))
    visit.page.locator("#subdomain").fill(subdomain or "co" + secrets.token_hex(5))
    visit.page.locator("#organisation").fill("Rocket Labs")
    visit.page.locator("#email").fill(email)
    visit.page.locator("#terms").check()
    with visit.page.expect_navigation():
        visit.page.locator("#get-tenant-button").click()
    return email


def refused_name(visit) -> None:
    fill_in(visit, subdomain="admin")


def sent(visit) -> None:
    fill_in(visit)


def link_of(visit, email: str) -> str:
    mail = next(m for m in reversed(visit.site.mailbox.messages()) if m.message["To"] == email)
    return VERIFY_LINK.search(mail.text).group(0)


def verify(visit) -> str:
    """The mailed link opened: its one button; the link."""
    link = link_of(visit, fill_in(visit))
    visit.go(link)
    return link


def progress(visit) -> str:
    """The link's button pressed: the progress page; the link."""
    link = verify(visit)
    with visit.page.expect_navigation():
        visit.page.locator("#verify-button").click()
    return link


def ready(visit) -> None:
    """The Python steps done (the worker run here), "Open your admin console" shown."""
    progress(visit)
    worker.drain(Tenants(visit.site.root))
    visit.page.reload()
    visit.page.locator("#handoff-form").wait_for(state="visible")


def link_used(visit) -> None:
    """The link opened again after it made its request, by the browser that holds the request."""
    link = progress(visit)
    assert urlsplit(visit.page.url).path.startswith("/get-your-tenant/progress/")
    visit.go(link)
