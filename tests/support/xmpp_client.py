"""A real XMPP client, slixmpp, signing in to a server on the loopback once: the outcome and its time.

`sign_in(server, jid, password, label)` connects a fresh slixmpp client to `server.port` on
127.0.0.1, STARTTLS trusting `server.ca` (the self-signed certificate the test server made),
SASL PLAIN, and says how it ended: "session" (signed in, over TLS), "refused" (a SASL
failure), or what else ended it, bounded by CLIENT_TIMEOUT. Used against ejabberd
(tests.support.ejabberd) and Prosody (tests.support.prosody).
"""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import slixmpp
from slixmpp.util.sasl.client import Mech, sasl_mech


class Server(Protocol):
    port: int
    ca: Path


@sasl_mech(15)
class OAUTHBEARER(Mech):
    """SASL OAUTHBEARER (RFC 7628 §3.1), which slixmpp lacks: the GS2 header naming the
    authorization identity `user@host`, then `auth=Bearer <token>`, each key-value pair ended
    by 0x01, and a final 0x01."""

    name = "OAUTHBEARER"
    required_credentials = {"username", "host", "access_token"}

    def process(self, challenge=b""):
        if challenge:  # the server's error report (RFC 7628 §3.2.2): answer with the dummy 0x01
            return b"\x01"
        identity = self.credentials["username"] + b"@" + self.credentials["host"]
        return b"n,a=" + identity + b",\x01auth=Bearer " + self.credentials["access_token"] + b"\x01\x01"


CLIENT_TIMEOUT = 20  # seconds for one sign-in, connection to session or refusal (well under 1 s when idle)


@dataclass
class SignIn:
    outcome: str    # "session" (signed in), "refused" (SASL failure) or what else ended it
    seconds: float
    detail: str = ""


async def _sign_in(server: Server, jid: str, password: str, token: str | None) -> SignIn:
    client = slixmpp.ClientXMPP(jid, password)
    if token is not None:  # SASL OAUTHBEARER with this access token, and no other mechanism
        client.credentials["access_token"] = token
        client.plugin["feature_mechanisms"].use_mech = "OAUTHBEARER"
    client.enable_direct_tls = False  # STARTTLS on the c2s port, as a client finds it from SRV
    client.enable_plaintext = False
    client.ca_certs = server.ca
    client.reconnect_max_attempts = 0
    done: asyncio.Future = asyncio.get_running_loop().create_future()

    def end(outcome):
        return lambda event=None: done.done() or done.set_result((outcome, str(event)[:300]))

    client.add_event_handler("session_start", end("session"))
    client.add_event_handler("failed_auth", end("refused"))
    client.add_event_handler("failed_all_auth", end("no_mechanism"))  # after failed_auth, or none tried
    client.add_event_handler("connection_failed", end("connection_failed"))
    client.add_event_handler("ssl_invalid_cert", end("invalid_cert"))
    client.add_event_handler("disconnected", end("disconnected"))
    start = time.perf_counter()
    client.connect("127.0.0.1", server.port)
    try:
        outcome, detail = await asyncio.wait_for(done, CLIENT_TIMEOUT)
    except TimeoutError:
        outcome, detail = "timeout", f"no outcome in {CLIENT_TIMEOUT} s"
    seconds = time.perf_counter() - start
    if outcome == "session":
        features = sorted(client.features)
        client.disconnect()
        detail = f"features {features}"
        assert "starttls" in features, "signed in without TLS"
    else:
        client.abort()
    await asyncio.sleep(0)
    return SignIn(outcome, seconds, detail)


def sign_in(server: Server, jid: str, password: str, label: str, *, token: str | None = None) -> SignIn:
    result = asyncio.run(asyncio.wait_for(_sign_in(server, jid, password, token), CLIENT_TIMEOUT + 5))
    print(f"{type(server).__name__} sign-in, {label}: {result.outcome} in {result.seconds * 1000:.0f} ms")
    return result
