"""What the upstream configuration and the protocol share, without the protocol's libraries:
the error, the URL rule, Entra ID's multi-tenant issuers. `codeb.upstreams.oidc` (requests,
Authlib's client, joserfc) loads only when a company sign-in runs."""

import re
from urllib.parse import urlsplit

from ..tenants.hosts import is_loopback

TENANT_ID = re.compile(r"[0-9a-fA-F-]{36}")
TEMPLATE = "{tenantid}"
# Entra ID's issuers for any organisation's directory: their discovery names the template.
MULTI_TENANT = re.compile(r"https://login\.microsoftonline\.com/(common|organizations)/v2\.0/?")


def multi_tenant(issuer: str) -> bool:
    """Whether the issuer lets any organisation's directory sign in (Entra ID's `organizations`
    and `common`, or a `{tenantid}` template): then only the listed directories may."""
    return TEMPLATE in issuer or bool(MULTI_TENANT.fullmatch(issuer))


class UpstreamError(Exception):
    """The upstream or its answer is not acceptable. `message_id` is what the person reads,
    `reason` what the audit log records (the exact check that failed)."""

    def __init__(self, message_id: str, reason: str):
        super().__init__(reason)
        self.message_id = message_id
        self.reason = reason


def check_url(url, what: str) -> str:
    """An upstream URL: absolute https, or http on a loopback host (development, tests)."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:
        host = None
    if not host or parts is None or parts.fragment or any(c.isspace() for c in url):
        raise UpstreamError("error.upstream.bad_discovery", f"{what} is not a URL")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise UpstreamError("error.upstream.bad_discovery", f"{what} is not https")
    return url
