"""A tenant's IIS site folder, built the way deploy/New-CodebTenant.ps1 builds one: links to the
release (app.py, codeb, templates, static) and the data folder beside them, holding two tenants
of which the site serves one. The site tests of tests/deploy (wfastcgi, HttpPlatformHandler) use it."""

from pathlib import Path

from codeb.provisioning import create_tenant
from codeb.tenants import Tenants
from tests.support.codebase import ROOT

HOST = "login.acme.test"
OTHER_HOST = "login.other.test"  # another tenant of the same data folder, which the site must not serve
RELEASE_LINKS = ("app.py", "codeb", "templates", "static")


def link_release(folder: Path) -> None:
    """The site folder's links to the release, as Install-CodebSiteCode makes them."""
    for name in RELEASE_LINKS:
        (folder / name).symlink_to(ROOT / name)


def two_tenant_site(parent: Path) -> tuple[Path, Path]:
    """(the site folder, its App_Data) under `parent`: tenant `acme` on HOST, `other` on OTHER_HOST."""
    folder = parent / "acme"
    data = folder / "App_Data"
    data.mkdir(parents=True)
    link_release(folder)
    tenants = Tenants(str(data))
    create_tenant(tenants, "acme", [HOST], display_name="Acme Corp")
    create_tenant(tenants, "other", [OTHER_HOST], display_name="Other Corp")
    return folder, data
