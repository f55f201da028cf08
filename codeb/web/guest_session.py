"""A guest's browser session over HTTP (codeb.rooms.guests): who a guest's request is, and where it may go.

A member invites from the channel or meeting view with the shell's access token (bearer
calls, as `codeb.web.workspace`): `POST /api/guests/invites` makes a link, shown to the
inviter once, or mails it through the pickup folder (then nobody sees it but the guest).
The link is `https://<host>/guest#<token>`: the token is in the fragment, which no browser
sends to a server, so it never reaches a request log or a Referer; the join page's script
reads it and posts it.

Joining (`POST /api/guest/join`, the token and a display name) sets the guest's cookie: the
session's random token, HttpOnly, `SameSite=Strict`, host-only (`__Host-` over https), for
as long as the session lives. A guest has no account, no `sub`, and no browser session of
the sign-in: they never pass `/authorize`, so no token of the OpenID Provider is theirs.
With the cookie a browser is that guest, and nothing more:
- the workspace's views (channels, meetings, TURN) take them as the caller through
  `caller(cid)`, for their one conversation only; another one, or any view of the shell
  that is not for guests, is 403, and a session that has ended (the meeting over, the
  invite revoked or expired, the guest removed) is 401;
- every other page and API of the tenant (the office shell, admin, account, `/userinfo`,
  `/authorize` ...) is 403 for a browser whose only identity is a guest's (`keep_guests_in`,
  before any view); a person signed in on the same browser is judged as themselves.
Every write a guest makes carries `X-CSRF-Token`, a hash of their session token the join
answer gives the page: the cookie alone, sent along by a cross-site form, does nothing.
"""

import hashlib
import hmac

from flask import g, request

from .. import rooms
from ..errors import Forbidden, NotFound, Unauthorized
from ..rooms.channels import Channels
from ..rooms.guests import Guest, Guests
from ..rooms.meetings import Meetings
from . import context

GUEST_PAGE = "/guest"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The views a guest's browser may reach: its own page and API, the workspace's views (which
# judge a guest by `caller`), and the files every page needs. Everything else is 403 for it.
GUEST_VIEWS = {"static", "brand.logo", "brand.favicon", "brand.stylesheet", "pages.language", "guests.guest_page",
               "guests.guest_check", "guests.guest_join", "guests.guest_me", "guests.guest_leave"}
GUEST_WORKSPACE = {"workspace.channel_show", "workspace.message_history", "workspace.message_changes",
                   "workspace.message_post", "workspace.message_edit", "workspace.message_delete",
                   "workspace.message_read", "workspace.message_search", "meetings.meeting_show",
                   "meetings.meeting_presence", "meetings.meeting_signals", "meetings.turn_credentials"}


def cookie_name() -> str:
    return "__Host-codeb-guest" if context.secure_cookies() else "codeb-guest"


def csrf_of(session: str) -> str:
    """The guest page's CSRF token: bound to the session, known only to who holds both."""
    return hashlib.sha256(f"codeb.guest-csrf/{session}".encode()).hexdigest()[:43]


def is_open(scope: rooms.Scope) -> bool:
    """Whether a guest's conversation still runs: the channel not archived, the meeting not over."""
    store = g.tenant.store
    try:
        if scope.kind == "meeting":
            return not Meetings(store).get(scope.id).is_over(store.clock())
        return not Channels(store).get(scope.id).archived
    except NotFound:
        return False


def conversation_name(scope: rooms.Scope) -> str:
    """A channel's or meeting's name; "" once it is deleted."""
    store = g.tenant.store
    try:
        found = Meetings(store).get(scope.id) if scope.kind == "meeting" else Channels(store).get(scope.id)
    except NotFound:
        return ""
    return found.name


def guests() -> Guests:
    return Guests(g.tenant.store, g.tenant.name, is_open=is_open)


def session_token() -> str | None:
    return request.cookies.get(cookie_name()) or None


def current() -> Guest | None:
    """The guest this browser is, if its cookie names a session that still lets them in."""
    if "guest" not in g.__dict__:
        token = session_token()
        g.__dict__["guest"] = guests().session(token) if token else None
    return g.__dict__["guest"]


def caller(cid: str | None, *, meeting_only: bool = False) -> rooms.Participant | None:
    """For the workspace's views: the guest calling, if this is a guest's request (no bearer,
    the guest's cookie), admitted to `cid` only. None: not a guest's call (the bearer decides)."""
    if request.headers.get("Authorization") or session_token() is None:
        return None
    guest = current()
    if guest is None:
        raise Unauthorized("error.guests.session_over")
    if request.endpoint not in GUEST_WORKSPACE or (meeting_only and guest.scope.kind != "meeting") \
            or (cid is not None and cid != guest.scope.id) or (cid is None and not meeting_only):
        raise Forbidden("error.guests.out_of_scope")
    if request.method in UNSAFE:
        sent = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(sent, csrf_of(session_token() or "")):
            raise Forbidden("error.csrf")
    return guest.participant()


def keep_guests_in() -> None:
    """Before every view: a browser that is only a guest reaches its conversation, nothing else."""
    if request.endpoint in GUEST_VIEWS or request.endpoint in GUEST_WORKSPACE or request.endpoint is None:
        return
    if request.cookies.get(cookie_name()) is None or "tenant" not in g.__dict__:
        return
    if g.account is not None:
        return  # a person signed in here is themselves: the guest cookie is not who they are
    if current() is not None:
        raise Forbidden("error.guests.out_of_scope")
