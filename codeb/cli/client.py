"""`client add`, `client set`, `client show`: register a relying party and set its protocol settings."""

import sys
from pathlib import Path

from ..errors import BadInput
from ..oidc.client_settings import AUTH_METHODS, GRANT_TYPES
from ..oidc.clients import Client, Clients
from .base import out, tenants

SHOWN = ("client_id", "name", "public", "redirect_uris", "post_logout_redirect_uris", "scopes", "grant_types",
         "token_endpoint_auth_method", "jwks", "jwks_uri", "require_par", "require_dpop", "fapi",
         "resource_server", "backchannel_logout_uri", "access_token_lifetime", "refresh_token_lifetime",
         "api_scopes", "audience", "home_url", "logo_uri", "consent_required")


def described(client: Client) -> dict:
    """What `client show` and `client set` print: the document without the secret's hash, with the
    settings' effective values (a default shown as such)."""
    settings = {"grant_types": list(client.grant_types),
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
                "require_par": client.require_par, "require_dpop": client.require_dpop,
                "access_token_lifetime": client.access_token_lifetime,
                "refresh_token_lifetime": client.refresh_token_lifetime}
    doc = {**client.doc, **settings}
    return {name: doc[name] for name in SHOWN if name in doc}


def add(args) -> None:
    tenant = tenants(args).get(args.tenant)
    client, secret = Clients(tenant.store).add(
        name=args.name, redirect_uris=args.redirect_uri,
        post_logout_redirect_uris=args.post_logout_redirect_uri or [], public=args.public)
    result = {"client_id": client.client_id, "name": client.name, "public": client.public,
              "redirect_uris": client.doc["redirect_uris"],
              "post_logout_redirect_uris": client.doc["post_logout_redirect_uris"]}
    if secret:
        result["client_secret"] = secret  # shown this once; only its hash is stored
    out(result)


def show(args) -> None:
    out(described(Clients(tenants(args).get(args.tenant).store).require(args.client_id)))


def changes_of(args) -> dict:
    """The settings this command line names, as `Clients.configure` takes them."""
    changes: dict = {}
    if args.grant_type:
        changes["grant_types"] = args.grant_type
    for name in ("token_endpoint_auth_method", "jwks_uri", "backchannel_logout_uri", "access_token_lifetime",
                 "refresh_token_lifetime"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.jwks is not None:
        changes["jwks"] = _read(args.jwks)
    for name in ("api_scope", "audience"):
        if getattr(args, name) is not None:
            changes[{"api_scope": "api_scopes"}.get(name, name)] = [v for v in getattr(args, name) if v]
    for flag in ("require_par", "require_dpop", "fapi", "resource_server"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag) == "on"
    return changes


def _read(value: str) -> str:
    """A JWKS given inline, as @file, or as - for standard input; empty to remove it."""
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            raise BadInput("error.client_jwks") from None
    return sys.stdin.read() if value == "-" else value


def configure(args) -> None:
    clients = Clients(tenants(args).get(args.tenant).store)
    changes = changes_of(args)
    if not changes:
        raise SystemExit("client set: name at least one setting (see --help)")
    out(described(clients.configure(args.client_id, **changes)))


def register(sub) -> None:
    group = sub.add_parser("client", help="register relying parties and set their protocol settings").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("add", help="register an OIDC client; prints its id and (once) its secret")
    c.add_argument("tenant")
    c.add_argument("--name", required=True)
    c.add_argument("--redirect-uri", action="append", required=True, help="exact redirect URI (repeatable)")
    c.add_argument("--post-logout-redirect-uri", action="append", help="repeatable")
    c.add_argument("--public", action="store_true", help="public client (no secret, PKCE required)")
    c.set_defaults(func=add)

    s = group.add_parser("show", help="a client's registration and protocol settings, as JSON (never its secret)")
    s.add_argument("tenant")
    s.add_argument("client_id")
    s.set_defaults(func=show)

    onoff = ("on", "off")
    c = group.add_parser("set", help="change a client's protocol settings; only the ones named change")
    c.add_argument("tenant")
    c.add_argument("client_id")
    c.add_argument("--grant-type", action="append", choices=GRANT_TYPES,
                   help="allowed grant type (repeatable; replaces the list)")
    c.add_argument("--token-endpoint-auth-method", choices=[*AUTH_METHODS, ""],
                   help="the client's one authentication method ('' for the default)")
    c.add_argument("--jwks", help="the client's public keys: a JWK Set as JSON, @file or - (stdin); '' removes")
    c.add_argument("--jwks-uri", help="where the client publishes its public keys ('' removes)")
    c.add_argument("--require-par", choices=onoff, help="authorization requests must be pushed (RFC 9126)")
    c.add_argument("--require-dpop", choices=onoff, help="tokens must be DPoP-bound (RFC 9449)")
    c.add_argument("--fapi", choices=onoff, help="FAPI 2.0 Security Profile: PAR, PKCE, DPoP and private_key_jwt")
    c.add_argument("--resource-server", choices=onoff,
                   help="one of the tenant's own resource servers (XMPP, PBX): may introspect any token")
    c.add_argument("--backchannel-logout-uri", help="where signing out sends a logout token ('' removes)")
    c.add_argument("--access-token-lifetime", help="seconds, 60 to 3600 ('' for one hour)")
    c.add_argument("--refresh-token-lifetime", help="seconds, 3600 to 2592000 ('' for thirty days)")
    c.add_argument("--api-scope", action="append",
                   help="a scope a client_credentials token may carry (repeatable; replaces; '' clears)")
    c.add_argument("--audience", action="append",
                   help="a resource server its client_credentials tokens are for (repeatable; replaces; '' clears)")
    c.set_defaults(func=configure)
