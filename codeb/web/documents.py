"""The three documents relying parties ask for most, answered before Flask: discovery, the JWKS
and userinfo.

Discovery and the JWKS are the same bytes for every request to a host until the tenant's
settings or keys change (`codeb.oidc.discovery.document`, `codeb.oidc.keys`, each revalidated
by the file's stamp). Userinfo is the claims of one access token, checked by the one rule of
`codeb.oidc.userinfo` on every request. `PolledDocuments` wraps the Flask application: a plain
`GET` of discovery or the JWKS for a known host, and a `GET /userinfo` carrying a bearer token
in its `Authorization` header and no cookie (a relying party's server calling; a browser's
request, a guest's included, is Flask's), are answered here, with the headers the Flask
pipeline gives them (`codeb.web.headers`). Every other request, and any this layer cannot
answer (an unknown host, a query string, a `HEAD`, a token refused, a failure), goes to Flask
unchanged, which answers it as before, its error included. `answer` is the one rule for both
paths of the public documents, `codeb.oidc.userinfo.userinfo` the one of userinfo;
tests/http/test_documents.py holds the two paths to the same bytes and headers.
"""

import json

from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import parse_etags
from werkzeug.wsgi import get_host

from ..oidc import discovery
from ..oidc.requests import NO_STORE, ProtocolRequest
from . import context, headers

MAX_AGE = 300  # seconds a cache may keep either document before it revalidates


def answer(body: bytes, etag: str, if_none_match: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a GET of a public document any cache may keep `MAX_AGE`
    seconds and then revalidate by its entity tag: an unchanged one is a 304 without a body
    (RFC 9110 §13.1.2, §15.4.5)."""
    cache = [("Cache-Control", f"public, max-age={MAX_AGE}"), ("ETag", etag)]
    if if_none_match and parse_etags(if_none_match).contains_weak(etag.strip('"')):
        return 304, cache, b""
    return 200, [("Content-Type", "application/json"), *cache], body


def discovery_document(tenant, issuer: str) -> tuple[bytes, str]:
    return discovery.document(tenant, issuer)


def key_set(tenant, issuer: str) -> tuple[bytes, str]:
    from ..oidc.keys import load  # noqa: PLC0415 -- at first use (codeb.web)

    return load(tenant.store).published


def userinfo(tenant, issuer: str, environ) -> bytes:
    """The body of a `GET /userinfo` with a bearer token; raises what the endpoint raises."""
    from ..oidc.provider import Provider  # noqa: PLC0415 -- at first use (codeb.web)
    from ..oidc.userinfo import userinfo as claims_of  # noqa: PLC0415

    provider = Provider(tenant=tenant, issuer=issuer, accounts=context.accounts_of(tenant),
                        sessions=context.sessions_of(tenant))
    request = ProtocolRequest("GET", issuer + "/userinfo", EnvironHeaders(environ), {})
    return json.dumps(claims_of(provider, request)).encode()


DOCUMENTS = {"/.well-known/openid-configuration": discovery_document, "/jwks.json": key_set}
STATUS = {200: "200 OK", 304: "304 Not Modified"}


def bearer_call(environ) -> bool:
    """A relying party's server asking for userinfo: a bearer token in the header, no cookie."""
    return (environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING")
            and not environ.get("HTTP_COOKIE")
            and (environ.get("HTTP_AUTHORIZATION") or "")[:7].lower() == "bearer ")


class PolledDocuments:
    """WSGI middleware around the Flask application `app` (whose `wsgi_app` is `inner`)."""

    def __init__(self, app, inner):
        self.app, self.inner = app, inner

    def __call__(self, environ, start_response):
        made = self.made(environ)
        if made is None:
            return self.inner(environ, start_response)
        status, fields, body = made
        start_response(STATUS[status], fields)
        return [body]

    def made(self, environ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The whole answer, or None for Flask to give it."""
        path = environ.get("PATH_INFO", "")
        document = DOCUMENTS.get(path)
        if document is not None:
            if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
                return None
        elif path != "/userinfo" or not bearer_call(environ):
            return None
        try:
            tenant = context.tenant_of(environ, self.app.extensions["codeb.tenants"])
            issuer = tenant.issuer_for(get_host(environ), self.app.config["CODEB_PORT"])
            if document is None:
                body = userinfo(tenant, issuer, environ)
                status, fields = 200, [("Content-Type", "application/json"), *NO_STORE]
            else:
                status, fields, body = answer(*document(tenant, issuer), environ.get("HTTP_IF_NONE_MATCH"))
        except Exception:  # noqa: BLE001 -- an unknown host, a refused token, a broken key file: Flask's
            return None
        if status == 200:
            fields.append(("Content-Length", str(len(body))))
        present = {name.lower() for name, _ in fields}
        fields += headers.defaults(present, https=environ.get("wsgi.url_scheme") == "https", static=False)
        fields += headers.CORS_HEADERS
        return status, fields, body
