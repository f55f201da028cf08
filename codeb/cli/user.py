"""`user add`, `user list`, `user reindex`."""

from ..accounts import Accounts
from ..errors import Conflict
from .base import out, tenants


def _accounts(args) -> Accounts:
    tenant = tenants(args).get(args.tenant)
    return Accounts(tenant.store, tenant.hosts[0])


def add(args) -> None:
    try:
        account = _accounts(args).create(email=args.email, login=args.login, roles=["user"] + (args.role or []),
                                         reuse_login=args.reuse_login)
    except Conflict as error:
        if error.message_id == "error.login_deleted":  # the page's checkbox is this flag here
            raise Conflict("error.login_deleted_cli", **error.params) from None
        raise
    out({"login": account.login, "sub": account.sub, "email": account.email, "roles": account.roles})


def list_users(args) -> None:
    accounts = _accounts(args)
    rows = []
    for login in accounts.list():
        account = accounts.get(login)
        if account:
            rows.append({"login": login, "email": account.email, "roles": account.roles,
                         "disabled": account.disabled})
    out(rows)


def reindex(args) -> None:
    """Recreate the admin's user directory (derived data) from the account documents."""
    out({"accounts": _accounts(args).directory.rebuild()})


def register(sub) -> None:
    group = sub.add_parser("user", help="add, list and reindex accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    c = group.add_parser("add", help="add an account")
    c.add_argument("tenant")
    c.add_argument("login")
    c.add_argument("--email", required=True)
    c.add_argument("--role", action="append", choices=["admin"], help="extra role")
    c.add_argument("--reuse-login", action="store_true",
                   help="give a deleted account's login to this new account (it inherits none of its data)")
    c.set_defaults(func=add)
    c = group.add_parser("list", help="list accounts")
    c.add_argument("tenant")
    c.set_defaults(func=list_users)
    c = group.add_parser("reindex", help="rebuild the admin's user directory from the account documents")
    c.add_argument("tenant")
    c.set_defaults(func=reindex)
