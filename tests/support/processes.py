"""What the tests' real servers (ejabberd, Prosody, Kamailio, baresip, coturn) share: a free
loopback port, and stopping a server started in its own process group."""

import os
import signal
import socket
import subprocess

STOP_TIMEOUT = 10  # seconds for SIGTERM, and again for SIGKILL


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (SIP and TURN servers listen on both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def stop_group(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """End a server started with `start_new_session=True` and everything it started: SIGTERM to
    its group, then SIGKILL if it has not ended in `timeout`, then SIGKILL to what is left of
    the group (ejabberd's extauth programs, Kamailio's workers)."""
    group = process.pid  # the session's leader: its pid is the group's id
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
