"""Whom a stored code or refresh token still stands for (`principal_from`), without Flask or HTTP."""

from types import SimpleNamespace

from codeb.accounts import Account
from codeb.oidc.grants import principal_from


def server_with(**account_fields):
    doc = {"login": "erin", "sub": "sub-1", "roles": ["user"], **account_fields}
    return SimpleNamespace(accounts=SimpleNamespace(get=lambda login: Account(doc) if login == "erin" else None))


def record(**fields):
    return {"login": "erin", "sub": "sub-1", "auth_time": 990, "amr": ["otp"], "gid": "0" * 32,
            "granted": 1000, **fields}


def test_a_grant_begun_up_to_the_cut_off_second_is_void():
    """Finding 10: a grant that began before or in the same second as `tokens_not_before` is void; after it, not."""
    assert principal_from(server_with(tokens_not_before=1000.5), record()) is None
    assert principal_from(server_with(tokens_not_before=1000), record()) is None
    kept = principal_from(server_with(tokens_not_before=999.9), record())
    assert kept is not None and kept.granted == 1000 and kept.record()["granted"] == 1000  # a rotation keeps it


def test_a_record_from_before_grant_starts_were_noted_counts_from_its_sign_in():
    """Finding 9: an older code or refresh token without `granted` is judged by its sign-in time."""
    legacy = record()
    del legacy["granted"]
    assert principal_from(server_with(tokens_not_before=995), legacy) is None
    assert principal_from(server_with(tokens_not_before=985), legacy).granted == 990


def test_a_record_of_another_account_with_the_login_is_void():
    """Finding 1: a code or refresh token names its account's sub; a new account with the login is not it."""
    assert principal_from(server_with(sub="sub-2"), record()) is None
    assert principal_from(server_with(disabled=True), record()) is None
