"""The workspace's JSON API: chat channels and TURN credentials (codeb.rooms), for the office shell.

Every call carries the shell's access token (`codeb.web.office.shell_bearer`): a person acts
as their account, by its `sub`. Bearer calls are not ambient, so the session's CSRF check
does not apply to them. Open pages learn of new messages by short polling with conditional
requests: `GET .../changes?after=<seq>` answers 304 while the channel's stamp is the one
the page sent back in `If-None-Match`, which costs two `stat`s. IIS's FastCGI buffers a
streamed response, so there is no long-lived stream; a real-time transport would replace
the poll by a WebSocket or Server-Sent Events endpoint in front of the same `changes`
(README: the workspace), and the page would keep the poll as its fallback.
"""

import hashlib
import json
import re

from flask import Blueprint, Response, g, jsonify, request

from .. import rooms
from ..errors import BadInput, NotFound
from ..notify import push
from ..oidc.requests import NO_STORE
from ..rooms import alerts
from ..rooms.channels import Channels
from . import context, guest_session
from .errors import answers
from .office import shell_bearer

bp = Blueprint("workspace", __name__)
MENTION = re.compile(r"(?<![\w@.])@([a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?)")
POLL_SECONDS = 2  # what the page waits between two polls (said to it in every answer)


def actor(cid: str | None = None, *, meeting_only: bool = False) -> rooms.Participant:
    """Who is calling: a guest of the conversation `cid` by their cookie (codeb.web.guest_session;
    `meeting_only`: a guest of any meeting), else the person of the shell's token (401 otherwise)."""
    guest = guest_session.caller(cid, meeting_only=meeting_only)
    if guest is not None:
        g.workspace_account = None
        return guest
    account = shell_bearer().account
    g.workspace_account = account
    return rooms.Participant(sub=account.sub, name=account.display_name)


def _json(body, status: int = 200, etag: str | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(dict(NO_STORE))
    if etag is not None:
        response.headers["ETag"] = f'"{etag}"'
    return response


def _not_modified(etag: str) -> Response | None:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.headers.update(dict(NO_STORE))
        response.headers["ETag"] = f'"{etag}"'
        return response
    return None


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadInput("error.rooms.body")
    return body


class Names:
    """Display names of the subs a page shows, read once per request."""

    def __init__(self):
        self.known: dict[str, tuple[str, str]] = {}

    def of(self, sub: str) -> tuple[str, str]:
        """(display name, login) of an account; a deleted one has neither."""
        if sub not in self.known:
            account = g.accounts.find_by_sub(sub)
            self.known[sub] = (account.display_name, account.login) if account else ("", "")
        return self.known[sub]


def _message(message: dict, me: rooms.Participant, names: Names) -> dict:
    sender = message.get("from") or {}
    sub = sender.get("sub")
    name, login = names.of(sub) if sub else (sender.get("name") or message.get("name") or "", "")
    return {**message, "name": name or message.get("name") or "", "login": login,
            "guest": "guest" in sender, "mine": (sub is not None and sub == me.sub)
            or (sender.get("guest") is not None and sender.get("guest") == me.guest)}


def _channel(channel, me: rooms.Participant, names: Names) -> dict:
    members = []
    for sub, member in sorted(channel.members.items(), key=lambda item: item[1].get("joined", 0)):
        name, login = names.of(sub)
        if login:
            members.append({"login": login, "name": name, "role": member.get("role")})
    guests = [{"id": gid, "name": guest.get("name", ""), "role": "guest"} for gid, guest in channel.guests.items()]
    return {"id": channel.id, "kind": channel.kind, "name": channel.name, "archived": channel.archived,
            "created": channel.created, "role": channel.role_of(me), "members": members, "guests": guests}


def _mentions(channel, text: str) -> list[str]:
    """The members named as @login in a message."""
    subs = []
    for login in dict.fromkeys(MENTION.findall(text)):
        account = g.accounts.get(login)
        if account is not None and account.sub in channel.members:
            subs.append(account.sub)
    return subs


def _subs_of(logins) -> list[str]:
    if not isinstance(logins, list) or len(logins) > 100 or not all(isinstance(x, str) for x in logins):
        raise BadInput("error.rooms.members")
    subs = []
    for login in logins:
        account = g.accounts.get(login.strip().lower()) if login.strip() else None
        if account is None or account.disabled:
            raise BadInput("error.rooms.no_such_person", login=login[:64])
        subs.append(account.sub)
    return subs


# -- channels ---------------------------------------------------------------------


@bp.get("/api/channels")
@answers("json")
def channel_list():
    me = actor()
    channels = Channels(g.tenant.store)
    entries: list[dict] = []
    for channel in channels.of_person(g.workspace_account.sub):
        if channel.kind != "channel":
            continue
        entries.append({"id": channel.id, "name": channel.name, "archived": channel.archived,
                        "role": channel.role_of(me), "unread": channels.unread(channel.id, by=me)})
    entries.sort(key=lambda e: (e["archived"], -e["unread"]["last"], e["name"].casefold()))
    body = {"channels": entries, "poll": POLL_SECONDS}
    etag = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return _not_modified(etag) or _json(body, etag=etag)


@bp.post("/api/channels")
@answers("json")
def channel_create():
    me = actor()
    body = _body()
    members = _subs_of(body.get("members", []))
    channel = Channels(g.tenant.store).create(name=body.get("name", ""), by=me, members=members)
    return _json({"channel": _channel(channel, me, Names())}, status=201)


@bp.get("/api/channels/<cid>")
@answers("json")
def channel_show(cid):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    channel = _member_view(channels, rooms.check_id(cid), me)
    return _json({"channel": _channel(channel, me, Names()), "unread": channels.unread(cid, by=me)})


def _member_view(channels, cid: str, me: rooms.Participant):
    """The channel if the caller is in it; a stranger learns nothing of it (404)."""
    channel = channels.get(cid)
    if channel.role_of(me) is None:
        raise NotFound("error.rooms.not_found")
    return channel


@bp.patch("/api/channels/<cid>")
@answers("json")
def channel_change(cid):
    me = actor()
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    body = _body()
    channel = None
    if "name" in body:
        channel = channels.rename(cid, by=me, name=body["name"])
    if body.get("archived") is True:
        channel = channels.archive(cid, by=me)
    if channel is None:
        raise BadInput("error.rooms.body")
    return _json({"channel": _channel(channel, me, Names())})


@bp.delete("/api/channels/<cid>")
@answers("json")
def channel_delete(cid):
    me = actor()
    channels = Channels(g.tenant.store)
    channel = _member_view(channels, rooms.check_id(cid), me)
    channels.delete(cid, by=me, admin="admin" in g.workspace_account.roles)
    guest_session.guests().forget_scope(rooms.Scope(kind=channel.kind, id=cid))  # their data goes with it
    return _json({"deleted": cid})


@bp.post("/api/channels/<cid>/members")
@answers("json")
def member_add(cid):
    me = actor()
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    channel = None
    for sub in _subs_of(_body().get("logins")):
        channel = channels.add_member(cid, by=me, sub=sub)
    if channel is None:
        raise BadInput("error.rooms.members")
    return _json({"channel": _channel(channel, me, Names())})


@bp.delete("/api/channels/<cid>/members/<login>")
@answers("json")
def member_remove(cid, login):
    me = actor()
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    account = g.accounts.get(login) if isinstance(login, str) else None
    if account is None:
        raise NotFound("error.rooms.no_such_person", login=str(login)[:64])
    channel = channels.remove_member(cid, by=me, sub=account.sub)
    return _json({"channel": _channel(channel, me, Names())})


# -- messages -----------------------------------------------------------------------


def _int_arg(name: str, default: int | None = None, *, low: int = 0, high: int = 10**12) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadInput("error.rooms.parameter", name=name)
    return int(value)


@bp.get("/api/channels/<cid>/messages")
@answers("json")
def message_history(cid):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    before = _int_arg("before", low=1)
    limit = _int_arg("limit", 50, low=1, high=200) or 50
    names = Names()
    messages = [_message(m, me, names) for m in channels.history(cid, by=me, before=before, limit=limit)]
    return _json({"messages": messages, "last": channels.unread(cid, by=me)["last"]})


@bp.get("/api/channels/<cid>/changes")
@answers("json")
def message_changes(cid):
    """What happened after `after`: the page's poll. 304 while nothing did."""
    me = actor(cid)
    cid = rooms.check_id(cid)
    channels = Channels(g.tenant.store)
    after = _int_arg("after", 0) or 0
    looking = request.args.get("looking") == "1"  # the page is in front of the person now
    etag = hashlib.sha256(f"{channels.stamp(cid)}/{after}/{me.key}".encode()).hexdigest()[:32]
    cached = _not_modified(etag)
    if cached is not None:
        channel = channels.get(cid)  # the member check still holds for a 304: removed means 404
        if channel.role_of(me) is None:
            raise NotFound("error.rooms.not_found")
        if looking and me.sub:
            alerts.looking(g.tenant.store, cid, me.sub)
        return cached
    channel = _member_view(channels, cid, me)
    if looking and me.sub:
        alerts.looking(g.tenant.store, cid, me.sub)
    names = Names()
    events = [_message(e, me, names) for e in channels.changes(cid, by=me, after=after)]
    body = {"events": events, "channel": _channel(channel, me, names), "unread": channels.unread(cid, by=me),
            "poll": POLL_SECONDS}
    return _json(body, etag=etag)


@bp.post("/api/channels/<cid>/messages")
@answers("json")
def message_post(cid):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    channel = _member_view(channels, rooms.check_id(cid), me)
    text = rooms.clean_text(_body().get("text"))
    message = channels.post(cid, by=me, text=text, mentions=_mentions(channel, text))
    response = _json({"message": _message(message, me, Names())}, status=201)
    _notify_after(response, channel, message, me)
    return response


def _notify_after(response: Response, channel, message: dict, me: rooms.Participant) -> None:
    """Push the new message to the members not looking at the channel, once the response has
    gone (`call_on_close`: waitress and wfastcgi close the response after sending it)."""
    store, tenant, accounts = g.tenant.store, g.tenant, g.accounts

    def language_of(sub: str) -> str | None:
        account = accounts.find_by_sub(sub)
        return account.language if account is not None else None

    found = alerts.notices(store, channel, message, by=me, author_name=me.name, language_of=language_of,
                           default_language=tenant.setting("default_language", default="en"))
    if found:
        contact = push.contact_for(tenant)
        response.call_on_close(lambda: alerts.deliver(store, found, contact=contact))


@bp.patch("/api/channels/<cid>/messages/<int:number>")
@answers("json")
def message_edit(cid, number):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    message = channels.edit(cid, by=me, message=number, text=rooms.clean_text(_body().get("text")))
    return _json({"message": _message(message, me, Names())})


@bp.delete("/api/channels/<cid>/messages/<int:number>")
@answers("json")
def message_delete(cid, number):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    message = channels.delete_message(cid, by=me, message=number)
    return _json({"message": _message(message, me, Names())})


@bp.post("/api/channels/<cid>/read")
@answers("json")
def message_read(cid):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    seq = _body().get("seq")
    if type(seq) is not int or seq < 0:
        raise BadInput("error.rooms.parameter", name="seq")
    channels.mark_read(cid, by=me, seq=seq)
    return _json({"unread": channels.unread(cid, by=me)})


@bp.get("/api/channels/<cid>/search")
@answers("json")
def message_search(cid):
    me = actor(cid)
    channels = Channels(g.tenant.store)
    _member_view(channels, rooms.check_id(cid), me)
    query = request.args.get("q", "").strip()
    if not query or len(query) > 200:
        raise BadInput("error.rooms.query")
    names = Names()
    return _json({"messages": [_message(m, me, names) for m in channels.search(cid, by=me, query=query)]})


# -- push ---------------------------------------------------------------------------


@bp.get("/api/push")
@answers("json")
def push_key():
    """The tenant's VAPID public key: the `applicationServerKey` of `pushManager.subscribe`."""
    actor()
    return _json({"key": push.public_key(g.tenant.store)})


@bp.post("/api/push/subscriptions")
@answers("json")
def push_subscribe():
    """Keep this browser's PushSubscription for the person (they agreed in the shell)."""
    actor()
    body = _body()
    sid = push.subscribe(g.tenant.store, g.workspace_account.sub, body.get("subscription", {}),
                         agent=request.headers.get("User-Agent", ""))
    return _json({"id": sid}, status=201)


@bp.delete("/api/push/subscriptions")
@answers("json")
def push_unsubscribe():
    """Forget this browser's subscription (the person turned notifications off)."""
    actor()
    removed = push.unsubscribe(g.tenant.store, g.workspace_account.sub, _body().get("endpoint"))
    return _json({"removed": removed})


# Bearer calls: no cookie rides along that a cross-site form could spend.
context.CSRF_EXEMPT.update({f"workspace.{view}" for view in (
    "channel_create", "member_add", "message_post", "message_read", "push_subscribe")})
