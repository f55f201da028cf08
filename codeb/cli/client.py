"""`client add`: register a relying party."""

from ..oidc.clients import Clients
from .base import out, tenants


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


def register(sub) -> None:
    group = sub.add_parser("client", help="register relying parties").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("add", help="register an OIDC client; prints its id and (once) its secret")
    c.add_argument("tenant")
    c.add_argument("--name", required=True)
    c.add_argument("--redirect-uri", action="append", required=True, help="exact redirect URI (repeatable)")
    c.add_argument("--post-logout-redirect-uri", action="append", help="repeatable")
    c.add_argument("--public", action="store_true", help="public client (no secret, PKCE required)")
    c.set_defaults(func=add)
