"""A stranger gets a tenant, end to end in Chromium: the form on the host site, the verification
mail in the pickup folder, its link, the worker (`python -m codeb provision run --once`, a process
of its own as the privileged worker is), the progress page reaching its end, the new tenant's
discovery document, and the hand-off landing signed in on the new tenant's admin console.

The host site is `www.localhost` and the new tenant `<name>.localhost`, both on the served app's
loopback port (Chromium resolves every `*.localhost` to the loopback address, RFC 6761 §6.3).
The test prints how long it took and holds it under the issue's two minutes (issue 15).
"""

import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import requests
from playwright.sync_api import expect

from codeb.provisioning import site
from codeb.tenants import Tenants
from tests.support.browser import confirm_profile
from tests.support.codebase import ROOT

LIMIT = 120  # seconds: "a tenant in two minutes"
VERIFY_LINK = re.compile(r"https?://\S+/get-your-tenant/verify/\S+")


def test_a_stranger_gets_a_tenant_and_lands_in_its_admin_console(served, data_root, mailbox, new_context,
                                                                    console):
    port = urlsplit(served).port
    site.configure(Tenants(str(data_root)), site="www.localhost", parent="localhost",
                   terms_url="https://codeb.example/terms")
    started = time.monotonic()
    page = new_context(locale="en-US").new_page()

    page.goto(f"http://www.localhost:{port}/get-your-tenant.html")
    expect(page.locator("h1")).to_have_text("Get your own tenant")
    page.locator("#subdomain").fill("www")
    expect(page.locator("#subdomain-check")).to_contain_text("is reserved")
    page.locator("#subdomain").fill("acme")
    expect(page.locator("#subdomain-check")).to_contain_text("is taken")
    page.locator("#subdomain").fill("rocket")
    expect(page.locator("#subdomain-check")).to_have_text("rocket.localhost is available.")
    page.locator("#organisation").fill("Rocket Labs")
    page.locator("#email").fill("founder@rocket.example")
    page.locator("#terms").check()
    page.locator("#get-tenant-button").click()
    expect(page.locator("h1")).to_have_text("Check your mail")

    mail = next(m for m in mailbox.messages() if m.message["To"] == "founder@rocket.example")
    link = VERIFY_LINK.search(mail.text).group(0)
    assert link.startswith(f"http://www.localhost:{port}/get-your-tenant/verify/"), link
    page.goto(link)
    page.locator("#verify-button").click()
    page.wait_for_url("**/get-your-tenant/progress/*")
    expect(page.locator('[data-step="claim"] .badge')).to_have_text("waiting")

    worker = subprocess.run([sys.executable, "-m", "codeb", "--data", str(data_root), "provision", "run", "--once"],
                            cwd=ROOT, capture_output=True, text=True, timeout=LIMIT)
    assert worker.returncode == 0, worker.stderr
    assert '"python_done"' in worker.stdout, worker.stdout

    # The page polls by itself: every Python step done, the Windows steps prepared for the server.
    for step in ("claim", "folder_and_keys", "settings", "first_admin", "turn", "vapid"):
        expect(page.locator(f'[data-step="{step}"] .badge')).to_have_text("done")
    for step in ("iis", "tls", "dns_check"):
        expect(page.locator(f'[data-step="{step}"] .badge')).to_have_text("prepared for the server")
    expect(page.locator("#progress-message")).to_contain_text("rocket.localhost is ready")

    # Python's resolver may not know `*.localhost`: the loopback address, with the tenant's Host.
    discovery = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                             headers={"Host": f"rocket.localhost:{port}"}, timeout=10)
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == f"http://rocket.localhost:{port}"

    page.locator("#handoff-button").click()
    page.wait_for_url(f"http://rocket.localhost:{port}/welcome")
    confirm_profile(page, display_name="Rocket Founder")
    page.wait_for_url(f"http://rocket.localhost:{port}/admin.html")
    expect(page.locator("main")).to_be_visible()
    expect(page.locator(".account-menu summary")).to_have_attribute("aria-label", re.compile("Rocket Founder"))

    elapsed = time.monotonic() - started
    print(f"\nget-your-tenant: from the form to the new tenant's admin console in {elapsed:.1f} s")
    assert elapsed < LIMIT, f"took {elapsed:.1f} s"
    console.assert_clean()
