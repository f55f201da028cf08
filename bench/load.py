"""The side-by-side's load client: `wrk` (Debian's package) with bench/load.lua.

`-t N -c N`: N threads, one keep-alive connection each, so a Lua thread follows its
connection's own refresh-token chain or its own share of the pre-issued codes. wrk runs
outside every measured process; it is the same client, with the same requests, for
CodeB, the bare endpoints and the peer. Each figure is one bounded run after a warm-up
run; a figure with any answer outside 2xx, a socket error or a timeout is invalid.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "load.lua")
CONNECTIONS = 8
MARK = "side-by-side: "


class LoadClientMissing(RuntimeError):
    """wrk is not installed (`make system-deps` installs it)."""


@dataclass(frozen=True)
class Figure:
    """One bounded run of wrk against one server."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    timeouts: int
    exhausted: int  # connections that ran out of pre-issued codes
    first_error: str | None
    p50_ms: float
    p99_ms: float
    warmup: bool = False  # the warm-up's figure: it failed, so no measured run followed

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def problem(self) -> str | None:
        """Why the figure does not count, or None if every request answered 2xx."""
        why = self.fault()
        return f"in the warm-up, {why}" if why and self.warmup else why

    def fault(self) -> str | None:
        if self.requests == 0:
            return "no request completed"
        if self.non2xx:
            return f"{self.non2xx} non-2xx answers (first: {self.first_error})"
        if self.socket_errors or self.timeouts:
            return f"{self.socket_errors} socket errors, {self.timeouts} timeouts"
        if self.exhausted:
            return f"{self.exhausted} connections ran out of pre-issued codes"
        return None


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadClientMissing("wrk is not installed: run `make system-deps` (Debian package wrk)")
    return path


def run(url: str, *, seconds: int, host: str, script_args: list[str], headers: tuple[str, ...] = (),
        warmup: bool = False) -> Figure:
    """One wrk run of `seconds` against `url` with `Host: host` and extra headers."""
    command = [wrk_path(), f"-t{CONNECTIONS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
               "-s", SCRIPT, "-H", f"Host: {host}"]
    for header in headers:
        command += ["-H", header]
    command += [url, "--", *script_args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    doc = json.loads(lines[-1][len(MARK):])
    return Figure(requests=doc["requests"], seconds=doc["duration_us"] / 1e6, non2xx=doc["non2xx"],
                  socket_errors=doc["socket_errors"], timeouts=doc["timeouts"], exhausted=doc["exhausted"],
                  first_error=doc["first_error"], p50_ms=doc["p50_us"] / 1000, p99_ms=doc["p99_us"] / 1000,
                  warmup=warmup)


def measured(url: str, *, seconds: int, warmup: int, host: str, prepare, headers: tuple[str, ...] = ()) -> Figure:
    """A warm-up run (its figure dropped unless it failed), then the measured run.

    `prepare()` gives each run its script arguments: fresh refresh chains or unspent codes,
    since a run stops with requests in flight whose answers nobody read.
    """
    if warmup:
        warm = run(url, seconds=warmup, host=host, script_args=prepare(), headers=headers, warmup=True)
        if warm.problem:
            return warm
    return run(url, seconds=seconds, host=host, script_args=prepare(), headers=headers)
