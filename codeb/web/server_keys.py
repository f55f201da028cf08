"""The key a tenant's own server (its XMPP server, its SIP server) sends to CodeB's endpoints for it.

Each such endpoint (codeb.web.xmpp, codeb.web.sip) is asked by one server only, which holds a
random key of the tenant's (codeb.tenants.secrets, made by the operator's command). It comes as
a bearer token (RFC 6750 §2.1) or as HTTP Basic's password (RFC 7617 §2, what Prosody's
`mod_auth_http` sends), in the text `secret_text` gives, and is compared in constant time.
"""

import base64
import binascii
import hmac

from flask import g, request

from ..tenants.secrets import existing_secret, secret_text


def presented() -> bytes | None:
    """The key the caller sent, as bearer token or as Basic's password; None without one."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value.encode("utf-8", "replace")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        _, colon, password = decoded.partition(b":")
        return password if colon else None
    return None


def key_ok(name: str) -> bool:
    """Whether the caller sent the tenant's key `name` (`layout.XMPP_AUTH_SECRET` ...). False
    before the operator made it: a request never makes one."""
    secret = existing_secret(g.tenant.store, name)
    sent = presented()
    if secret is None or sent is None:
        return False
    return hmac.compare_digest(sent, secret_text(secret).encode("ascii"))
