"""The admin's EU Wallet page: `/admin/wallet`.

How the sign-in asks (`codeb.signin.wallet.settings_part`), then three parts, each a form
or two over `codeb.tenants.wallet`: the PID providers whose
credentials the tenant accepts and whoever may sign a Token Status List (two trust lists:
a CA certificate added by file or pasted, removed behind a confirm step), and the verifier
certificate wallets know the site by (its `x509_hash:` client id, a warning while it is
still the self-signed test certificate, the signing request to download for the registrar,
the access certificate chain to install). A refusal is shown beside its field; every change
is in the audit log.
"""

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, request

from .. import signin
from ..errors import BadInput, CodebError, NotFound
from ..store import layout
from ..tenants import settings as tenant_settings
from . import admin, context

bp = Blueprint("wallet_admin", __name__)
bp.before_request(admin.require_admin)

# The trust lists by their URL segment (the layout's folder name), with their messages' part.
LABELS = {layout.WALLET_ANCHORS: "anchors", layout.WALLET_STATUS_SIGNERS: "status_signers"}
NOTICES = ("trust_added", "trust_removed", "certificate_installed", "settings_saved")
MAX_UPLOAD = 64 * 1024  # codeb.tenants.wallet.MAX_PEM: a larger file is refused by its message


def _wallet():
    """`codeb.tenants.wallet`, with cryptography and the wallet's verifiers, at the page's first use."""
    from ..tenants import wallet  # noqa: PLC0415 -- not at start-up (tests/structure/test_startup.py)

    return wallet


def _method() -> Any:
    """The wallet sign-in method's class (its settings: `codeb.signin.wallet`), by the registry."""
    return signin.REGISTRY["wallet"]


def _host() -> str:
    """The tenant host this page was asked on: the verifier's self-signed certificate names it."""
    return urlsplit(g.issuer).hostname or g.tenant.hosts[0]


def page(status: int = 200, error: CodebError | None = None, failed: str | None = None, form=None):
    """The page; `failed`: the form `error` is about (a set's kind, "csr" or "chain"), shown open with it."""
    wallet = _wallet()
    sets = [{"kind": kind, "label": LABELS[kind], "entries": [_entry(e) for e in wallet.TrustList(
        g.tenant.store, kind).all()]} for kind in wallet.SETS]
    notice = request.args.get("m")
    tenant = context.tenants().get(g.tenant.name)
    shown = form if failed == "settings" and form is not None else _method().settings_of(tenant)
    return admin.render("wallet.html", status, sets=sets, verifier=_verifier(wallet.verifier(
        g.tenant.store, host=_host())), error=error, failed=failed, form=form or {},
        wallet_notice=notice if notice in NOTICES else None, wallet_settings=shown,
        wallet_enabled="wallet" in signin.enabled(tenant),
        optional_claims=_method().OPTIONAL_CLAIMS, schemes=_method().SCHEMES,
        prefixes=_method().PREFIXES)


def _entry(doc: dict) -> dict:
    """A trust-list entry as the table shows it: its fingerprint's first eight bytes."""
    short = ":".join(doc["fingerprint"][i:i + 2] for i in range(0, 16, 2)).upper()
    return {**doc, "short_fingerprint": short + "…"}


def _verifier(found) -> dict:
    leaf = found.leaf
    return {"client_id": "x509_hash:" + found.x509_hash, "subject": leaf.subject.rfc4514_string(),
            "issuer": leaf.issuer.rfc4514_string(), "not_after": int(leaf.not_valid_after_utc.timestamp()),
            "self_signed": found.self_signed}


def _upload(file_field: str, text_field: str, *, field: str) -> bytes | str:
    """The file chosen, else the text pasted (a certificate, a chain)."""
    uploaded = request.files.get(file_field)
    if uploaded is not None and uploaded.filename:
        data = uploaded.stream.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise BadInput("error.wallet.too_large", field=field, kb=MAX_UPLOAD // 1024)
        return data
    return request.form.get(text_field, "")


def _trust_list(kind: str):
    if kind not in LABELS:
        raise NotFound()
    return _wallet().TrustList(g.tenant.store, kind)


@bp.get("/admin/wallet")
def wallet():
    return page()


@bp.post("/admin/wallet/trust/<kind>")
def add(kind):
    trust = _trust_list(kind)
    name = request.form.get("name", "")
    try:
        doc = trust.add(_upload("pem_file", "pem", field="pem"), name=name.strip() or None)
    except CodebError as error:
        return page(error.status, error=error, failed=kind, form={"name": name})
    admin.record("wallet.trust_added", set=kind, id=doc["id"], subject=doc["subject"], name=doc["name"])
    return admin.back("wallet_admin.wallet", "trust_added")


@bp.post("/admin/wallet/trust/<kind>/<cid>/remove")
def remove(kind, cid):
    doc = _trust_list(kind).remove(cid)  # NotFound: the 404 page
    admin.record("wallet.trust_removed", set=kind, id=doc["id"], subject=doc["subject"], name=doc["name"])
    return admin.back("wallet_admin.wallet", "trust_removed")


@bp.post("/admin/wallet/verifier/csr")
def csr():
    """The signing request for the verifier key, as a file to send the registrar."""
    organisation = request.form.get("organisation", "")
    host = _host()
    try:
        text = _wallet().verifier_csr(g.tenant.store, host=host, organisation=organisation)
    except CodebError as error:
        return page(error.status, error=error, failed="csr", form={"organisation": organisation})
    return Response(text, mimetype="application/pkcs10",
                    headers={"Content-Disposition": f'attachment; filename="{host}-wallet-verifier.csr"'})


@bp.post("/admin/wallet/verifier/certificate")
def install():
    """The access certificate the registrar issued, with its intermediates: wallets get it from now on."""
    try:
        found = _wallet().install_certificate(g.tenant.store, _upload("chain_file", "chain", field="chain"))
    except CodebError as error:
        return page(error.status, error=error, failed="chain")
    subject = found.leaf.subject.rfc4514_string()
    admin.record("wallet.certificate_installed", subject=subject, name=subject, x509_hash=found.x509_hash)
    return admin.back("wallet_admin.wallet", "certificate_installed")


@bp.post("/admin/wallet/settings")
def save_settings():
    """How the sign-in asks (codeb.signin.wallet.settings_part); switched on on the settings page."""
    method = _method()
    try:
        parts = method.settings_part(request.form)
    except CodebError as error:
        typed = {**method.settings_of(g.tenant), "claims": request.form.getlist("claims"),
                 "vct_values": request.form.get("vct_values", "").split(),
                 "client_id_prefix": request.form.get("client_id_prefix"), "scheme": request.form.get("scheme"),
                 **{name: request.form.get(name) == "1" for name in ("cross_device", "encrypted", "status_fail_open")}}
        return page(error.status, error=error, failed="settings", form=typed)
    tenant_settings.save(g.tenant, parts)
    admin.record("settings.changed", wallet=parts["wallet"])
    return admin.back("wallet_admin.wallet", "settings_saved")
