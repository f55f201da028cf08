"""The mixed load on a farm for a bounded time, the state it expects, and the checks after it.

    soak = Soak(workdir, seconds=20, clients=4)         # kill_after=10 for the SIGKILL version
    with soak:                                           # data folder, tenant, farm, people, chains
        soak.run()
        problems = soak.check()                          # [] when all is well
    print(soak.summary())

Each client thread owns its people (accounts with a passkey and a signed-in browser)
and its refresh-token chains, so what it expects of them is exact; it edits the
display names of the next client's people, so an admin's write and a passkey
sign-in meet on one account document from two servers at once. Every request
goes to the next server of the farm; every refresh of a chain to the next server
in turn.
"""

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field

from webauthn.helpers import bytes_to_base64url

from codeb.accounts import Accounts
from codeb.oidc.clients import Clients
from codeb.provisioning import create_tenant
from codeb.store import files, layout
from codeb.store.lock import file_lock
from codeb.tenants import Tenants
from tests.support.authenticator import SoftAuthenticator

from . import client
from .client import RP, Browser, FlowFailed, InDoubt, Mailbox, Tally
from .farm import HOST, Farm

ADMIN = "admin@soak.example"
HOT = "hot@soak.example"
EXTENSIONS = (10_000, 99_999)  # wide enough for every sign-up of a long soak
SIGN_UP_EVERY = 1.0            # seconds between one client's sign-ups (per-client limits: 120/min)
WEIGHTS = {"passkey_sign_in": 3, "refresh": 4, "code_exchange": 1, "admin_edit": 2, "sign_up": 1}


@dataclass
class Person:
    email: str
    browser: Browser
    authenticator: SoftAuthenticator | None
    login: str = ""
    sign_count: int = 0                 # the counter of the last acknowledged passkey sign-in
    count_doubt: int | None = None      # a counter sent whose answer never came
    display_name: str | None = None     # the last display name an admin's edit acknowledged
    name_doubt: str | None = None

    @property
    def credential_id(self) -> str:
        return bytes_to_base64url(next(iter(self.authenticator.credentials)))


@dataclass
class Chain:
    tokens: list[str]                   # every refresh token acknowledged, oldest first
    acked_by: list[int] = field(default_factory=list)
    doubt: bool = False                 # a rotation whose answer never came: not checked
    turn: int = 0


@dataclass
class Worker:
    index: int
    source: str                         # the address of its admin and refresh calls
    browsers: int = 0
    people: list[Person] = field(default_factory=list)
    hot: Person | None = None           # its own passkey on the one account every client uses
    chains: list[Chain] = field(default_factory=list)
    signed_up: list[str] = field(default_factory=list)
    signup_doubt: list[str] = field(default_factory=list)
    edits: int = 0

    def new_source(self) -> str:
        """A new browser's address: people sign in from many addresses, not one (the limits
        per client address are for one office behind one NAT address)."""
        self.browsers += 1
        return f"127.0.{10 + self.index}.{self.browsers % 250 + 1}"


class Soak:
    def __init__(self, workdir: str, *, seconds: float = 20.0, clients: int = 4, servers: int = 4,
                 people: int = 2, chains: int = 2, kill_after: float | None = None,
                 warm_up: float | None = None, seed: int = 0):
        self.workdir, self.seconds, self.kill_after = workdir, seconds, kill_after
        self.warm_up = min(seconds * 0.3, 20.0) if warm_up is None else warm_up  # when RSS is first read
        self.data = os.path.join(workdir, "App_Data")
        self.pickup = os.path.join(workdir, "pickup")
        self.farm = Farm(self.data, self.pickup, servers=servers)
        self.tally = Tally()
        self.mailbox = Mailbox(self.pickup)
        self.random = random.Random(seed)
        self.workers = [Worker(i, f"127.0.0.{10 + i}") for i in range(clients)]
        self.per_worker = (people, chains)
        self.rss_warm: list[int | None] = []
        self.rss_end: list[int | None] = []
        self.killed: int | None = None
        self.witnesses: list[Chain] = []  # rotated on the doomed server just before it is killed
        self.after_kill: dict[int, int] = {}
        self.elapsed = 0.0
        self.stuck = 0

    # -- setting up ------------------------------------------------------------------------

    def __enter__(self) -> "Soak":
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.pickup, exist_ok=True)
        store = create_tenant(Tenants(self.data), "demo", [HOST], display_name="Soak").tenant.store
        with store.update(layout.TENANT) as doc:
            doc["extension_range"] = list(EXTENSIONS)
        Accounts(store, HOST).create(email=ADMIN, roles=["user", "admin"])
        registered, secret = Clients(store).add(name="Soak RP", redirect_uris=["http://127.0.0.1:9/cb"])
        self.rp = RP(registered.client_id, secret or "", "http://127.0.0.1:9/cb")
        self.store = store
        self.farm.__enter__()
        try:
            self._set_up_people()
        except BaseException:
            self.farm.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.farm.stop()

    def _set_up_people(self) -> None:
        self.admin = Browser(self.farm, self.tally, source="127.0.0.2", kind="admin_edit")
        client.magic_link_sign_in(self.admin, self.mailbox, ADMIN)
        people, chains = self.per_worker
        for worker in self.workers:
            for n in range(people):
                person = self._sign_up(worker, f"p{worker.index}-{n}@soak.example", passkey=True)
                worker.people.append(person)
            for n in range(chains):
                owner = worker.people[n % len(worker.people)]
                worker.chains.append(Chain([client.code_exchange(owner.browser, self.rp)]))
        self._set_up_hot_account()
        accounts = Accounts(self.store, HOST)
        for worker in self.workers:
            for person in self.people_of(worker):
                person.login = accounts.find_by_email(person.email).login

    def _set_up_hot_account(self) -> None:
        """One account with a passkey per client: every client signs in to it at once, each
        with its own passkey (so each counter is exact), while an admin edits its name; every
        such sign-in rewrites the one account document (counter, session list)."""
        first = self._sign_up(self.workers[0], HOT, passkey=True)
        self.workers[0].hot = first
        for worker in self.workers[1:]:
            authenticator = SoftAuthenticator(self.farm.origin)
            client.add_passkey(first.browser, authenticator, page="/account")
            worker.hot = Person(HOT, first.browser, authenticator)

    @staticmethod
    def people_of(worker: Worker) -> list[Person]:
        return worker.people + ([worker.hot] if worker.hot else [])

    def _sign_up(self, worker: Worker, email: str, *, passkey: bool) -> Person:
        browser = Browser(self.farm, self.tally, source=worker.new_source(), kind="sign_up")
        authenticator = SoftAuthenticator(self.farm.origin) if passkey else None
        client.sign_up(browser, self.mailbox, email, authenticator)
        return Person(email, browser, authenticator)

    # -- the load --------------------------------------------------------------------------

    def run(self) -> None:
        start = time.monotonic()
        deadline = start + self.seconds
        threads = [threading.Thread(target=self._work, args=(w, deadline, self.random.random()), daemon=True)
                   for w in self.workers]
        for thread in threads:
            thread.start()
        client.pause_until(start + self.warm_up)
        self.rss_warm = [self.farm.rss_kib(i) for i in range(self.farm.count)]
        if self.kill_after is not None:
            client.pause_until(start + self.kill_after)
            self._kill_one()
        for thread in threads:
            thread.join(timeout=self.seconds + 600)  # each request is bounded by client.TIMEOUT
        self.stuck = sum(thread.is_alive() for thread in threads)
        self.elapsed = time.monotonic() - start
        self.rss_end = [self.farm.rss_kib(i) for i in range(self.farm.count)]

    def _work(self, worker: Worker, deadline: float, seed: float) -> None:
        rng = random.Random(seed)
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        admin = Browser(self.farm, self.tally, source=worker.source, kind="admin_edit").adopt(self.admin)
        next_sign_up = time.monotonic()
        first_round = list(kinds)  # every kind once, however slow the machine, then at random
        while first_round or time.monotonic() < deadline:
            kind = first_round.pop(0) if first_round else rng.choices(kinds, weights)[0]
            if kind == "sign_up" and time.monotonic() < next_sign_up:
                kind = "refresh"
            try:
                self._act(kind, worker, admin, rng)
                self.tally.done(kind)
            except InDoubt:
                self.tally.doubted(kind)
            except FlowFailed as error:
                self.tally.failed(kind, error)
            except Exception as error:  # a timeout, a reply without its fields: a failure all the same
                self.tally.failed(kind, repr(error))
            if kind == "sign_up":
                next_sign_up = time.monotonic() + SIGN_UP_EVERY

    def _act(self, kind: str, worker: Worker, admin: Browser, rng: random.Random) -> None:
        if kind == "passkey_sign_in":
            self._passkey_sign_in(rng.choice(self.people_of(worker)), worker)
        elif kind == "refresh":
            live = [c for c in worker.chains if not c.doubt]
            if live:
                self._rotate(rng.choice(live), worker)
        elif kind == "code_exchange":
            owner = rng.choice(worker.people)
            owner.browser.kind = kind
            worker.chains.append(Chain([client.code_exchange(owner.browser, self.rp)]))
        elif kind == "admin_edit":
            following = self.workers[(worker.index + 1) % len(self.workers)]
            # Only one client edits the hot account's name, so its last name is known.
            target = rng.choice(self.people_of(following) if following.index == 0 else following.people)
            self._admin_edit(admin, target, worker)
        elif kind == "sign_up":
            email = f"u{worker.index}-{len(worker.signed_up) + len(worker.signup_doubt)}@soak.example"
            try:
                person = self._sign_up(worker, email, passkey=rng.random() < 0.5)
            except InDoubt:
                worker.signup_doubt.append(email)
                raise
            worker.signed_up.append(email)
            if person.authenticator is not None:
                person.login = Accounts(self.store, HOST).find_by_email(email).login
                worker.people.append(person)  # signs in and is edited from now on

    def _passkey_sign_in(self, person: Person, worker: Worker) -> None:
        browser = Browser(self.farm, self.tally, source=worker.new_source(), kind="passkey_sign_in")
        try:
            person.sign_count = client.passkey_sign_in(browser, person.authenticator)
            person.count_doubt = None
            # The newest session: an account lists a bounded number, and the oldest end.
            person.browser = browser
        except InDoubt:
            person.count_doubt = next(iter(person.authenticator.credentials.values()))["count"]
            raise

    def _rotate(self, chain: Chain, worker: Worker, server=None) -> None:
        live = self.farm.live()
        target = server or live[chain.turn % len(live)]  # each rotation on the next server in turn
        chain.turn += 1
        browser = Browser(self.farm, self.tally, source=worker.source, kind="refresh")
        try:
            chain.tokens.append(client.rotate(browser, self.rp, chain.tokens[-1], server=target))
            chain.acked_by.append(target.index)
        except InDoubt:
            chain.doubt = True
            raise

    def _admin_edit(self, admin: Browser, target: Person, worker: Worker) -> None:
        worker.edits += 1
        name = f"Edited {worker.index}-{worker.edits}"
        try:
            client.admin_edit(admin, target.login, name)
        except InDoubt:
            target.name_doubt = name
            raise
        target.display_name, target.name_doubt = name, None

    def _kill_one(self) -> None:
        """Rotate two chains on server 0, then SIGKILL it while the load goes on."""
        doomed = self.farm.servers[0]
        witness_worker = Worker(-1, "127.0.0.3")
        owner = self.workers[0].people[0]
        for _ in range(2):
            chain = Chain([client.code_exchange(owner.browser, self.rp)])
            self._rotate(chain, witness_worker, server=doomed)
            self.witnesses.append(chain)
        self.farm.kill(doomed.index)
        self.killed, self.killed_at = doomed.index, time.monotonic()

    # -- the checks --------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Everything that must hold after the load (the farm still up for the token checks)."""
        problems = [f"5xx: {e}" for e in self.tally.server_errors]
        problems += [f"{self.stuck} clients still running after the load"] if self.stuck else []
        problems += [f"failed flow: {e}" for e in self.tally.failures]
        problems += self._check_chains()
        problems += self._check_accounts()
        if self.killed is not None:
            problems += self._check_carried_on()
        return problems

    def check_files(self) -> list[str]:
        """After the farm stopped: every document and log line whole, every lock free."""
        return self._check_documents() + self._check_locks()

    def _check_chains(self) -> list[str]:
        problems = []
        browser = Browser(self.farm, self.tally, source="127.0.0.4", kind="check")
        chains = [c for w in self.workers for c in w.chains if not c.doubt] + self.witnesses
        for n, chain in enumerate(chains):
            try:
                client.rotate(browser, self.rp, chain.tokens[-1])
            except FlowFailed as error:
                by = chain.acked_by[-1] if chain.acked_by else "-"
                problems.append(f"chain {n}: the newest acknowledged refresh token (from server {by}) "
                                f"no longer works: {error}")
                continue
            if len(chain.tokens) > 1 and not client.refused(browser, self.rp, chain.tokens[-2]):
                problems.append(f"chain {n}: a rotated-out refresh token still works")
        return problems

    def _check_accounts(self) -> list[str]:
        problems = []
        accounts = Accounts(self.store, HOST)
        docs = {login: self.store.read(layout.USERS, login) for login in self.store.list(layout.USERS)}
        low, high = EXTENSIONS
        holders: dict[int, str] = {}
        for login, doc in docs.items():
            ext = doc.get("ext")
            if not isinstance(ext, int) or not low <= ext <= high:
                problems.append(f"{login} has no extension of the range: {ext!r}")
            elif ext in holders:
                problems.append(f"extension {ext} given twice: {holders[ext]} and {login}")
            else:
                holders[ext] = login
                if self.store.index(layout.BY_EXTENSION).get(str(ext)) != login:
                    problems.append(f"the ext index does not name {login} for {ext}")
        for worker in self.workers:
            for email in worker.signed_up:
                if accounts.find_by_email(email) is None:
                    problems.append(f"an acknowledged sign-up is lost: {email}")
            for person in self.people_of(worker):
                problems += self._check_person(person, docs.get(person.login))
        doubted = sum(len(w.signup_doubt) for w in self.workers)
        expected = (2 + sum(len(w.signed_up) for w in self.workers)  # the admin, the hot account
                    + sum(self.per_worker[0] for _ in self.workers))
        if not expected <= len(docs) <= expected + doubted:
            problems.append(f"{len(docs)} accounts, expected {expected} (+ up to {doubted} in doubt)")
        return problems

    @staticmethod
    def _check_person(person: Person, doc: dict | None) -> list[str]:
        if doc is None:
            return [f"account {person.login} is lost"]
        problems = []
        [passkey] = [p for p in doc.get("passkeys", []) if p.get("id") == person.credential_id] or [{}]
        allowed = {person.sign_count} | ({person.count_doubt} if person.count_doubt is not None else set())
        if passkey.get("sign_count") not in allowed:
            problems.append(f"{person.login}: sign count {passkey.get('sign_count')}, expected {allowed} "
                            "(a lost update of a passkey sign-in)")
        if person.display_name is not None:
            names = {person.display_name} | ({person.name_doubt} if person.name_doubt else set())
            if doc.get("display_name") not in names:
                problems.append(f"{person.login}: display name {doc.get('display_name')!r}, expected {names} "
                                "(a lost admin edit)")
        return problems

    def _check_carried_on(self) -> list[str]:
        after = self.after_kill = dict(self.tally.answered_since(self.killed_at))
        problems = []
        if after.get(self.killed, 0) > 0:
            problems.append(f"the killed server {self.killed} answered {after[self.killed]} requests after it died")
        for server in self.farm.servers:
            if server.index != self.killed and after.get(server.index, 0) == 0:
                problems.append(f"server {server.index} answered nothing after the kill")
        return problems

    def _check_documents(self) -> list[str]:
        problems, self.documents, self.temp_left = [], 0, []
        for folder, _, names in os.walk(self.data):
            for name in names:
                path = os.path.join(folder, name)
                if files.is_temp(name):
                    self.temp_left.append(path)
                elif name.endswith(".json"):
                    self.documents += 1
                    try:
                        with open(path, "rb") as f:
                            json.loads(f.read())
                    except ValueError:
                        problems.append(f"torn document: {path}")
                elif name.endswith(".jsonl"):
                    with open(path, "rb") as f:
                        for number, line in enumerate(f, 1):
                            try:
                                json.loads(line)
                                assert line.endswith(b"\n")
                            except (ValueError, AssertionError):
                                problems.append(f"torn log line {path}:{number}")
        if self.killed is None and self.temp_left:
            problems.append(f"temporary files left without a kill: {self.temp_left[:5]}")
        return problems

    def _check_locks(self) -> list[str]:
        folder = os.path.join(self.store.root, ".locks")
        problems = []
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            try:
                with file_lock(os.path.join(folder, name), timeout=2.0):
                    pass
            except Exception as error:  # StoreBusy: a lock nobody releases
                problems.append(f"lock {name} still held: {error!r}")
        return problems

    # -- the report ----------------------------------------------------------------------------

    def summary(self) -> str:
        t = self.tally
        lines = [f"soak: {self.farm.count} servers, {len(self.workers)} clients, {self.elapsed:.0f} s of load"
                 + (f", server {self.killed} killed with SIGKILL at {self.kill_after:.0f} s" if self.killed is not None
                    else "")]
        lines.append("requests per kind: " + ", ".join(f"{k} {n}" for k, n in sorted(t.requests.items())))
        lines.append("flows completed:   " + ", ".join(f"{k} {n}" for k, n in sorted(t.flows.items())))
        lines.append("answers:           " + ", ".join(f"{k} {n}" for k, n in sorted(t.statuses.items()))
                     + f"; per server {dict(sorted(t.per_server.items()))}")
        lines.append(f"errors: 5xx {len(t.server_errors)}, failed flows {len(t.failures)}, "
                     f"in doubt (answer never came) {dict(t.in_doubt) or 0}")
        if t.refusals:
            lines.append("4xx: " + ", ".join(f"{k} {p} {s}: {n}" for (k, s, p), n in sorted(t.refusals.items())))
        if self.after_kill:
            lines.append(f"answers to requests sent after the kill: {dict(sorted(self.after_kill.items()))}")
        chains = sum(len(w.chains) for w in self.workers)
        rotations = sum(len(c.tokens) - 1 for w in self.workers for c in w.chains)
        lines.append(f"refresh chains {chains}, rotations acknowledged {rotations}; "
                     f"sign-ups acknowledged {sum(len(w.signed_up) for w in self.workers)}")
        for i in range(self.farm.count):
            warm, end = (self.rss_warm[i] if i < len(self.rss_warm) else None), \
                        (self.rss_end[i] if i < len(self.rss_end) else None)
            growth = f"{(end - warm) / warm:+.1%}" if warm and end else "-"
            lines.append(f"server {i}: RSS after warm-up {kib(warm)}, at the end {kib(end)} ({growth})")
        if hasattr(self, "documents"):
            lines.append(f"documents checked {self.documents}, temporary files left {len(self.temp_left)}")
        return "\n".join(lines)

    def rss_growth(self) -> dict[int, float]:
        """Growth of each surviving server's RSS from warm-up to the end (0.05 is 5 %)."""
        return {i: (end - warm) / warm for i, (warm, end) in enumerate(zip(self.rss_warm, self.rss_end, strict=False))
                if warm and end}


def kib(value: int | None) -> str:
    return "-" if value is None else f"{value / 1024:.1f} MiB"
