"""Break-glass: an operator on the server becomes superuser of one tenant.

Only the command line creates the link (`python -m codeb superuser link
TENANT`): a random token, kept as its hash for five minutes, spent once. The
session it starts acts as an admin of that tenant, has no account (so it is in
no user list and gets no token from the OpenID Provider), lasts an hour, and
every admin action it takes is audited as break-glass.
"""

import secrets

from .. import audit
from ..store import layout, secret_id

LINK_LIFETIME = 300
SESSION_LIFETIME = 3600


def create_link(store, base_url: str) -> str:
    token = secrets.token_urlsafe(32)
    store.transient(layout.BREAKGLASS).put(secret_id(token), {"purpose": "superuser"}, ttl=LINK_LIFETIME)
    audit.append(store, "breakglass.link_created", breakglass=True)
    return f"{base_url}/breakglass/{token}"


def pending(store, token) -> bool:
    return isinstance(token, str) and len(token) < 100 and \
        store.transient(layout.BREAKGLASS).get(secret_id(token)) is not None


def spend(store, token) -> bool:
    """True once for a live link; the link is gone afterwards."""
    if not isinstance(token, str) or len(token) > 100:
        return False
    return store.transient(layout.BREAKGLASS).take(secret_id(token)) is not None
