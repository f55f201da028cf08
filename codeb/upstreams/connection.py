"""The admin's "Test connection" (the admin page, `upstream test`): an upstream's published documents
fetched now. Its protocol's libraries load only when a test runs."""

from . import token_auth
from .checks import UpstreamError


def connection_test(upstream: dict) -> dict:
    """ "Test connection": the provider's discovery and keys (SAML: its metadata) fetched now, and
    what they say: `ok`, and `found` and `keys`, or why not (`message_id`, `reason`, `params`)."""
    if upstream.get("kind") == "saml":
        from . import saml as protocol  # noqa: PLC0415 -- pysaml2 at first use, as the sign-in

        try:
            xml = protocol.fetch_metadata(upstream["metadata_url"]) if upstream.get("metadata_url") \
                else upstream["idp_metadata"]
            found = protocol.read_metadata(xml, upstream["idp_entity_id"])
        except UpstreamError as error:
            return {"ok": False, "message_id": error.message_id, "reason": error.reason}
        return {"ok": True, "keys": len(found["certs"]),
                "found": {"entityID": found["entity_id"], "SingleSignOnService": found["sso_url"]}}
    from . import oidc  # noqa: PLC0415 -- its libraries at first use, as the sign-in

    try:
        metadata = oidc.discover(upstream["issuer"], fresh=True)
        keys = oidc.key_set(metadata)
    except UpstreamError as error:
        return {"ok": False, "message_id": error.message_id, "reason": error.reason}
    # OIDC Discovery §3: the token endpoint's client authentication methods, client_secret_basic when
    # not listed. One the upstream does not offer would fail at every sign-in's code exchange.
    offered = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = token_auth(upstream)
    if method != "none" and isinstance(offered, list) and method not in offered:
        return {"ok": False, "message_id": "admin.upstream_test_method", "params": {"method": method},
                "reason": "token_endpoint_auth_methods_supported: " + " ".join(map(str, offered))[:200]}
    return {"ok": True, "keys": len(keys.keys), "found": {
        name: metadata.get(name) for name in ("issuer", "authorization_endpoint", "token_endpoint",
                                              "userinfo_endpoint", "jwks_uri")}}
