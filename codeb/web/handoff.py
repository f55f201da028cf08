"""`GET /handoff?t=…`: a new tenant's first admin arrives from the host site's progress page.

The token is spent and checked by codeb.signin.handoff (this tenant's, one minute, once);
then the browser is signed in as every sign-in does (codeb.signin.flow.finish: a fresh
session, listed in the account's devices, the `signin` audit line with method `handoff`)
and goes to the admin console, after the first sign-in's profile screen when the account
has not confirmed one. A token replayed, expired, of another tenant or of an account that
is no longer an active admin is an error page, nothing signed in, and a `handoff.refused`
line in this tenant's audit log.
"""

from flask import Blueprint, g, redirect, request, url_for

from .. import audit, signin
from ..errors import AccountDisabled, SignInFailed
from ..signin import flow, handoff
from . import context
from .signin import FIRST_SCREENS

bp = Blueprint("handoff", __name__)


@bp.get("/handoff")
def arrive():
    store = g.tenant.store
    try:
        identity = handoff.redeem(store, request.args.get("t"), tenant=g.tenant.name)
        account = g.accounts.get(identity.login)
        if account is None or "admin" not in account.roles:
            raise SignInFailed("error.handoff.invalid")
        if account.disabled:
            raise AccountDisabled()
        flow.admit(identity, accounts=g.accounts, store=store)
    except SignInFailed as error:
        audit.append(store, "handoff.refused", reason=error.message_id, ip=context.client_ip())
        raise
    previous = g.session
    landing = flow.finish(identity, previous=previous, sessions=g.sessions, accounts=g.accounts, store=store,
                          methods=signin.enabled(g.tenant), client_ip=context.client_ip(),
                          agent=request.headers.get("User-Agent", ""))
    g.session, g.ended_session, g.account = landing.session, previous, landing.account
    audit.append(store, "handoff.used", login=account.login, sub=account.sub, request=identity.detail.get("request"),
                 ip=context.client_ip())
    target = url_for("admin.shell")
    if landing.first:  # the first sign-in's screens come first, then the admin console
        g.session.set("continue", target)
        return redirect(url_for(FIRST_SCREENS[landing.first]), code=303)
    return redirect(target, code=303)
