"""Composing a new tenant: everything checked first, and a failed run leaves nothing behind."""

import os

import pytest

from codeb.accounts import Accounts
from codeb.errors import BadInput, Conflict, StoreBusy
from codeb.oidc import keys
from codeb.provisioning import create_tenant
from codeb.store import layout
from codeb.tenants import Tenants
from codeb.tenants.secrets import session_secret


def test_a_new_tenant_has_settings_secrets_keys_and_its_first_admin(data_root):
    registry = Tenants(str(data_root))
    made = create_tenant(registry, "corp", ["Login.Corp.Example"], signup="domains",
                         domains=["Corp.Example", "corp.example"], admin_email="IT@corp.example")
    tenant = made.tenant
    assert tenant.hosts == ["login.corp.example"] and registry.names() == ["corp"]
    assert tenant.setting("signup") == {"policy": "domains", "domains": ["corp.example"]}
    assert len(session_secret(tenant.store)) == 32 and keys.load(tenant.store).kid
    admin = Accounts(tenant.store, tenant.hosts[0]).require(made.admin.login)
    assert admin.email == "it@corp.example" and "admin" in admin.roles


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"admin_email": "not an address"}, BadInput),
    ({"signup": "domains"}, BadInput),                      # domains without a domain
    ({"signup": "domains", "domains": ["not a host"]}, BadInput),
    ({"signup": "everyone"}, BadInput),
])
def test_bad_input_is_refused_before_anything_is_written(data_root, kwargs, error):
    with pytest.raises(error):
        create_tenant(Tenants(str(data_root)), "corp", ["login.corp.example"], **kwargs)
    assert os.listdir(data_root) == []


def test_a_failure_after_the_folder_was_made_removes_it(data_root, monkeypatch):
    def busy(self, **kwargs):
        raise StoreBusy()

    monkeypatch.setattr(Accounts, "create", busy)
    registry = Tenants(str(data_root))
    with pytest.raises(StoreBusy):
        create_tenant(registry, "corp", ["login.corp.example"], admin_email="it@corp.example")
    # What stays is the host's own folder (its locks), with no claim left in the host index.
    assert os.listdir(data_root) == ["_host"] and registry.names() == []
    assert registry.data.host_claims() == {} and registry.data.host_owner("login.corp.example") is None


def test_a_taken_name_or_host_is_a_conflict_and_the_other_tenant_stays(tenants, data_root):
    demo_keys = tenants.get("demo").store.read(layout.KEYS, layout.SIGNING_KEYS)
    with pytest.raises(Conflict):
        create_tenant(tenants, "demo", ["new.example"])
    with pytest.raises(Conflict):
        create_tenant(tenants, "other", ["localhost"])
    assert sorted(tenants.names()) == ["acme", "demo"] and not (data_root / "other").exists()
    assert tenants.get("demo").store.read(layout.KEYS, layout.SIGNING_KEYS) == demo_keys


def test_a_registration_that_loses_a_race_leaves_the_winner_alone(tenants):
    """Two runs for one name: the second finds the first's settings and writes nothing."""
    store = tenants.store_for("demo")
    with pytest.raises(Conflict):
        tenants.register("demo", {"name": "demo", "hosts": ["x.example"]})
    assert tenants.get("demo").hosts == ["localhost"] and store.exists(layout.TENANT)
