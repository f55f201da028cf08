"""`sip-secret`: what the tenant's SIP server (Kamailio) is configured with.

`sip-secret TENANT` prints the digest lookup's URL and key (the SIP server sends the key as a
bearer token: codeb.web.sip) and the auth_ephemeral shared secret, with which the shell's phone
card mints browsers' short-lived SIP credentials and Kamailio checks them, as the `#!substdef`
lines of deploy/kamailio/kamailio.cfg. The first call makes whichever of the two keys the
tenant lacks (until then the lookup refuses every request and the card has no credentials);
`--rotate` replaces both, and the old ones stop working at once (a browser registered with an
old ephemeral credential is asked again at its next re-registration).

Both are printed as base64url without padding, which is also exactly the text Kamailio's
`modparam("auth_ephemeral", "secret", "...")` takes: that text's bytes are the HMAC-SHA1 key on
both sides (codeb.native.sip_credentials).
"""


from .. import audit
from ..accounts.passwords import sip_realm
from ..store import layout
from ..tenants.secrets import existing_secret, make_secret, secret_text
from .base import out, tenants

KEYS = {"lookup": layout.SIP_LOOKUP_SECRET, "ephemeral": layout.SIP_EPHEMERAL_SECRET}


def show_secret(args) -> None:
    tenant = tenants(args).get(args.tenant)
    secrets, made = {}, []
    for name, kind in KEYS.items():
        secret = existing_secret(tenant.store, kind)
        if secret is None or args.rotate:
            secret = make_secret(tenant.store, kind)
            made.append(name)
        secrets[name] = secret_text(secret)
    if made:
        audit.append(tenant.store, "sip.secret_made", secrets=made)
    host = tenant.hosts[0]
    url = f"https://{host}"
    values = {"SIP_REALM": sip_realm(tenant), "CODEB_URL": url, "CODEB_HOST": host,
              "CODEB_LOOKUP_SECRET": secrets["lookup"], "CODEB_EPHEMERAL_SECRET": secrets["ephemeral"]}
    out({"tenant": tenant.name, "realm": sip_realm(tenant), "lookup_url": f"{url}/sip/digest/lookup",
         "failed_url": f"{url}/sip/digest/failed", "lookup_secret": secrets["lookup"],
         "ephemeral_secret": secrets["ephemeral"],
         "kamailio": [f'#!substdef "!{name}!{value}!g"' for name, value in values.items()]})


def register(sub) -> None:
    c = sub.add_parser("sip-secret", help="the keys of the tenant's SIP server: the digest lookup's and "
                       "auth_ephemeral's (made on first use)")
    c.add_argument("tenant")
    c.add_argument("--rotate", action="store_true", help="replace both keys; the old ones stop working at once")
    c.set_defaults(func=show_secret)
