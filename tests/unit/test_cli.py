"""The operator's commands, run as a person would: `python -m codeb …`."""

import json
import os
import subprocess
import sys

import pytest
import requests

from codeb.accounts import Accounts
from codeb.tenants import Tenants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def codeb(data_root, *args, check=True):
    env = {**os.environ, "CODEB_DATA": str(data_root)}
    result = subprocess.run([sys.executable, "-m", "codeb", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_tenant_user_client_and_keys(tmp_path):
    created = json.loads(codeb(tmp_path, "tenant", "create", "acme", "--host", "login.acme.example",
                               "--host", "phone.acme.example", "--admin-email", "Boss@Acme.example",
                               "--signup", "invite").stdout)
    assert created["hosts"] == ["login.acme.example", "phone.acme.example"]
    assert created["admin"] == "boss"
    again = codeb(tmp_path, "tenant", "create", "acme", "--host", "x.example", check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert json.loads(codeb(tmp_path, "tenant", "create", "acme", "--host", "x.example",
                            "--exist-ok").stdout)["created"] is False
    assert json.loads(codeb(tmp_path, "tenant", "list").stdout)[0]["tenant"] == "acme"

    user = json.loads(codeb(tmp_path, "user", "add", "acme", "carol", "--email", "carol@acme.example",
                            "--role", "admin").stdout)
    assert user["login"] == "carol" and user["roles"] == ["admin", "user"]
    users = json.loads(codeb(tmp_path, "user", "list", "acme").stdout)
    assert [u["login"] for u in users] == ["boss", "carol"]
    directory = tmp_path / "acme" / "index" / "directory"
    for shard in directory.glob("*.json"):  # a lost index: derived data, made again from users/
        shard.unlink()
    assert json.loads(codeb(tmp_path, "user", "reindex", "acme").stdout) == {"accounts": 2}
    acme = Tenants(str(tmp_path)).get("acme")
    assert Accounts(acme.store, acme.hosts[0]).directory.search("carol")[1][0]["email"] == "carol@acme.example"

    client = json.loads(codeb(tmp_path, "client", "add", "acme", "--name", "Portal",
                              "--redirect-uri", "https://portal.acme.example/cb").stdout)
    assert client["client_secret"] and not client["public"]
    stored = open(tmp_path / "acme" / "clients" / f"{client['client_id']}.json").read()
    assert client["client_secret"] not in stored  # only its hash is on disk
    public = json.loads(codeb(tmp_path, "client", "add", "acme", "--name", "SPA", "--public",
                              "--redirect-uri", "https://spa.acme.example/").stdout)
    assert "client_secret" not in public and public["public"]

    link = codeb(tmp_path, "superuser", "link", "acme")
    assert link.stdout.startswith("https://login.acme.example/breakglass/") and "five" not in link.stdout
    assert "valid for 5 minutes, once" in link.stderr

    rotated = json.loads(codeb(tmp_path, "keys", "rotate", "acme").stdout)
    assert rotated["current_kid"] in rotated["published_kids"] and len(rotated["published_kids"]) == 2


@pytest.mark.parametrize("args, message", [
    (["tenant", "create", "../evil", "--host", "x.example"], "not a valid tenant name"),
    (["tenant", "create", "ok", "--host", "not a host"], "not a valid host name"),
    (["tenant", "create", "ok", "--host", "ok.example", "--signup", "domains"], "at least one email domain"),
    (["user", "add", "missing", "bob", "--email", "b@x.example"], "No CodeB site"),
    (["user", "add", "t1", "../bob", "--email", "b@x.example"], "not a valid login"),
    (["user", "add", "t1", "bob", "--email", "nope"], "valid email"),
    (["client", "add", "t1", "--name", "X", "--redirect-uri", "http://evil.example/cb"], "must use https"),
    (["client", "add", "t1", "--name", "X", "--redirect-uri", "javascript:alert(1)"], "not a valid redirect URI"),
    (["keys", "rotate", "nobody"], "No CodeB site"),
])
def test_bad_input_is_a_clear_message_and_a_non_zero_exit(tmp_path, args, message):
    codeb(tmp_path, "tenant", "create", "t1", "--host", "t1.example")
    result = codeb(tmp_path, *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [[], ["tenant"], ["tenant", "create"], ["user", "add"], ["client", "add"],
                                     ["keys", "rotate"], ["superuser", "link"], ["serve"]])
def test_every_command_has_help(tmp_path, command):
    result = codeb(tmp_path, *command, "--help")
    assert "usage:" in result.stdout


def test_user_add_reuses_a_deleted_login_only_when_told(tmp_path):
    """Finding 4: `user add` with a deleted account's login is refused until `--reuse-login` confirms it."""
    codeb(tmp_path, "tenant", "create", "acme", "--host", "login.acme.example", "--admin-email", "boss@acme.example")
    first = json.loads(codeb(tmp_path, "user", "add", "acme", "erin", "--email", "erin@acme.example").stdout)
    tenant = Tenants(str(tmp_path)).get("acme")
    Accounts(tenant.store, tenant.hosts[0]).delete("erin")
    refused = codeb(tmp_path, "user", "add", "acme", "erin", "--email", "erin@elsewhere.example", check=False)
    assert refused.returncode == 2 and "was deleted" in refused.stderr and "--reuse-login" in refused.stderr
    again = json.loads(codeb(tmp_path, "user", "add", "acme", "erin", "--email", "erin@elsewhere.example",
                             "--reuse-login").stdout)
    assert again["login"] == "erin" and again["sub"] != first["sub"]


def test_the_cli_refuses_encoded_words_and_non_ascii_addresses(tmp_path):
    """Finding 12: the operator's commands use the same email validator as the forms."""
    codeb(tmp_path, "tenant", "create", "t1", "--host", "t1.example")
    for args, message in (
        (["user", "add", "t1", "eve", "--email", "=?utf-8?q?victim=40evil.example=3E=2C?=@x.example"],
         "valid email"),
        (["user", "add", "t1", "jorg", "--email", "jörg@x.example"], "before the @"),
        (["tenant", "create", "t2", "--host", "t2.example", "--admin-email", "=?utf-8?q?a=0D=0Ab?=@x.example"],
         "valid email"),
    ):
        result = codeb(tmp_path, *args, check=False)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert [u["login"] for u in json.loads(codeb(tmp_path, "user", "list", "t1").stdout)] == []
    assert json.loads(codeb(tmp_path, "tenant", "list").stdout) == [{"tenant": "t1", "hosts": ["t1.example"]}]


def test_superuser_link_for_the_local_demo_tenant_opens(data_root, app, served):
    """Finding 27: `superuser link demo` printed `https://localhost/…` for the local demo tenant
    (`make run`: `tenant create demo --host localhost`, `serve --port 8000`). It prints the
    configured local origin, `http://localhost:8000` by default or `--port`, and the link opens."""
    default = codeb(data_root, "superuser", "link", "demo")
    assert default.stdout.startswith("http://localhost:8000/breakglass/"), default.stdout
    port = int(served.rsplit(":", 1)[1])
    link = codeb(data_root, "superuser", "link", "demo", "--port", str(port)).stdout.strip()
    assert link.startswith(f"http://localhost:{port}/breakglass/")
    opened = requests.get(link.replace("localhost", "127.0.0.1"), headers={"Host": f"localhost:{port}"}, timeout=10)
    assert opened.status_code == 200 and 'action="/breakglass"' in opened.text


def test_client_set_and_show(tmp_path):
    codeb(tmp_path, "tenant", "create", "acme", "--host", "login.acme.example")
    client = json.loads(codeb(tmp_path, "client", "add", "acme", "--name", "Billing",
                              "--redirect-uri", "https://billing.acme.example/cb").stdout)
    key = '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}'
    (tmp_path / "keys.json").write_text(key)
    shown = json.loads(codeb(tmp_path, "client", "set", "acme", client["client_id"], "--jwks", f"@{tmp_path}/keys.json",
                             "--token-endpoint-auth-method", "private_key_jwt", "--grant-type", "authorization_code",
                             "--grant-type", "client_credentials", "--api-scope", "invoices.read",
                             "--audience", "https://api.acme.example", "--require-par", "on",
                             "--backchannel-logout-uri", "https://billing.acme.example/bc",
                             "--access-token-lifetime", "900").stdout)
    assert shown["token_endpoint_auth_method"] == "private_key_jwt" and shown["require_par"] is True
    assert shown["grant_types"] == ["authorization_code", "client_credentials"]
    assert shown["api_scopes"] == ["invoices.read"] and shown["access_token_lifetime"] == 900
    assert "secret_sha256" not in shown and client["client_secret"] not in json.dumps(shown)
    again = json.loads(codeb(tmp_path, "client", "show", "acme", client["client_id"]).stdout)
    assert again == shown
    refused = codeb(tmp_path, "client", "set", "acme", client["client_id"], "--access-token-lifetime", "7200",
                    check=False)
    assert refused.returncode != 0 and "between 60 and 3600" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(codeb(tmp_path, "client", "show", "acme", client["client_id"]).stdout) == shown
    nothing = codeb(tmp_path, "client", "set", "acme", client["client_id"], check=False)
    assert nothing.returncode != 0 and "at least one setting" in nothing.stderr
