"""What the bench serves: a tenant, a confidential client, a signed-in account, and codes.

Everything is made in process against a data folder, the way the web layer makes it;
a server process started on the same folder afterwards finds it on disk (the store
keeps nothing in memory that another process would need).
"""

import base64
import hashlib
import os
import secrets
import sys
import time
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the app

from codeb.accounts import Accounts  # noqa: E402
from codeb.oidc.clients import Clients  # noqa: E402
from codeb.provisioning import create_tenant  # noqa: E402
from codeb.signin.base import VerifiedIdentity  # noqa: E402
from codeb.tenants import Tenants  # noqa: E402
from codeb.web.app import create_app  # noqa: E402

HOST = "localhost"
REDIRECT_URI = "http://127.0.0.1:1/cb"  # nothing listens there: a code is read from the Location


def pkce():
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def setup(data):
    """A tenant, a confidential client, an account, and a browser session signed in as it."""
    tenant = create_tenant(Tenants(data), "bench", [HOST]).tenant
    client, secret = Clients(tenant.store).add(name="Bench", redirect_uris=[REDIRECT_URI])
    accounts = Accounts(tenant.store, HOST)
    account = accounts.create(email="bench@example.com")
    with accounts.update(account.login) as doc:
        doc["profile_confirmed"] = True  # past the first-sign-in screen
    app = create_app({"CODEB_DATA": data, "CODEB_PORT": 80})  # the test client is a browser at http://localhost
    browser = app.test_client()
    # A signed-in browser session, made the way the web layer makes one.
    with app.test_request_context("/", headers={"Host": HOST}):
        from flask import g

        app.preprocess_request()
        session = g.sessions.sign_in(None, VerifiedIdentity(login=account.login, method="magic_link",
                                                            amr=("otp",), auth_time=int(time.time())),
                                     sub=account.sub)
        g.sessions.save(session)
    browser.set_cookie("codeb", session.sid, domain=HOST)
    return tenant, app, browser, client, secret, account


def issue_codes(browser, client, n):
    """`n` (code, PKCE verifier) pairs, each issued by /authorize to the signed-in browser."""
    codes = []
    for _ in range(n):
        verifier, challenge = pkce()
        query = urlencode({"response_type": "code", "client_id": client.client_id, "scope": "openid profile",
                           "redirect_uri": client.doc["redirect_uris"][0], "state": "s", "nonce": "n",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        response = browser.get("/authorize?" + query, headers={"Host": HOST})
        assert response.status_code == 302, response.text
        codes.append((parse_qs(urlsplit(response.headers["Location"]).query)["code"][0], verifier))
    return codes
