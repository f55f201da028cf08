"""Host names: what a tenant is reached by, what counts as the developer's own machine, and
the origin (scheme, host, port) a tenant's links, issuer and WebAuthn ceremonies use."""

import re
from functools import lru_cache

from ..errors import BadInput

LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN = re.compile(rf"(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# The port the local server listens on: `serve --port` (and `make run`'s PORT) default to it,
# CODEB_PORT or `serve --port` configure another. A request's Host header never does.
LOCAL_PORT = 8000


def normalize_host(value: str) -> str:
    """`Login.Example.com:443` -> `login.example.com`; raise BadInput if not a host name."""
    return _normalized(value) if isinstance(value, str) else _normalize(value)


@lru_cache(maxsize=512)  # every request's Host header: the few a site is reached by
def _normalized(value: str) -> str:
    return _normalize(value)


def _normalize(value) -> str:
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


def origin(host: str, *, local_port: int | None) -> str:
    """Where a tenant host is reached: `https://<host>` in production; a loopback name is
    served by the local server over plain HTTP on its configured port, e.g.
    `http://localhost:8000` (no port for 80). `host` is already normalized."""
    if not is_loopback(host):
        return f"https://{host}"
    return f"http://{host}" if local_port in (None, 80) else f"http://{host}:{int(local_port)}"


def local_port(value) -> int:
    """A configured local port (CODEB_PORT, `--port`): a number from 1 to 65535."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise BadInput("error.invalid_port", port=str(value)[:20])
    return port
