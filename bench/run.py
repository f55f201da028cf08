"""`make bench`: throughput as a ratio to the bare cost of the crypto, and cold start.

Figures, not timed tests: nothing here passes or fails. First the side-by-side over
HTTP (bench/side_by_side.py: CodeB, the bare endpoints and node-oidc-provider under
one load client), then the in-process figures: each the median of several rounds,
printed beside the rate of the cryptography alone that the same work needs, so the
ratio says what the product adds on top.
"""

import base64
import itertools
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import side_by_side  # it and seed put the app (and tests/support) on the path
from joserfc import jwt
from seed import HOST, ROOT, issue_codes, pkce, setup

from codeb.accounts import Accounts
from codeb.oidc import keys
from codeb.provisioning import create_tenant
from codeb.tenants import Tenants
from codeb.web.app import create_app

ROUNDS = 5
EXCHANGES = 200


def exchange_rate(browser, client, secret, n=EXCHANGES):
    """Codes issued to the signed-in browser, each exchanged by the relying party's server
    (its own client: no browser cookie, as over the network)."""
    codes = issue_codes(browser, client, n)
    server = browser.application.test_client()
    started = time.perf_counter()
    for code, verifier in codes:
        response = server.post("/token", data={
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": client.doc["redirect_uris"][0]}, auth=(client.client_id, secret),
            headers={"Host": HOST})
        assert response.status_code == 200, response.text
    return n / (time.perf_counter() - started)


def bare_signature_rate(tenant):
    """The same two RS256 signatures an exchange makes (ID token, access token), nothing else."""
    key = keys.load(tenant.store).current
    header = {"alg": "RS256", "kid": key.kid}
    claims = {"iss": "http://localhost", "sub": "x" * 32, "aud": "y" * 32, "iat": 0, "exp": 3600,
              "tenant": "bench", "roles": ["user"], "amr": ["otp"], "auth_time": 0}
    started = time.perf_counter()
    for _ in range(EXCHANGES):
        jwt.encode(header, claims, key, algorithms=["RS256"])
        jwt.encode({**header, "typ": "at+jwt"}, claims, key, algorithms=["RS256"])
    return EXCHANGES / (time.perf_counter() - started)


def durable_write(folder: str, n: int) -> None:
    """One document of a grant's size written to a new file, fsynced and renamed over the old:
    the durable write each of CodeB's token answers makes (its refresh chain), in plain Python."""
    path = os.path.join(folder, "chain.json")
    tmp = f"{path}.{n}.tmp"
    with open(tmp, "xb") as f:
        f.write(b'{"current": "%064d", "scope": "openid profile", "spent": [], "expires": 0}' % n)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def bare_durable_rates(tenant, folder: str, n: int = EXCHANGES) -> tuple[float, float]:
    """(the exchange's two RS256 signatures and its one fsynced write /s, a passkey sign-in's
    P-256 verification, two RS256 signatures and three fsynced writes /s: the session, the
    account's session list and the exchange's chain, tests/oidc/test_write_counts.py)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = keys.load(tenant.store).current
    claims = {"sub": "x" * 32, "iat": 0, "exp": 3600}
    started = time.perf_counter()
    for i in range(n):
        jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])
        jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims, key, algorithms=["RS256"])
        durable_write(folder, i)
    exchange = n / (time.perf_counter() - started)
    p256 = ec.generate_private_key(ec.SECP256R1())
    data = secrets.token_bytes(69)
    signature = p256.sign(data, ec.ECDSA(hashes.SHA256()))
    started = time.perf_counter()
    for i in range(n):
        p256.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
        jwt.encode({"alg": "RS256"}, claims, key, algorithms=["RS256"])
        jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims, key, algorithms=["RS256"])
        for write in range(3):
            durable_write(folder, 3 * i + write)
    return exchange, n / (time.perf_counter() - started)


def bare_sign_in_app(tenant, folder: str):
    """A bare Flask app that serves a passkey sign-in's six requests with nothing of CodeB in
    it: the same P-256 verification, two RS256 signatures and three fsynced writes (the
    session, the account's session list, the refresh chain), a cookie, a rendered page with
    a CSRF token, a JSON challenge, the redirects. Its rate is what the framework, the test
    client, the cryptography and the disk cost for the whole flow; CodeB's rate over it is
    what CodeB's own work (CSRF, the single-use records, the rate limits, the audit, the
    account and session logic) costs on top."""
    import flask
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = keys.load(tenant.store).current
    p256 = ec.generate_private_key(ec.SECP256R1())
    data = secrets.token_bytes(69)
    signature = p256.sign(data, ec.ECDSA(hashes.SHA256()))
    public = p256.public_key()
    page = ('<!doctype html><html lang="{{ lang }}"><head><meta name="csrf-token" content="{{ csrf }}">'
            '<title>{{ title }}</title></head><body><form>{% for m in methods %}<button>{{ m }}</button>'
            '{% endfor %}</form></body></html>')
    app = flask.Flask("bare-sign-in")
    app.secret_key = secrets.token_bytes(32)
    writes = itertools.count()

    @app.get("/authorize")
    def authorize():
        return flask.redirect("/signin?i=" + secrets.token_hex(16))

    @app.get("/signin")
    def signin():
        flask.session["csrf"] = secrets.token_urlsafe(32)
        return flask.render_template_string(page, lang="en", csrf=flask.session["csrf"], title="Sign in",
                                            methods=["passkey", "email"])

    @app.post("/begin")
    def begin():
        assert flask.request.headers["X-CSRF-Token"] == flask.session["csrf"]
        return {"challenge_id": secrets.token_hex(16),
                "publicKey": {"challenge": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}}

    @app.post("/complete")
    def complete():
        assert flask.request.headers["X-CSRF-Token"] == flask.session["csrf"]
        flask.request.get_json()
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        durable_write(folder, next(writes))  # the session
        durable_write(folder, next(writes))  # the account's list of sessions
        flask.session["sid"] = secrets.token_hex(32)
        return {"redirect": "/resume"}

    @app.get("/resume")
    def resume():
        return flask.redirect("https://rp.example/cb?code=" + secrets.token_urlsafe(32))

    @app.post("/token")
    def token():
        flask.request.form["code"]
        claims = {"sub": "x" * 32, "iat": 0, "exp": 3600}
        id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])
        access = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims, key, algorithms=["RS256"])
        durable_write(folder, next(writes))  # the refresh chain
        return {"id_token": id_token, "access_token": access, "token_type": "Bearer", "expires_in": 3600}

    return app


def bare_exchange_in_process(app, n: int) -> float:
    """Code exchanges /s at the bare app's /token (two RS256 signatures, one fsynced write),
    through the test client as exchange_rate drives CodeB's."""
    server = app.test_client()
    started = time.perf_counter()
    for _ in range(n):
        assert server.post("/token", data={"grant_type": "authorization_code", "code": "c"}).status_code == 200
    return n / (time.perf_counter() - started)


def bare_sign_in_rate(app, n: int) -> float:
    """Complete sign-ins /s through the bare app's six requests, as passkey_rates drives CodeB's."""
    started = time.perf_counter()
    for _ in range(n):
        browser = app.test_client()
        first = browser.get("/authorize?client_id=x")
        page = browser.get(first.headers["Location"])
        headers = {"X-CSRF-Token": page.text.split('name="csrf-token" content="')[1].split('"')[0]}
        browser.post("/begin", json={}, headers=headers)
        done = browser.post("/complete", json={"credential": {}}, headers=headers)
        answer = browser.get(done.json["redirect"])
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        tokens = app.test_client().post("/token", data={"grant_type": "authorization_code", "code": code})
        assert tokens.status_code == 200
    return n / (time.perf_counter() - started)


# -- passkeys ---------------------------------------------------------------------

class Timed:
    """Wraps a test client; adds up the time spent inside the server only."""

    def __init__(self, client):
        self.client, self.seconds = client, 0.0

    def __getattr__(self, name):
        method = getattr(self.client, name)

        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return call


def passkey_setup(app, tenant, account):
    from codeb.accounts.passkeys import Passkeys, ensure_user_handle, registration_options, verify_registration
    from tests.support.authenticator import SoftAuthenticator

    authenticator = SoftAuthenticator("http://localhost")
    account = ensure_user_handle(Accounts(tenant.store, HOST), account.login)
    challenge = secrets.token_bytes(32)
    options = registration_options(account=account, rp_id=HOST, rp_name="Bench",
                                   policy=Passkeys(tenant, None).policy, challenge=challenge)
    passkey = verify_registration(credential=authenticator.create(options), challenge=challenge,
                                  rp_id=HOST, origin="http://localhost", policy=Passkeys(tenant, None).policy,
                                  now=int(time.time()))
    Passkeys(tenant, Accounts(tenant.store, HOST)).add(account.login, passkey)
    return authenticator


def passkey_rates(app, client, secret, authenticator, n=100):
    """(assertions verified /s, complete sign-ins /s), server time only."""
    verify_seconds = 0.0
    browser = Timed(app.test_client())
    for i in range(n):
        browser.client.cookie_jar.clear() if hasattr(browser.client, "cookie_jar") else None
        browser.client = app.test_client()
        # Each sign-in from its own address (RFC 2544's benchmarking range), as many people
        # signing in at once are: one address would meet the per-client challenge limit.
        browser.client.environ_base["REMOTE_ADDR"] = f"198.18.{i // 250 % 256}.{i % 250 + 1}"
        verifier, challenge = pkce()
        query = urlencode({"response_type": "code", "client_id": client.client_id, "scope": "openid",
                           "redirect_uri": client.doc["redirect_uris"][0], "state": "s",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        first = browser.get("/authorize?" + query, headers={"Host": HOST})
        page = browser.get(first.headers["Location"], headers={"Host": HOST})
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        iid = parse_qs(urlsplit(first.headers["Location"]).query)["i"][0]
        headers = {"Host": HOST, "X-CSRF-Token": token}
        options = browser.post("/signin/passkey/begin", json={}, headers=headers).json
        assertion = authenticator.get(options["publicKey"])  # the device's work: not timed
        started = time.perf_counter()
        done = browser.post("/signin/passkey/complete", json={"challenge_id": options["challenge_id"],
                                                     "credential": assertion, "i": iid}, headers=headers)
        verify_seconds += time.perf_counter() - started
        assert done.status_code == 200, done.text
        answer = browser.get(done.json["redirect"], headers={"Host": HOST})
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        # The relying party's server exchanges the code: its own client, no browser cookie (timed too).
        browser.client = app.test_client()
        tokens = browser.post("/token", data={"grant_type": "authorization_code", "code": code,
                                              "code_verifier": verifier,
                                              "redirect_uri": client.doc["redirect_uris"][0]},
                              auth=(client.client_id, secret), headers={"Host": HOST})
        assert tokens.status_code == 200, tokens.text
    return n / verify_seconds, n / browser.seconds


def bare_passkey_crypto(tenant, n=200):
    """(P-256 verifications /s, one P-256 verification + two RS256 signatures /s)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    data = secrets.token_bytes(37 + 32)
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    public = key.public_key()
    started = time.perf_counter()
    for _ in range(n):
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    verify_rate = n / (time.perf_counter() - started)
    rsa_key = keys.load(tenant.store).current
    claims = {"sub": "x" * 32, "iat": 0, "exp": 3600}
    started = time.perf_counter()
    for _ in range(n):
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        jwt.encode({"alg": "RS256"}, claims, rsa_key, algorithms=["RS256"])
        jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims, rsa_key, algorithms=["RS256"])
    return verify_rate, n / (time.perf_counter() - started)


# -- the XMPP auth bridge ------------------------------------------------------------

def xmpp_check_rates(tenant, app, account, n=200):
    """(extauth checks /s, HTTP checks /s, wrong passwords /s, bare PBKDF2 runs /s): what the
    tenant's XMPP server waits for per sign-in, and the key stretching each check must do."""
    import hashlib

    from codeb.accounts import app_passwords
    from codeb.native import xmpp_auth
    from codeb.store import layout
    from codeb.tenants.secrets import make_secret

    accounts = Accounts(tenant.store, HOST)
    _, password = app_passwords.create(accounts, account.login, name=f"Bench {secrets.token_hex(3)}",
                                       purposes=["xmpp"], realm=HOST)
    bridge = xmpp_auth.Bridge(tenant)
    started = time.perf_counter()
    for _ in range(n):
        assert bridge.check_password(account.login, HOST, password, via="extauth")
    extauth = n / (time.perf_counter() - started)
    secret = make_secret(tenant.store, layout.XMPP_AUTH_SECRET)
    headers = {"Host": HOST, "Authorization": "Bearer " + base64.urlsafe_b64encode(secret).decode().rstrip("=")}
    prosody = app.test_client()
    form = {"user": account.login, "server": HOST, "pass": password}
    started = time.perf_counter()
    for _ in range(n):
        assert prosody.post("/xmpp/auth/check_password", data=form, headers=headers).text == "true"
    http = n / (time.perf_counter() - started)
    wrong = app_passwords.generate()
    started = time.perf_counter()
    for i in range(n):  # each from its own network, under the account's window by a right one now and then
        if i % 8 == 7:
            assert bridge.check_password(account.login, HOST, password, via="extauth")
            continue
        assert not bridge.check_password(account.login, HOST, wrong, via="http", source=f"198.18.{i % 250}.0/24")
    refused = n / (time.perf_counter() - started)
    salt = secrets.token_bytes(16)
    started = time.perf_counter()
    for _ in range(n):
        hashlib.pbkdf2_hmac("sha256", password.encode(), salt, app_passwords.ITERATIONS)
    bare = n / (time.perf_counter() - started)
    return extauth, http, refused, bare


# -- the admin's user list ----------------------------------------------------------

def directory_rates(sizes=(1_000, 10_000, 100_000)):
    """Seconds per user-list page and per search at each size: warm, and right after a change."""
    from codeb.accounts import breakglass, directory
    from codeb.store import files

    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as data:
            tenant = create_tenant(Tenants(data), "bench", [HOST]).tenant
            entries = {}
            real_fsync = os.fsync
            os.fsync = lambda fd: None  # setup only: 100,000 documents without waiting for the disk
            users = tenant.store.folder("users")
            os.makedirs(users, exist_ok=True)
            try:
                for n in range(size):
                    login = f"user{n:06d}"
                    doc = {"login": login, "email": f"{login}@example.com", "display_name": f"Person {n}",
                           "roles": ["user"], "disabled": False, "ext": None}
                    files.write_bytes_atomic(os.path.join(users, login + ".json"),
                                             files.encode({"schema": 1, **doc}))
                    entries[login] = directory.entry_of(doc)
                directory.Directory(tenant.store).load(entries)  # shards and manifest, as `rebuild` writes them
            finally:
                os.fsync = real_fsync
            app = create_app({"CODEB_DATA": data})
            admin = app.test_client()
            link = breakglass.create_link(tenant.store, "http://localhost")
            token = link.rsplit("/", 1)[1]
            page = admin.get(f"/breakglass/{token}", headers={"Host": HOST})
            csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
            admin.post("/breakglass", data={"csrf": csrf, "token": token}, headers={"Host": HOST})

            def timed(path, rounds=5):
                samples = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = admin.get(path, headers={"Host": HOST})
                    samples.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.status_code
                return statistics.median(samples)

            middle = max(1, size // 100)
            page_warm = timed(f"/admin/users?page={middle}")
            search_warm = timed("/admin/users?q=Person%204242")
            Accounts(tenant.store, HOST).create(email="changed@example.com")  # one shard changes
            started = time.perf_counter()
            admin.get(f"/admin/users?page={middle}", headers={"Host": HOST})
            after_change = time.perf_counter() - started
            directory._views.clear()  # a freshly recycled process
            directory._manifests.clear()
            started = time.perf_counter()
            admin.get("/admin/users", headers={"Host": HOST})  # the first page, as an admin opens it
            cold = time.perf_counter() - started
        results.append((size, page_warm, search_warm, after_change, cold))
    return results


def cold_start(data, bytecode: str | None):
    """A fresh interpreter importing the app and answering its first request (IIS recycles often).

    With `bytecode` (a folder for PYTHONPYCACHEPREFIX) the modules' compiled bytecode is read
    from there, as on a server, where deploy\\Initialize-CodebHost.ps1 runs `compileall` on the
    release; without, every module is compiled from source first (PYTHONDONTWRITEBYTECODE)."""
    probe = ("from app import app;"
             "r = app.test_client().get('/.well-known/openid-configuration', headers={'Host': 'localhost'});"
             "assert r.status_code == 200")
    env = {**os.environ, "CODEB_DATA": data}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = bytecode
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def interpreter_start():
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def print_against(label: str, rate: float, *references: tuple[str, str, float]) -> None:
    """A figure, then each (label, what the ratio is of, rate) reference with the ratio to it."""
    print(f"{label:<44}: {rate:8.1f} /s")
    for reference, ratio, bare_rate in references:
        print(f"{reference:<44}: {bare_rate:8.1f} /s")
        print(f"{'ratio ' + ratio:<44}: {rate / bare_rate:8.2f}")


def print_in_process(exchange, bare, with_writes, bare_exchange, passkey, passkey_bare, bare_flow):
    """The exchange and passkey figures of main(): the rounds' medians and their ratios."""
    def median(rounds, i=None):
        return statistics.median(r if i is None else r[i] for r in rounds)

    print_against("code-for-token exchanges, in-process WSGI", median(exchange),
                  ("bare pairs of RS256 signatures (joserfc)", "exchange / bare crypto", median(bare)),
                  ("bare RS256 pairs and one fsynced write", "exchange / bare crypto and write",
                   median(with_writes, 0)),
                  ("the same at a bare Flask /token (in-proc)", "exchange / bare Flask /token", median(bare_exchange)))
    print_against("passkey assertions verified (HTTP, in-proc)", median(passkey, 0),
                  ("bare P-256 signature verifications", "assertion / bare crypto", median(passkey_bare, 0)))
    print_against("complete passkey sign-ins, options to tokens", median(passkey, 1),
                  ("bare P-256 verify + two RS256 signatures", "sign-in / bare crypto", median(passkey_bare, 1)),
                  ("the same and three fsynced writes", "sign-in / bare crypto and writes", median(with_writes, 1)),
                  ("the same six requests, a bare Flask app", "sign-in / bare Flask sign-in", median(bare_flow)))


def main(rounds=ROUNDS, exchanges=EXCHANGES, sizes=(1_000, 10_000, 100_000)):
    side_by_side.run_side_by_side()  # over HTTP, first: the machine's openssl line heads the output
    print("in process:")
    with tempfile.TemporaryDirectory() as data:
        tenant, app, browser, client, secret, account = setup(data)
        exchange = [exchange_rate(browser, client, secret, exchanges) for _ in range(rounds)]
        bare = [bare_signature_rate(tenant) for _ in range(rounds)]
        authenticator = passkey_setup(app, tenant, account)
        passkey = [passkey_rates(app, client, secret, authenticator, exchanges // 2) for _ in range(rounds)]
        passkey_bare = [bare_passkey_crypto(tenant) for _ in range(rounds)]
        with tempfile.TemporaryDirectory(dir=data) as folder:  # the data's disk
            with_writes = [bare_durable_rates(tenant, folder, exchanges // 2) for _ in range(rounds)]
            bare_app = bare_sign_in_app(tenant, folder)
            bare_flow = [bare_sign_in_rate(bare_app, exchanges // 2) for _ in range(rounds)]
            bare_exchange = [bare_exchange_in_process(bare_app, exchanges) for _ in range(rounds)]
        xmpp = [xmpp_check_rates(tenant, app, account) for _ in range(rounds)]
        with tempfile.TemporaryDirectory() as bytecode:
            cold_start(data, bytecode)  # writes the bytecode, as compileall does at deployment
            starts = [cold_start(data, bytecode) for _ in range(rounds)]
        compiling = [cold_start(data, None) for _ in range(rounds)]
        bare_python = [interpreter_start() for _ in range(rounds)]
    print_in_process(exchange, bare, with_writes, bare_exchange, passkey, passkey_bare, bare_flow)
    extauth, http, refused, pbkdf2 = (statistics.median(x[i] for x in xmpp) for i in range(4))
    print(f"XMPP checks, ejabberd's extauth (in-proc)   : {extauth:8.1f} /s  ({1000 / extauth:.2f} ms each)")
    print(f"XMPP checks, Prosody's HTTP POST (in-proc)  : {http:8.1f} /s  ({1000 / http:.2f} ms each)")
    print(f"XMPP checks, wrong app passwords, audited   : {refused:8.1f} /s  ({1000 / refused:.2f} ms each)")
    print(f"bare PBKDF2 runs (the check's stretching)   : {pbkdf2:8.1f} /s")
    print(f"ratio extauth / HTTP / wrong vs bare PBKDF2 : {extauth / pbkdf2:8.2f} {http / pbkdf2:.2f} "
          f"{refused / pbkdf2:.2f}")
    print(f"cold start to first response                : {statistics.median(starts) * 1000:8.0f} ms"
          f"  (bare interpreter start {statistics.median(bare_python) * 1000:.0f} ms)")
    print(f"the same, compiling every module first      : {statistics.median(compiling) * 1000:8.0f} ms"
          "  (no bytecode: a release installed without compileall)")
    print("user list at N accounts (ms): page, search, page after a change, first page in a fresh process")
    for size, page, search, changed, fresh in directory_rates(sizes):
        print(f"  {size:>7,}: {page * 1000:7.1f} {search * 1000:7.1f} {changed * 1000:7.1f} {fresh * 1000:7.1f}")


if __name__ == "__main__":
    main()
