"""`wallet trust add|list|remove|import`, `wallet verifier`: the EU Wallet's trust lists and verifier certificate.

The same changes as the admin's EU Wallet page (`codeb.web.wallet_admin`), in the audit log
as made on the command line (no admin named).
"""

from pathlib import Path

from .. import audit
from ..errors import BadInput
from ..store import layout
from ..tenants.wallet import TrustList, Verifier, install_certificate, verifier, verifier_csr
from .base import out, tenants


def shown(doc: dict) -> dict:
    """A trust-list entry as the commands print it: everything but the PEM."""
    return {k: v for k, v in doc.items() if k != "pem"}


def _set(args) -> str:
    return layout.WALLET_STATUS_SIGNERS if args.status_signer else layout.WALLET_ANCHORS


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise BadInput("error.wallet.file", path=path[:200], reason=type(error).__name__) from None


def _recorded(store, event: str, kind: str, doc: dict) -> None:
    audit.append(store, event, set=kind, id=doc["id"], subject=doc["subject"], name=doc["name"])


def trust_add(args) -> None:
    tenant = tenants(args).get(args.tenant)
    doc = TrustList(tenant.store, _set(args)).add(_read(args.pem), name=args.name)
    _recorded(tenant.store, "wallet.trust_added", _set(args), doc)
    out(shown(doc))


def trust_import(args) -> None:
    tenant = tenants(args).get(args.tenant)
    added = TrustList(tenant.store, _set(args)).import_trusted_list(_read(args.xml))
    for doc in added:
        _recorded(tenant.store, "wallet.trust_added", _set(args), doc)
    out([shown(doc) for doc in added])


def trust_list(args) -> None:
    tenant = tenants(args).get(args.tenant)
    kind = layout.WALLET_STATUS_SIGNERS if args.status_signers else layout.WALLET_ANCHORS
    out([shown(doc) for doc in TrustList(tenant.store, kind).all()])


def trust_remove(args) -> None:
    tenant = tenants(args).get(args.tenant)
    doc = TrustList(tenant.store, _set(args)).remove(args.id)
    _recorded(tenant.store, "wallet.trust_removed", _set(args), doc)
    out({"removed": True, **shown(doc)})


def described(found: Verifier) -> dict:
    leaf = found.leaf
    return {"client_id": "x509_hash:" + found.x509_hash, "x509_hash": found.x509_hash,
            "subject": leaf.subject.rfc4514_string(), "issuer": leaf.issuer.rfc4514_string(),
            "dns_names": found.dns_names, "self_signed": found.self_signed,
            "not_after": int(leaf.not_valid_after_utc.timestamp()), "chain_length": len(found.chain)}


def show_verifier(args) -> None:
    """The verifier as wallets see it; `--csr` its signing request; `--install` a registrar's chain."""
    tenant = tenants(args).get(args.tenant)
    host = args.host or tenant.hosts[0]
    if args.install:
        found = install_certificate(tenant.store, _read(args.install))
        subject = found.leaf.subject.rfc4514_string()
        audit.append(tenant.store, "wallet.certificate_installed", subject=subject, name=subject,
                     x509_hash=found.x509_hash)
        out(described(found))
    elif args.csr:
        print(verifier_csr(tenant.store, host=host, organisation=args.organisation or ""), end="")
    else:
        out(described(verifier(tenant.store, host=host)))


def register(sub) -> None:
    group = sub.add_parser("wallet", help="EU Digital Identity Wallet: trusted PID providers, the verifier "
                                          "certificate").add_subparsers(dest="action", required=True, metavar="ACTION")
    trust = group.add_parser("trust", help="the CA certificates the tenant trusts").add_subparsers(
        dest="trust_action", required=True, metavar="ACTION")
    a = trust.add_parser("add", help="trust one CA certificate (a PID provider's; --status-signer: a status list "
                                     "signer's); prints it as JSON")
    a.add_argument("tenant")
    a.add_argument("--pem", required=True, metavar="FILE", help="the CA certificate, PEM (or DER)")
    a.add_argument("--name", help="how lists show it (default: its common name)")
    _status_signer(a)
    a.set_defaults(func=trust_add)
    i = trust.add_parser("import", help="trust the PID provider and CA services an ETSI TS 119 612 trusted list "
                                        "grants; prints those added as JSON")
    i.add_argument("tenant")
    i.add_argument("--xml", required=True, metavar="FILE", help="the trusted list (XML; its signature is not checked)")
    _status_signer(i)
    i.set_defaults(func=trust_import)
    ls = trust.add_parser("list", help="the trusted certificates as JSON (PID providers, or --status-signers)")
    ls.add_argument("tenant")
    ls.add_argument("--status-signers", action="store_true", help="the status list signers instead")
    ls.set_defaults(func=trust_list)
    r = trust.add_parser("remove", help="stop trusting a certificate, by its id")
    r.add_argument("tenant")
    r.add_argument("id")
    _status_signer(r)
    r.set_defaults(func=trust_remove)
    v = group.add_parser("verifier", help="the verifier certificate wallets see (client id, subject, self-signed), "
                                          "its signing request (--csr) or a registrar's chain to install (--install)")
    v.add_argument("tenant")
    v.add_argument("--host", help="the host a self-signed certificate and the request name (default: the "
                                  "tenant's first)")
    action = v.add_mutually_exclusive_group()
    action.add_argument("--csr", action="store_true", help="print a PEM signing request for the registrar")
    action.add_argument("--install", metavar="FILE",
                        help="install the access certificate and its intermediates (PEM, any order)")
    v.add_argument("--organisation", metavar="ORG", help="with --csr: the organisation's name as registered")
    v.set_defaults(func=show_verifier)


def _status_signer(parser) -> None:
    parser.add_argument("--status-signer", action="store_true",
                        help="the status list signers' set, not the PID providers'")
