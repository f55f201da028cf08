"""The admin's page of company identity providers (corporate SSO): `/admin/upstreams`.

Listed with what to give each provider's admin (OIDC: the redirect URI; SAML: the ACS
URL and, per upstream, the tenant's SP entity id and signed metadata), added from a
preset or, for SAML, from the IdP's metadata (a URL, a file or pasted; every field
validated by `codeb.upstreams.Upstreams` before anything is written), tested ("test
connection": discovery or metadata fetched now, what it found shown), the SAML
metadata refreshed from its URL, edited (the same checks as adding; a secret is replaced
only when a new one is typed), switched off and on, deleted. Adding one switches its
protocol's sign-in on. Every change is in the audit log.

`keys` is public, not the admin's: `GET /signin/oidc/jwks`, the tenant's key of its
`private_key_jwt` client assertions (`codeb.upstreams.client_key`), for an upstream's
admin to register.
"""

from flask import Blueprint, Response, g, request, url_for

from .. import signin
from ..accounts.profile import ROLES
from ..errors import BadInput, CodebError, concerning
from ..upstreams import (
    DEFAULT_CLAIMS,
    PRESETS,
    TOKEN_AUTH,
    Upstreams,
    acs_url,
    client_jwks_uri,
    redirect_uri,
    role_lines,
    signed_out_url,
    sp_entity_id,
    token_auth,
)
from ..upstreams.checks import UpstreamError
from ..upstreams.connection import connection_test
from . import admin, documents

bp = Blueprint("upstreams", __name__)
bp.before_request(admin.require_admin)

FIELDS = {"error.upstream.name": "name", "error.upstream.issuer": "issuer", "error.upstream.client_id": "client_id",
          "error.upstream.client_secret": "client_secret", "error.upstream.domain": "domains",
          "error.upstream.domain_taken": "domains", "error.upstream.authoritative_needs_domain": "domains",
          "error.upstream.tenant_id": "tenant_ids", "error.upstream.tenant_ids_needed": "tenant_ids",
          "error.upstream.preset": "preset", "error.upstream.scopes": "scopes",
          "error.upstream.saml_metadata": "metadata", "error.upstream.saml_metadata_needed": "metadata",
          "error.upstream.claim": "claims", "error.upstream.logo": "logo_uri",
          "error.upstream.token_auth": "token_auth", "error.upstream.client_secret_needed": "client_secret",
          "error.upstream.client_secret_unused": "client_secret", "error.upstream.role_line": "roles",
          "error.upstream.group": "roles"}
MAX_METADATA_FILE = 512 * 1024


def _words(name: str) -> list[str]:
    return (request.form.get(name) or "").replace(",", " ").split()


def page(status: int = 200, **values):
    listed = [{**u, "sp_entity_id": sp_entity_id(g.issuer, u["id"]),
               "sp_metadata": url_for("signin.published", method_slug="saml", uid=u["id"], _external=False)}
              if u.get("kind") == "saml" else u for u in Upstreams(g.tenant.store).list()]
    return admin.render("upstreams.html", status, upstreams=listed, presets=PRESETS,
                        redirect_uri=redirect_uri(g.issuer), acs_url=acs_url(g.issuer),
                        post_logout_uri=signed_out_url(g.issuer, "oidc"), **values,
                        jwks_uri=client_jwks_uri(g.issuer), token_auths=TOKEN_AUTH, roles=ROLES,
                        claim_keys=tuple(DEFAULT_CLAIMS), form_values=_form_values)


def _form_values(upstream: dict) -> dict:
    """What an upstream's edit panel shows in its fields, as the form would post them (never its secret)."""
    return {"id": upstream["id"], "name": upstream["name"], "logo_uri": upstream.get("logo_uri") or "",
            "domains": " ".join(upstream.get("domains", ())), "required_for": list(upstream.get("required_for", ())),
            "authoritative": "1" if upstream.get("authoritative") else "",
            "others_allowed": "1" if upstream.get("others_allowed") else "",
            "idp_initiated": "1" if upstream.get("idp_initiated") else "",
            "roles": "\n".join(f"{group} = {role}" for group, role in upstream.get("roles", {}).items()),
            **{f"claim_{key}": value for key, value in upstream.get("claims", {}).items()},
            "issuer": upstream.get("issuer", ""), "client_id": upstream.get("client_id", ""),
            "token_auth": token_auth(upstream), "scopes": " ".join(upstream.get("scopes", ())),
            "tenant_ids": " ".join(upstream.get("tenant_ids", ())),
            "hosted_domain": upstream.get("hosted_domain") or ""}


def _upstream(uid) -> dict:
    return Upstreams(g.tenant.store).require(uid)  # NotFound: the 404 page


def _shared_fields() -> dict:
    """The fields of every kind of upstream, as the add and edit forms post them."""
    form = request.form
    return {"name": form.get("name", ""), "logo_uri": form.get("logo_uri") or None, "domains": _words("domains"),
            "authoritative": form.get("authoritative") == "1", "others_allowed": form.get("others_allowed") == "1",
            "required_for": form.getlist("required_for")}


def _typed_claims() -> dict:
    """The claim (SAML: attribute) names typed; an empty field keeps the preset's."""
    typed = {key: request.form.get(f"claim_{key}", "").strip() for key in DEFAULT_CLAIMS}
    return {key: name for key, name in typed.items() if name}


@bp.get("/admin/upstreams")
def upstreams():
    return page()


@bp.post("/admin/upstreams")
def add():
    form = request.form
    try:
        with concerning(FIELDS):
            upstream = Upstreams(g.tenant.store).add(
                **_shared_fields(), preset=form.get("preset", "oidc"), issuer=form.get("issuer", ""),
                client_id=form.get("client_id", ""), client_secret=form.get("client_secret") or None,
                scopes=_words("scopes") or None, tenant_ids=_words("tenant_ids"),
                hosted_domain=form.get("hosted_domain") or None, token_auth=form.get("token_auth") or None)
    except CodebError as error:
        values = {k: v for k, v in form.items() if k not in ("csrf", "client_secret")}
        return page(error.status, error=error, form=values)
    return _added(upstream)


@bp.post("/admin/upstreams/saml")
def add_saml():
    """A SAML IdP from its metadata: a URL (fetched now, and again by "Refresh"), a file, or pasted."""
    form = request.form
    try:
        with concerning(FIELDS):
            upstream = Upstreams(g.tenant.store).add_saml(
                **_shared_fields(), metadata_url=form.get("metadata_url") or None, metadata=_metadata_given(),
                entity_id=form.get("entity_id") or None, idp_initiated=form.get("idp_initiated") == "1",
                claims=_typed_claims() or None)
    except CodebError as error:
        values = {k: v for k, v in form.items() if k not in ("csrf", "metadata")}
        return page(error.status, error=error, saml_form=values)
    return _added(upstream)


def _added(upstream: dict):
    """After either add form: its protocol's sign-in switched on, the audit line, back to the page."""
    signin.switch_on(g.tenant.store, upstream["kind"])
    admin.record("upstream.created", upstream=upstream["id"], name=upstream["name"],
                 issuer=upstream.get("issuer") or upstream.get("idp_entity_id"))
    return admin.back("upstreams.upstreams", "upstream_created")


def _metadata_given() -> str | None:
    """The metadata of the file chosen, else of the text field; BadInput if the file is not UTF-8 XML."""
    uploaded = request.files.get("metadata_file")
    if uploaded is not None and uploaded.filename:
        data = uploaded.stream.read(MAX_METADATA_FILE + 1)
        try:
            if len(data) > MAX_METADATA_FILE:
                raise UnicodeDecodeError("utf-8", b"", 0, 1, "too large")
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput("error.upstream.saml_metadata", reason="not a UTF-8 file of at most 512 KiB") from None
    return request.form.get("metadata") or None


@bp.post("/admin/upstreams/<uid>")
def edit(uid):
    """Save one upstream's edit panel: every field checked, then all of it written, or nothing
    and the panel again with the wrong field named (the secret typed is never shown back)."""
    upstream = _upstream(uid)
    form = request.form
    changes = {**_shared_fields(), "claims": _typed_claims()}
    if upstream.get("kind") == "saml":
        changes["idp_initiated"] = form.get("idp_initiated") == "1"
    if upstream.get("kind", "oidc") == "oidc":
        changes |= {"issuer": form.get("issuer", ""), "client_id": form.get("client_id", ""),
                    "client_secret": form.get("client_secret") or None,
                    "remove_client_secret": form.get("remove_client_secret") == "1",
                    "token_auth": form.get("token_auth") or None, "scopes": _words("scopes") or None,
                    "tenant_ids": _words("tenant_ids"), "hosted_domain": form.get("hosted_domain") or None}
    try:
        with concerning(FIELDS):
            changes["roles"] = role_lines(form.get("roles", ""))
            updated = Upstreams(g.tenant.store).update(upstream["id"], **changes)
    except CodebError as error:
        typed = {k: v for k, v in form.items() if k not in ("csrf", "client_secret")}
        return page(error.status, error=error,
                    edit_form={**typed, "id": upstream["id"], "required_for": form.getlist("required_for")})
    changed = sorted(k for k in set(upstream) | set(updated) if k != "schema" and upstream.get(k) != updated.get(k))
    if changed:
        admin.record("upstream.updated", upstream=uid, name=updated["name"], changed=changed)
    return admin.back("upstreams.upstreams", "upstream_updated")


@bp.post("/admin/upstreams/<uid>/refresh")
def refresh(uid):
    """Fetch a SAML IdP's metadata again from its URL (new certificates, a moved sign-on URL)."""
    upstream = _upstream(uid)
    try:
        refreshed = Upstreams(g.tenant.store).refresh_metadata(upstream["id"])
    except UpstreamError as error:
        return page(tested={"id": uid, "ok": False, "message_id": error.message_id, "reason": error.reason})
    admin.record("upstream.refreshed", upstream=uid, name=upstream["name"])
    return page(tested={"id": uid, "ok": True, "keys": len(refreshed["certs"]),
                        "found": {"entityID": refreshed["idp_entity_id"], "SingleSignOnService": refreshed["sso_url"]}})


@bp.post("/admin/upstreams/<uid>/test")
def test(uid):
    """Test connection: the provider's discovery and keys (SAML: its metadata) fetched now, and what they say."""
    return page(tested={"id": uid, **connection_test(_upstream(uid))})


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


# -- public: what an upstream's admin registers ------------------------------------------

keys = Blueprint("upstream_keys", __name__)


@keys.get("/signin/oidc/jwks")
def client_jwks():
    """The public key of the tenant's private_key_jwt client assertions (made at first use), as a
    JWKS the upstream fetches from its client registration's `jwks_uri`: cacheable, revalidated
    by its entity tag."""
    from ..upstreams import client_key  # noqa: PLC0415 -- joserfc at first use, not at start-up

    body, etag = client_key.load(g.tenant.store).published
    status, fields, content = documents.answer(body, etag, request.headers.get("If-None-Match"))
    return Response(content, status=status, headers=fields)
