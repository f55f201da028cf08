"""Who hears of a new message while not looking at the conversation: Web Push (codeb.notify.push).

A page that shows a channel says so with its poll (`looking`): a small transient record per
channel and person (layout.CHANNEL_VIEWERS), written at most every `REFRESH` seconds by one
process and valid for `LOOK_SECONDS`, so a page left open in a background tab, closed, or
on a device gone to sleep stops counting within half a minute. When someone posts, every
other member of the channel who has no such record gets a notification (`notices`): in
their own language, the author and channel in the title, the message's first words as
its body, opening the channel in the shell; a message that mentions them is urgent. A
guest, who has no account and subscribes nothing, is never notified; their posts notify
the members like anyone's.

`deliver` runs after the response has been sent (the web layer's `call_on_close`): a slow
push service never delays the person posting, and nothing it does raises.
"""

import logging
import threading
import time

from .. import i18n
from ..notify import push
from ..store import layout
from . import Participant

log = logging.getLogger("codeb.rooms")

LOOK_SECONDS = 20   # a page's "I am showing it" lasts this long: polls come every 2 s while visible
REFRESH = 8         # a process writes the record again only when its own is older than this
_written: dict[tuple[str, str], float] = {}  # (data folder, record id) -> when this process wrote it
_WRITTEN_LIMIT = 10_000
_lock = threading.Lock()


def _rid(cid: str, sub: str) -> str:
    return f"{cid}-{layout.person(sub)}"


def looking(store, cid: str, sub: str) -> None:
    """The person's page shows the channel now (checked as a member by the caller)."""
    rid, now = _rid(cid, sub), time.monotonic()
    key = (store.root, rid)
    with _lock:
        if now - _written.get(key, -REFRESH) < REFRESH:
            return
        if len(_written) >= _WRITTEN_LIMIT:
            _written.clear()
        _written[key] = now
    store.transient(layout.CHANNEL_VIEWERS).put(rid, {}, ttl=LOOK_SECONDS)


def is_looking(store, cid: str, sub: str) -> bool:
    return store.transient(layout.CHANNEL_VIEWERS).get(_rid(cid, sub)) is not None


def notices(store, channel, message: dict, *, by: Participant, author_name: str,
            language_of, default_language: str) -> list[tuple[list[str], dict, str]]:
    """The notifications one new message sends: [(subs, push message, urgency)], one per
    language and urgency. `language_of(sub)` is a member's language (None: the tenant's)."""
    groups: dict[tuple[str, bool], list[str]] = {}
    mentioned = set(message.get("mentions") or ())
    for sub in channel.members:
        if sub == by.sub or is_looking(store, channel.id, sub):
            continue
        lang = language_of(sub) or default_language
        groups.setdefault((lang, sub in mentioned), []).append(sub)
    name = author_name or i18n.translate(default_language, "rooms.someone")
    found = []
    for (lang, mention), subs in sorted(groups.items()):
        shown = name if not by.is_guest else i18n.translate(lang, "push.message.guest", name=name)
        title = i18n.translate(lang, "push.message.mention" if mention else "push.message.title",
                               name=shown, channel=channel.name)
        body = push.preview(message.get("text") or "")
        notice = {"title": push.preview(title, push.TITLE_LIMIT), "body": body,
                  "url": f"/office.html#channel={channel.id}", "tag": f"channel-{channel.id}"}
        found.append((subs, notice, "high" if mention else "normal"))
    return found


def deliver(store, found, *, contact: str) -> dict:
    """Send what `notices` found; {"sent", "removed", "failed"} over all. Never raises."""
    total = {"sent": 0, "removed": 0, "failed": 0}
    for subs, notice, urgency in found:
        try:
            counts = push.notify_many(store, subs, notice, contact=contact, ttl=3600, urgency=urgency)
        except Exception:  # after the response: nobody to tell but the log
            log.exception("push notification of a channel message failed")
            total["failed"] += len(subs)
            continue
        for key, value in counts.items():
            total[key] += value
    return total
