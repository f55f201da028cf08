"""A full disk under the app: writes fail clearly, nothing is half-written, reads go on,
and the service recovers when space returns (issue 10, reliability).

Twice: on a real size-limited tmpfs (mounted for the test when running as root; skipped
where mounting is not permitted), and with ENOSPC injected into the store's low-level
writes (tests/support/full_disk.py), which runs everywhere.

The answer chosen is 503 with Retry-After, not WebDAV's 507 (codeb.errors.StorageFull):
a page in the person's language, and for the token endpoint the OAuth JSON error
`temporarily_unavailable` (RFC 6749 §4.1.2.1 names it for exactly this: a temporary
overload or maintenance of the server).
"""

import errno
import json
import os
import shutil
import subprocess
import uuid

import pytest

from codeb import i18n
from codeb.oidc.clients import Clients
from codeb.store import files
from codeb.tenants import Tenants
from codeb.web.app import create_app
from tests.support.full_disk import FullDisk
from tests.support.mailbox import Mailbox
from tests.support.oidc import tokens_for
from tests.support.web import HOST, RP, csrf_of

pytestmark = pytest.mark.soak
VOLUME = "4m"  # room for the two tenants of the template, then filled up by the test


class Tmpfs:
    """A tmpfs of VOLUME at `path`, filled up and freed again by the test."""

    def __init__(self, path):
        self.path, self.filler = str(path), os.path.join(str(path), "filler")

    def fill(self) -> None:
        chunk = b"\0" * 65536
        with open(self.filler, "wb", buffering=0) as f:
            while True:
                try:
                    f.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
        for n in range(10_000):  # the last pages a small file could still take
            try:
                with open(os.path.join(self.path, f"filler-{n}"), "wb") as f:
                    f.write(b"\0" * 4096)
            except OSError:
                break

    def free(self) -> None:
        for name in os.listdir(self.path):
            if name.startswith("filler"):
                os.unlink(os.path.join(self.path, name))


class Injected:
    def __init__(self, monkeypatch):
        self.disk = FullDisk(monkeypatch)

    def fill(self) -> None:
        self.disk.full = True

    def free(self) -> None:
        self.disk.full = False


@pytest.fixture(params=["tmpfs", "injected"])
def volume(request, tmp_path, monkeypatch):
    mount = tmp_path / "volume"
    mount.mkdir()
    if request.param == "injected":
        yield mount, Injected(monkeypatch)
        return
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={VOLUME},mode=0700", f"codeb-{uuid.uuid4().hex[:8]}",
                            str(mount)], capture_output=True, text=True, check=False)
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({tried.stderr.strip() or tried.returncode}); "
                    "the injected full disk covers it")
    try:
        yield mount, Tmpfs(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def full_app(volume, tenant_template, monkeypatch):
    mount, disk = volume
    root = mount / "App_Data"
    shutil.copytree(tenant_template, root)
    monkeypatch.delenv("CODEB_MAIL_PICKUP", raising=False)
    monkeypatch.delenv("CODEB_TENANT", raising=False)
    app = create_app({"CODEB_DATA": str(root), "TESTING": True, "CODEB_PORT": 80})
    demo = Tenants(str(root)).get("demo")
    client_doc, secret = Clients(demo.store).add(name="RP", redirect_uris=["http://127.0.0.1:9999/cb"])
    rp = RP(client_doc.client_id, secret, "http://127.0.0.1:9999/cb")
    mailbox = Mailbox(os.path.join(str(root), "_mail", "pickup"))
    return app, rp, mailbox, disk, str(root)


def snapshot(root):
    """Every file under `root` and its bytes, but the (empty) lock files, made as needed."""
    found = {}
    for folder, _, names in os.walk(root):
        if os.path.basename(folder) == ".locks":
            continue
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


def ask_for_link(client, email, language="de"):
    page = client.get("/signin", headers={"Host": HOST, "Accept-Language": language})
    assert page.status_code == 200
    return client.post("/signin/magic-link/begin", data={"csrf": csrf_of(page.text), "email": email},
                       headers={"Host": HOST, "Accept-Language": language})


def refresh(client, rp, token):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token},
                       auth=(rp.client_id, rp.secret), headers={"Host": HOST})


def test_a_full_disk_refuses_writes_clearly_keeps_every_document_and_recovers(full_app):
    app, rp, mailbox, disk, root = full_app
    browser = app.test_client()
    tokens = tokens_for(browser, mailbox, rp)  # signed in, with a refresh token, before the disk fills
    disk.fill()
    before = snapshot(root)

    # A write a person asked for: a page in their language, 503, Retry-After.
    asked = ask_for_link(app.test_client(), "bob@example.com", language="de")
    assert asked.status_code == 503 and int(asked.headers["Retry-After"]) > 0
    assert i18n.translate("de", "error.storage_full") in asked.text.replace("&#39;", "'")
    # A write a relying party asked for: the OAuth JSON error, the refresh token not spent.
    rotated = refresh(browser, rp, tokens["refresh_token"])
    assert rotated.status_code == 503 and int(rotated.headers["Retry-After"]) > 0
    assert rotated.json["error"] == "temporarily_unavailable"
    # A write the page's script asked for: the JSON error with the message in the person's language.
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/signin", headers={"Host": HOST}).text)
    begun = anonymous.post("/signin/passkey/begin", json={},
                           headers={"Host": HOST, "X-CSRF-Token": token, "Accept-Language": "de"})
    assert begun.status_code == 503 and int(begun.headers["Retry-After"]) > 0
    assert begun.json == {"error": "error.storage_full", "message": i18n.translate("de", "error.storage_full")}
    # Reads go on: the provider's documents, userinfo, a signed-in person's pages.
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        assert browser.get(path, headers={"Host": HOST}).status_code == 200
    assert browser.get("/account", headers={"Host": HOST}).status_code == 200
    userinfo = browser.get("/userinfo", headers={"Host": HOST, "Authorization": "Bearer " + tokens["access_token"]})
    assert userinfo.status_code == 200 and userinfo.json["email"] == "alice@example.com"

    # Nothing half-written: every file as it was, no temporary file, every document whole.
    after = snapshot(root)
    assert after == before
    assert not [p for p in after if files.is_temp(os.path.basename(p))]
    for path, data in after.items():
        if path.endswith(".json"):
            json.loads(data)

    disk.free()  # space returns: the same requests now succeed
    assert ask_for_link(app.test_client(), "bob@example.com").status_code == 303
    assert mailbox.last_link(to="bob@example.com")
    again = refresh(browser, rp, tokens["refresh_token"])
    assert again.status_code == 200, again.text
    assert refresh(browser, rp, again.json["refresh_token"]).status_code == 200
