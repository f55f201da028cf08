"""A demo site served on loopback with the people its pages need, for the page tours.

The screenshot tour (tests/browser/test_screenshots.py) and the page-weight bench
(bench/pages.py) reach every page by direct URL with a prepared session instead of
walking the sign-in each time: `Site.session_cookie(login)` signs a browser in the
way a sign-in does (`codeb.signin.flow.finish`: a fresh session, listed in the
account's devices), and the cookie goes into the browser context.

    site = Site.start(folder)                 # demo tenant, people, one client, served
    context.add_cookies([site.session_cookie("ada", lang="de")])
    page.goto(site.url("/account"))
    site.stop()

The people: `ada` (a user with a confirmed profile and a passkey), `boss` (an
administrator), `newbie` (a first sign-in: profile not yet confirmed), `bob` (a
user the admin pages show). Each call makes a new session, so a tour may sign
one out without spoiling the next page.
"""

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from base64 import urlsafe_b64encode
from pathlib import Path
from urllib.parse import urlencode

import requests
from waitress.server import create_server

from codeb import invites, signin
from codeb.accounts import Accounts
from codeb.accounts import breakglass as breakglass_links
from codeb.accounts.passkeys import Passkeys
from codeb.accounts.sessions import Sessions
from codeb.errors import UnknownTenant
from codeb.oidc.clients import Clients
from codeb.provisioning import create_tenant
from codeb.signin import flow
from codeb.signin.base import VerifiedIdentity
from codeb.tenants import Tenants
from codeb.tenants.secrets import session_secret
from codeb.tenants.wallet import TrustList
from codeb.upstreams import Upstreams
from codeb.web.app import create_app
from tests.support import pid_mdoc
from tests.support.eudi_wallet import Wallet
from tests.support.mailbox import Mailbox
from tests.support.pid_ca import PidCA
from tests.support.saml_idp import ForgingIdP
from tests.support.web import HOST, csrf_of, pkce_pair

AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36")
PEOPLE = {  # login: (email, display name, roles, profile confirmed)
    "ada": ("ada@example.com", "Ada Lovelace", ("user",), True),
    "boss": ("boss@example.com", "Grace Hopper", ("user", "admin"), True),
    "newbie": ("newbie@example.com", None, ("user",), False),
    "bob": ("bob@example.com", "Bob Builder", ("user",), True),
}
GOOGLE_PASSWORD_MANAGER = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
CLIENT_NAME = "Team Calendar"
CLIENT_CALLBACK = "http://127.0.0.1:9/cb"  # never reached: the tours stop at the sign-in page


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class Site:
    def __init__(self, root: str):
        self.root = root
        registry = Tenants(root)
        try:
            self.tenant = registry.get("demo")
        except UnknownTenant:
            create_tenant(registry, "demo", [HOST], display_name="CodeB Demo")
            self.tenant = registry.get("demo")
        self.accounts = Accounts(self.tenant.store, HOST)
        self.sessions = Sessions(self.tenant.store, lambda: session_secret(self.tenant.store))
        self.mailbox = Mailbox(os.path.join(root, "_mail", "pickup"))
        self.app = create_app({"CODEB_DATA": root})
        self.server = None
        self.base = ""
        self._add_people()
        client, _ = Clients(self.tenant.store).add(name=CLIENT_NAME, redirect_uris=[CLIENT_CALLBACK])
        self.client_id = client.client_id
        # Company identity providers for the admin's page, one OIDC, one SAML (company sign-in
        # stays off: the sign-in page is the same; nothing here contacts them).
        Upstreams(self.tenant.store).add(name="Example Corp", issuer="https://login.example.com/realms/corp",
                                         client_id="codeb", client_secret="x" * 32, domains=["corp.example"],
                                         preset="keycloak")
        idp = ForgingIdP(Path(root), entity_id="https://sts.example.org/adfs/services/trust",
                         sso_url="https://sts.example.org/adfs/ls/")
        Upstreams(self.tenant.store).add_saml(name="Example Org", metadata=idp.metadata(), domains=["example.org"])
        # The EU Wallet: on, a test PID provider trusted; `wallet()` is a wallet holding its PID.
        self.pid_ca = PidCA()
        TrustList(self.tenant.store).add(self.pid_ca.root_pem, name="Test PID Provider")
        signin.switch_on(self.tenant.store, "wallet")
        self._pid = pid_mdoc.issue(self.pid_ca)

    def wallet(self) -> Wallet:
        """A wallet holding an mdoc PID of the trusted test provider, over real HTTP."""
        def present(query, *, audience, nonce, transcript):
            return pid_mdoc.vp_token(pid_mdoc.present(self._pid, transcript,
                                                      items=[claim["path"][1] for claim in query["claims"]]))

        return Wallet("mso_mdoc", present, http=requests.Session())

    # -- setting up ---------------------------------------------------------------

    @classmethod
    def start(cls, root: str | None = None) -> "Site":
        site = cls(root or tempfile.mkdtemp(prefix="codeb-site-"))
        site.serve()
        return site

    def _add_people(self) -> None:
        for login, (email, name, roles, confirmed) in PEOPLE.items():
            if self.accounts.get(login) is not None:
                continue
            self.accounts.create(email=email, login=login, roles=roles, display_name=name)
            if confirmed:
                with self.accounts.update(login) as doc:
                    doc["profile_confirmed"] = True
        if not self.accounts.get("ada").has_passkeys:
            now = int(self.tenant.store.clock())
            Passkeys(self.tenant, self.accounts).add("ada", {
                "id": _b64(secrets.token_bytes(16)), "public_key": _b64(secrets.token_bytes(77)),
                "sign_count": 0, "aaguid": GOOGLE_PASSWORD_MANAGER, "fmt": "none", "transports": ["internal"],
                "backup_eligible": True, "backed_up": True, "user_verified": True,
                "name": "Pixel 9", "created": now - 86400 * 12, "last_used": now - 3600})

    def serve(self) -> None:
        """Serve the app by waitress on a free loopback port, in a thread."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        self.app.config["CODEB_PORT"] = port
        self.server = create_server(self.app, host="127.0.0.1", port=port, threads=4)
        self.base = f"http://{HOST}:{port}"
        self.port = port
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:  # the listening socket closed under select() at stop()
            pass

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what a page needs ----------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def session_cookie(self, login: str, *, lang: str | None = None, signed_in_ago: int = 0) -> dict:
        """A browser cookie for a new signed-in session of `login`, as a magic-link sign-in
        `signed_in_ago` seconds ago makes it (listed under the account's devices)."""
        now = int(time.time())
        identity = VerifiedIdentity(login=login, method="magic_link", amr=("otp",), auth_time=now - signed_in_ago)
        landing = flow.finish(identity, previous=None, sessions=self.sessions, accounts=self.accounts,
                              store=self.tenant.store, methods=signin.enabled(self.tenant),
                              client_ip="127.0.0.1", agent=AGENT)
        if lang:
            landing.session.set("lang", lang)
        return self._cookie(self.sessions.save(landing.session))

    def check_inbox_cookie(self, email: str, lang: str | None = None) -> dict:
        """The cookie of a browser that has just asked for a link to `email` on the sign-in page:
        its `GET /signin/sent` is the check-inbox page, waiting for that sign-in."""
        browser = self.app.test_client()
        headers = {"Host": HOST, **({"Accept-Language": lang} if lang else {})}
        page = browser.get("/signin", headers=headers)
        sent = browser.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": email},
                            headers=headers)
        assert sent.status_code == 303, sent.text
        return self._cookie(browser.get_cookie("codeb", domain="localhost").value)

    def superuser_cookie(self) -> dict:
        """The session a spent break-glass link starts."""
        return self._cookie(self.sessions.save(self.sessions.start_superuser()))

    def _cookie(self, value: str) -> dict:
        return {"name": "codeb", "value": value, "url": self.base, "httpOnly": True, "sameSite": "Lax"}

    def breakglass_path(self) -> str:
        """A fresh one-time break-glass link, as `python -m codeb superuser link` prints it."""
        return breakglass_links.create_link(self.tenant.store, "")

    def email_change_path(self, login: str, new_email: str) -> str:
        """The link of a "Change email" mail to `new_email`, asked for by `login`."""
        account = self.accounts.get(login)
        link = invites.issue(self.tenant.store, invites.EMAIL_CHANGE,
                             {"login": login, "sub": account.sub, "email": new_email})
        return f"/account/email/{link}"

    def authorize_path(self, **extra) -> str:
        """A relying party's authorization request (the Team Calendar app), PKCE and all."""
        _, challenge = pkce_pair()
        params = {"client_id": self.client_id, "redirect_uri": CLIENT_CALLBACK, "response_type": "code",
                  "scope": "openid profile email", "state": secrets.token_urlsafe(8),
                  "code_challenge": challenge, "code_challenge_method": "S256", **extra}
        return "/authorize?" + urlencode(params)

    def other_host_url(self, path: str) -> str:
        """A host name no tenant has (`*.localhost` resolves to loopback in Chromium)."""
        return f"http://unknown-host.localhost:{self.port}{path}"
