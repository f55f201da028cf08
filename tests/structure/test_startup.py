"""What a fresh process loads: `import app` and its first answer leave the heavy modules for later (issue 10).

IIS recycles worker processes often, so every one of them pays the start-up.
`python -X importtime -c "import app"` showed what was heavy and not needed
by a first request: py_webauthn with pyOpenSSL, pyasn1 and cbor2 (about a
quarter of a second), Babel, and parsing the tenant's RSA keys for the
discovery document. Each now loads where it is first used; these tests run
a fresh interpreter, as IIS does, and look at `sys.modules`. No timing here:
`make bench` measures the cold start.
"""

import json
import os
import subprocess
import sys

from tests.support.codebase import ROOT
from tests.support.web import HOST

# Top-level packages a fresh `import app` must not have loaded, and where each one loads.
DEFERRED = {
    "webauthn": "py_webauthn, at the first passkey ceremony (codeb.accounts.passkeys, codeb.signin.passkey)",
    "OpenSSL": "pyOpenSSL, which py_webauthn's attestation checks import",
    "pyasn1": "ASN.1 for py_webauthn's attestation formats",
    "pyasn1_modules": "ASN.1 for py_webauthn's attestation formats",
    "cbor2": "CBOR for py_webauthn's attestation objects",
    "babel": "Babel, at the first plural, number, size or date (codeb.i18n)",
}


def fresh(statements: str, data: str | None = None) -> dict:
    """Run `statements` in a fresh interpreter from the repository root; what it loaded, and `out`."""
    probe = (f"import json, sys\nout = None\n{statements}\n"
             "print(json.dumps({'modules': sorted(sys.modules), 'out': out}))")
    env = {**os.environ, "CODEB_DATA": data or os.devnull}
    env.pop("CODEB_TENANT", None)
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.splitlines()[-1])


def top_level(modules) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_import_app_loads_none_of_the_heavy_modules():
    loaded = top_level(fresh("import app")["modules"])
    assert "flask" in loaded  # the probe really imported the WSGI application
    assert not set(DEFERRED) & loaded, {name: DEFERRED[name] for name in set(DEFERRED) & loaded}


def test_the_first_discovery_document_loads_neither_them_nor_the_keys(tenants, data_root):
    """The cold start of `make bench` (bench/run.py): a discovery document needs no passkey
    code, no Babel, and no signing key (Provider.keys is read at the first step that signs)."""
    run = fresh("from app import app\n"
                "from codeb.oidc import keys\n"
                f"reply = app.test_client().get('/.well-known/openid-configuration', headers={{'Host': {HOST!r}}})\n"
                "out = {'status': reply.status_code, 'issuer': reply.get_json()['issuer'],"
                " 'keys_parsed': len(keys._cache)}", data=str(data_root))
    assert run["out"]["status"] == 200
    assert run["out"]["issuer"].startswith(f"http://{HOST}")
    assert run["out"]["keys_parsed"] == 0
    assert not set(DEFERRED) & top_level(run["modules"])


def test_what_is_deferred_still_loads_where_it_is_used(tenants, data_root):
    """The other side: the JWKS parses the keys, a passkey ceremony brings py_webauthn, and a
    German date brings Babel, each in the same fresh process that started without them."""
    run = fresh("from app import app\n"
                "from codeb import i18n\n"
                "from codeb.oidc import keys\n"
                "client = app.test_client()\n"
                f"jwks = client.get('/jwks.json', headers={{'Host': {HOST!r}}})\n"
                "before = 'webauthn' in sys.modules, 'babel' in sys.modules\n"
                "from codeb.accounts.passkeys import Policy, registration_options\n"
                "class Someone:\n"
                "    doc = {'webauthn_user_id': 'AAAA', 'passkeys': []}\n"
                "    email, login, display_name = 'a@example.com', 'a', 'A'\n"
                "options = registration_options(account=Someone(), rp_id='localhost', rp_name='Demo',"
                " policy=Policy(), challenge=b'0' * 32)\n"
                "out = {'jwks': jwks.status_code, 'kids': len(jwks.get_json()['keys']),"
                " 'keys_parsed': len(keys._cache), 'before': before, 'rp': options['rp']['id'],"
                " 'day': i18n.format_day('de', 0, 'Europe/Berlin')}", data=str(data_root))
    out = run["out"]
    assert (out["jwks"], out["kids"], out["keys_parsed"]) == (200, 1, 1)
    assert out["before"] == [False, False]
    assert out["rp"] == "localhost"
    assert out["day"] == "01.01.1970"
    assert {"webauthn", "babel"} <= top_level(run["modules"])
