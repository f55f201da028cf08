"""`serve`: the local server (waitress), for development and tests, and the process
IIS's HttpPlatformHandler starts (deploy/web.httpplatform.config)."""

import argparse
import os

from ..tenants.hosts import LOCAL_PORT
from .base import data_root

# Worker threads of the local server; `make bench` serves its bare endpoints with as many.
THREADS = 8


def serve(args) -> None:
    # Imported here: the other commands never load Flask or waitress.
    from waitress import serve as waitress_serve  # noqa: PLC0415

    from ..web.app import create_app  # noqa: PLC0415

    # Local mode prints every mail's links to the console; a server behind IIS must not
    # (its console may be a log file), so it passes --no-echo-mail.
    echo = os.environ.get("CODEB_ECHO_MAIL", "1") == "1" if args.echo_mail is None else args.echo_mail
    # The port is the origin of loopback tenants (issuer, links, WebAuthn), not the Host header.
    app = create_app({"CODEB_DATA": data_root(args), "CODEB_PORT": args.port, "CODEB_ECHO_MAIL": echo})
    print(f"CodeB serving {data_root(args)} at http://{args.host}:{args.port}", flush=True)
    # url_scheme: behind IIS, which ends TLS and forwards only what reached its HTTPS
    # bindings, every request was https, though it arrives here over loopback HTTP.
    waitress_serve(app, host=args.host, port=args.port, threads=THREADS, ident="CodeB", url_scheme=args.url_scheme)


def register(sub) -> None:
    c = sub.add_parser("serve", help="serve locally with waitress (or behind IIS's HttpPlatformHandler)")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=LOCAL_PORT,
                   help=f"port to listen on, also the origin of loopback tenants (default {LOCAL_PORT}); "
                        "behind IIS: --port %%HTTP_PLATFORM_PORT%%")
    c.add_argument("--url-scheme", choices=("http", "https"), default="http",
                   help="the scheme clients used: https behind a proxy that ends TLS, such as IIS (default http)")
    c.add_argument("--echo-mail", action=argparse.BooleanOptionalAction, default=None,
                   help="print every mail to the console, for local use (default: CODEB_ECHO_MAIL, else on)")
    c.set_defaults(func=serve)
