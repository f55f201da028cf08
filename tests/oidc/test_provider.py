"""The Provider made per request is a light view: Authlib's registrations are made once per
process and shared, while everything of the tenant and the request stays its own."""

from codeb.accounts import Accounts
from codeb.accounts.sessions import Sessions
from codeb.oidc.grants import CodeGrant, MachineGrant, RefreshGrant
from codeb.oidc.logout import Logout
from codeb.oidc.provider import Provider
from codeb.oidc.requests import ProtocolRequest
from codeb.tenants import Tenants
from codeb.tenants import settings as tenant_settings


def provider_for(tenant, issuer):
    return Provider(tenant=tenant, issuer=issuer, accounts=Accounts(tenant.store, tenant.hosts[0]),
                    sessions=Sessions(tenant.store, lambda: b"k" * 32))


def token_request(issuer, grant_type):
    return ProtocolRequest("POST", issuer + "/token", {}, {}, {"grant_type": [grant_type]})


def test_every_provider_shares_one_set_of_registrations(tenants):
    demo = provider_for(tenants.get("demo"), "http://localhost")
    acme = provider_for(tenants.get("acme"), "http://acme.localhost")
    assert demo._token_grants is acme._token_grants
    assert demo._authorization_grants is acme._authorization_grants
    assert [cls for cls, _ in demo._token_grants] == [CodeGrant, RefreshGrant, MachineGrant]


def test_what_is_bound_to_a_provider_is_bound_to_that_provider_alone(tenants):
    """The ID token extension, the client authentication and the logout endpoint each
    answer for the Provider of their own request, never for another made beside it."""
    demo = provider_for(tenants.get("demo"), "http://localhost")
    acme = provider_for(tenants.get("acme"), "http://acme.localhost")
    for provider in (demo, acme):
        grant = provider.get_token_grant(token_request(provider.issuer, "authorization_code"))
        assert isinstance(grant, CodeGrant) and grant.server is provider
        (id_token,) = grant._hooks["after_create_token_response"]
        assert id_token.__self__.server is provider
        (logout,) = provider._endpoints[Logout.ENDPOINT_NAME]
        assert logout.server is provider
        assert provider._client_auth.query_client == provider.query_client
    assert demo._client_auth is not acme._client_auth


def test_a_host_added_by_another_process_is_an_issuer_of_the_next_request(tenants, data_root):
    before = provider_for(tenants.get("demo"), "http://localhost")
    assert "https://sso.example.com" not in before.issuers
    elsewhere = Tenants(str(data_root)).get("demo")
    tenant_settings.save(elsewhere, {"hosts": [*elsewhere.hosts, "sso.example.com"]})
    after = provider_for(tenants.get("demo"), "http://localhost")
    assert "https://sso.example.com" in after.issuers
    assert after._token_grants is before._token_grants  # the registrations stay; the tenant is new
