"""The meeting rooms' JSON API (codeb.rooms.meetings), for the office shell's meeting view.

The same bearer calls as the chat channels' (`codeb.web.workspace`): the shell's access token,
members of the meeting's chat only (a stranger meets 404). A meeting's chat is a channel of
kind "meeting" with the meeting's id, so the page reads and writes it through the channels'
API. Being in the room is a heartbeat (`POST .../presence` every few seconds) and WebRTC's
offers, answers and ICE candidates travel through `POST .../signals` and the page's poll of
`GET .../signals`, which also says who is present: one request a second per open room, and no
long-lived stream (IIS's FastCGI buffers them). The browsers reach each other with the
tenant's TURN credentials (`GET /api/turn`, codeb.rooms.turn).
"""

import logging
from datetime import datetime

from flask import Blueprint, Response, g, request

from .. import rooms
from ..errors import BadInput, NotFound
from ..notify import push
from ..rooms import turn
from ..rooms.meetings import MESH_LIMIT, Meeting, Meetings
from ..store import layout
from . import context
from .errors import answers
from .workspace import Names, _body, _channel, _json, _subs_of, actor

bp = Blueprint("meetings", __name__)
log = logging.getLogger("codeb.rooms")
HEARTBEAT_SECONDS = 5  # what the page waits between two heartbeats (said to it in every answer)
SIGNAL_POLL_SECONDS = 1


def _meeting(meeting: Meeting, me: rooms.Participant) -> dict:
    now = g.tenant.store.clock()
    return {"id": meeting.id, "name": meeting.name, "starts": meeting.starts, "ends": meeting.ends,
            "ended": meeting.ended, "over": meeting.is_over(now), "owner": me.sub == meeting.owner,
            "mesh_limit": MESH_LIMIT}


def _participant_view(meetings: Meetings, mid: str, me: rooms.Participant) -> Meeting:
    """The meeting if the caller is in its chat; a stranger learns nothing of it (404)."""
    meeting = meetings.get(rooms.check_id(mid))
    if meetings.channels.get(meeting.channel).role_of(me) is None:
        raise NotFound("error.rooms.not_found")
    return meeting


def _time(body: dict, name: str) -> int | None:
    """A start or end: Unix seconds, or an ISO 8601 date and time with its offset (what the
    page sends from its date and time fields, in the person's own zone)."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if type(value) is int:
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp())
    raise BadInput("error.meetings.times")


@bp.get("/api/meetings")
@answers("json")
def meeting_list():
    me = actor()
    meetings = Meetings(g.tenant.store)
    shown = [_meeting(m, me) for m in meetings.of_person(g.workspace_account.sub)]
    shown.sort(key=lambda m: (m["over"], m["starts"] or 0))
    return _json({"meetings": shown})


@bp.post("/api/meetings")
@answers("json")
def meeting_create():
    me = actor()
    body = _body()
    members = _subs_of(body.get("members", []))
    meeting = Meetings(g.tenant.store).create(name=body.get("name", ""), by=me, starts=_time(body, "starts"),
                                              ends=_time(body, "ends"), members=members)
    return _json({"meeting": _meeting(meeting, me)}, status=201)


@bp.get("/api/meetings/<mid>")
@answers("json")
def meeting_show(mid):
    me = actor(mid)
    meetings = Meetings(g.tenant.store)
    meeting = _participant_view(meetings, mid, me)
    chat = meetings.channels.get(meeting.channel)
    return _json({"meeting": _meeting(meeting, me), "channel": _channel(chat, me, Names()),
                  "present": meetings.present(meeting.id)})


@bp.post("/api/meetings/<mid>/end")
@answers("json")
def meeting_end(mid):
    me = actor()
    meetings = Meetings(g.tenant.store)
    _participant_view(meetings, mid, me)
    return _json({"meeting": _meeting(meetings.end(mid, by=me), me)})


@bp.post("/api/meetings/<mid>/ring")
@answers("json")
def meeting_ring(mid):
    """The owner calls a member into the meeting now: a push notification to their devices."""
    me = actor()
    meetings = Meetings(g.tenant.store)
    _participant_view(meetings, mid, me)
    login = _body().get("login")
    if not isinstance(login, str):
        raise BadInput("error.meetings.ring_member")
    [sub] = _subs_of([login])
    account = g.accounts.find_by_sub(sub)
    lang = (account.language if account else None) or g.tenant.setting("default_language", default="en")
    message = meetings.ring(mid, by=me, sub=sub, lang=lang)
    store, contact = g.tenant.store, push.contact_for(g.tenant)
    response = _json({"rung": account.login if account else ""}, status=202)
    response.call_on_close(lambda: _ring(store, sub, message, contact))
    return response


def _ring(store, sub: str, message: dict, contact: str) -> None:
    try:
        push.notify(store, sub, message, contact=contact, ttl=60, urgency="high")
    except Exception:  # after the response: nobody to tell but the log
        log.exception("push notification of a ring failed")


@bp.route("/api/meetings/<mid>/presence", methods=["POST", "DELETE"])
@answers("json")
def meeting_presence(mid):
    """POST: enter the room, or stay in it (the heartbeat); DELETE: leave it at once."""
    me = actor(mid)
    meetings = Meetings(g.tenant.store)
    _participant_view(meetings, mid, me)
    if request.method == "DELETE":
        meetings.leave(mid, by=me)
        return _json({"left": True})
    joined = meetings.join(mid, by=me)
    return _json({**joined, "heartbeat": HEARTBEAT_SECONDS, "poll": SIGNAL_POLL_SECONDS})


@bp.route("/api/meetings/<mid>/signals", methods=["GET", "POST"])
@answers("json")
def meeting_signals(mid):
    """GET: the signals waiting for the caller's peer, and who is present (the page's poll);
    POST: leave an offer, answer, ICE candidate or bye for another peer in the room."""
    me = actor(mid)
    meetings = Meetings(g.tenant.store)
    _participant_view(meetings, mid, me)
    if request.method == "POST":
        body = _body()
        meetings.signal(mid, by=me, to_peer=body.get("to", ""), kind=body.get("kind", ""),
                        data=body.get("data", {}))
        return _json({"sent": True}, status=202)
    return _json({"signals": meetings.signals(mid, by=me), "present": meetings.present(mid),
                  "poll": SIGNAL_POLL_SECONDS})


@bp.get("/api/turn")
@answers("json")
def turn_credentials() -> Response:
    """The RTCIceServer list for this browser: the tenant's TURN server with short-lived
    credentials of the TURN REST scheme (codeb.rooms.turn); empty without one."""
    me = actor(meeting_only=True)  # a guest of a meeting too
    user = layout.person(me.sub) if me.sub else f"guest_{me.guest}"
    return _json({"iceServers": turn.ice_servers(g.tenant, user)})


# Bearer calls: no cookie rides along that a cross-site form could spend.
context.CSRF_EXEMPT.update({f"meetings.{view}" for view in (
    "meeting_create", "meeting_end", "meeting_ring", "meeting_presence", "meeting_signals")})
