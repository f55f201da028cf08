"""Which way codeb's modules import: no cycles, no hidden imports, no Flask below the web layer.

Read from the source (tests/support/codebase.py), so a cycle is found even
where a function-level import would let it run.
"""

import subprocess
import sys

from tests.support.codebase import ROOT, cycles, graph, imports, modules, top_level

# A function-level import of codeb is allowed only where it keeps a heavy
# import away from code that does not need it; each one says why.
PROTOCOL = ("Authlib's OIDC grants and joserfc (with cryptography) load at the first request that runs "
            "the protocol, not at start-up: discovery needs none of them (codeb.web, test_startup)")
WALLET = "joserfc, cryptography and cbor2 (the EU Wallet's verifiers, its trust list) load at the first wallet sign-in"
LATE_IMPORTS = {
    ("codeb.cli.serve", "codeb.web.app"): "only `serve` loads Flask; the other commands start fast",
    **{("codeb.web.get_tenant", target): "codeb.provisioning composes tenants (signing keys: joserfc, cryptography): "
       "loaded at the host site's first request, never by a tenant's pages"
       for target in ("codeb.provisioning.site", "codeb.provisioning.signup", "codeb.provisioning.spool")},
    ("codeb.web.oidc", "codeb.oidc.provider"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.authorize"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.userinfo"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.logout"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.revocation"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.introspection"): PROTOCOL,
    ("codeb.web.oidc", "codeb.oidc.par"): PROTOCOL,
    ("codeb.oidc.backchannel", "codeb.oidc.backchannel_delivery"):
        "joserfc signs logout tokens in the courier, after a sign-out: the sign-out paths load no JOSE",
    ("codeb.web.documents", "codeb.oidc.keys"): PROTOCOL,
    ("codeb.web.documents", "codeb.oidc.provider"): PROTOCOL,
    ("codeb.web.documents", "codeb.oidc.userinfo"): PROTOCOL,
    ("codeb.web.office", "codeb.oidc.userinfo"): PROTOCOL,
    ("codeb.web.xmpp", "codeb.oidc.userinfo"): PROTOCOL,
    ("codeb.web.help", "codeb.oidc.keys"): PROTOCOL,
    ("codeb.web.help", "codeb.oidc.tokens"): PROTOCOL,
    ("codeb.web.help", "codeb.oidc.authorize"): PROTOCOL,
    ("codeb.web.help", "codeb.oidc.client_assertion"): PROTOCOL,
    ("codeb.web.help", "codeb.oidc.dpop"): PROTOCOL,
    ("codeb.signin.upstream_oidc", "codeb.upstreams.oidc"):
        "requests, Authlib's client and joserfc load at the first company sign-in, not at startup",
    ("codeb.upstreams.connection", "codeb.upstreams.oidc"): "the same libraries, at the admin's first test connection",
    ("codeb.upstreams.connection", "codeb.upstreams.saml"): "pysaml2 at the admin's first test of a SAML provider",
    ("codeb.web.upstreams", "codeb.upstreams.client_key"):
        "joserfc at the first fetch of the key an upstream knows CodeB by (private_key_jwt), not at startup",
    ("codeb.signin.upstream_saml", "codeb.upstreams.saml"):
        "pysaml2 (and its XML schema library) loads at the first SAML sign-in, not at startup",
    ("codeb.upstreams", "codeb.upstreams.saml"): "pysaml2 reads the metadata an admin imports, at that moment",
    ("codeb.web.wallet_admin", "codeb.tenants.wallet"):
        "cryptography and the wallet's trust code at the admin's first visit of the EU Wallet page, not at startup",
    **{("codeb.signin.wallet", target): WALLET for target in (
        "codeb.tenants.wallet", "codeb.wallet", "codeb.wallet.mdoc", "codeb.wallet.request", "codeb.wallet.response",
        "codeb.wallet.sdjwt", "codeb.wallet.status")},
}
SIGNIN_METHODS = ("codeb.signin.magic_link", "codeb.signin.passkey", "codeb.signin.password",
                  "codeb.signin.upstream_oidc", "codeb.signin.upstream_saml", "codeb.signin.wallet")


def test_no_module_imports_itself_through_others():
    assert cycles(graph()) == []


def test_no_package_imports_itself_through_others():
    """One level up too: codeb.tenants, codeb.accounts, codeb.oidc … form a layered graph."""
    assert cycles(graph(top_level)) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_of_codeb_sit_at_the_top_of_their_module():
    late = {(imp.module, imp.target): imp.line for imp in imports() if imp.in_function}
    assert set(late) == set(LATE_IMPORTS), f"function-level imports of codeb: {late}"


def test_the_import_reader_sees_relative_and_late_imports():
    found = {(imp.module, imp.target) for imp in imports()}
    assert ("codeb.accounts.passkeys", "codeb.accounts.authenticators") in found  # from . import authenticators
    assert ("codeb.signin", "codeb.signin.magic_link") in found                  # from .magic_link import …
    assert any(imp.in_function for imp in imports() if imp.module == "codeb.cli.serve")


def test_sign_in_methods_are_reached_only_through_the_registry():
    """Outside codeb/signin, nothing imports a method's module: the web layer, the CLI and
    the rest find methods in `codeb.signin.REGISTRY` (a new method touches no other package)."""
    outside = [(imp.module, imp.target) for imp in imports()
               if imp.target in SIGNIN_METHODS and not imp.module.startswith("codeb.signin")]
    assert outside == []


def test_only_the_web_layer_imports_flask():
    flask_users = sorted(name for name, module in modules().items()
                         if "import flask" in module.path.read_text() or "from flask" in module.path.read_text())
    assert flask_users and all(name.startswith("codeb.web") for name in flask_users), flask_users


def _loaded_after(statement: str) -> set[str]:
    probe = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_domain_loads_no_flask():
    """Every module but the web layer's imports without Flask: the CLI and pure verifiers pay nothing for it."""
    domain = [name for name in modules() if not name.startswith("codeb.web") and name != "codeb.__main__"]
    loaded = _loaded_after("; ".join(f"import {name}" for name in domain))
    assert set(domain) <= loaded
    assert not {"flask", "werkzeug"} & loaded


def test_store_oidc_and_signin_each_load_no_flask():
    for package in ("codeb.store", "codeb.oidc.provider", "codeb.signin"):
        assert "flask" not in _loaded_after(f"import {package}"), package


def test_importing_codeb_loads_nothing_else():
    loaded = _loaded_after("import codeb")
    assert not {name for name in loaded if name.startswith("codeb.")}
    assert not {"flask", "authlib", "joserfc", "webauthn", "cryptography"} & loaded
