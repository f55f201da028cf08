"""`host set`, `host show`: the host's own site, where strangers get a tenant (codeb.provisioning.site).

    python -m codeb host set --site www.codeb.example --parent codeb.example \\
        [--terms-url URL] [--daily-cap N] [--per-ip N] [--per-email N] [--per-domain N] [--windows-worker yes|no]

A request whose Host is the site's name is served the sign-up page (/get-your-tenant.html)
and never a tenant. An option left out keeps its current value (its default the first
time); `--terms-url ""` removes the terms. The limits are sign-ups per day (a quarter of
each within an hour).
"""

from ..provisioning import site
from .base import out, tenants


def set_site(args) -> None:
    limits = {"daily_cap": args.daily_cap, "per_ip": args.per_ip, "per_email": args.per_email,
              "per_domain": args.per_domain}
    worker = None if args.windows_worker is None else args.windows_worker == "yes"
    chosen = site.configure(tenants(args), site=args.site, parent=args.parent, terms_url=args.terms_url,
                            windows_worker=worker, **limits)
    out(_shown(chosen))


def show(args) -> None:
    current = site.load(tenants(args))
    out(_shown(current) if current else None)


def _shown(chosen: site.HostSite) -> dict:
    return {"site": chosen.name, "parent": chosen.parent, "terms_url": chosen.terms_url,
            "daily_cap": chosen.daily_cap, "per_ip": chosen.per_ip, "per_email": chosen.per_email,
            "per_domain": chosen.per_domain, "windows_worker": chosen.windows_worker,
            "sign_up_page": f"{chosen.origin(None)}/get-your-tenant.html"}


def register(sub) -> None:
    group = sub.add_parser("host", help="the host's own site: the sign-up page where strangers get a tenant"
                           ).add_subparsers(dest="action", required=True, metavar="ACTION")
    c = group.add_parser("set", help="set up (or change) the host site")
    c.add_argument("--site", required=True, help="the host site's name, e.g. www.codeb.example")
    c.add_argument("--parent", required=True, help="new tenants are <subdomain>.<parent>, e.g. codeb.example")
    c.add_argument("--terms-url", help="the operator's terms (https); the form asks to accept them; '' removes them")
    c.add_argument("--daily-cap", type=int, help=f"sign-ups a day on this host (default {site.DEFAULTS['daily_cap']})")
    c.add_argument("--per-ip", type=int, help=f"sign-ups a day per client network (default {site.DEFAULTS['per_ip']})")
    c.add_argument("--per-email", type=int,
                   help=f"sign-ups a day per mailbox (default {site.DEFAULTS['per_email']})")
    c.add_argument("--per-domain", type=int,
                   help=f"sign-ups a day per mail domain (default {site.DEFAULTS['per_domain']})")
    c.add_argument("--windows-worker", choices=("yes", "no"),
                   help="whether the Windows worker does the IIS, TLS and DNS steps on this host (default no)")
    c.set_defaults(func=set_site)
    c = group.add_parser("show", help="the host site's settings (null if none)")
    c.set_defaults(func=show)
