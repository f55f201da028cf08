"""web.config: the IIS site of one tenant (wfastcgi handler, appSettings, request filtering).

Parsed with xml.etree, the way wfastcgi itself reads the appSettings.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from codeb.cli import parser, serve

ROOT = Path(__file__).resolve().parents[2]
WEB_CONFIG = ROOT / "web.config"
MODULE = ROOT / "deploy" / "CodebDeploy" / "CodebDeploy.psm1"  # the loader: the shared constants
HANDLER_NAME = "CodeB-Python"
ACME_PATH = ".well-known/acme-challenge"   # RFC 8555 section 8.3
REDIRECT_RULE = "CodeB-HTTPS"


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


# --- The HttpPlatformHandler variant (deploy/web.httpplatform.config) ---------------------

HTTP_PLATFORM_CONFIG = ROOT / "deploy" / "web.httpplatform.config"
SITES = ROOT / "deploy" / "CodebDeploy" / "Sites.ps1"
# What only wfastcgi reads: the variant has no use for them.
WFASTCGI_ONLY = {"WSGI_HANDLER", "WSGI_LOG", "WSGI_RESTART_FILE_REGEX", "WSGI_PTVSD_SECRET", "WSGI_PTVSD_ADDRESS"}


@pytest.fixture(scope="module")
def variant() -> ET.Element:
    return ET.parse(HTTP_PLATFORM_CONFIG).getroot()  # well-formed XML, or this raises


@pytest.fixture(scope="module")
def platform(variant) -> ET.Element:
    found = variant.findall("system.webServer/httpPlatform")
    assert len(found) == 1, "one httpPlatform section"
    return found[0]


def environment_variables(platform) -> dict[str, str]:
    variables = {}
    for variable in platform.findall("environmentVariables/environmentVariable"):
        name = variable.get("name")
        assert name not in variables, f"environment variable {name} appears twice"
        variables[name] = variable.get("value")
    return variables


def without_comments(element: ET.Element) -> ET.Element:
    """A copy without comments and layout whitespace, for comparing what IIS reads."""
    copy = ET.Element(element.tag, element.attrib)
    copy.text = (element.text or "").strip() or None
    for child in element:
        if child.tag is not ET.Comment:
            copy.append(without_comments(child))
    return copy


def same(a: ET.Element | None, b: ET.Element | None) -> bool:
    assert a is not None and b is not None
    return ET.tostring(without_comments(a)) == ET.tostring(without_comments(b))


def test_the_variant_is_a_configuration_without_wfastcgi(variant):
    assert variant.tag == "configuration"
    assert variant.find("appSettings") is None, "HttpPlatformHandler gives the process environment variables"
    assert "wfastcgi" not in ET.tostring(variant, encoding="unicode").lower()


def test_the_variant_handler_is_http_platform_handler(variant):
    handlers = variant.findall("system.webServer/handlers/add")
    assert [h.get("name") for h in handlers] == [HANDLER_NAME]
    handler = handlers[0]
    assert handler.get("modules") == "httpPlatformHandler"
    assert handler.get("path") == "*" and handler.get("verb") == "*"
    assert handler.get("resourceType") == "Unspecified"
    assert handler.get("scriptProcessor") is None
    # New-CodebTenant.ps1 checks that IIS has the module this handler names.
    assert "'httpPlatformHandler'" in SITES.read_text(encoding="utf-8")


def test_the_variant_starts_the_venv_python_serving_on_the_platform_port(platform):
    assert platform.get("processPath").lower().endswith("\\venv\\scripts\\python.exe")
    arguments = platform.get("arguments")
    assert '"' not in arguments, "plain arguments: no Windows quoting rules to get wrong"
    port = 54321  # HttpPlatformHandler expands %HTTP_PLATFORM_PORT% to the port it chose
    assert arguments.count("%HTTP_PLATFORM_PORT%") == 1
    argv = arguments.replace("%HTTP_PLATFORM_PORT%", str(port)).split()
    assert argv[:2] == ["-m", "codeb"]
    args = parser().parse_args(argv[2:])
    assert args.func is serve.serve
    assert (args.host, args.port, args.url_scheme, args.echo_mail) == ("127.0.0.1", port, "https", False)
    assert args.data is None, "the data root comes from CODEB_DATA, as under wfastcgi"
    assert platform.get("stdoutLogEnabled") == "false"


def test_the_variant_environment_is_web_configs_app_settings(platform, app_settings):
    assert environment_variables(platform) == {k: v for k, v in app_settings.items() if k not in WFASTCGI_ONLY}


def test_the_variant_serves_static_files_like_web_config(variant, config):
    locations = [loc for loc in variant.findall("location") if loc.get("path") == "static"]
    assert len(locations) == 1
    removed = [r.get("name") for r in locations[0].findall("system.webServer/handlers/remove")]
    assert removed == [HANDLER_NAME]
    assert same(locations[0], config.find("location[@path='static']"))


@pytest.mark.parametrize("section", ["rewrite", "modules", "httpErrors", "httpProtocol", "security"])
def test_the_variant_filters_and_headers_are_web_configs(variant, config, section):
    assert same(variant.find(f"system.webServer/{section}"), config.find(f"system.webServer/{section}"))


def test_the_variant_serves_acme_challenges_like_web_config(variant, config):
    path = f"location[@path='{ACME_PATH}']"
    assert same(variant.find(path), config.find(path))


def test_the_variant_has_nothing_else(variant, config):
    """Beside the handler and httpPlatform, every part of the variant is one of web.config's."""
    ours = [child.tag for child in variant.find("system.webServer")]
    theirs = [child.tag for child in config.find("system.webServer")]
    assert ours == ["handlers", "httpPlatform"] + theirs[1:]
    assert [child.tag for child in variant] == [t for t in (c.tag for c in config) if t != "appSettings"]


def write_web_config_xpaths() -> list[str]:
    """The XPath expressions Write-CodebWebConfig selects the nodes it rewrites with."""
    source = SITES.read_text(encoding="utf-8")
    function = source[source.index("function Write-CodebWebConfig"):source.index("function Invoke-CodebIisChange")]
    found = re.findall(r"\"(/configuration/[^\"]+)\"|'(/configuration/[^']+)'", function)
    return [double or single for double, single in found]


def select(root: ET.Element, xpath: str, key: str = "") -> ET.Element | None:
    """A PowerShell XPath of Write-CodebWebConfig, its variables filled in, run by ElementTree."""
    relative = xpath.removeprefix("/configuration/").replace("$script:HandlerName", HANDLER_NAME)
    return root.find(relative.replace("{0}", key))


@pytest.mark.parametrize(("template", "setting_tag", "target_tags"), [
    (WEB_CONFIG, "add", {"add"}),  # the FastCGI handler
    (HTTP_PLATFORM_CONFIG, "environmentVariable", {"httpPlatform", "add"}),  # the process (and the handler)
], ids=["web.config", "web.httpplatform.config"])
def test_the_deploy_script_finds_what_it_rewrites(template, setting_tag, target_tags):
    """Write-CodebWebConfig's XPaths find, in this template, each setting New-CodebTenant.ps1
    writes and the handler (wfastcgi) or the process (HttpPlatformHandler) it points at the venv."""
    root = ET.parse(template).getroot()
    paths = write_web_config_xpaths()
    setting_paths = [p for p in paths if "{0}" in p]
    target_paths = [p for p in paths if "{0}" not in p]
    assert len(setting_paths) == 2 and len(target_paths) == 2, paths
    keys = ("PYTHONPATH", "CODEB_TENANT", "CODEB_DATA")
    matching = [p for p in setting_paths if all(select(root, p, key) is not None for key in keys)]
    assert len(matching) == 1, f"{template.name}: {setting_paths}"
    assert {select(root, matching[0], key).tag for key in keys} == {setting_tag}
    targets = [select(root, p) for p in target_paths if select(root, p) is not None]
    assert {t.tag for t in targets} == target_tags



# --- HTTP to HTTPS, except ACME challenges ---------------------------------------------------


def redirect_of(config: ET.Element, *, https: bool, path: str, host: str = "login.acme.example") -> str | None:
    """Where URL Rewrite sends a request, evaluating the rule as IIS does (case-insensitive
    patterns, MatchAll conditions, {R:1} the match of the URL without its leading slash)."""
    rule = config.find(f"system.webServer/rewrite/rules/rule[@name='{REDIRECT_RULE}']")
    match = re.match(rule.find("match").get("url"), path.lstrip("/").split("?")[0], re.I)
    if match is None:
        return None
    variables = {"{HTTPS}": "on" if https else "off", "{REQUEST_URI}": path, "{HTTP_HOST}": host}
    conditions = rule.find("conditions")
    assert conditions.get("logicalGrouping") == "MatchAll"
    for condition in conditions.findall("add"):
        hit = re.search(condition.get("pattern"), variables[condition.get("input")], re.I) is not None
        if hit == (condition.get("negate") == "true"):
            return None
    action = rule.find("action")
    assert action.get("type") == "Redirect" and action.get("redirectType") == "Permanent"
    url = action.get("url").replace("{HTTP_HOST}", host).replace("{R:1}", match.group(1))
    query = path.split("?", 1)[1] if "?" in path else ""
    return url + ("?" + query if query and action.get("appendQueryString") == "true" else "")


@pytest.mark.parametrize("template", [WEB_CONFIG, HTTP_PLATFORM_CONFIG], ids=lambda p: p.name)
def test_http_is_redirected_to_https_except_acme_challenges(template):
    config = ET.parse(template).getroot()
    assert redirect_of(config, https=False, path="/signin?x=1") == "https://login.acme.example/signin?x=1"
    assert redirect_of(config, https=False, path="/") == "https://login.acme.example/"
    assert redirect_of(config, https=False, path="/.well-known/openid-configuration") == (
        "https://login.acme.example/.well-known/openid-configuration")
    assert redirect_of(config, https=False, path="/.well-known/acme-challenge/Tok3n_-x") is None
    assert redirect_of(config, https=True, path="/signin") is None, "no loop over HTTPS"


@pytest.mark.parametrize("template", [WEB_CONFIG, HTTP_PLATFORM_CONFIG], ids=lambda p: p.name)
def test_acme_challenges_are_static_files_served_without_python(template):
    config = ET.parse(template).getroot()
    locations = [loc for loc in config.findall("location") if loc.get("path") == ACME_PATH]
    assert len(locations) == 1
    removed = [r.get("name") for r in locations[0].findall("system.webServer/handlers/remove")]
    assert removed == [HANDLER_NAME]
    content = locations[0].find("system.webServer/staticContent")
    # Challenge files have no extension: mapped (after a remove, so an inherited map never collides).
    assert [(c.tag, c.get("fileExtension")) for c in content] == [("remove", "."), ("mimeMap", ".")]


def test_the_scripts_name_the_rule_and_the_challenge_path_of_web_config():
    loader = MODULE.read_text(encoding="utf-8")
    assert f"$script:RedirectRuleName = '{REDIRECT_RULE}'" in loader
    assert f"$script:AcmeChallengePath = '{ACME_PATH}'" in loader
    # New-CodebTenant.ps1, the worker and the host check that IIS has the module the rule needs.
    for script in ("New-CodebTenant.ps1", "Invoke-CodebProvisioning.ps1", "Initialize-CodebHost.ps1"):
        assert "Test-CodebRewriteModule" in (ROOT / "deploy" / script).read_text(encoding="utf-8")
    assert "'RewriteModule'" in SITES.read_text(encoding="utf-8")


def test_the_mail_settings_default_to_the_pickup_folder(app_settings):
    from codeb.notify.mail import smarthost_from

    smtp = {k: v for k, v in app_settings.items() if k.startswith("CODEB_SMTP_")}
    assert set(smtp) == {"CODEB_SMTP_HOST", "CODEB_SMTP_PORT", "CODEB_SMTP_STARTTLS", "CODEB_SMTP_USER",
                         "CODEB_SMTP_PASSWORD_FILE"}
    assert set(smtp.values()) == {""} and smarthost_from(smtp) is None


@pytest.mark.parametrize("template", [WEB_CONFIG, HTTP_PLATFORM_CONFIG], ids=lambda p: p.name)
def test_the_deploy_script_finds_the_redirect_and_the_challenge_location(template):
    """Assert-CodebSiteTemplate refuses a template without them; both templates have them."""
    source = SITES.read_text(encoding="utf-8")
    function = source[source.index("function Assert-CodebSiteTemplate"):source.index("function Test-CodebSite")]
    xpaths = re.findall(r'SelectSingleNode\("(//[^"]+)"\)', function)
    assert len(xpaths) == 2, xpaths
    root = ET.parse(template).getroot()
    for xpath in xpaths:
        filled = xpath.replace("$script:RedirectRuleName", REDIRECT_RULE)
        filled = filled.replace("$script:AcmeChallengePath", ACME_PATH)
        assert root.find("." + filled) is not None, filled
