"""The OpenID Provider's HTTP endpoints: a thin adapter from Flask to `codeb.oidc`.

The endpoint modules and the `Provider` (Authlib's server and OIDC grants, joserfc)
are imported by the views that use them (see `codeb.web`): the discovery document,
a fresh process's first answer, needs none of them.
"""

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from .. import audit
from ..accounts import consents
from ..errors import InteractionExpired
from ..oidc import consent as consent_rules
from ..oidc.errors import OAuth2Error
from ..oidc.requests import (
    NO_STORE,
    NeedsConsent,
    NeedsLogoutConfirmation,
    NeedsSignIn,
    ProtocolRequest,
    Reply,
    SignedIn,
)
from ..signin import interactions
from ..store import secret_id
from . import context, documents, headers
from .errors import answers

if TYPE_CHECKING:
    from ..oidc.provider import Provider

bp = Blueprint("oidc", __name__)
context.CSRF_EXEMPT.update({"oidc.authorize", "oidc.revoke", "oidc.introspect", "oidc.pushed_request"})


def provider() -> "Provider":
    from ..oidc.provider import Provider  # noqa: PLC0415 -- at first use (codeb.web)

    return Provider(tenant=g.tenant, issuer=g.issuer, accounts=g.accounts, sessions=g.sessions,
                    end_browser_session=context.end_browser_session)


def protocol_request() -> ProtocolRequest:
    form = request.form.to_dict(flat=False) if request.method == "POST" else None
    return ProtocolRequest(request.method, request.url, request.headers,
                           request.args.to_dict(flat=False), form)


def signed_in() -> SignedIn | None:
    if g.account is None:
        return None
    data = g.session.data
    return SignedIn(g.account, int(data.get("auth_time", 0)), tuple(data.get("amr", ())),
                    method=data.get("method", ""), detail=data.get("detail") or {},
                    session=secret_id(g.session.sid))


def to_response(reply: Reply) -> Response:
    return Response(reply.body, status=reply.status, headers=reply.headers)


def public_json(body: bytes, etag: str) -> Response:
    """A public document (codeb.web.documents, whose fast path answers most requests for it)."""
    status, fields, content = documents.answer(body, etag, request.headers.get("If-None-Match"))
    return Response(content, status=status, headers=fields)


@bp.after_app_request
def cors(response):
    if request.path in headers.CORS_ENDPOINTS:
        for name, value in headers.CORS_HEADERS:
            response.headers[name] = value
    return response


@bp.get("/.well-known/openid-configuration")
@answers("oauth")
def discovery_document():
    return public_json(*documents.discovery_document(g.tenant, g.issuer))


@bp.get("/jwks.json")
@answers("oauth")
def jwks():
    return public_json(*documents.key_set(g.tenant, g.issuer))


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    from ..oidc import authorize as authorize_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    return act(authorize_endpoint.respond(provider(), protocol_request(), signed_in()))


def act(result, iid: str | None = None):
    """Answer what the endpoint decided. `iid`: the interaction being resumed, if any (a
    consent asked after the sign-in keeps it)."""
    if isinstance(result, Reply):
        return to_response(result)
    if isinstance(result, NeedsConsent):
        if iid is None:  # asked at once: this browser's session answers, as it stands
            iid = new_interaction(result)
            interactions.answered_by(g.tenant.store, iid, g.session.sid, continued=True)
        return redirect(url_for("oidc.consent", i=iid), code=303)
    assert isinstance(result, NeedsSignIn)
    return redirect(url_for("signin.page", i=new_interaction(result)), code=303)


def new_interaction(result) -> str:
    return interactions.create(g.tenant.store, params=result.params,
                               client_id=result.client.get_client_id(), client_name=result.client.name,
                               client_ip=context.client_ip())


@bp.get("/authorize/resume")
def resume():
    """Step 4 of the sign-in flow: answer the waiting request after a sign-in."""
    from ..oidc import authorize as authorize_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    iid = request.args.get("i")
    pending = interactions.get(g.tenant.store, iid)
    if pending is None or not isinstance(iid, str):
        raise InteractionExpired()
    current = signed_in()
    # Only the sign-in made for this request answers it, so `prompt=login` and
    # `max_age` cannot be satisfied by an older session.
    if current is None or not interactions.may_resume(pending, g.session.sid):
        return redirect(url_for("signin.page", i=iid), code=303)
    url = g.issuer + "/authorize"
    # A sign-in made for this request satisfies `prompt=login` and `max_age`; "Continue" with
    # the session the browser had must satisfy them as it stands.
    result = authorize_endpoint.respond(provider(), ProtocolRequest.from_params(url, pending["params"]),
                                        current, resumed=True, just_signed_in=not pending.get("continued"), chosen=True,
                                        consented=bool(pending.get("consented")))
    if isinstance(result, NeedsConsent):
        return act(result, iid)
    interactions.finish(g.tenant.store, iid)
    return act(result)


def may_continue(pending) -> bool:
    """Whether this browser's session answers the waiting request as it stands (the sign-in
    page's "Signed in as … Continue")."""
    from ..oidc import authorize as authorize_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    current = signed_in()
    return current is not None and authorize_endpoint.may_continue(provider(), pending["params"], current)


def declined(iid: str, pending) -> Reply:
    """The person declined the app ("Back to …", "Deny"): the request ends, the client hears
    `access_denied` with its `state`."""
    from ..oidc import authorize as authorize_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    reply = authorize_endpoint.access_denied(provider(), pending["params"])
    interactions.finish(g.tenant.store, iid)
    return reply


def consenting():
    """The waiting request this signed-in browser answers on the consent screen, and its client."""
    iid = request.values.get("i")
    pending = interactions.get(g.tenant.store, iid)
    if pending is None or not isinstance(iid, str):
        raise InteractionExpired()
    if signed_in() is None or not interactions.may_resume(pending, g.session.sid):
        abort(redirect(url_for("signin.page", i=iid), code=303))
    client = provider().query_client(pending["client_id"])
    if client is None:
        raise InteractionExpired()
    g.lang = context.choose_language(pending["params"].get("ui_locales"))
    return iid, pending, client


@bp.get("/authorize/consent")
def consent():
    """The consent screen (codeb.oidc.consent): which app, what it may have, Allow or Deny."""
    iid, pending, client = consenting()
    scopes = consent_rules.requested_scopes(client, pending["params"].get("scope"))
    context.allow_form_redirect_to(pending)  # Deny goes to the client, Allow through /authorize/resume
    return render_template("oidc/consent.html", interaction=iid, client=client, pending=pending,
                           logo=context.allow_image_from(client.logo_uri),
                           scopes=consent_rules.described(scopes))


@bp.post("/authorize/consent")
def decide_consent():
    """Allow: remember it for this account, client and scopes, then the code. Deny: the
    client gets `access_denied` with its `state` (RFC 6749 §4.1.2.1)."""
    iid, pending, client = consenting()
    decision = request.form.get("decision")
    if decision not in ("allow", "deny"):
        abort(400)
    if decision == "deny":
        reply = declined(iid, pending)
        audit.append(g.tenant.store, "consent.denied", login=g.account.login, sub=g.account.sub,
                     client_id=client.client_id)
        return to_response(reply)
    scopes = list(consent_rules.requested_scopes(client, pending["params"].get("scope")))
    consents.remember(g.accounts, g.account.login, client.client_id, scopes, now=int(g.tenant.store.clock()))
    interactions.note(g.tenant.store, iid, consented=True)
    audit.append(g.tenant.store, "consent.granted", login=g.account.login, sub=g.account.sub,
                 client_id=client.client_id, scopes=scopes)
    return redirect(url_for("oidc.resume", i=iid), code=303)


@bp.route("/token", methods=["POST", "OPTIONS"])
@answers("oauth")
def token():
    if request.method == "OPTIONS":
        return Response(status=204)
    outcome = request.environ.pop(documents.TOKEN_OUTCOME, None)  # the endpoint ran before Flask
    if isinstance(outcome, BaseException):
        raise outcome
    return to_response(outcome if outcome is not None else provider().token(protocol_request()))


@bp.route("/revoke", methods=["POST", "OPTIONS"])
@answers("oauth")
def revoke():
    """Token revocation (RFC 7009, codeb.oidc.revocation)."""
    from ..oidc import revocation  # noqa: PLC0415 -- at first use (codeb.web)

    if request.method == "OPTIONS":
        return Response(status=204)
    return to_response(revocation.respond(provider(), protocol_request()))


@bp.post("/introspect")
@answers("oauth")
def introspect():
    """Token introspection (RFC 7662, RFC 9701; codeb.oidc.introspection)."""
    from ..oidc import introspection  # noqa: PLC0415 -- at first use (codeb.web)

    return to_response(introspection.respond(provider(), protocol_request()))


@bp.post("/par")
@answers("oauth")
def pushed_request():
    """Pushed authorization requests (RFC 9126, codeb.oidc.par)."""
    from ..oidc import par  # noqa: PLC0415 -- at first use (codeb.web)

    return to_response(par.respond(provider(), protocol_request()))


@bp.route("/userinfo", methods=["GET", "POST", "OPTIONS"])
@answers("oauth")
def userinfo():
    from ..oidc import userinfo as userinfo_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    if request.method == "OPTIONS":
        return Response(status=204)
    claims = userinfo_endpoint.userinfo(provider(), protocol_request())
    return Response(json.dumps(claims), mimetype="application/json", headers=NO_STORE)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """RP-Initiated Logout 1.0, with a confirmation page when the RP is not proven."""
    from ..oidc.logout import logout as logout_endpoint  # noqa: PLC0415 -- at first use (codeb.web)

    confirmed = request.method == "POST" and request.form.get("confirm") == "1"
    if confirmed:
        context.verify_csrf()
    try:
        result = logout_endpoint(provider(), protocol_request(), confirmed=confirmed,
                                 session_sub=g.account.sub if g.account else None)
    except OAuth2Error:  # shown to the person: a bad logout request has no client to answer
        return render_template("oidc/logout_error.html"), 400
    if isinstance(result, NeedsLogoutConfirmation):
        if result.redirect_uri:
            parts = urlsplit(result.redirect_uri)
            g.form_targets.add(f"{parts.scheme}://{parts.netloc}")
        params = {k: v for k, v in result.params.items() if k not in ("confirm", "csrf")}
        return render_template("oidc/logout_confirm.html", params=params, client=result.client)
    if isinstance(result, Reply):
        return to_response(result)
    return render_template("oidc/signed_out.html")
