"""The admin's guests page: `/admin/guests`.

Every guest of the tenant's conversations (codeb.rooms.guests), with the one channel or
meeting they may see, who invited them, when they joined and whether they still have
access; below, the invitations still open. The admin removes a guest or withdraws an
invitation (its guests lose access at once, in every process); both are in the audit log.
"""

from flask import Blueprint, g

from ..rooms import Participant, Scope
from . import admin
from .guest_session import conversation_name, guests, is_open

bp = Blueprint("admin_guests", __name__)
bp.before_request(admin.require_admin)


def _admin() -> Participant:
    """The admin as the rooms know people (the break-glass superuser has no account: no sub)."""
    account = g.get("account")
    return Participant(sub=account.sub, name=account.display_name) if account else Participant(sub="", name="")


class Conversations:
    """The names of the conversations the page lists, each read once."""

    def __init__(self):
        self.known: dict[Scope, tuple[str, bool]] = {}

    def of(self, scope: Scope) -> tuple[str, bool]:
        """(name, still open) of a channel or meeting; a deleted one has no name and is over."""
        if scope not in self.known:
            name = conversation_name(scope)
            self.known[scope] = (name, bool(name) and is_open(scope))
        return self.known[scope]


@bp.get("/admin/guests")
def guests_page():
    found = guests()
    now = g.tenant.store.clock()
    invites = {invite.id: invite for invite in found.invites()}
    names = Conversations()
    rows = []
    for guest in found.all():
        invite = invites.get(guest.invite)
        name, running = names.of(guest.scope)
        if guest.removed is not None:
            state = "removed"
        elif invite is None or invite.revoked is not None or invite.expires <= now or not running:
            state = "ended"
        else:
            state = "active"
        rows.append({"guest": guest, "conversation": name, "by": invite.by_name if invite else "", "state": state})
    open_invites = [{"invite": invite, "conversation": names.of(invite.scope)[0]} for invite in invites.values()
                    if invite.revoked is None and invite.expires > now
                    and (invite.multi or invite.uses == 0)]
    return admin.render("guests.html", rows=rows, invites=open_invites)


@bp.post("/admin/guests/<gid>/remove")
def remove_guest(gid):
    guest = guests().remove(gid, by=_admin(), admin=True)
    admin.record("guest.removed", guest=guest.id, conversation=guest.scope.id)
    return admin.back("admin_guests.guests_page", "guest_removed")


@bp.post("/admin/guests/invites/<iid>/revoke")
def revoke_invite(iid):
    invite = guests().revoke(iid, by=_admin(), admin=True)
    admin.record("guest.revoked", invite=invite.id, conversation=invite.scope.id)
    return admin.back("admin_guests.guests_page", "invite_revoked")
