"""A conversation's messages, folded from its events (codeb.store.segments).

A channel's log holds events, never rewritten but for erasure: `post` (a message, whose id
is its seq), `edit` (new text for a post) and `delete`. A page that shows the history asks
for messages, folded here; a page that polls asks for the events after the last it saw,
and folds them itself. Search reads the folded texts.
"""


def fold(events) -> dict[int, dict]:
    """Messages by id, with every edit and delete of the events applied, in seq order."""
    messages: dict[int, dict] = {}
    for event in events:
        op = event.get("op")
        if op == "post":
            messages[event["seq"]] = {"id": event["seq"], "at": event["at"], "from": event.get("from") or {},
                                      "name": event.get("name", ""), "text": event.get("text"),
                                      "mentions": event.get("mentions", []), "edited": None,
                                      "deleted": event.get("text") is None}
        elif op in ("edit", "delete") and event.get("message") in messages:
            message = messages[event["message"]]
            if op == "edit" and not message["deleted"]:
                message.update(text=event.get("text"), edited=event["at"])
            elif op == "delete":
                message.update(text=None, deleted=True)
    return messages


def event_view(event: dict) -> dict:
    """An event as a polling page gets it: `message` names the post it is about."""
    return {**event, "message": event["seq"] if event.get("op") == "post" else event.get("message")}


def matches(message: dict, query: str) -> bool:
    return not message["deleted"] and query.casefold() in (message["text"] or "").casefold()


def is_from(message: dict, sender: dict) -> bool:
    """Whether a message is by this sender: the same account (sub) or the same guest."""
    mine = message.get("from") or {}
    return any(key in sender and mine.get(key) == sender[key] for key in ("sub", "guest"))
