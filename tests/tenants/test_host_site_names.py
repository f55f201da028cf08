"""The host site's name and the tenants' hosts never meet: `tenant create` (and the sign-up
worker, through the same compose steps) refuses the host site's name, and `host set --site`
refuses a name a tenant serves or claims in the host index."""

import json

import pytest

from codeb import i18n
from codeb.cli import main as cli
from codeb.errors import Conflict
from codeb.provisioning import create_tenant, site, spool, worker
from codeb.tenants import Tenants

SITE, PARENT = "www.codeb.example", "codeb.example"


@pytest.fixture
def host_site(tenants):
    return site.configure(tenants, site=SITE, parent=PARENT)


# -- tenant create: never the host site's name ---------------------------------------------------

@pytest.mark.parametrize("hosts", [
    [SITE],
    ["WWW.Codeb.Example."],                       # the same name, written otherwise
    ["login.shop.example", SITE],                 # among other hosts
])
def test_a_tenant_cannot_take_the_host_sites_name(tenants, host_site, hosts):
    with pytest.raises(Conflict) as refused:
        create_tenant(tenants, "shop", hosts, admin_email="it@shop.example")
    assert refused.value.message_id == "error.host_is_signup_site"
    assert refused.value.params == {"host": SITE}
    assert SITE in str(refused.value)
    # Refused before anything was written: no folder, no host-index entry.
    assert not tenants.data.exists("shop")
    assert tenants.data.host_owner(SITE) is None
    assert "shop" not in tenants.names()


def test_other_hosts_under_the_parent_are_free(tenants, host_site):
    made = create_tenant(tenants, "shop", [f"shop.{PARENT}"])
    assert made.tenant.hosts == [f"shop.{PARENT}"]
    assert tenants.data.host_owner(f"shop.{PARENT}") == "shop"


def test_without_a_host_site_the_name_is_an_ordinary_host(tenants):
    assert site.load(tenants) is None
    assert create_tenant(tenants, "shop", [SITE]).tenant.hosts == [SITE]


def test_the_cli_refuses_it_with_the_message(tenants, host_site, data_root, capsys):
    assert cli(["--data", str(data_root), "tenant", "create", "shop", "--host", SITE]) == 2
    error = capsys.readouterr().err
    assert SITE in error and "sign-up site" in error
    assert not tenants.data.exists("shop")


def test_the_worker_refuses_a_request_for_the_name_the_host_site_took_meanwhile(tenants, data_root):
    """A sign-up queued for shop.codeb.example, then the operator names the host site so:
    the worker's claim step (under the tenant's lock) refuses, and takes nothing."""
    request_id = spool.submit(tenants, subdomain="shop", parent=PARENT, organisation="Shop",
                              admin_email="it@shop.example", ip="203.0.113.7")
    site.configure(tenants, site=f"shop.{PARENT}", parent=PARENT)  # no tenant has the name yet: allowed
    assert worker.drain(tenants) == {request_id: spool.FAILED}
    request = spool.get(tenants, request_id)
    claim = spool.step(request, "claim")
    assert claim["state"] == "failed" and claim["error"]["id"] == "error.host_is_signup_site"
    assert "shop" not in tenants.names() and not tenants.data.exists("shop")
    assert tenants.data.host_owner(f"shop.{PARENT}") is None


def test_the_message_is_in_english_and_german():
    english = i18n.translate("en", "error.host_is_signup_site", host=SITE)
    german = i18n.translate("de", "error.host_is_signup_site", host=SITE)
    assert SITE in english and SITE in german
    assert english != german
    assert "Sie" in german.split()  # the formal address


# -- host set: never a tenant's name -------------------------------------------------------------

def test_host_set_refuses_a_host_a_tenant_serves(tenants, demo):
    with pytest.raises(Conflict) as refused:
        site.configure(tenants, site=demo.hosts[0].upper(), parent=PARENT)
    assert refused.value.message_id == "error.site.host_is_tenant"
    assert refused.value.params == {"host": demo.hosts[0], "tenant": "demo"}
    assert tenants.data.site_settings() is None


def test_host_set_refuses_a_tenant_from_before_the_host_index(tenants):
    """No index entry (a tenant restored without it): the tenants' own hosts still decide."""
    acme = tenants.get("acme")
    for host in acme.hosts:
        tenants.data.release_host(host, "acme")
    assert tenants.data.host_owner(acme.hosts[0]) is None
    with pytest.raises(Conflict) as refused:
        site.configure(Tenants(str(tenants.root)), site=acme.hosts[0], parent=PARENT)
    assert refused.value.params["tenant"] == "acme"
    assert tenants.data.site_settings() is None


def test_host_set_refuses_a_host_claimed_by_a_tenant_being_made(tenants):
    """Only the host index knows it yet: a run that claimed the host has not written tenant.json."""
    assert tenants.data.claim_host(f"new.{PARENT}", "newcomer", by="run-1")
    with pytest.raises(Conflict) as refused:
        site.configure(tenants, site=f"new.{PARENT}", parent=PARENT)
    assert refused.value.params == {"host": f"new.{PARENT}", "tenant": "newcomer"}
    assert tenants.data.site_settings() is None


def test_host_set_through_the_cli_names_the_tenant(tenants, demo, data_root, capsys):
    assert cli(["--data", str(data_root), "host", "set", "--site", demo.hosts[0], "--parent", PARENT,
                "--windows-worker", "yes"]) == 2
    assert "belongs to tenant demo" in capsys.readouterr().err
    assert tenants.data.site_settings() is None
    assert cli(["--data", str(data_root), "host", "set", "--site", SITE, "--parent", PARENT,
                "--windows-worker", "yes"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["site"], shown["parent"], shown["windows_worker"]) == (SITE, PARENT, True)
    assert site.load(tenants).name == SITE


def test_the_sign_up_forms_check_refuses_the_host_sites_own_name(data_root):
    """Not only the worker: the form's live check says at once that the site's name is taken."""
    from codeb.provisioning import spool

    tenants = Tenants(data_root)
    tenants.data.write_site_settings({"name": "signup2.codeb.test", "parent": "codeb.test"})
    with pytest.raises(Conflict) as refused:
        spool.check_available(tenants, "signup2", "signup2.codeb.test")
    assert refused.value.message_id == "error.host_is_signup_site"
    spool.check_available(tenants, "signup3", "signup3.codeb.test")
