"""The subdomain a person picks on the sign-up page: the one rule, for the page and the worker.

A subdomain becomes the tenant's name (its folder, its IIS site and application
pool) and its host, `<subdomain>.<parent domain>`. It is a DNS label (RFC 1035
§2.3.1, RFC 5890 §2.3.1 LDH), lowercase, 3 to 40 characters, and none of:

- a name the host keeps for itself or that Windows reserves (`RESERVED`);
- an A-label or any other `??--` label (RFC 5891 §4.2.3.1: IDNA's ACE prefix),
  nor two hyphens anywhere, which a reader does not count;
- digits only (it reads as a number, an address or a phone extension);
- a look-alike of a reserved name (`adm1n`, `rnail`, `vvww`: `skeleton`).

A refusal is BadInput with a message id of its own, `error.subdomain.<rule>`.
"""

import re

from ..errors import BadInput

MIN_LENGTH, MAX_LENGTH = 3, 40
LDH = re.compile(r"[a-z0-9-]+")

# The host's own names, mail and DNS service names, and what people would take for the operator's.
RESERVED = frozenset({
    "www", "admin", "administrator", "login", "logout", "signin", "signup", "register", "mail", "email", "webmail",
    "smtp", "imap", "pop", "pop3", "mx", "ns1", "ns2", "ns3", "dns", "api", "app", "apps", "auth", "oauth", "oidc",
    "sso", "saml", "idp", "account", "accounts", "id", "identity", "host", "root", "system", "status", "support",
    "help", "docs", "blog", "static", "assets", "cdn", "media", "files", "download", "downloads", "ftp", "sftp",
    "autodiscover", "autoconfig", "wpad", "isatap", "localhost", "turn", "stun", "sip", "xmpp", "meet", "chat",
    "push", "billing", "security", "abuse", "postmaster", "hostmaster", "webmaster", "noreply", "no-reply",
    "codeb", "tenant", "tenants", "provisioning", "test", "dev", "staging", "demo", "example", "invalid",
    # Windows' reserved device names (codeb.store.names): no folder could hold the tenant.
    "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10)),
})

# Letters and digits a reader takes for one another (Unicode TR 39's confusables, the ASCII part).
_LOOKALIKE = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("3", "e"), ("5", "s"),
              ("4", "a"), ("7", "t"), ("8", "b"), ("9", "g"), ("6", "b"), ("2", "z"), ("-", ""))


def skeleton(label: str) -> str:
    """What `label` looks like to a reader: look-alike characters mapped to one of them."""
    for seen, read in _LOOKALIKE:
        label = label.replace(seen, read)
    return label


_RESERVED_SKELETONS = {skeleton(name): name for name in RESERVED}


def check_subdomain(value) -> str:
    """The subdomain `value` as it will be used (trimmed, lowercase), or BadInput saying why not."""
    label = value.strip().lower() if isinstance(value, str) else ""
    if not MIN_LENGTH <= len(label) <= MAX_LENGTH:
        raise BadInput("error.subdomain.length", field="subdomain", min=MIN_LENGTH, max=MAX_LENGTH)
    if not label.isascii() or not LDH.fullmatch(label):
        raise BadInput("error.subdomain.characters", field="subdomain")
    if label.startswith("-") or label.endswith("-"):
        raise BadInput("error.subdomain.hyphen_edge", field="subdomain")
    if label.startswith("xn--") or label[2:4] == "--":
        raise BadInput("error.subdomain.punycode", field="subdomain")
    if "--" in label:
        raise BadInput("error.subdomain.double_hyphen", field="subdomain")
    if label.isdigit():
        raise BadInput("error.subdomain.digits_only", field="subdomain")
    if label in RESERVED:
        raise BadInput("error.subdomain.reserved", field="subdomain", name=label)
    resembled = _RESERVED_SKELETONS.get(skeleton(label))
    if resembled is not None:
        raise BadInput("error.subdomain.confusable", field="subdomain", name=label, like=resembled)
    return label
