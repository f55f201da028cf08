"""Administration in a real browser: an admin invites a person, changes their role, deletes them.

Two browsers side by side: the admin's and the invited person's. The person's
session must end when the admin deletes the account, in every process, which
here means: the person's next page asks them to sign in again.
"""

import re

from playwright.sync_api import expect

from tests.support.browser import confirm_profile, first_sign_in, office_terminal, run_command


def test_admin_invites_promotes_and_deletes_a_person(served, mailbox, accounts, new_context, console):
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    admin = new_context().new_page()
    first_sign_in(admin, served, mailbox, "boss@example.com")
    expect(admin.locator("#tile-admin")).to_be_visible()  # the shell offers administration to admins
    admin.locator("#tile-admin").click()
    admin.wait_for_url(served + "/admin.html")
    admin.locator("#tile-users").click()

    # Create the account from the "Invite" panel: the invitation goes out by mail.
    admin.locator("#invite-panel > summary").click()
    admin.locator("#new-email").fill("dana@example.com")
    admin.locator("#new-name").fill("Dana Demo")
    admin.locator("#create-user button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*/admin/users/dana\?m=user_created"))
    expect(admin.locator(".alert-success").first).to_contain_text("invitation sent")

    # Dana follows the invitation in her own browser and lands in the office shell.
    dana = new_context().new_page()
    invitation = mailbox.last()
    assert invitation.message["To"] == "dana@example.com"
    dana.goto(re.search(r"https?://\S+/link/i\.\S+", invitation.text).group(0))
    dana.locator("#complete-signin").click()
    dana.wait_for_url(served + "/welcome")
    expect(dana.locator("#display_name")).to_have_value("Dana Demo")
    confirm_profile(dana)
    terminal = office_terminal(dana, served)
    expect(terminal).to_contain_text("roles = user")

    # The admin makes her an admin: her session ends, her next sign-in carries the role.
    admin.locator("#tab-roles").click()
    admin.locator("#role-admin").check()
    admin.locator("#edit-roles button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*m=user_saved"))
    assert accounts.get("dana").roles == ["admin", "user"]
    dana.goto(served + "/account")
    dana.wait_for_url(re.compile(r".*/signin"))

    # The admin deletes the account (behind a confirmation that says what goes); Dana's
    # browser holds nothing that still works.
    admin.locator("#tab-profile").click()
    admin.locator("#confirm-delete-user > summary").click()
    admin.locator("#confirm-delete").fill("dana")
    admin.locator("#delete-user button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*/admin/users\?m=user_deleted"))
    expect(admin.locator("#user-table")).not_to_contain_text("dana")
    assert accounts.get("dana") is None
    dana.goto(served + "/office.html")
    dana.wait_for_url(re.compile(r".*/signin\?i=.*"))  # asked to sign in: no account, no session
    # Her tab still held its token: /api/me refused it (401), which Chromium logs as an error.
    console.assert_clean(allow=("status of 401 (UNAUTHORIZED) (" + served + "/api/me)",))


def test_people_without_the_role_see_a_clear_refusal(served, mailbox, new_context, console):
    page = new_context().new_page()
    first_sign_in(page, served, mailbox, "eve@example.com")
    expect(page.locator("#tile-admin")).to_be_hidden()
    run_command(page, "?")
    expect(page.locator("#terminal-output")).not_to_contain_text("admin ")
    response = page.goto(served + "/admin.html")
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("You do not have access")
    console.assert_clean(allow=("403",))


def test_copy_buttons_put_ids_and_urls_on_the_clipboard(served, mailbox, accounts, demo, new_context, console):
    """The client's id and the provider's endpoint URLs copy with one click and say so; the
    clipboard holds exactly the shown text."""
    from codeb.oidc.clients import Clients

    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    client, _ = Clients(demo.store).add(name="Portal", redirect_uris=["https://portal.example/cb"])
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served)
    page = context.new_page()
    first_sign_in(page, served, mailbox, "boss@example.com")
    page.goto(served + f"/admin/clients/{client.client_id}")
    button = page.locator('button[data-copy="client-id"]')
    expect(button).to_be_visible()
    button.click()
    expect(button.locator("xpath=following-sibling::span[@role='status']")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == client.client_id
    page.locator('button[data-copy="endpoint-discovery"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == served + "/.well-known/openid-configuration"
    console.assert_clean()


def test_without_script_the_copy_buttons_stay_hidden_and_the_text_is_there(served, mailbox, accounts, demo,
                                                                          new_context):
    from codeb.oidc.clients import Clients

    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    client, _ = Clients(demo.store).add(name="Portal", redirect_uris=["https://portal.example/cb"])
    page = new_context().new_page()
    first_sign_in(page, served, mailbox, "boss@example.com")
    quiet = new_context(java_script_enabled=False, storage_state=page.context.storage_state()).new_page()
    quiet.goto(served + "/admin/clients")
    expect(quiet.locator('button[data-copy]').first).to_be_hidden()
    expect(quiet.locator("#client-id-1")).to_have_text(client.client_id)
    expect(quiet.locator("#endpoint-issuer")).to_have_text(served)


def test_the_user_list_is_stacked_cards_on_a_phone(served, mailbox, accounts, new_context, console):
    """At 390 px each account is a card whose fields name their column; nothing scrolls sideways."""
    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    for n in range(3):
        accounts.create(email=f"maximiliane.mustermann-{n}@personalverwaltung.beispiel.example")
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    first_sign_in(page, served, mailbox, "boss@example.com")
    for path in ("/admin/users", "/admin/audit", "/admin/users/boss?tab=sessions"):
        page.goto(served + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.goto(served + "/admin/users")
    rows = page.locator("#user-table tbody tr")
    expect(rows).to_have_count(4)
    first, second = rows.nth(0).bounding_box(), rows.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"] - 1  # one card under the other
    assert first["width"] <= 390
    label = page.evaluate("""() => getComputedStyle(document.querySelector('#user-table tbody td[data-label]'),
                                                    '::before').content""")
    assert label.strip('"') == "Select"
    expect(page.locator("#user-table thead")).not_to_be_in_viewport()
    console.assert_clean()


def test_an_upstream_is_edited_in_its_panel_with_a_wrong_field_named_beside_it(served, mailbox, accounts, demo,
                                                                               new_context, console):
    """The "Edit" panel of a company identity provider: prefilled, a wrong domain named at its
    field (focused, the panel open, no serious axe finding), then saved; the JWKS URL to copy."""
    from codeb.upstreams import Upstreams
    from tests.browser.test_accessibility import AXE, audit

    accounts.create(email="boss@example.com", login="boss", roles=["user", "admin"])
    uid = Upstreams(demo.store).add(name="Corp", issuer="https://idp.example", client_id="codeb",
                                    client_secret="s3cret", domains=["corp.example"])["id"]
    context = new_context()
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    first_sign_in(page, served, mailbox, "boss@example.com")
    page.goto(served + "/admin/upstreams")
    expect(page.locator("#jwks-uri")).to_have_text(served + "/signin/oidc/jwks")
    page.locator(f"#edit-{uid}-panel > summary").click()
    expect(page.locator(f"#edit-{uid}-name")).to_have_value("Corp")
    expect(page.locator(f"#edit-{uid}-token-auth")).to_have_value("client_secret_basic")
    page.locator(f"#edit-{uid}-domains").fill("corp.example not_a_domain")
    page.locator(f"#edit-{uid} button[type=submit]").click()
    error = page.locator(f"#edit-{uid}-domains-error")
    expect(error).to_contain_text("“not_a_domain” is not an email domain")
    expect(page.locator(f"#edit-{uid}-domains")).to_be_focused()
    expect(page.locator(f"#edit-{uid}-domains")).to_have_attribute("aria-invalid", "true")
    findings = []
    audit(page, "company sign-in, an edit refused", findings)
    assert not findings, "\n".join(findings)
    page.locator(f"#edit-{uid}-domains").fill("corp.example corp.test")
    page.locator(f"#edit-{uid}-roles").fill("Admins = admin")
    page.locator(f"#edit-{uid} button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/admin/upstreams\?m=upstream_updated"))
    expect(page.locator(".alert-success").first).to_contain_text("The identity provider was saved.")
    saved = Upstreams(demo.store).get(uid)
    assert saved["domains"] == ["corp.example", "corp.test"] and saved["roles"] == {"Admins": "admin"}
    assert saved["client_secret"] == "s3cret"
    console.assert_clean(allow=("status of 400",))  # the refused edit's page
