"""Sessions under concurrent requests: what two requests of one browser save must agree.

A request that changed a signed-in session saves only the keys it changed, under the
record's lock, so two requests that change different keys at once both keep theirs. Its
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


def signed_in(demo, accounts):
    account = accounts.create(email="ann@example.com")
    sessions = Sessions(demo.store, lambda: session_secret(demo.store))
    identity = VerifiedIdentity(login=account.login, method="magic_link", amr=("email",),
                                auth_time=int(time.time()))
    return sessions, sessions.save(sessions.sign_in(None, identity, sub=account.sub))


def test_two_requests_changing_different_keys_at_once_both_keep_their_change(demo, accounts):
    sessions, cookie = signed_in(demo, accounts)
    first, second = sessions.load(cookie, accounts), sessions.load(cookie, accounts)  # at once
    first.set("lang", "de")         # one tab picks a language
    second.set("continue", "/account/devices")  # the other asks to come back after a step
    sessions.save(first)
    sessions.save(second)
    stored = sessions.load(cookie, accounts)
    assert stored.data["lang"] == "de" and stored.data["continue"] == "/account/devices"
    assert second.data["lang"] == "de"  # the saved session holds what the other request changed


def test_a_removed_key_stays_removed_and_other_keys_stay(demo, accounts):
    sessions, cookie = signed_in(demo, accounts)
    setup = sessions.load(cookie, accounts)
    setup.set("continue", "/account")
    sessions.save(setup)
    first, second = sessions.load(cookie, accounts), sessions.load(cookie, accounts)
    assert first.pop("continue") == "/account"
    second.set("lang", "de")
    sessions.save(first)
    sessions.save(second)
    stored = sessions.load(cookie, accounts)
    assert "continue" not in stored.data and stored.data["lang"] == "de"
    assert stored.data["login"] and stored.data["csrf"]  # what neither changed is untouched


def test_a_session_ended_meanwhile_is_not_written_again(demo, accounts):
    sessions, cookie = signed_in(demo, accounts)
    loaded = sessions.load(cookie, accounts)
    sessions.end(sessions.load(cookie, accounts))  # signed out in another request
    loaded.set("lang", "de")
    sessions.save(loaded)
    assert sessions.load(cookie, accounts) is None
