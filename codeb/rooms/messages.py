"""A channel's messages: the records its log holds, and the messages people see folded from them.

A channel's log (`codeb.store.segments`) holds three kinds of record, each with the `seq`
and `at` the log gave it: a `post` (who, the name they showed, the text, whom it mentions),
an `edit` of a post (its new text and mentions) and a `delete` of one. Nothing is changed
in place: what a person sees of a message is its post with the later edits and deletes
folded in (`fold`), and a poll gets the records themselves (`event`), so a browser that
has the history applies what came since in the same way. A message's id is its post's seq.

Only its author changes a message (checked before an edit or delete is appended, and again
here: a record by anyone else is ignored), and a delete is final: an edit that lands after
it (two tabs racing) changes nothing. GDPR erasure rewrites the log (`Erasure`): the erased
person's posts and edits keep their seq and time but lose their text, name and mentions,
and count as deleted; their sub is taken out of others' mentions.

Mentions are subs of the channel's members, checked when the message is written; a guest's
mentions of members are kept (they show who was meant) but notify nobody (`unread`).
Everything here is pure: the channel (`codeb.rooms.channels`) reads and writes the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from . import Participant

MENTIONS_LIMIT = 50  # people one message can mention: a larger list is no conversation


def author(by: Participant) -> dict:
    """Who wrote a record: an account by its sub (its name is looked up when shown), a guest
    with the name they gave, which is all there is of them."""
    if by.is_guest:
        return {"guest": by.guest, "name": by.name}
    return {"sub": by.sub}


def author_key(origin: dict) -> str:
    """`Participant.key` of a record's author."""
    return f"g:{origin['guest']}" if "guest" in origin else f"a:{origin.get('sub')}"


def mentions_of(mentions: Iterable, members: Iterable[str]) -> list[str]:
    """The members among `mentions`, each once, in the order given (others are dropped:
    nobody outside the channel is told about it)."""
    allowed = set(members)
    kept: list[str] = []
    for sub in mentions:
        if isinstance(sub, str) and sub in allowed and sub not in kept:
            kept.append(sub)
            if len(kept) == MENTIONS_LIMIT:
                break
    return kept


def post(by: Participant, text: str, mentions: list[str]) -> dict:
    return {"op": "post", "from": author(by), "name": by.name, "text": text, "mentions": mentions}


def edit(by: Participant, message: int, text: str, mentions: list[str]) -> dict:
    return {"op": "edit", "message": message, "from": author(by), "text": text, "mentions": mentions}


def delete(by: Participant, message: int) -> dict:
    return {"op": "delete", "message": message, "from": author(by)}


def event(record: dict) -> dict:
    """A record as a poll gets it: `{"seq", "at", "op", "message", "from", ...}`, with the name,
    text and mentions of a post, the text and mentions of an edit."""
    op = record.get("op")
    shown = {"seq": record["seq"], "at": record["at"], "op": op,
             "message": record["seq"] if op == "post" else record.get("message"),
             "from": dict(record.get("from", {}))}
    if op == "post":
        shown["name"] = record.get("name", "")
    if op in ("post", "edit"):
        shown["text"] = record.get("text")
        shown["mentions"] = list(record.get("mentions", []))
        if record.get("erased"):
            shown["erased"] = True
    return shown


def message(record: dict) -> dict:
    """A post as a message, before any edit: `{"id", "at", "from", "name", "text", "mentions",
    "edited", "deleted"}`. An erased post is a deleted message."""
    text = record.get("text")
    return {"id": record["seq"], "at": record["at"], "from": dict(record.get("from", {})),
            "name": record.get("name", ""), "text": text, "mentions": list(record.get("mentions", [])),
            "edited": None, "deleted": text is None}


def apply(shown: dict, record: dict) -> None:
    """Fold one edit or delete into its message (in place): only its author's, and nothing
    after a delete."""
    if shown["deleted"] or author_key(record.get("from", {})) != author_key(shown["from"]):
        return
    if record.get("op") == "delete" or record.get("text") is None:  # an erased edit: its post is erased too
        shown.update(text=None, mentions=[], edited=None, deleted=True)
    elif record.get("op") == "edit":
        shown.update(text=record["text"], mentions=list(record.get("mentions", [])), edited=record["at"])


def fold(records: Iterable[dict]) -> list[dict]:
    """The messages of `records` (oldest first), each with its later edits and deletes; an
    edit or delete whose post is not among the records is left out."""
    found: dict[int, dict] = {}
    for record in records:
        op = record.get("op")
        if op == "post":
            found[record["seq"]] = message(record)
        elif op in ("edit", "delete") and record.get("message") in found:
            apply(found[record["message"]], record)
    return list(found.values())


def search(chunks: Iterator[list[dict]], needle: str, limit: int) -> list[dict]:
    """The live messages whose text contains `needle` (casefolded), newest first, at most
    `limit`. `chunks` are the log's segments newest first: walking back, a message's edits
    and deletes come before its post, so each post is folded as soon as it is reached and
    the walk stops at the `limit`th match."""
    later: dict[int, list[dict]] = {}
    found: list[dict] = []
    for chunk in chunks:
        for record in reversed(chunk):
            op = record.get("op")
            if op in ("edit", "delete") and isinstance(record.get("message"), int):
                later.setdefault(record["message"], []).append(record)
            elif op == "post":
                shown = message(record)
                for change in reversed(later.pop(record["seq"], [])):
                    apply(shown, change)
                if not shown["deleted"] and needle in (shown["text"] or "").casefold():
                    found.append(shown)
                    if len(found) >= limit:
                        return found
    return found


def unread(records: Iterable[dict], sub: str) -> tuple[int, int]:
    """(messages, mentions of `sub`) among `records` (those after what `sub` read): live
    messages by others, and those of them by an account that mention `sub`."""
    count = mentions = 0
    mine = f"a:{sub}"
    for shown in fold(records):
        if shown["deleted"] or author_key(shown["from"]) == mine:
            continue
        count += 1
        if "sub" in shown["from"] and sub in shown["mentions"]:
            mentions += 1
    return count, mentions


class Erasure:
    """The change `Segments.rewrite` applies to erase one person (GDPR Art. 17): their posts
    and edits without text, name or mentions, marked erased; their sub out of others'
    mentions. `count` is how many of their messages lost their text."""

    def __init__(self, sub: str):
        self.sub = sub
        self.count = 0

    def __call__(self, record: dict) -> dict:
        theirs = record.get("from", {}).get("sub") == self.sub
        if theirs and record.get("op") in ("post", "edit"):
            erased = {**record, "text": None, "name": "", "mentions": [], "erased": True}
            if record.get("op") == "post" and erased != record:
                self.count += 1
            return erased
        if self.sub in record.get("mentions", ()):
            return {**record, "mentions": [m for m in record["mentions"] if m != self.sub]}
        return record


class Scrub:
    """The change `Segments.rewrite` applies when a message is deleted: its post and edits
    keep their seq but lose their text and mentions, so that no poll (`event`) and no copy
    of the file shows what its author took back."""

    def __init__(self, message: int):
        self.message = message

    def __call__(self, record: dict) -> dict:
        op = record.get("op")
        if (op == "post" and record["seq"] == self.message) or (op == "edit" and record.get("message") == self.message):
            return {**record, "text": None, "mentions": []}
        return record
