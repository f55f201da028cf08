"""One-time links of a kind, mailed to a person: sign-in links, account invitations.

A link carries a random token signed with the tenant's session secret
(itsdangerous, with a salt per kind: garbage, another tenant's link, a link of
another kind and an old link fail before any disk access). The store keeps
only the token's SHA-256, as a transient record that lives as long as the
kind allows, and `take` spends it exactly once, in any process.

Kinds: the magic link's sign-in link (`SIGNIN`, five minutes), the sign-up
link that proves the address of a person who has no account yet (`SIGNUP`,
`codeb.signin.signup`, fifteen minutes) and the account invitation an admin
sends for an account they created (`ACCOUNT`, a week). All open at
`/link/<link>` and end in the magic-link method's `complete`, which proves the
person holds the mailbox; only the sign-in link needs magic-link sign-in to be
on (`needs_method`): an invitation and a sign-up link stand on their own.
Guest invitations into one conversation will be a kind of their own.
"""

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from .errors import SignInFailed
from .store import layout, secret_id
from .tenants.secrets import session_secret

RECORDS = layout.MAGIC_LINKS
LINK_PATH = "/link/"


@dataclass(frozen=True)
class LinkKind:
    name: str
    salt: str      # itsdangerous salt: a link of one kind never verifies as another
    lifetime: int  # seconds
    prefix: str    # marks the kind in the URL, so the right salt is tried
    needs_method: str | None = None  # the sign-in method that must be on for the link to complete


SIGNIN = LinkKind("signin", salt="codeb.magic-link", lifetime=300, prefix="", needs_method="magic_link")
SIGNUP = LinkKind("signup", salt="codeb.signup", lifetime=900, prefix="s.")
ACCOUNT = LinkKind("account", salt="codeb.invitation", lifetime=7 * 86400, prefix="i.")
# "Change email": mailed to the new address, proving its owner reads it; it opens at
# `/account/email/<link>` (not `/link/`: it signs nobody in) and changes only the account that asked.
EMAIL_CHANGE = LinkKind("email_change", salt="codeb.email-change", lifetime=1800, prefix="e.")


def _serializer(store, kind: LinkKind) -> URLSafeTimedSerializer:
    clock = store.clock

    class Signer(TimestampSigner):  # link age by the tenant's clock, like the record's
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(session_secret(store), salt=kind.salt, signer=Signer)


def issue(store, kind: LinkKind, record: dict) -> str:
    """Keep `record` for the kind's lifetime under a new token's hash; return the link part."""
    token = secrets.token_urlsafe(32)
    store.transient(RECORDS).put(secret_id(token), {**record, "kind": kind.name}, ttl=kind.lifetime)
    return kind.prefix + _serializer(store, kind).dumps(token)


def kind_of(link, kinds: tuple[LinkKind, ...]) -> LinkKind:
    """Which of `kinds` the link says it is (by its prefix; its signature is checked later)."""
    if not isinstance(link, str):
        raise SignInFailed("error.link_invalid")
    kind = next((k for k in sorted(kinds, key=lambda k: -len(k.prefix)) if link.startswith(k.prefix)), None)
    if kind is None:
        raise SignInFailed("error.link_invalid")
    return kind


def token_of(store, link, kinds: tuple[LinkKind, ...]) -> str:
    """The token inside a link of one of `kinds`, if its signature is good and it is not too old."""
    kind = kind_of(link, kinds)
    try:
        return _serializer(store, kind).loads(link[len(kind.prefix):], max_age=kind.lifetime)
    except SignatureExpired:
        raise SignInFailed("error.link_expired") from None
    except BadSignature:
        raise SignInFailed("error.link_invalid") from None


def peek(store, link, kinds: tuple[LinkKind, ...]) -> dict | None:
    """The pending link's record, without spending it (None if used or gone)."""
    return store.transient(RECORDS).get(secret_id(token_of(store, link, kinds)))


def take(store, link, kinds: tuple[LinkKind, ...]) -> dict | None:
    """Spend the link: its record to exactly one caller, None if it was used or has expired."""
    return store.transient(RECORDS).take(record_id(store, link, kinds))


def record_id(store, link, kinds: tuple[LinkKind, ...]) -> str:
    """The name the link's record is stored under (its token's hash), for `take_record`."""
    return secret_id(token_of(store, link, kinds))


def take_record(store, rid: str) -> dict | None:
    """Spend a link by its record's name: what a one-time code mailed with the link does, so
    link and code are one secret used once (the first to take it wins)."""
    return store.transient(RECORDS).take(rid)


def invite_account(store, mailer, *, base_url: str, account, inviter: str, language: str) -> None:
    """Mail an admin-created account its invitation: a link valid for a week, used once."""
    language = account.language or language
    link = issue(store, ACCOUNT, {"email": account.email, "interaction": None, "language": language,
                                  "then": None})
    mailer.send("invitation", to=account.email, language=language, inviter=inviter,
                url=f"{base_url}{LINK_PATH}{link}", days=ACCOUNT.lifetime // 86400)
