"""Guests over HTTP (codeb.rooms.guests): the shell's invitations and the guest's join page.

How a guest's browser session is judged, and kept to its conversation: `codeb.web.guest_session`.
"""

import hmac

from flask import Blueprint, Response, g, render_template, request

from .. import audit, rooms
from ..errors import BadInput, Forbidden, NotFound, Unauthorized
from ..rooms.channels import Channels
from ..rooms.guests import SESSION_LIFETIME, Guest, Invite
from ..signin.base import client_network
from . import context
from .errors import answers
from .guest_session import GUEST_PAGE, conversation_name, cookie_name, csrf_of, current, guests, session_token
from .office import shell_messages
from .workspace import _body, _json, actor

bp = Blueprint("guests", __name__)


# -- the inviter (the shell's bearer) -----------------------------------------------------


def _scope(body: dict) -> rooms.Scope:
    scope = body.get("scope")
    if not isinstance(scope, dict) or set(scope) != {"kind", "id"}:
        raise BadInput("error.rooms.scope")
    return rooms.Scope(kind=scope["kind"], id=rooms.check_id(scope["id"]))


def _invite_view(invite: Invite, guests_of: list[Guest]) -> dict:
    now = g.tenant.store.clock()
    state = ("revoked" if invite.revoked is not None else "expired" if invite.expires <= now
             else "used" if not invite.multi and invite.uses >= 1 else "open")
    return {"id": invite.id, "scope": {"kind": invite.scope.kind, "id": invite.scope.id}, "by_name": invite.by_name,
            "mine": invite.by == g.workspace_account.sub, "created": invite.created, "expires": invite.expires,
            "multi": invite.multi, "uses": invite.uses, "email": invite.email, "state": state,
            "guests": [{"id": guest.id, "name": guest.name, "joined": guest.joined, "removed": guest.removed}
                       for guest in guests_of if guest.invite == invite.id]}


def link_for(token: str) -> str:
    return f"{g.issuer}{GUEST_PAGE}#{token}"


@bp.post("/api/guests/invites")
@answers("json")
def invite_create():
    """A member invites a guest into this conversation: a link (shown once) or a mail."""
    me = actor()
    body = _body()
    scope = _scope(body)
    found = guests()  # what the body holds is checked there: a ttl in seconds, multi a bool
    invite, token = found.invite(by=me, scope=scope, ttl=body.get("ttl", 0), multi=body.get("multi", ""),
                                 email=body.get("email"))
    audit.append(g.tenant.store, "guest.invited", login=g.workspace_account.login, scope=scope.kind,
                 conversation=scope.id, invite=invite.id, mailed=invite.email is not None, multi=invite.multi)
    answer: dict[str, object] = {"invite": _invite_view(invite, [])}
    if invite.email is None:
        answer["link"] = link_for(token)  # shown to the inviter this once
        return _json(answer, status=201)
    account = g.workspace_account
    try:  # in the inviter's language: the guest has told us nothing yet
        context.mailer().send("guest_invite", to=invite.email, language=g.lang, url=link_for(token),
                              inviter=account.display_name or account.login,
                              conversation=conversation_name(scope), meeting=scope.kind == "meeting",
                              expires=invite.expires)
    except Exception:
        found.revoke(invite.id, by=me)  # a link nobody holds, and an invite nobody can use
        raise
    return _json(answer, status=201)


@bp.get("/api/guests/invites")
@answers("json")
def invite_list():
    """The invitations of one conversation and who came by them (`?kind=&id=`), for its members."""
    me = actor()
    scope = rooms.Scope(kind=request.args.get("kind", ""), id=rooms.check_id(request.args.get("id", "")))
    if Channels(g.tenant.store).get(scope.id).role_of(me) not in ("owner", "member"):
        raise NotFound("error.rooms.not_found")
    found = guests()
    of_scope = found.of_scope(scope)
    return _json({"invites": [_invite_view(invite, of_scope) for invite in found.invites(scope)]})


@bp.delete("/api/guests/invites/<iid>")
@answers("json")
def invite_revoke(iid):
    me = actor()
    invite = guests().revoke(iid, by=me, admin="admin" in g.workspace_account.roles)
    audit.append(g.tenant.store, "guest.revoked", actor=g.workspace_account.login, invite=invite.id,
                 conversation=invite.scope.id)
    return _json({"invite": _invite_view(invite, [])})


@bp.delete("/api/guests/<gid>")
@answers("json")
def guest_remove(gid):
    me = actor()
    guest = guests().remove(gid, by=me, admin="admin" in g.workspace_account.roles)
    audit.append(g.tenant.store, "guest.removed", actor=g.workspace_account.login, guest=guest.id,
                 conversation=guest.scope.id)
    return _json({"removed": guest.id})


# -- the guest ------------------------------------------------------------------------------


@bp.get(GUEST_PAGE)
@answers("page")
def guest_page():
    """The join page: the script reads the link's token from the fragment."""
    response = Response(render_template("guest/room.html", messages=shell_messages()))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
    return response


def _token(body: dict) -> str:
    token = body.get("token")
    if not isinstance(token, str):
        raise NotFound("error.guests.link_invalid")
    return token


def _conversation(scope: rooms.Scope) -> dict:
    return {"kind": scope.kind, "id": scope.id, "name": conversation_name(scope)}


@bp.post("/api/guest/check")
@answers("json")
def guest_check():
    """What a link invites to, before the guest gives a name: or why it cannot be used (404, 410)."""
    invite = guests().check(_token(_body()))
    return _json({"conversation": _conversation(invite.scope), "by_name": invite.by_name,
                  "expires": invite.expires})


@bp.post("/api/guest/join")
@answers("json")
def guest_join():
    """Redeem a link: the guest's session cookie, and what the page needs to show their conversation."""
    if not request.is_json:
        raise BadInput("error.rooms.body")  # a cross-site form cannot send JSON without asking first
    body = _body()
    found = guests()
    found.count_join(client_network(context.client_ip()))
    guest, session = found.join(_token(body), name=body.get("name", ""))
    audit.append(g.tenant.store, "guest.joined", guest=guest.id, invite=guest.invite, conversation=guest.scope.id,
                 ip=context.client_ip())
    response = _json({"guest": {"id": guest.id, "name": guest.name}, "conversation": _conversation(guest.scope),
                      "csrf": csrf_of(session)}, status=201)
    response.set_cookie(cookie_name(), session, max_age=SESSION_LIFETIME, httponly=True,
                        secure=context.secure_cookies(), samesite="Strict", path="/")
    return response


@bp.get("/api/guest/me")
@answers("json")
def guest_me():
    """The guest this browser is (after a reload): 401 once their access has ended."""
    guest = current()
    if guest is None:
        raise Unauthorized("error.guests.session_over")
    return _json({"guest": {"id": guest.id, "name": guest.name}, "conversation": _conversation(guest.scope),
                  "csrf": csrf_of(session_token() or "")})


@bp.delete("/api/guest/session")
@answers("json")
def guest_leave():
    """The guest leaves: their session ends here (the inviter still sees them listed)."""
    token = session_token()
    if token is None:
        raise Unauthorized("error.guests.session_over")
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), csrf_of(token)):
        raise Forbidden("error.csrf")
    guests().sign_out(token)
    response = _json({"left": True})
    response.delete_cookie(cookie_name(), path="/", secure=context.secure_cookies(), httponly=True,
                           samesite="Strict")
    return response


# Bearer calls (the inviter's) and the guest's own, which carry no ambient session: the
# join needs a JSON body, and the guest's writes their own CSRF header (guest_session.caller).
context.CSRF_EXEMPT.update({"guests.invite_create", "guests.guest_check", "guests.guest_join"})
