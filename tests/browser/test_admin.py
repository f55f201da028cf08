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

    # Create the account: the invitation goes out by mail.
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
    admin.locator("#role-admin").check()
    admin.locator("#edit-user button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*m=user_saved"))
    assert accounts.get("dana").roles == ["admin", "user"]
    dana.goto(served + "/account")
    dana.wait_for_url(re.compile(r".*/signin"))

    # The admin deletes the account; Dana's browser holds nothing that still works.
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
