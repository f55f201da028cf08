"""One server of the farm: `python -m tests.soak.server --data D --port P --origin-port O`.

Every server of a web farm answers for one public origin (the load balancer's), so
all of them are configured with the same `CODEB_PORT` (the loopback tenant's
origin: issuer, mailed links, WebAuthn origin), and each listens on its own port.
It listens on 127.0.0.1 only and runs until it is terminated.
"""

import argparse

from waitress import serve

from codeb.web.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--origin-port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    app = create_app({"CODEB_DATA": args.data, "CODEB_PORT": args.origin_port})
    print(f"serving on {args.port}", flush=True)
    serve(app, host="127.0.0.1", port=args.port, threads=args.threads, ident="CodeB")


if __name__ == "__main__":
    main()
