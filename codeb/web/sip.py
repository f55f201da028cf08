"""The SIP digest lookup for the tenant's SIP server (Kamailio: deploy/kamailio/kamailio.cfg).

    GET  /sip/digest/lookup?user=<login or extension>&realm=<realm>&ip=<phone's address>
    POST /sip/digest/failed   user=<digest username>&realm=<realm>&ip=<phone's address>[&method=<SIP method>]

The lookup answers 200 with one JSON object, always of the same shape (codeb.native.sip_digest.Entry):
`{"user", "extension", "display_name", "ha1_md5": [...], "ha1_sha256": [...]}`, the lists empty
and the rest null when there is nothing to give (no such account, a disabled one, a full failure
window). The report answers 204. Both are `Cache-Control: no-store`.

Only the tenant's SIP server may ask: every request carries the tenant's lookup key
(`layout.SIP_LOOKUP_SECRET`, printed by `python -m codeb sip-secret TENANT`) as a bearer token
(RFC 6750 §2.1) or as HTTP Basic's password. Without it, or before the operator made one, the
answer is 401, audited as `sip.lookup_refused` without what was sent. The tenant is the
request's, by its Host header, as for every page. A missing or malformed field is 400; nothing
here answers 5xx on purpose (a damaged store is the app's error page like anywhere).
"""

from flask import Blueprint, Response, g, jsonify, request

from .. import audit
from ..native import sip_digest
from ..oidc.requests import NO_STORE
from ..signin.base import client_network
from ..store import layout
from . import context, server_keys

bp = Blueprint("sip", __name__, url_prefix="/sip/digest")
CHALLENGE = 'Bearer realm="codeb-sip-lookup"'


def _no_store(response: Response) -> Response:
    response.headers.update(dict(NO_STORE))
    return response


def _empty(status: int) -> Response:
    return _no_store(Response(b"", status=status, mimetype="text/plain"))


def _refused_caller() -> Response:
    """401 for a caller without the key, audited without what it sent (and counted nowhere: a
    256-bit key needs no window, and the window of its network would be the SIP server's)."""
    audit.append(g.tenant.store, "sip.lookup_refused", reason="secret", ip=client_network(context.client_ip()))
    response = _empty(401)
    response.headers["WWW-Authenticate"] = CHALLENGE
    return response


def _query(fields) -> sip_digest.Query | None:
    try:
        return sip_digest.query(fields.get("user"), fields.get("realm"), fields.get("ip"))
    except sip_digest.BadQuery:
        return None


@bp.get("/lookup")
def lookup():
    if not server_keys.key_ok(layout.SIP_LOOKUP_SECRET):
        return _refused_caller()
    asked = _query(request.args)
    if asked is None:
        return _empty(400)
    return _no_store(jsonify(sip_digest.DigestLookup(g.tenant).lookup(asked).as_json()))


@bp.post("/failed")
def failed():
    if not server_keys.key_ok(layout.SIP_LOOKUP_SECRET):
        return _refused_caller()
    asked = _query(request.form)
    if asked is None:
        return _empty(400)
    sip_digest.DigestLookup(g.tenant).failed(asked, request.form.get("method"))
    return _empty(204)


context.CSRF_EXEMPT.add("sip.failed")  # the caller's key is the lookup secret, not a browser's session
