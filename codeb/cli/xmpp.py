"""`xmpp-auth` and `xmpp-auth-secret`: the tenant's XMPP server asks CodeB who may sign in.

`xmpp-auth TENANT` is ejabberd's external authentication program (codeb.native.xmpp_auth):
ejabberd starts it and speaks the extauth protocol on its stdin and stdout, so it prints
nothing else there; its log goes to stderr, which ejabberd keeps. In ejabberd.yml:

    auth_method: [external]
    extauth_program: "python -m codeb --data C:/path/App_Data xmpp-auth TENANT"
    auth_use_cache: false

`auth_use_cache: false` matters: ejabberd otherwise keeps an accepted password for an hour,
and a revoked app password would go on working that long (tests/rooms/test_ejabberd.py runs
a real ejabberd so configured).

`xmpp-auth-secret TENANT` prints what Prosody is configured with for the tenant's HTTP
endpoint (codeb.web.xmpp): under `prosody`, the settings of CodeB's own module
(deploy/prosody/mod_auth_codeb.lua, which POSTs, so the password is in no URL), and under
`mod_auth_http`, those of the community module, whose GET carries the password in the query
string. Both hold the tenant's shared secret. The first call makes the secret (until then the
endpoint refuses every request); `--rotate` replaces it, and the old one stops working at once.
"""

import logging
import sys

from .. import audit
from ..native import xmpp_auth
from ..store import layout
from ..tenants.secrets import existing_secret, make_secret, secret_text
from .base import out, tenants


def serve(args) -> None:
    registry = tenants(args)
    name = args.tenant
    registry.get(name)  # an unknown tenant is refused now, with a message on stderr
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever prints by mistake must not break the protocol
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="codeb xmpp-auth %(levelname)s %(message)s")
    xmpp_auth.serve(lambda: xmpp_auth.Bridge(registry.get(name)), sys.stdin.buffer, replies)


def show_secret(args) -> None:
    tenant = tenants(args).get(args.tenant)
    secret = existing_secret(tenant.store, layout.XMPP_AUTH_SECRET)
    if secret is None or args.rotate:
        secret = make_secret(tenant.store, layout.XMPP_AUTH_SECRET)
        audit.append(tenant.store, "xmpp.auth_secret_made")
    text = secret_text(secret)
    url = f"https://{tenant.hosts[0]}/xmpp/auth"
    out({"tenant": tenant.name, "secret": text,
         "prosody": {"plugin": "deploy/prosody/mod_auth_codeb.lua", "authentication": "codeb",
                     "codeb_auth_url": url, "codeb_auth_secret": text},
         "mod_auth_http": {"authentication": "http", "http_auth_url": url, "http_auth_credentials": f"prosody:{text}"}})


def register(sub) -> None:
    c = sub.add_parser("xmpp-auth", help="ejabberd's external authentication program for a tenant "
                       "(the extauth protocol on stdin/stdout)")
    c.add_argument("tenant")
    c.set_defaults(func=serve)
    c = sub.add_parser("xmpp-auth-secret", help="the shared secret of the tenant's HTTP auth endpoint "
                       "for Prosody's mod_auth_http (made on first use)")
    c.add_argument("tenant")
    c.add_argument("--rotate", action="store_true", help="replace the secret; the old one stops working at once")
    c.set_defaults(func=show_secret)
