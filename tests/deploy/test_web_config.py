"""web.config: the IIS site of one tenant (wfastcgi handler, appSettings, request filtering).

Parsed with xml.etree, the way wfastcgi itself reads the appSettings.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_CONFIG = ROOT / "web.config"
MODULE = ROOT / "deploy" / "CodebDeploy" / "CodebDeploy.psm1"  # the loader: the shared constants
HANDLER_NAME = "CodeB-Python"


@pytest.fixture(scope="module")
def config() -> ET.Element:
    return ET.parse(WEB_CONFIG).getroot()


@pytest.fixture(scope="module")
def app_settings(config) -> dict[str, str]:
    # wfastcgi: `for setting in wc.findall('appSettings/add')` -> os.environ
    settings = {}
    for add in config.findall("appSettings/add"):
        key = add.get("key")
        assert key not in settings, f"appSetting {key} appears twice"
        settings[key] = add.get("value")
    return settings


def test_is_the_configuration_root(config):
    assert config.tag == "configuration"


def test_wsgi_handler_is_the_app(app_settings):
    assert app_settings["WSGI_HANDLER"] == "app.app"


def test_binds_the_site_to_one_tenant_and_its_data(app_settings):
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", app_settings["CODEB_TENANT"])
    site = app_settings["PYTHONPATH"]
    assert re.fullmatch(r"[A-Za-z]:\\.+", site), "PYTHONPATH is the site folder (absolute)"
    # The data folder is App_Data beside app.py, i.e. in the site folder.
    assert app_settings["CODEB_DATA"] == site + "\\App_Data"
    assert site.rsplit("\\", 1)[-1] == app_settings["CODEB_TENANT"]


def test_wsgi_log_is_unset(app_settings):
    assert "WSGI_LOG" not in app_settings


def test_fastcgi_handler_serves_every_request(config):
    handlers = config.findall("system.webServer/handlers/add")
    handler = next((h for h in handlers if h.get("name") == HANDLER_NAME), None)
    assert handler is not None, f"no handler named {HANDLER_NAME}"
    assert handler.get("modules") == "FastCgiModule"
    assert handler.get("path") == "*" and handler.get("verb") == "*"
    assert handler.get("resourceType") == "Unspecified"
    python, _, script = handler.get("scriptProcessor").partition("|")
    assert python.lower().endswith("\\python.exe")
    assert script.lower().endswith("\\wfastcgi.py")


def test_the_deploy_scripts_rewrite_this_handler_and_these_settings(app_settings):
    assert f"$script:HandlerName = '{HANDLER_NAME}'" in MODULE.read_text(encoding="utf-8")
    new_tenant = (ROOT / "deploy" / "New-CodebTenant.ps1").read_text(encoding="utf-8")
    for key in ("PYTHONPATH", "CODEB_TENANT", "CODEB_DATA"):
        assert key in app_settings
        assert re.search(rf"^\s*{key}\s*=", new_tenant, re.M), f"New-CodebTenant.ps1 does not set {key}"


def test_static_files_bypass_python(config):
    locations = [loc for loc in config.findall("location") if loc.get("path") == "static"]
    assert len(locations) == 1
    removed = [r.get("name") for r in locations[0].findall("system.webServer/handlers/remove")]
    assert removed == [HANDLER_NAME]
    assert not locations[0].findall("system.webServer/handlers/add")


REQUIRED_HIDDEN = {"App_Data", ".git", ".venv", "deploy", "tests"}


def test_hidden_segments_protect_data_code_and_tooling(config):
    hidden = config.find("system.webServer/security/requestFiltering/hiddenSegments")
    assert hidden is not None
    added = {a.get("segment") for a in hidden.findall("add")}
    assert added >= REQUIRED_HIDDEN


def test_each_added_filter_is_removed_first(config):
    """IIS lists App_Data at the server level already; a second <add> of it is a 500.19."""
    filtering = config.find("system.webServer/security/requestFiltering")
    for collection, attribute in (("hiddenSegments", "segment"), ("fileExtensions", "fileExtension")):
        seen_removed = set()
        for entry in filtering.find(collection):
            if entry.tag == "remove":
                seen_removed.add(entry.get(attribute))
            elif entry.tag == "add":
                assert entry.get(attribute) in seen_removed, f"{collection}: add {entry.get(attribute)} without remove"


def test_python_files_are_never_served(config):
    extensions = config.find("system.webServer/security/requestFiltering/fileExtensions")
    denied = {a.get("fileExtension") for a in extensions.findall("add") if a.get("allowed") == "false"}
    assert {".py", ".pyc"} <= denied


def test_deployment_scripts_and_their_module_are_never_served(config):
    extensions = config.find("system.webServer/security/requestFiltering/fileExtensions")
    denied = {a.get("fileExtension") for a in extensions.findall("add") if a.get("allowed") == "false"}
    assert {".ps1", ".psm1", ".psd1"} <= denied


def test_the_apps_error_pages_pass_through(config):
    errors = config.find("system.webServer/httpErrors")
    assert errors is not None and errors.get("existingResponse") == "PassThrough"


def test_no_header_duplicates_what_the_app_sets(config):
    """HSTS and CSP come from the app; IIS adding them again would send them twice."""
    app_headers = {"strict-transport-security", "content-security-policy", "x-frame-options", "referrer-policy"}
    for headers in config.iter("customHeaders"):
        for add in headers.findall("add"):
            assert add.get("name").lower() not in app_headers, add.get("name")
