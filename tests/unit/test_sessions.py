"""Sessions under concurrent requests: what two requests of one browser save must agree.

A signed-in session's record is rewritten whole by every request that changed it. Its
CSRF token used to be made by the first page that needed one, so two pages opened at
once right after a sign-in (two tabs, or an admin's pages served by two servers of a
farm) each made their own, and the later save left the other page's forms refused.
"""

import time

from codeb.accounts.sessions import Sessions
from codeb.signin.base import VerifiedIdentity
from codeb.tenants.secrets import session_secret


def test_two_requests_right_after_a_sign_in_hand_out_the_same_csrf_token(demo, accounts):
    account = accounts.create(email="ann@example.com")
    sessions = Sessions(demo.store, lambda: session_secret(demo.store))
    identity = VerifiedIdentity(login=account.login, method="magic_link", amr=("email",),
                                auth_time=int(time.time()))
    cookie = sessions.save(sessions.sign_in(None, identity, sub=account.sub))
    first, second = sessions.load(cookie, accounts), sessions.load(cookie, accounts)  # at once
    tokens = first.csrf, second.csrf  # each renders a page with a form
    sessions.save(first)
    sessions.save(second)
    assert tokens[0] == tokens[1] == sessions.load(cookie, accounts).csrf


def test_a_sign_in_gets_a_new_csrf_token(demo, accounts):
    account = accounts.create(email="ann@example.com")
    sessions = Sessions(demo.store, lambda: session_secret(demo.store))
    before = sessions.start()
    identity = VerifiedIdentity(login=account.login, method="magic_link", amr=("email",),
                                auth_time=int(time.time()))
    after = sessions.sign_in(before, identity, sub=account.sub)
    assert after.data["csrf"] and after.data["csrf"] != before.csrf
