"""What a fresh process loads: `import app` and its first answer leave the heavy modules for later (issue 10).

IIS recycles worker processes often, so every one of them pays the start-up.
`python -X importtime -c "import app"` showed what was heavy and not needed
by a first request: py_webauthn with pyOpenSSL, pyasn1 and cbor2 (about a
quarter of a second), Authlib's OIDC Core package (its package init loads the
request-object support, with joserfc's JWE and cryptography's X.509, which the
error classes alone pulled in), cryptography's bindings (AES-GCM for showing a
new client secret), Babel, zoneinfo, and parsing the tenant's RSA keys for the
discovery document. Each now loads where it is first used (`codeb.web` says how);
these tests run a fresh interpreter, as IIS does, and look at `sys.modules`. No
timing here: `make bench` measures the cold start.
"""

import json
import os
import subprocess
import sys

from tests.support.codebase import ROOT
from tests.support.web import HOST

# Modules (with their submodules) a fresh `import app` must not have loaded, and where each one loads.
PROTOCOL = "at the first request that runs the protocol: /authorize, /token, /userinfo, /logout, /jwks.json (codeb.web)"
DEFERRED = {
    "webauthn": "py_webauthn, at the first passkey ceremony (codeb.accounts.passkeys, codeb.signin.passkey)",
    "OpenSSL": "pyOpenSSL, which py_webauthn's attestation checks import",
    "pyasn1": "ASN.1 for py_webauthn's attestation formats",
    "pyasn1_modules": "ASN.1 for py_webauthn's attestation formats",
    "cbor2": "CBOR for py_webauthn's attestation objects",
    "babel": "Babel, at the first plural, number, size or date (codeb.i18n)",
    "zoneinfo": "the IANA zones, at the first date or time shown (codeb.i18n) or a zone an admin saves",
    "authlib.oidc": "Authlib's OIDC Core grants and RP-initiated logout, " + PROTOCOL,
    "authlib.oauth2.rfc9101": "JWT-secured authorization requests (which CodeB refuses), inside authlib.oidc.core",
    "joserfc": "JOSE (JWS, JWE, JWK), " + PROTOCOL,
    "cryptography": "through joserfc's keys, " + PROTOCOL + "; AES-GCM when a new client secret is shown",
    "codeb.oidc.provider": "the Provider on Authlib's server, " + PROTOCOL,
    "codeb.oidc.grants": "CodeB's grants on Authlib's, " + PROTOCOL,
    "codeb.oidc.tokens": "the token format on joserfc, " + PROTOCOL,
    "codeb.oidc.keys": "the signing keys on joserfc, " + PROTOCOL,
    "pywebpush": "Web Push, at the first notification sent (codeb.notify.push)",
    "py_vapid": "VAPID keys and signatures, at the first subscription or notification (codeb.notify.push)",
    "http_ece": "RFC 8188 payload encryption, inside pywebpush",
    "aiohttp": "pywebpush's asynchronous client, which CodeB does not use",
    "requests": "the HTTP client, at the first fetch of an upstream's documents (codeb.upstreams.fetch)",
    "urllib3": "inside requests",
    # Not written yet: the guard stands before they do (DESIGN: wallet/, federation/, upstream SAML).
    "saml2": "pysaml2, for an upstream SAML sign-in, at its first SAML request",
    "codeb.wallet": "the wallet verifiers (OpenID4VP, SD-JWT VC, mdoc), at the first wallet sign-in",
    "codeb.federation": "upstream ID token and SAML response verifiers, at the first upstream sign-in",
}


def loaded(modules) -> set[str]:
    """Which of DEFERRED are among `modules` (a name, or any module inside it)."""
    return {name for name in DEFERRED for module in modules if module == name or module.startswith(name + ".")}


def fresh(statements: str, data: str | None = None) -> dict:
    """Run `statements` in a fresh interpreter from the repository root; what it loaded, and `out`."""
    probe = (f"import json, sys\nout = None\n{statements}\n"
             "print(json.dumps({'modules': sorted(sys.modules), 'out': out}))")
    env = {**os.environ, "CODEB_DATA": data or os.devnull}
    env.pop("CODEB_TENANT", None)
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_import_app_loads_none_of_the_heavy_modules():
    modules = fresh("import app")["modules"]
    assert "flask" in modules and "codeb.web.admin" in modules  # the probe really imported the application
    assert not loaded(modules), {name: DEFERRED[name] for name in loaded(modules)}


def test_the_probe_sees_a_heavy_module_inside_a_package():
    assert loaded(["flask", "authlib", "authlib.oauth2", "joserfc.jwe", "codeb.oidc.clients"]) == {"joserfc"}
    assert loaded(["authlib.oidc.core.errors", "webauthnx", "babel"]) == {"authlib.oidc", "babel"}


def test_the_first_discovery_document_loads_neither_them_nor_the_keys(tenants, data_root):
    """The cold start of `make bench` (bench/run.py): a discovery document needs no protocol
    machinery (Authlib's OIDC grants, joserfc, cryptography), no passkey code, no Babel, and
    no signing key (Provider.keys is read at the first step that signs)."""
    run = fresh("from app import app\n"
                "client = app.test_client()\n"
                "before = set(sys.modules)\n"
                f"reply = client.get('/.well-known/openid-configuration', headers={{'Host': {HOST!r}}})\n"
                "out = {'status': reply.status_code, 'doc': reply.get_json(),"
                " 'new': sorted(set(sys.modules) - before)}", data=str(data_root))
    assert run["out"]["status"] == 200
    # The request itself imports no module of codeb: import app already holds all it needs.
    assert not [name for name in run["out"]["new"] if name.startswith("codeb")], run["out"]["new"]
    doc = run["out"]["doc"]
    assert doc["issuer"].startswith(f"http://{HOST}")
    assert doc["jwks_uri"] == doc["issuer"] + "/jwks.json"
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post",
                                                                "private_key_jwt", "none"]
    assert doc["prompt_values_supported"] == ["consent", "login", "none", "select_account"]
    assert doc["ui_locales_supported"] == ["en", "de"]
    assert not loaded(run["modules"]), {name: DEFERRED[name] for name in loaded(run["modules"])}


def test_what_is_deferred_still_loads_where_it_is_used(tenants, data_root):
    """The other side: the JWKS parses the keys (joserfc, cryptography), an authorization
    request brings Authlib's OIDC grants, a passkey ceremony py_webauthn, and a German date
    Babel and zoneinfo, each in the same fresh process that started without them."""
    run = fresh("from app import app\n"
                "from codeb import i18n\n"
                "from codeb.oidc import keys\n"
                "client = app.test_client()\n"
                f"jwks = client.get('/jwks.json', headers={{'Host': {HOST!r}}})\n"
                "after_jwks = sorted(sys.modules)\n"
                f"authorize = client.get('/authorize?client_id=nobody', headers={{'Host': {HOST!r}}})\n"
                "after_authorize = sorted(sys.modules)\n"
                "from codeb.accounts.passkeys import Policy, registration_options\n"
                "class Someone:\n"
                "    doc = {'webauthn_user_id': 'AAAA', 'passkeys': []}\n"
                "    email, login, display_name = 'a@example.com', 'a', 'A'\n"
                "options = registration_options(account=Someone(), rp_id='localhost', rp_name='Demo',"
                " policy=Policy(), challenge=b'0' * 32)\n"
                "after_passkey = sorted(sys.modules)\n"
                "out = {'jwks': jwks.status_code, 'kids': len(jwks.get_json()['keys']),"
                " 'keys_parsed': len(keys._cache), 'authorize': authorize.status_code, 'rp': options['rp']['id'],"
                " 'day': i18n.format_day('de', 0, 'Europe/Berlin'),"
                " 'after': [after_jwks, after_authorize, after_passkey]}", data=str(data_root))
    out = run["out"]
    after_jwks, after_authorize, after_passkey = (loaded(modules) for modules in out["after"])
    assert (out["jwks"], out["kids"], out["keys_parsed"]) == (200, 1, 1)
    assert {"joserfc", "cryptography", "codeb.oidc.keys"} <= after_jwks
    assert "webauthn" not in after_jwks and "babel" not in after_jwks
    assert out["authorize"] == 400  # an unknown client: a page for the person, never a redirect
    assert {"authlib.oidc", "codeb.oidc.provider", "codeb.oidc.grants"} <= after_authorize
    assert out["rp"] == "localhost"
    assert "webauthn" in after_passkey and "babel" not in after_passkey
    assert out["day"] == "01.01.1970"
    assert {"webauthn", "babel", "zoneinfo"} <= loaded(run["modules"])
