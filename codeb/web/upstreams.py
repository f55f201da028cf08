"""The admin's page of company identity providers (corporate SSO): `/admin/upstreams`.

Listed with what to give each provider's admin (the redirect URI), added from a preset
(every field validated by `codeb.upstreams.Upstreams.add` before anything is written),
tested ("test connection": discovery fetched now, what it found shown), switched off and
on, deleted. Adding one switches company sign-in on. Every change is in the audit log.
"""

from flask import Blueprint, g, request

from .. import signin
from ..errors import BadInput, CodebError, concerning
from ..upstreams import PRESETS, Upstreams, redirect_uri
from ..upstreams.checks import UpstreamError
from . import admin

bp = Blueprint("upstreams", __name__)
bp.before_request(admin.require_admin)

FIELDS = {"error.upstream.name": "name", "error.upstream.issuer": "issuer", "error.upstream.client_id": "client_id",
          "error.upstream.client_secret": "client_secret", "error.upstream.domain": "domains",
          "error.upstream.domain_taken": "domains", "error.upstream.authoritative_needs_domain": "domains",
          "error.upstream.tenant_id": "tenant_ids", "error.upstream.tenant_ids_needed": "tenant_ids",
          "error.upstream.preset": "preset", "error.upstream.scopes": "scopes"}


def _words(name: str) -> list[str]:
    return (request.form.get(name) or "").replace(",", " ").split()


def page(status: int = 200, **values):
    return admin.render("upstreams.html", status, upstreams=Upstreams(g.tenant.store).list(), presets=PRESETS,
                        redirect_uri=redirect_uri(g.issuer), **values)


def _upstream(uid) -> dict:
    return Upstreams(g.tenant.store).require(uid)  # NotFound: the 404 page


@bp.get("/admin/upstreams")
def upstreams():
    return page()


@bp.post("/admin/upstreams")
def add():
    form = request.form
    try:
        with concerning(FIELDS):
            upstream = Upstreams(g.tenant.store).add(
                preset=form.get("preset", "oidc"), name=form.get("name", ""), issuer=form.get("issuer", ""),
                client_id=form.get("client_id", ""), client_secret=form.get("client_secret") or None,
                scopes=_words("scopes") or None, domains=_words("domains"),
                authoritative=form.get("authoritative") == "1", tenant_ids=_words("tenant_ids"),
                hosted_domain=form.get("hosted_domain") or None, required_for=form.getlist("required_for"))
    except CodebError as error:
        values = {k: v for k, v in form.items() if k not in ("csrf", "client_secret")}
        return page(error.status, error=error, form=values)
    signin.switch_on(g.tenant.store, "oidc")
    admin.record("upstream.created", upstream=upstream["id"], name=upstream["name"], issuer=upstream["issuer"])
    return admin.back("upstreams.upstreams", "upstream_created")


@bp.post("/admin/upstreams/<uid>/test")
def test(uid):
    """Test connection: the provider's discovery and keys fetched now, and what they say."""
    upstream = _upstream(uid)
    from ..upstreams import oidc as protocol  # noqa: PLC0415 -- its libraries at first use, as the sign-in

    try:
        metadata = protocol.discover(upstream["issuer"], fresh=True)
        keys = protocol.key_set(metadata)
    except UpstreamError as error:
        return page(tested={"id": uid, "ok": False, "message_id": error.message_id, "reason": error.reason})
    found = {name: metadata.get(name) for name in ("issuer", "authorization_endpoint", "token_endpoint",
                                                  "userinfo_endpoint", "jwks_uri")}
    return page(tested={"id": uid, "ok": True, "found": found, "keys": len(keys.keys)})


@bp.post("/admin/upstreams/<uid>/enable")
def enable(uid):
    upstream = Upstreams(g.tenant.store).set_enabled(_upstream(uid)["id"], True)
    admin.record("upstream.enabled", upstream=uid, name=upstream["name"])
    return admin.back("upstreams.upstreams", "upstream_enabled")


@bp.post("/admin/upstreams/<uid>/disable")
def disable(uid):
    upstream = Upstreams(g.tenant.store).set_enabled(_upstream(uid)["id"], False)
    admin.record("upstream.disabled", upstream=uid, name=upstream["name"])
    return admin.back("upstreams.upstreams", "upstream_disabled")


@bp.post("/admin/upstreams/<uid>/delete")
def delete(uid):
    upstream = _upstream(uid)
    if not Upstreams(g.tenant.store).remove(upstream["id"]):
        raise BadInput("error.upstream.unknown")
    admin.record("upstream.deleted", upstream=uid, name=upstream["name"])
    return admin.back("upstreams.upstreams", "upstream_deleted")
