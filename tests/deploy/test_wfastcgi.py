"""The real wfastcgi (PyPI) serves the app from the shipped web.config, over FastCGI.

IIS starts web.config's scriptProcessor, `python.exe wfastcgi.py`, with a pipe as
its standard input and speaks FastCGI on it. Here wfastcgi's own `main` loop reads
one end of a socket pair instead, and a FastCGI client (tests/support/fastcgi.py)
sends on the other end what IIS would send. Everything else is wfastcgi's:
it reads the site folder's web.config (`get_environment`), copies its appSettings
into the environment and PYTHONPATH into sys.path, imports WSGI_HANDLER
(`read_wsgi_handler`, `get_wsgi_handler`), parses the records and writes the
response (`handle_response`).

What wfastcgi needs of Windows is replaced, for one test at a time, by stand-ins:
`ctypes.windll.kernel32` (its file watcher takes ReadDirectoryChangesW from it at
import), `_winapi` (CreateFile, CloseHandle, GetLastError, ExitProcess,
WaitForSingleObject, as on Windows' Python 3) and `msvcrt.setmode` with
`os.O_BINARY`. The test's own process state that wfastcgi changes (standard
streams, working folder, sys.path, environment, the imported `app`) is put back.
"""

import ctypes
import html
import importlib
import io
import json
import os
import re
import socket
import sys
import threading
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from codeb import i18n
from codeb.tenants import Tenants
from codeb.web.app import create_app
from tests.support import fastcgi
from tests.support.site_folder import HOST, OTHER_HOST, link_release, two_tenant_site

ROOT = Path(__file__).resolve().parents[2]
WEB_CONFIG = ROOT / "web.config"
# What deploy\New-CodebTenant.ps1 writes into each site's copy (Write-CodebWebConfig -AppSetting).
SITE_SETTINGS = ("PYTHONPATH", "CODEB_TENANT", "CODEB_DATA")


# --- The site: a tenant's folder as New-CodebTenant.ps1 makes it -------------------------


def write_site_config(template: Path, destination: Path, settings: dict[str, str]) -> None:
    """The template with the site's appSettings, as Write-CodebWebConfig writes it."""
    tree = ET.parse(template)
    for key, value in settings.items():
        node = tree.getroot().find(f"appSettings/add[@key='{key}']")
        assert node is not None, f"web.config has no appSetting {key} for the deploy script to set"
        node.set("value", value)
    tree.write(destination, encoding="utf-8", xml_declaration=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder, data = two_tenant_site(tmp_path_factory.mktemp("sites"))
    # wfastcgi opens `Web.config`: on Windows any spelling finds web.config, here only this one.
    write_site_config(WEB_CONFIG, folder / "Web.config",
                      {"PYTHONPATH": str(folder), "CODEB_TENANT": "acme", "CODEB_DATA": str(data)})
    return folder


# --- Windows, as far as wfastcgi uses it --------------------------------------------------


class Win32Function:
    """A kernel32 function: wfastcgi sets its restype and argtypes, then calls it."""

    def __init__(self, name: str, calls: list, result=0):
        self.name, self.calls, self.result = name, calls, result

    def __call__(self, *args):
        self.calls.append((self.name, args))
        return self.result


class Windows:
    """The stand-ins, and every call wfastcgi made of them."""

    FILE_HANDLE = 0x1234
    O_BINARY = 0x8000  # as Windows' os module has it

    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []
        # ReadDirectoryChangesW fails and GetLastError is 0: the watcher closes its handle and ends.
        self.kernel32 = types.SimpleNamespace(
            ReadDirectoryChangesW=Win32Function("ReadDirectoryChangesW", self.calls, 0))
        self.winapi = types.ModuleType("_winapi")
        self.winapi.__dict__.update(
            CreateFile=Win32Function("CreateFile", self.calls, self.FILE_HANDLE),
            CloseHandle=Win32Function("CloseHandle", self.calls),
            GetLastError=Win32Function("GetLastError", self.calls, 0),
            ExitProcess=Win32Function("ExitProcess", self.calls),
            WaitForSingleObject=Win32Function("WaitForSingleObject", self.calls, 0),
            INFINITE=0xFFFFFFFF, OPEN_EXISTING=3)
        self.msvcrt = types.ModuleType("msvcrt")
        self.msvcrt.__dict__["setmode"] = Win32Function("setmode", self.calls, 0)

    def called(self, name: str) -> list[tuple]:
        return [args for called, args in self.calls if called == name]

    def wait_for(self, name: str, timeout: float = 5.0) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while not self.called(name) and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.called(name)


@pytest.fixture
def windows(monkeypatch) -> Windows:
    stand_ins = Windows()
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=stand_ins.kernel32), raising=False)
    monkeypatch.setitem(sys.modules, "_winapi", stand_ins.winapi)
    monkeypatch.setitem(sys.modules, "msvcrt", stand_ins.msvcrt)
    monkeypatch.setattr(os, "O_BINARY", Windows.O_BINARY, raising=False)
    return stand_ins


@pytest.fixture
def wfastcgi(windows, monkeypatch):
    """The real module, imported fresh with the stand-ins in place and forgotten afterwards."""
    monkeypatch.delitem(sys.modules, "wfastcgi", raising=False)
    module = importlib.import_module("wfastcgi")
    monkeypatch.delitem(sys.modules, "wfastcgi")  # monkeypatch puts back what was there before
    assert module.ReadDirectoryChangesW is windows.kernel32.ReadDirectoryChangesW
    return module


# --- wfastcgi's main loop on a socket -----------------------------------------------------

PROCESS_STATE = ("stdin", "stdout", "stderr", "__stdout__", "__stderr__")


class Served:
    def __init__(self, connection: fastcgi.Connection, site: Path, windows: Windows, pipe_fd: int):
        self.connection, self.site, self.windows, self.pipe_fd = connection, site, windows, pipe_fd

    def get(self, path: str, *, host: str = HOST, query: str = "",
            headers: dict[str, str] | None = None) -> fastcgi.Response:
        return self.connection.request(fastcgi.iis_params("GET", path, host=host, query=query, headers=headers,
                                                          site_folder=str(self.site)))

    def post(self, path: str, body: bytes, *, content_type: str, chunk: int = fastcgi.MAX_CONTENT,
             host: str = HOST) -> fastcgi.Response:
        params = fastcgi.iis_params("POST", path, host=host, site_folder=str(self.site), body=body,
                                    headers={"Content-Type": content_type})
        return self.connection.request(params, body, chunk=chunk)


@pytest.fixture
def served(wfastcgi, windows, site, monkeypatch):
    """wfastcgi.main() in a thread, its standard input one end of a socket pair."""
    yield from serving(wfastcgi, windows, site, monkeypatch)


def serving(wfastcgi, windows, site: Path, monkeypatch):
    """What `served` yields, for any site folder."""
    saved_streams = {name: getattr(sys, name) for name in PROCESS_STATE}
    saved_environ, saved_path, saved_cwd = dict(os.environ), list(sys.path), os.getcwd()
    monkeypatch.delitem(sys.modules, "app", raising=False)  # wfastcgi must import the site's own
    for key in ("WSGI_HANDLER", "CODEB_TENANT", "CODEB_DATA", "CODEB_MAIL_PICKUP", "WSGI_LOG"):
        os.environ.pop(key, None)
    ours, theirs = socket.socketpair()
    pipe = theirs.makefile("rb")  # what IIS hands wfastcgi as its standard input
    errors: list[BaseException] = []

    def run():
        try:
            wfastcgi.main()
        except BaseException as error:  # reported when the fixture ends
            errors.append(error)

    sys.stdin = io.TextIOWrapper(pipe)
    thread = threading.Thread(target=run, name="wfastcgi", daemon=True)
    thread.start()
    connection = fastcgi.Connection(ours)
    try:
        yield Served(connection, site, windows, theirs.fileno())
    finally:
        connection.close()  # wfastcgi reads the end of its input and leaves main()
        thread.join(timeout=10)
        pipe.close()
        theirs.close()
        for name, value in saved_streams.items():
            setattr(sys, name, value)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.modules.pop("app", None)
    assert not thread.is_alive(), "wfastcgi.main() did not return at the end of its input"
    assert errors == []
    assert windows.called("ExitProcess") == []


# --- What IIS sees --------------------------------------------------------------------------


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found, "the page has no title"
    return html.unescape(found.group(1)).strip()


def test_the_sign_in_page_is_served_through_fastcgi(served):
    response = served.get("/signin")
    assert response.status == 200, response.errors.decode()
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    assert int(response.header("Content-Length")) == len(response.body)
    page = response.text
    assert i18n.translate("en", "signin.title") in title_of(page)
    assert "Acme Corp" in html.unescape(page)
    # HTTPS=on became wsgi.url_scheme https: HSTS, and the session cookie is __Host- and Secure.
    assert response.header("Strict-Transport-Security")
    cookie = response.header("Set-Cookie")
    assert cookie.startswith("__Host-codeb=") and "Secure" in cookie
    # The response is STDOUT records, the empty one that ends the stream, then END_REQUEST.
    assert response.records[-2:] == [fastcgi.STDOUT, fastcgi.END_REQUEST]
    assert set(response.records[:-1]) == {fastcgi.STDOUT}
    assert (response.app_status, response.protocol_status, response.errors) == (0, fastcgi.REQUEST_COMPLETE, b"")


def test_the_path_query_and_headers_reach_the_app_as_iis_sent_them(served):
    """IIS sends the whole path as PATH_INFO and as SCRIPT_NAME; wfastcgi clears SCRIPT_NAME."""
    discovery = served.get("/.well-known/openid-configuration")
    assert discovery.status == 200
    assert json.loads(discovery.body)["issuer"] == f"https://{HOST}"
    # The query decides which error the authorization endpoint names.
    missing = served.get("/authorize")
    unknown = served.get("/authorize", query="client_id=nobody&response_type=code&scope=openid"
                                              "&redirect_uri=https%3A%2F%2Frp.example%2Fcb")
    assert (missing.status, unknown.status) == (400, 400)
    assert html.escape(i18n.translate("en", "error.authorize.missing_client")) in missing.text
    assert html.escape(i18n.translate("en", "error.authorize.unknown_client")) in unknown.text
    german = served.get("/signin", headers={"Accept-Language": "de"})
    assert german.status == 200
    assert i18n.translate("de", "signin.title") in title_of(german.text)


def test_the_appsettings_of_web_config_reach_the_app(served, site):
    assert served.get("/signin").status == 200  # the first request makes wfastcgi load the handler
    app_module = sys.modules["app"]
    assert Path(app_module.__file__).parent == site, "WSGI_HANDLER was not imported from the site folder"
    assert os.environ["WSGI_HANDLER"] == "app.app"
    assert os.environ["CODEB_TENANT"] == "acme" and os.environ["CODEB_DATA"] == str(site / "App_Data")
    assert str(site) in sys.path  # PYTHONPATH
    assert app_module.app.config["CODEB_TENANT"] == "acme"
    assert app_module.app.config["CODEB_DATA"] == str(site / "App_Data")


def test_the_site_serves_its_own_tenant_and_no_other(served, site):
    other = served.get("/signin", host=OTHER_HOST)
    assert other.status == 404
    assert "Other Corp" not in html.unescape(other.text)
    assert served.get("/signin", host="unknown.example").status == 404
    assert served.get("/signin").status == 200  # the connection goes on serving after a 404
    # Without CODEB_TENANT the same data folder would serve the other tenant: the 404 is the setting's.
    everyone = create_app({"CODEB_DATA": str(site / "App_Data"), "CODEB_TENANT": None}).test_client()
    assert everyone.get("/signin", base_url=f"https://{OTHER_HOST}").status_code == 200


def test_a_posted_body_arrives_through_fcgi_stdin(served):
    # More than one record's worth, cut into records of 4 KiB; the parameters that decide the
    # answer come last, so only a body put together from every record reaches them.
    # RFC 6749 §3.2: the token endpoint ignores parameters it does not know (the padding).
    body = ("padding=" + "x" * 70_000 + "&grant_type=authorization_code&code=abc"
            "&redirect_uri=https%3A%2F%2Frp.example%2Fcb&client_id=nobody").encode()
    response = served.post("/token", body, content_type="application/x-www-form-urlencoded", chunk=4096)
    assert response.status == 400, response.errors.decode()
    assert response.header("Content-Type") == "application/json"
    assert json.loads(response.body)["error"] == "invalid_client"
    # The same request without its body: the error is about the missing grant type instead.
    empty = served.post("/token", b"", content_type="application/x-www-form-urlencoded")
    assert empty.status == 400
    assert json.loads(empty.body)["error"] == "unsupported_grant_type"


def test_wfastcgi_used_the_windows_stand_ins(served, site):
    assert served.get("/signin").status == 200
    assert served.windows.called("setmode") == [(served.pipe_fd, Windows.O_BINARY)]  # the pipe in binary mode
    # The file watcher that restarts the process when a .py or .config file changes watches the site.
    opened = served.windows.wait_for("CreateFile")
    assert [args[0].rstrip("/\\") for args in opened] == [str(site)]
    assert served.windows.wait_for("CloseHandle") == [(Windows.FILE_HANDLE,)]


# --- The host's own site: codeb-host, the sign-up page, without CODEB_TENANT ----------------

SIGNUP_HOST = "www.codeb.test"
# What Install-CodebHostSite writes (deploy/CodebDeploy/HostSite.ps1; test_powershell_syntax.py
# reads it there): these settings, and CODEB_TENANT taken out of the template altogether.
HOST_SITE_SETTINGS = ("PYTHONPATH", "CODEB_DATA")
HOST_SITE_REMOVED = ("CODEB_TENANT",)


def write_host_site_config(template: Path, destination: Path, settings: dict[str, str]) -> None:
    """The template as Write-CodebWebConfig -RemoveSetting CODEB_TENANT writes it for the host site."""
    tree = ET.parse(template)
    app_settings = tree.getroot().find("appSettings")
    for key in HOST_SITE_REMOVED:
        node = app_settings.find(f"add[@key='{key}']")
        assert node is not None, f"web.config has no appSetting {key} to remove"
        app_settings.remove(node)
    tree.write(destination, encoding="utf-8", xml_declaration=True)
    write_site_config(destination, destination, settings)


@pytest.fixture(scope="module")
def host_site(site, tmp_path_factory) -> Path:
    """<root>\\sites\\_host beside the tenant's site; its data root is the one the tenants are in."""
    from codeb.provisioning import site as host_site_settings

    folder = tmp_path_factory.mktemp("sites") / "_host"
    folder.mkdir()
    link_release(folder)
    data = site / "App_Data"
    host_site_settings.configure(Tenants(str(data)), site=SIGNUP_HOST, parent="codeb.test", windows_worker=True)
    settings = {"PYTHONPATH": str(folder), "CODEB_DATA": str(data)}
    assert set(settings) == set(HOST_SITE_SETTINGS)
    write_host_site_config(WEB_CONFIG, folder / "Web.config", settings)
    return folder


@pytest.fixture
def served_host_site(wfastcgi, windows, host_site, monkeypatch):
    yield from serving(wfastcgi, windows, host_site, monkeypatch)


def test_the_host_site_serves_the_sign_up_page_without_a_tenant(served_host_site, host_site, site):
    page = served_host_site.get("/get-your-tenant.html", host=SIGNUP_HOST)
    assert page.status == 200, page.errors.decode()
    assert 'name="subdomain"' in page.text
    # No CODEB_TENANT reached the process: the app knows the host site by its Host name.
    assert "CODEB_TENANT" not in os.environ
    app_module = sys.modules["app"]
    assert app_module.app.config["CODEB_TENANT"] is None
    assert app_module.app.config["CODEB_DATA"] == str(site / "App_Data")
    # On its name it serves the sign-up page only, never a tenant's pages.
    assert served_host_site.get("/signin", host=SIGNUP_HOST).status == 404
    assert served_host_site.get("/.well-known/openid-configuration", host=SIGNUP_HOST).status == 404
