"""`make soak`: the long version, `python -m tests.soak [--seconds 180] [--kill-seconds 60]`.

Two bounded runs on loopback, each on a fresh data folder with four servers:
1. mixed load for `--seconds`: zero 5xx, zero lost updates, every document whole, and
   each server's RSS at the end within `--rss-growth` (10 %) of its RSS after warm-up;
2. mixed load for `--kill-seconds` with one server killed by SIGKILL halfway: the others
   carry on, nothing torn, nothing acknowledged lost, no lock left held.
Prints a summary of each and exits 1 if anything does not hold.
"""

import argparse
import sys
import tempfile

from .load import Soak


def one_run(title: str, *, rss_growth: float | None = None, **options) -> list[str]:
    print(f"== {title}", flush=True)
    with tempfile.TemporaryDirectory(prefix="codeb-soak-") as workdir:
        soak = Soak(workdir, **options)
        with soak:
            soak.run()
            problems = soak.check()
        problems += soak.check_files()
        if rss_growth is not None:
            problems += [f"server {i}: RSS grew {growth:.1%} after warm-up (more than {rss_growth:.0%})"
                         for i, growth in soak.rss_growth().items() if growth > rss_growth]
            if not soak.rss_growth():
                problems.append("no RSS could be read (/proc/<pid>/status)")
        print(soak.summary())
    print("\n".join(f"PROBLEM {p}" for p in problems) if problems else "all checks hold", flush=True)
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="load of the first run (default 180)")
    parser.add_argument("--kill-seconds", type=float, default=60.0, help="load of the second run (default 60)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rss-growth", type=float, default=0.10)
    args = parser.parse_args(argv)
    problems = one_run(f"mixed load, {args.seconds:.0f} s", rss_growth=args.rss_growth, seconds=args.seconds,
                       clients=args.clients, warm_up=min(args.seconds * 0.25, 60.0))
    problems += one_run(f"mixed load, {args.kill_seconds:.0f} s, a server killed with SIGKILL halfway",
                        seconds=args.kill_seconds, clients=args.clients, kill_after=args.kill_seconds / 2)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
