"""The HttpPlatformHandler variant (deploy/web.httpplatform.config) serves the tenant.

HttpPlatformHandler starts the configured process (processPath with its arguments,
%HTTP_PLATFORM_PORT% and other %VARIABLES% expanded) with the configured
environment variables and HTTP_PLATFORM_PORT added, waits until it listens on that
loopback port, and forwards each request with its Host header. This test does the
same with the shipped file: the venv's python for processPath, the site's settings
in the environment variables as New-CodebTenant.ps1 writes them, and a working
folder where nothing is importable, so that PYTHONPATH is what finds the code.
"""

import html
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from codeb import i18n
from tests.support.site_folder import HOST, OTHER_HOST, two_tenant_site

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "web.httpplatform.config"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expand(value: str, environment: dict[str, str]) -> str:
    """IIS's expansion of an `expanded="true"` attribute: %NAME% from the environment."""
    return re.sub(r"%(\w+)%", lambda m: environment[m.group(1)], value)


class Platform:
    """The process HttpPlatformHandler would run for the site, and requests forwarded to it."""

    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port

    def request(self, method: str, path: str, *, host: str = HOST, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return response, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    site, data = two_tenant_site(tmp_path_factory.mktemp("sites"))

    section = ET.parse(CONFIG).getroot().find("system.webServer/httpPlatform")
    configured = {v.get("name"): v.get("value")
                  for v in section.findall("environmentVariables/environmentVariable")}
    # The mail settings as a host without a smarthost writes them: empty, the Pickup folder.
    mail = {name: "" for name in configured if name.startswith("CODEB_SMTP_")}
    site_settings = {"PYTHONPATH": str(site), "CODEB_TENANT": "acme", "CODEB_DATA": str(data), **mail}
    assert mail and set(configured) == set(site_settings), "the settings New-CodebTenant.ps1 writes"
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CODEB_") and k != "PYTHONPATH"}
    environment = {**inherited, **site_settings, "HTTP_PLATFORM_PORT": str(port)}
    argv = [sys.executable, *expand(section.get("arguments"), environment).split()]
    elsewhere = tmp_path_factory.mktemp("working-folder")
    process = subprocess.Popen(argv, cwd=elsewhere, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + int(section.get("startupTimeLimit"))
        while True:
            if process.poll() is not None:
                pytest.fail(f"the process exited: {process.stdout.read().decode(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the process does not listen on HTTP_PLATFORM_PORT")
                time.sleep(0.05)
        yield Platform(process, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def test_the_sign_in_page_is_served(platform):
    response, body = platform.request("GET", "/signin")
    assert response.status == 200
    page = html.unescape(body.decode())
    assert i18n.translate("en", "signin.title") in page and "Acme Corp" in page
    # IIS ended TLS: the app still knows the request was https.
    assert response.getheader("Strict-Transport-Security")
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith("__Host-codeb=") and "Secure" in cookie
    discovery, document = platform.request("GET", "/.well-known/openid-configuration")
    assert discovery.status == 200 and json.loads(document)["issuer"] == f"https://{HOST}"


def test_the_environment_binds_the_site_to_its_tenant(platform):
    other, _ = platform.request("GET", "/signin", host=OTHER_HOST)
    assert other.status == 404
    assert platform.request("GET", "/signin", host="unknown.example")[0].status == 404


def test_a_posted_body_reaches_the_app(platform):
    body = b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Frp.example%2Fcb&client_id=nobody"
    response, answer = platform.request("POST", "/token", body=body,
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(answer)["error"] == "invalid_client"
