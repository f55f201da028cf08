"""`serve`: the local server (waitress), for development and tests."""

import os

from ..tenants.hosts import LOCAL_PORT
from .base import data_root

# Worker threads of the local server; `make bench` serves its bare endpoints with as many.
THREADS = 8


def serve(args) -> None:
    # Imported here: the other commands never load Flask or waitress.
    from waitress import serve as waitress_serve  # noqa: PLC0415

    from ..web.app import create_app  # noqa: PLC0415

    os.environ.setdefault("CODEB_ECHO_MAIL", "1")  # local mode: links appear in the console
    # The port is the origin of loopback tenants (issuer, links, WebAuthn), not the Host header.
    app = create_app({"CODEB_DATA": data_root(args), "CODEB_PORT": args.port})
    print(f"CodeB serving {data_root(args)} at http://{args.host}:{args.port}", flush=True)
    waitress_serve(app, host=args.host, port=args.port, threads=THREADS, ident="CodeB")


def register(sub) -> None:
    c = sub.add_parser("serve", help="serve locally with waitress")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=LOCAL_PORT,
                   help=f"port to listen on, also the origin of loopback tenants (default {LOCAL_PORT})")
    c.set_defaults(func=serve)
