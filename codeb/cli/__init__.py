"""The operator's commands: `python -m codeb …` (run `python -m codeb --help`).

One module per command group, each adding its parser with `register`. Each
command validates its input, prints a clear message and exits non-zero on
failure. The data root is `--data`, else `CODEB_DATA`, else `App_Data/`
beside app.py, the same folder the web application uses.
"""

import argparse
import sys

from ..errors import CodebError
from . import (
    backchannel,
    client,
    host,
    keys,
    provision,
    serve,
    sip,
    superuser,
    tenant,
    turn,
    upstream,
    user,
    wallet,
    xmpp,
)

GROUPS = (tenant, provision, host, user, client, upstream, wallet, keys, backchannel, turn, xmpp, sip, superuser, serve)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m codeb", description="CodeB identity: operator commands.")
    p.add_argument("--data", help="data root (default: CODEB_DATA, else App_Data beside app.py)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CodebError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
