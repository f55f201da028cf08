"""`python -m codeb wallet …`: the EU Wallet's trust lists and verifier certificate from the
command line, JSON out, audited as made there."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from codeb import audit
from codeb.cli import main
from codeb.tenants.wallet import verifier
from tests.support.pid_ca import PidCA, certificate, der, pem
from tests.support.pid_ca import _name as subject_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ca():
    return PidCA()


@pytest.fixture
def run(tenants, data_root, capsys):
    """`python -m codeb --data <root> …` in this process: (exit code, stdout, stderr)."""
    def command(*args):
        code = main(["--data", str(data_root), *args])
        printed = capsys.readouterr()
        return code, printed.out, printed.err
    return command


def test_trust_add_list_and_remove_print_json(run, tenants, tmp_path, ca):
    path = tmp_path / "pid-ca.pem"
    path.write_bytes(ca.root_pem)
    code, printed, _ = run("wallet", "trust", "add", "demo", "--pem", str(path), "--name", "German PID")
    added = json.loads(printed)
    assert code == 0 and added["name"] == "German PID" and added["subject"] == ca.root.subject.rfc4514_string()
    assert "pem" not in added and len(added["fingerprint"]) == 64
    assert json.loads(run("wallet", "trust", "list", "demo")[1]) == [added]
    assert json.loads(run("wallet", "trust", "list", "demo", "--status-signers")[1]) == []
    code, printed, _ = run("wallet", "trust", "remove", "demo", added["id"])
    assert code == 0 and json.loads(printed) == {"removed": True, **added}
    assert json.loads(run("wallet", "trust", "list", "demo")[1]) == []
    store = tenants.get("demo").store
    lines = [e for e in audit.read_all(store) if e["event"].startswith("wallet.")]
    assert [(e["event"], e["set"], e["id"]) for e in lines] == [("wallet.trust_added", "anchors", added["id"]),
                                                                ("wallet.trust_removed", "anchors", added["id"])]
    assert "actor" not in lines[0] and audit.sentence(lines[0])[0] == "audit.s.wallet.trust_added_cli"


def test_a_status_list_signer_goes_to_its_own_set(run, tmp_path, ca):
    path = tmp_path / "status-ca.cer"
    path.write_bytes(der(ca.root))
    added = json.loads(run("wallet", "trust", "add", "demo", "--pem", str(path), "--status-signer")[1])
    assert added["name"] == "Test PID CA"
    assert [d["id"] for d in json.loads(run("wallet", "trust", "list", "demo", "--status-signers")[1])] == [added["id"]]
    assert json.loads(run("wallet", "trust", "list", "demo")[1]) == []
    assert run("wallet", "trust", "remove", "demo", added["id"])[0] == 2  # not in the PID providers' set
    assert run("wallet", "trust", "remove", "demo", added["id"], "--status-signer")[0] == 0


def test_refusals_exit_2_with_the_message(run, tmp_path, ca):
    path = tmp_path / "signer.pem"
    path.write_bytes(pem(x509.load_der_x509_certificate(ca.chain[0])))
    code, printed, error = run("wallet", "trust", "add", "demo", "--pem", str(path))
    assert code == 2 and printed == "" and error.startswith("error: This is not a CA certificate")
    code, _, error = run("wallet", "trust", "add", "demo", "--pem", str(tmp_path / "missing.pem"))
    assert code == 2 and "missing.pem cannot be read (FileNotFoundError)" in error
    code, _, error = run("wallet", "trust", "remove", "demo", "0123456789abcdef")
    assert code == 2 and error == "error: No certificate of this list has the ID 0123456789abcdef.\n"


def test_the_verifier_its_signing_request_and_an_installed_chain(run, tenants, tmp_path, ca):
    shown = json.loads(run("wallet", "verifier", "demo", "--host", "localhost")[1])
    found = verifier(tenants.get("demo").store, host="localhost")
    assert shown["client_id"] == f"x509_hash:{found.x509_hash}" and shown["self_signed"] is True
    assert shown["subject"] == "CN=localhost" and shown["dns_names"] == ["localhost"]
    assert shown["not_after"] == int(found.leaf.not_valid_after_utc.timestamp())
    code, printed, _ = run("wallet", "verifier", "demo", "--csr", "--organisation", "Demo GmbH")
    request = x509.load_pem_x509_csr(printed.encode())
    assert code == 0 and request.is_signature_valid and request.subject.rfc4514_string() == "O=Demo GmbH,CN=localhost"
    code, _, error = run("wallet", "verifier", "demo", "--csr")
    assert code == 2 and "organisation" in error
    issued = certificate(subject_name("localhost"), found.key, issuer=ca.name, issuer_key=ca.key, ca=False)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(ca.root_pem + pem(issued))
    installed = json.loads(run("wallet", "verifier", "demo", "--install", str(chain))[1])
    assert installed["self_signed"] is False and installed["chain_length"] == 1
    assert installed["issuer"] == ca.root.subject.rfc4514_string()
    assert verifier(tenants.get("demo").store, host="localhost").chain == (der(issued),)
    [line] = [e for e in audit.read_all(tenants.get("demo").store) if e["event"] == "wallet.certificate_installed"]
    assert line["x509_hash"] == installed["x509_hash"]
    wrong = tmp_path / "other.pem"
    wrong.write_bytes(pem(PidCA().root))
    code, _, error = run("wallet", "verifier", "demo", "--install", str(wrong))
    assert code == 2 and "not for this site's verifier key" in error


def test_a_trusted_list_is_imported(run, tmp_path, ca):
    body = base64.b64encode(der(ca.root)).decode()
    path = tmp_path / "tl.xml"
    path.write_text(
        '<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#"><TrustServiceProviderList>'
        "<TrustServiceProvider><TSPServices><TSPService><ServiceInformation>"
        "<ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</ServiceTypeIdentifier>"
        '<ServiceName><Name xml:lang="en">Qualified CA</Name></ServiceName><ServiceDigitalIdentity><DigitalId>'
        f"<X509Certificate>{body}</X509Certificate></DigitalId></ServiceDigitalIdentity>"
        "<ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted</ServiceStatus>"
        "</ServiceInformation></TSPService></TSPServices></TrustServiceProvider></TrustServiceProviderList>"
        "</TrustServiceStatusList>")
    code, printed, _ = run("wallet", "trust", "import", "demo", "--xml", str(path))
    assert code == 0 and [d["name"] for d in json.loads(printed)] == ["Qualified CA"]
    assert run("wallet", "trust", "import", "demo", "--xml", str(path))[1] == "[]\n"  # already trusted


@pytest.mark.parametrize("command, option", [
    (("wallet",), "verifier"), (("wallet", "trust"), "remove"), (("wallet", "trust", "add"), "--status-signer"),
    (("wallet", "trust", "list"), "--status-signers"), (("wallet", "trust", "remove"), "--status-signer"),
    (("wallet", "trust", "import"), "--xml"), (("wallet", "verifier"), "--organisation"),
])
def test_every_command_has_help(capsys, command, option):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and option in capsys.readouterr().out


def test_the_real_command_line_lists_as_json(tenants, data_root):
    result = subprocess.run([sys.executable, "-m", "codeb", "--data", str(data_root), "wallet", "trust", "list",
                             "acme"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []
