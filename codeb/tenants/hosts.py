"""Host names: what a tenant is reached by, and what counts as the developer's own machine."""

import re

from ..errors import BadInput

LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN = re.compile(rf"(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def normalize_host(value: str) -> str:
    """`Login.Example.com:443` -> `login.example.com`; raise BadInput if not a host name."""
    host = (value or "").strip().lower()
    if host.startswith("["):  # IPv6 literal
        host = host.split("]")[0] + "]"
    else:
        host = host.split(":")[0]
    if host.endswith("."):
        host = host[:-1]
    if host not in LOOPBACK_HOSTS and not HOST_PATTERN.fullmatch(host):
        raise BadInput("error.invalid_host", host=value[:80])
    return host


def is_loopback(host: str) -> bool:
    """`localhost`, its subdomains (RFC 6761 §6.3) and the loopback addresses."""
    return host in LOOPBACK_HOSTS or host.endswith(".localhost")
