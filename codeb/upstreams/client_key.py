"""The tenant's own key towards company OpenID providers: `keys/upstream-client-key.json`.

An upstream set to `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9) knows CodeB at its
token endpoint by a short JWT this key signs, not by a shared secret: nothing a leak of
the upstream's client list would give away. Its admin registers the public half, which
`GET /signin/oidc/jwks` publishes (`published`, with its entity tag). One key per tenant,
for every upstream: one URL to give. Made at first use (an RS256 key made as the signing
keys are, `codeb.oidc.keys.new_key`), through the store's lock, so two processes make one.
"""

import hashlib
import json

from joserfc.jwk import RSAKey

from ..errors import Conflict
from ..oidc.keys import new_key
from ..store import layout
from ..store.cache import Memo

CLIENT_KEY = (layout.KEYS, layout.UPSTREAM_CLIENT_KEY)

# The parsed key by file, revalidated by its stamp: importing a private RSA key checks it,
# a cost a sign-in should not pay each time. Shared: read only.
_parsed = Memo(size=256)


class ClientKey:
    """The private key CodeB signs its client assertions with, and its public JWKS as served."""

    def __init__(self, doc: dict):
        self.private = RSAKey.import_key(doc["jwk"])
        public = {**self.private.as_dict(private=False), "use": "sig", "alg": "RS256", "kid": self.kid}
        body = json.dumps({"keys": [public]}).encode("utf-8")
        self.published = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    @property
    def kid(self) -> str:
        return str(self.private.kid)


def load(store) -> ClientKey:
    """The tenant's client key, made now if it has none."""
    found = store.derived(_parsed, *CLIENT_KEY, make=ClientKey)
    if found is None:
        with store.lock(*CLIENT_KEY):
            if not store.exists(*CLIENT_KEY):
                store.write(*CLIENT_KEY, doc=new_key(store.clock()))
        found = store.derived(_parsed, *CLIENT_KEY, make=ClientKey)
    if found is None:  # there, but unreadable: say so, never make another over it
        raise Conflict("error.keys_inconsistent")
    return found

