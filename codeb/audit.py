"""The tenant's append-only log of security events: `audit/<YYYY-MM>.jsonl`.

One JSON object per line: time, event name, and the facts that matter (login,
method, client, outcome). An event about an account names it by its `sub`,
which is never reused, and by its login, which the admin reads but which a
later account may get: an account's events are found by sub. Never a secret: no tokens, no links, no passwords.
The store's `Log` holds the month file's lock for each append, so lines from
many processes never mix.

Failures anyone can cause without an account (`AGGREGATED`) do not each get a
line: the first of a window is written at once; repeats with the same facts
(same event, IP, account, reason) within `AGGREGATE_WINDOW` are only counted,
in a transient record, and when the window is over one line with their `count`
is written: by the next such event, or by the next reader. A flood of failed
sign-ins is two lines per source and window, not one per request.
"""

import json
import time

from .store import layout, secret_id

AGGREGATED = frozenset({"signin.failed", "error.shown", "app_password.refused", "xmpp.auth_refused",
                        "sip.digest_refused", "sip.lookup_refused"})
AGGREGATE_WINDOW = 300  # five minutes
REPEATS_KEPT = 40 * 86400  # a window's count waits this long for a reader (then only its first line stays)


def _log(store):
    return store.log(layout.AUDIT)


def append(store, event: str, **facts) -> None:
    if event in AGGREGATED:
        _count(store, event, facts)
    else:
        _write(store, store.clock(), {"event": event, **facts})


def _write(store, now: float, line: dict) -> None:
    month = time.strftime("%Y-%m", time.gmtime(now))
    _log(store).append(month, {"time": round(now, 3), **line})


def _count(store, event: str, facts: dict, first: dict | None = None) -> dict:
    """Count one event of a window; the window's line. `first` is written with the window's
    first line but is no part of what makes two events the same (an error's reference)."""
    now = store.clock()
    repeats = store.transient(layout.AUDIT_REPEATS)
    rid = secret_id(json.dumps([event, facts], sort_keys=True, default=str))
    with repeats.lock(rid):
        record = repeats.get(rid)
        if record is not None and now < record["since"] + AGGREGATE_WINDOW:
            record["count"] += 1
            record["last"] = now
            repeats.put(rid, record, ttl=REPEATS_KEPT)
            return record["line"]
        if record is not None:
            _close(store, record)
        line = {"event": event, **facts, **(first or {})}
        _write(store, now, line)  # the window's first: at once
        repeats.put(rid, {"line": line, "since": now, "last": now, "count": 0}, ttl=REPEATS_KEPT)
        return line


def error_shown(store, reference: str, **facts) -> str:
    """An error page was shown: its line carries the reference the page shows, so an admin
    told "Reference 7KQ2-M9XD" finds what happened. Anyone can cause error pages, so they
    are counted like failed sign-ins: the same error for the same source and path within a
    window is one line, and every repeat shows the reference of that line (the one returned)."""
    return _count(store, "error.shown", facts, first={"reference": reference})["reference"]


def _close(store, record: dict) -> None:
    """The line for a window's repeats (after its first line): how many, since when."""
    if record["count"]:
        _write(store, record["last"], {**record["line"], "count": record["count"],
                                       "repeated_since": round(record["since"], 3)})


def _close_finished_windows(store) -> None:
    """Write the count of every window that is over, so a reader sees all of them."""
    now = store.clock()
    repeats = store.transient(layout.AUDIT_REPEATS)
    for rid in store.list(layout.TRANSIENT, layout.AUDIT_REPEATS):
        with repeats.lock(rid):
            record = repeats.get(rid)
            if record is not None and now >= record["since"] + AGGREGATE_WINDOW:
                _close(store, record)
                repeats.delete(rid)


def read(store, month: str) -> list[dict]:
    _close_finished_windows(store)
    return _log(store).read(month)


def read_all(store) -> list[dict]:
    """Every month's events, oldest first."""
    _close_finished_windows(store)
    log = _log(store)
    return [event for month in log.names() for event in log.read(month)]


def of_account(store, account) -> list[dict]:
    """The events about one account, oldest first (what a GDPR export includes): those naming
    its sub, and those written before events named subs if they name its login and are not
    older than the account (an earlier holder's are)."""
    return [event for event in read_all(store)
            if event.get("sub") == account.sub
            or ("sub" not in event and event.get("login") == account.login
                and event.get("time", 0) >= (account.created or 0))]


# -- the log as people read it: one sentence per event --------------------------------------
#
# Each kind of event has one sentence in the catalogues, `audit.s.<event>`, filled with the
# event's facts; a kind this table does not know reads as the fallback `audit.s.unknown`
# (the event's name), so a new event never breaks the page. `sentence` is pure: it names
# the message and its parameters, and which parameters are themselves message ids (a
# sign-in method, a kind of file, the break-glass superuser) for the page to translate.

KINDS = ("account.deleted_self", "account.exported", "app_password.created", "app_password.refused",
         "app_password.revoked", "audit.exported", "backchannel.delivered", "backchannel.failed", "brand.changed",
         "breakglass.link_created",
         "breakglass.used", "client.created", "client.deleted", "client.protocol_changed", "client.secret_regenerated",
         "client.updated",
         "consent.denied", "consent.granted", "consent.revoked", "email.change_requested", "email.changed",
         "error.shown", "guest.invited", "guest.joined", "guest.removed", "guest.revoked",
         "handoff.issued", "handoff.refused", "handoff.used",
         "keys.rotated", "language.removed", "language.saved", "passkey.added",
         "passkey.counter_regression", "passkey.removed", "password.removed", "password.set", "privacy.erased",
         "privacy.exported", "privacy.hold_lifted", "privacy.hold_placed", "privacy.hold_released",
         "profile.confirmed", "session.ended", "session.ended_everywhere", "session.ended_others", "settings.changed",
         "signin", "signin.failed", "signout", "sip.digest_refused", "sip.lookup_refused", "sip.secret_made",
         "token.revoked", "turn.changed", "turn.rotated", "upstream.created", "upstream.deleted",
         "upstream.disabled",
         "upstream.enabled", "upstream.linked", "upstream.refresh_failed", "upstream.refreshed", "upstream.refused",
         "upstream.roles_synced",
         "upstream.unlinked", "upstream.updated", "user.created", "user.deleted", "user.disabled", "user.enabled",
         "user.invitation_resent",
         "user.roles_changed", "user.updated", "wallet.linked", "wallet.refused", "wallet.verified",
         "wallet.trust_added", "wallet.trust_removed", "wallet.certificate_installed",
         "xmpp.auth_refused", "xmpp.auth_secret_made")
BRAND_CHANGES = ("remove_logo", "remove_favicon", "reset_colour")  # codeb.web.brand's actions besides "save"
SIGNIN_METHODS = ("passkey", "magic_link", "password", "oidc", "saml", "wallet")
# Events an admin does to someone else's account: said as "<admin> … <account>" when an
# `actor` other than the account itself is named.
BY_ADMIN = frozenset({"app_password.revoked", "passkey.removed", "session.ended", "session.ended_everywhere"})
# Changes to the EU Wallet's certificates, by an admin (`actor`) or by the command line (none).
WALLET_CHANGES = ("wallet.trust_added", "wallet.trust_removed", "wallet.certificate_installed")


def sentence(entry: dict) -> tuple[str, dict, dict]:
    """(message id, parameters, parameters that are message ids) of one event's sentence."""
    event = str(entry.get("event", ""))
    actor = str(entry.get("actor") or "")
    params = {"actor": actor, "login": str(entry.get("login") or ""), "event": event,
              "client": str(entry.get("client_id") or ""),
              "name": str(entry.get("name") or entry.get("client_id") or ""),
              "code": str(entry.get("lang") or ""), "kid": str(entry.get("kid") or ""),
              "reason": str(entry.get("reason") or ""), "method": str(entry.get("method") or ""),
              "reference": str(entry.get("reference") or ""), "status": str(entry.get("status") or ""),
              "rule": str(entry.get("rule") or "")}
    labels = {}
    if actor == "superuser" or entry.get("breakglass"):
        labels["actor"] = "audit.superuser"
    if event not in KINDS:
        return "audit.s.unknown", params, labels
    if event == "signin.failed" and params["method"] in SIGNIN_METHODS:
        labels["method"] = "method." + params["method"]
    elif event == "privacy.erased":
        labels["kind"] = "admin.kind." + str(entry.get("kind"))
    return _variant(event, entry, params), params, labels


def _roles_variant(entry: dict, params: dict) -> str | None:
    before, after = entry.get("before") or [], entry.get("after") or []
    if "admin" in after and "admin" not in before:
        return "audit.s.role_granted"
    if "admin" in before and "admin" not in after:
        return "audit.s.role_revoked"
    return None


def _by_admin_variant(entry: dict, params: dict) -> str | None:
    """"<admin> … <account>" when an admin other than the account itself did it."""
    acted_on_another = params["actor"] and params["actor"] != params["login"]
    return f"audit.s.{params['event']}_by" if acted_on_another else None


# The events whose sentence depends on their facts: event → (entry, params) → message id or None.
VARIANTS = {
    "signin": lambda entry, params: "audit.s.signin." + (
        params["method"] if params["method"] in SIGNIN_METHODS else "other"),
    "user.roles_changed": _roles_variant,
    "user.deleted": lambda entry, params: "audit.s.user.deleted_held" if entry.get("hold") else None,
    "brand.changed": lambda entry, params: (
        f"audit.s.brand.changed.{entry['change']}" if entry.get("change") in BRAND_CHANGES else None),
    "error.shown": lambda entry, params: "audit.s.error.shown_to" if params["login"] else None,
    # A refused XMPP sign-in names a login only when it is an account's (codeb.native.xmpp_auth).
    "xmpp.auth_refused": lambda entry, params: None if params["login"] else "audit.s.xmpp.auth_refused_unknown",
    # A refused SIP digest names a login only when it is an account's (codeb.native.sip_digest).
    "sip.digest_refused": lambda entry, params: None if params["login"] else "audit.s.sip.digest_refused_unknown",
    **dict.fromkeys(BY_ADMIN, _by_admin_variant),
    **dict.fromkeys(WALLET_CHANGES,
                    lambda entry, params: None if params["actor"] else f"audit.s.{params['event']}_cli"),
}


def _variant(event: str, entry: dict, params: dict) -> str:
    """The message id of one event's sentence: `audit.s.<event>`, or the variant its facts ask for."""
    chosen = VARIANTS.get(event)
    return (chosen(entry, params) if chosen else None) or "audit.s." + event


def page(store, month: str, *, event: str = "", login: str = "", offset: int = 0,
         limit: int = 50) -> tuple[int, list[dict]]:
    """(how many events match, one page of them newest first) of one month's log: events of
    that kind (or whose kind starts with `event` and a dot), about or by that login."""
    matching = [e for e in read(store, month) if matches(e, event=event, login=login)]
    matching.reverse()
    return len(matching), matching[max(offset, 0):max(offset, 0) + max(limit, 1)]


def matches(entry: dict, *, event: str = "", login: str = "") -> bool:
    kind = str(entry.get("event", ""))
    return ((not event or kind == event or kind.startswith(event.rstrip(".") + "."))
            and (not login or login in (entry.get("login"), entry.get("actor"))))


CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula gets a leading
    apostrophe (OWASP, CSV injection), so `=HYPERLINK(…)` in a display name stays inert."""
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(CSV_FORMULA) else text


def recent_of_account(store, account, limit: int = 50) -> list[dict]:
    """The newest `limit` events about one account (as `of_account` finds them), newest first:
    months are read from the newest back, only until enough are found."""
    _close_finished_windows(store)
    log = _log(store)
    found: list[dict] = []
    for month in reversed(log.names()):
        if month < time.strftime("%Y-%m", time.gmtime(account.created or 0)):
            break  # nothing about this account is older than the account
        found.extend(reversed([event for event in log.read(month) if _about(event, account)]))
        if len(found) >= limit:
            break
    return found[:limit]


def _about(event: dict, account) -> bool:
    return event.get("sub") == account.sub or ("sub" not in event and event.get("login") == account.login
                                               and event.get("time", 0) >= (account.created or 0))
