"""Accessibility of the pages a person meets, checked by axe-core in Chromium.

axe-core comes from the npm registry (tests/node, `npm ci`). The pages send
`script-src 'self'`, so `page.add_script_tag` (an inline script) is refused by
their CSP. axe is injected as an init script instead
(`context.add_init_script(path=…)`): Chromium runs it through the DevTools
protocol, before the page's own scripts, and the page's CSP does not apply to
it. The pages' CSP stays in force for everything else (no `bypass_csp`), and
only this test's context carries the script.

Rules: the WCAG 2.0 / 2.1 / 2.2 A and AA tags. A violation of impact
"serious" or "critical" fails the test; each is printed with its rule, impact,
target and help text.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import ask_for_link, confirm_profile, follow_link, office_terminal
from tests.support.virtual_authenticator import VirtualAuthenticator

AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
FAILING = ("serious", "critical")

RUN_AXE = """async (tags) => {
    const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    const brief = (list) => list.map(rule => ({
        id: rule.id, impact: rule.impact, help: rule.help, helpUrl: rule.helpUrl,
        nodes: rule.nodes.map(node => ({target: node.target.join(' '), html: node.html,
                                         summary: node.failureSummary})),
    }));
    return {version: axe.version, url: location.href, violations: brief(results.violations),
            passes: results.passes.length, incomplete: results.incomplete.map(r => r.id)};
}"""


def audit(page, name, findings):
    """Run axe on the page as it is now; note its serious and critical violations under `name`."""
    expect(page.locator("main")).to_be_visible()
    result = page.evaluate(RUN_AXE, TAGS)
    assert result["passes"] > 0, f"axe checked nothing on {name}: {result}"
    for rule in result["violations"]:
        if rule["impact"] in FAILING:
            for node in rule["nodes"]:
                findings.append(f"{name} ({result['url']}): {rule['id']} [{rule['impact']}] at {node['target']}\n"
                                f"    {rule['help']} ({rule['helpUrl']})\n    {node['html']}\n"
                                f"    {node['summary']}")
        else:  # shown with -rP / -s, not a failure
            print(f"{name}: {rule['id']} [{rule['impact']}] {rule['help']}")
    return result


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
def test_pages_have_no_serious_accessibility_violations(served, mailbox, new_context, console, locale):
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` in tests/node (`make test` does)"
    context = new_context(locale=locale)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    VirtualAuthenticator.attach(page)
    findings = []

    page.goto(served + "/signin")
    assert page.evaluate("typeof axe") == "object", "axe-core was not injected"
    audit(page, "sign-in page", findings)

    email = "ada@example.com"
    ask_for_link(page, email)
    audit(page, "check-inbox page", findings)
    # The link opened in another browser: "Was this you? Also sign in that device".
    elsewhere = new_context(locale=locale)
    elsewhere.add_init_script(path=str(AXE))
    opened = elsewhere.new_page()
    opened.goto(mailbox.last_link(to=email))
    expect(opened.locator("#asker-heading")).to_be_visible()
    audit(opened, "link opened in another browser", findings)
    follow_link(page, mailbox, email)
    page.wait_for_url(served + "/welcome")
    audit(page, "profile screen", findings)

    # The passkey step (after the profile), then a passkey made there leads to the shell.
    confirm_profile(page, nickname="Ada", passkey_step=None)
    page.wait_for_url(served + "/welcome/passkey")
    audit(page, "passkey step", findings)
    page.locator("#passkey-name").fill("Laptop")
    page.locator("#passkey-create-button").click()
    office_terminal(page, served)
    audit(page, "office shell", findings)

    page.goto(served + "/account")
    audit(page, "account settings: profile", findings)
    page.goto(served + "/account/sign-in")
    expect(page.locator("article.passkey")).to_have_count(1)
    audit(page, "account settings: sign-in", findings)
    page.goto(served + "/account/devices")
    expect(page.locator("li.session")).not_to_have_count(0)
    audit(page, "account settings: devices", findings)
    page.goto(served + "/account/privacy")
    audit(page, "account settings: privacy", findings)

    for path, name in (("/help", "help page"), ("/help/oidc", "OIDC deep-dive"), ("/offline.html", "offline page")):
        page.goto(served + path)
        audit(page, name, findings)

    assert not findings, "axe-core found serious or critical violations:\n" + "\n".join(findings)
    console.assert_clean(allow=())
    assert not console.csp_violations(), console.dump()


def test_audit_reports_violations(served, new_context):
    """The check above does find what it looks for: an unlabelled field and an image without text."""
    context = new_context()
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.goto(served + "/signin")
    page.evaluate("""() => {
        const field = document.createElement('input');
        const image = document.createElement('img');
        image.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
        document.querySelector('main').append(field, image);
    }""")
    findings = []
    audit(page, "sign-in page, spoiled", findings)
    found = "\n".join(findings)
    assert "label [critical]" in found and "image-alt [critical]" in found, found
