"""What follows every sign-in method (DESIGN: the sign-in flow, step 4), without Flask.

Whatever proved the person, `finish` does the same: a fresh session (new id,
so an id planted before sign-in is worthless), noted in the account's list of
sessions and in the audit log; the waiting authorization request, if this
sign-in was made for one, now belongs to this session; and the screen that
must come first, if any: the passkey the person asked to create with their
link ("Create an account with a passkey"), or must create because no enabled
method could sign them in again without one (a passkey-only tenant), and then
the profile confirmation of a first sign-in.
"""

from dataclasses import dataclass
from typing import Any

from .. import audit
from ..errors import SignInFailed
from ..upstreams import Upstreams
from . import interactions
from .base import VerifiedIdentity

PROFILE, PASSKEY = "profile", "passkey"  # screens a sign-in may have to show first


@dataclass(frozen=True)
class Landing:
    session: Any             # the new signed-in session (codeb.accounts.sessions.Session)
    account: Any             # codeb.accounts.Account
    resume: str | None       # the interaction this sign-in answers, if any
    first: str | None        # PROFILE or PASSKEY: shown before going on; None to go straight on


def admit(identity: VerifiedIdentity, *, accounts, store) -> None:
    """Whether this way in is allowed for the account: a role the admin requires a company's
    identity provider for (`required_for`) signs in only through one of those; SignInFailed
    names it otherwise. Checked after the method verified the person, before any session."""
    required = Upstreams(store).required_for(accounts.require(identity.login).roles)
    # `detail.upstream` is set by company sign-in alone (codeb.signin.federation), over either protocol.
    if required and identity.detail.get("upstream") not in {u["id"] for u in required}:
        raise SignInFailed("error.upstream.required", name=required[0]["name"])


def finish(identity: VerifiedIdentity, *, previous, sessions, accounts, store, methods,
           client_ip: str, agent: str, interaction: str | None = None) -> Landing:
    """Sign the browser in as `identity`. `previous` is the browser's session before (it ends);
    `interaction` is the request the page was for, if the method's own record names none."""
    keep = {"lang": previous.data["lang"]} if previous and previous.data.get("lang") else None
    account = accounts.require(identity.login)
    session = sessions.sign_in(previous, identity, sub=account.sub, keep=keep)
    sessions.remember(accounts, session, ip=client_ip, agent=agent, also=identity.account_change)
    audit.append(store, "signin", login=identity.login, sub=account.sub, method=identity.method,
                 created=identity.created, ip=client_ip)
    pending = identity.interaction or interaction
    resume = pending if pending and interactions.answered_by(store, pending, session.sid) else None
    return Landing(session=session, account=account, resume=resume, first=_first_screen(identity, account, methods))


def passkey_required(account, methods) -> bool:
    """Whether the account must create a passkey before it goes on: passkeys are on and no
    enabled method could sign it in again (it could never come back otherwise)."""
    return "passkey" in methods and not any(method.usable_by(account) for method in methods.values())


def _first_screen(identity: VerifiedIdentity, account, methods) -> str | None:
    # "Create an account with a passkey": the ceremony comes right after the link, before the profile.
    if "passkey" in methods and not account.has_passkeys and (
            identity.detail.get("then") == PASSKEY or passkey_required(account, methods)):
        return PASSKEY
    if not account.profile_confirmed:
        return PROFILE
    return None
