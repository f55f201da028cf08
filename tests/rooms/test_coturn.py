"""A real coturn (Debian's `coturn`) checks the credentials codeb.rooms.turn mints.

coturn runs on 127.0.0.1 with a free port, `use-auth-secret` and the tenant's shared secret,
no TLS, no CLI, everything it writes in the test's temporary folder; it is killed at
teardown and every wait is bounded. `turnutils_uclient` is the TURN client: `-y` makes two
clients that allocate a relay each and send a packet to each other through the relays
(`--allow-loopback-peers`: their peers are on 127.0.0.1), `-n 1` one packet, `-c` no RTCP.
An allocation with a refused credential ends in "Cannot complete Allocation" at once.
"""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import pytest

from codeb.rooms import turn
from codeb.tenants import settings
from tests.support.coturn import MISSING, TURNSERVER, Coturn, secret_args

UCLIENT = shutil.which("turnutils_uclient")
if not TURNSERVER or not UCLIENT:
    pytest.skip(MISSING, allow_module_level=True)

CLIENT_TIMEOUT = 60  # seconds for one turnutils_uclient run (a good one takes about five)


@dataclass
class Allocation:
    returncode: int
    output: str

    @property
    def relayed(self) -> bool:
        """A relay address allocated, and the packet sent through the relays received."""
        received = re.findall(r"tot_recv_msgs=(\d+)", self.output)
        return (self.returncode == 0 and "Received relay addr: 127.0.0.1:" in self.output
                and bool(received) and int(received[-1]) > 0)

    @property
    def refused(self) -> bool:
        return (self.returncode != 0 and "Cannot complete Allocation" in self.output
                and "Received relay addr" not in self.output)


def allocate(server: Coturn, username: str, credential: str) -> Allocation:
    result = subprocess.run([UCLIENT, "-y", "-c", "-n", "1", "-v", "-p", str(server.port), "-u", username,
                             "-w", credential, "127.0.0.1"], capture_output=True, text=True,
                            timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    return Allocation(result.returncode, result.stdout + result.stderr)


@pytest.fixture
def coturn(tmp_path):
    folder = tmp_path / "coturn"
    folder.mkdir()
    server = Coturn(folder)
    yield server
    server.stop()


@pytest.fixture
def tenant(tenants, coturn):
    """The demo tenant offering the test's coturn, as its admin's settings say so."""
    settings.save(tenants.get("demo"), {"turn": {"uris": [f"turn:127.0.0.1:{coturn.port}?transport=udp"]}})
    return tenants.get("demo")


def test_a_browsers_credential_allocates_a_relay_and_bad_ones_are_refused(tenant, coturn):
    coturn.start(args=secret_args(tenant, turn.secret(tenant.store)))
    [server] = turn.ice_servers(tenant, "p" + "a" * 40)
    assert server["urls"] == [f"turn:127.0.0.1:{coturn.port}?transport=udp"]
    good = allocate(coturn, server["username"], server["credential"])
    assert good.relayed, good.output[-3000:]

    wrong_secret = turn.sign(b"not the tenant's secret", server["username"])
    assert allocate(coturn, server["username"], wrong_secret).refused
    expired = turn.credentials(tenant, "guest-1", now=time.time() - turn.ttl(tenant) - 60)
    assert int(expired["username"].split(":")[0]) < time.time()
    assert allocate(coturn, expired["username"], expired["credential"]).refused
    other_user = turn.credentials(tenant, "guest-2")  # a valid credential is one username's only
    assert allocate(coturn, "guest-1".join(other_user["username"].rsplit("guest-2", 1)),
                    other_user["credential"]).refused


def test_after_a_rotation_coturn_takes_both_secrets_then_only_the_new(tenant, coturn):
    before = turn.credentials(tenant, "p1")
    old = turn.secret(tenant.store)
    turn.rotate(tenant.store)
    after = turn.credentials(tenant, "p1")
    assert turn.secret(tenant.store) != old

    coturn.start(config=turn.coturn_config(tenant))  # the switch: both secrets, as `turn show` prints them
    assert allocate(coturn, before["username"], before["credential"]).relayed
    assert allocate(coturn, after["username"], after["credential"]).relayed
    coturn.stop()

    coturn.start(args=secret_args(tenant, turn.secret(tenant.store)))  # restarted with only the new secret
    assert allocate(coturn, before["username"], before["credential"]).refused
    now = allocate(coturn, after["username"], after["credential"])
    assert now.relayed, now.output[-3000:]

