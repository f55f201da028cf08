"""The operator's commands: `python -m codeb …` (run `python -m codeb --help`).

Each command validates its input, prints a clear message and exits non-zero
on failure. The data root is `--data`, else `CODEB_DATA`, else `App_Data/`
beside app.py, the same folder the web application uses.
"""

import argparse
import json
import os
import sys

from . import ROOT
from .errors import CodebError
from .tenants import SIGNUP_POLICIES, Tenants, is_loopback


def data_root(args) -> str:
    return args.data or os.environ.get("CODEB_DATA") or os.path.join(ROOT, "App_Data")


def tenants(args) -> Tenants:
    return Tenants(data_root(args))


def out(doc) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))


# -- tenant ------------------------------------------------------------------

def tenant_create(args) -> None:
    from .users import Accounts

    registry = tenants(args)
    if args.exist_ok and args.name in registry.names():
        tenant = registry.get(args.name)
        out({"tenant": tenant.name, "hosts": tenant.hosts, "created": False})
        return
    tenant = registry.create(args.name, args.host, signup=args.signup, domains=args.domain,
                             display_name=args.display_name)
    result = {"tenant": tenant.name, "hosts": tenant.hosts, "signup": args.signup}
    if not is_loopback(tenant.hosts[0]):  # a loopback issuer carries the port it is served on
        result["issuer"] = f"https://{tenant.hosts[0]}"
    if args.admin_email:
        admin = Accounts(tenant.store, tenant.hosts[0]).create(email=args.admin_email,
                                                              roles=["user", "admin"])
        result["admin"] = admin.login
    out(result)


def tenant_list(args) -> None:
    registry = tenants(args)
    out([{"tenant": name, "hosts": registry.get(name).hosts} for name in registry.names()])


# -- user --------------------------------------------------------------------

def _accounts(args):
    from .users import Accounts

    tenant = tenants(args).get(args.tenant)
    return Accounts(tenant.store, tenant.hosts[0])


def user_add(args) -> None:
    account = _accounts(args).create(email=args.email, login=args.login,
                                     roles=["user"] + (args.role or []))
    out({"login": account.login, "sub": account.sub, "email": account.email, "roles": account.roles})


def user_list(args) -> None:
    accounts = _accounts(args)
    rows = []
    for login in accounts.list():
        account = accounts.get(login)
        if account:
            rows.append({"login": login, "email": account.email, "roles": account.roles,
                         "disabled": account.disabled})
    out(rows)


# -- client ------------------------------------------------------------------

def client_add(args) -> None:
    from .oidc.clients import Clients

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


# -- keys --------------------------------------------------------------------

def keys_rotate(args) -> None:
    from . import audit
    from .oidc import keys

    tenant = tenants(args).get(args.tenant)
    kid = keys.rotate(tenant.store)
    audit.append(tenant.store, "keys.rotated", kid=kid)
    published = [k["kid"] for k in keys.load(tenant.store).public["keys"]]
    out({"tenant": tenant.name, "current_kid": kid, "published_kids": published})


# -- superuser ---------------------------------------------------------------

def superuser_link(args) -> None:
    """Break-glass: a one-time sign-in URL, valid five minutes, for an operator on the server."""
    from . import breakglass

    tenant = tenants(args).get(args.tenant)
    base = args.base_url or f"https://{tenant.hosts[0]}"
    url = breakglass.create_link(tenant.store, base.rstrip("/"))
    print(url)
    print(f"valid for {breakglass.LINK_LIFETIME // 60} minutes, once; every action is audited as break-glass",
          file=sys.stderr)


# -- serve -------------------------------------------------------------------

def serve(args) -> None:
    from waitress import serve as waitress_serve

    from . import create_app

    os.environ.setdefault("CODEB_ECHO_MAIL", "1")  # local mode: links appear in the console
    app = create_app({"CODEB_DATA": data_root(args)})
    print(f"CodeB serving {data_root(args)} at http://{args.host}:{args.port}", flush=True)
    waitress_serve(app, host=args.host, port=args.port, threads=8, ident="CodeB")


# -- parser ------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m codeb", description="CodeB identity: operator commands.")
    p.add_argument("--data", help="data root (default: CODEB_DATA, else App_Data beside app.py)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tenant = sub.add_parser("tenant", help="create and list tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = tenant.add_parser("create", help="create a tenant with its keys and settings")
    c.add_argument("name", help="tenant name: lowercase letters, digits, hyphens")
    c.add_argument("--host", action="append", required=True, help="host name (repeatable)")
    c.add_argument("--admin-email", help="create a first admin account with this email")
    c.add_argument("--signup", choices=SIGNUP_POLICIES, default="open", help="who may create an account")
    c.add_argument("--domain", action="append", default=[], help="email domain allowed by --signup domains")
    c.add_argument("--display-name", help="name shown on the sign-in page")
    c.add_argument("--exist-ok", action="store_true", help="do nothing if the tenant exists")
    c.set_defaults(func=tenant_create)
    c = tenant.add_parser("list", help="list tenants and their hosts")
    c.set_defaults(func=tenant_list)

    user = sub.add_parser("user", help="add and list accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = user.add_parser("add", help="add an account")
    c.add_argument("tenant")
    c.add_argument("login")
    c.add_argument("--email", required=True)
    c.add_argument("--role", action="append", choices=["admin"], help="extra role")
    c.set_defaults(func=user_add)
    c = user.add_parser("list", help="list accounts")
    c.add_argument("tenant")
    c.set_defaults(func=user_list)

    client = sub.add_parser("client", help="register relying parties").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = client.add_parser("add", help="register an OIDC client; prints its id and (once) its secret")
    c.add_argument("tenant")
    c.add_argument("--name", required=True)
    c.add_argument("--redirect-uri", action="append", required=True, help="exact redirect URI (repeatable)")
    c.add_argument("--post-logout-redirect-uri", action="append", help="repeatable")
    c.add_argument("--public", action="store_true", help="public client (no secret, PKCE required)")
    c.set_defaults(func=client_add)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = keys.add_parser("rotate", help="add a new signing key; the old one stays published until its tokens expire")
    c.add_argument("tenant")
    c.set_defaults(func=keys_rotate)

    superuser = sub.add_parser("superuser", help="break-glass access for operators").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = superuser.add_parser("link", help="print a one-time superuser sign-in URL (five minutes, once)")
    c.add_argument("tenant")
    c.add_argument("--base-url", help="where the tenant is reached (default https://<first host>)")
    c.set_defaults(func=superuser_link)

    c = sub.add_parser("serve", help="serve locally with waitress")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8000)
    c.set_defaults(func=serve)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CodebError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
