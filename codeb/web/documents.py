"""The two public documents relying parties poll, discovery and the JWKS, answered before Flask.

Both are the same bytes for every request to a host until the tenant's settings or keys
change (`codeb.oidc.discovery.document`, `codeb.oidc.keys`, each revalidated by the file's
stamp), and a relying party asks for them more often than for anything else. `PublicDocuments`
wraps the Flask application: a plain `GET` of either for a known host is answered here from
those bytes, with the headers the Flask pipeline gives it (`codeb.web.headers`); every other
request, and any this layer cannot answer (an unknown host, a query string, a `HEAD`, a
failure), goes to Flask unchanged, which answers it as before. `answer` is the one rule for
both paths; tests/http/test_documents.py holds the two to the same bytes and headers.
"""

from werkzeug.http import parse_etags
from werkzeug.wsgi import get_host

from ..oidc import discovery
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


DOCUMENTS = {"/.well-known/openid-configuration": discovery_document, "/jwks.json": key_set}
STATUS = {200: "200 OK", 304: "304 Not Modified"}


class PublicDocuments:
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
        document = DOCUMENTS.get(environ.get("PATH_INFO", ""))
        if document is None or environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        try:
            tenant = context.tenant_of(environ, self.app.extensions["codeb.tenants"])
            body, etag = document(tenant, tenant.issuer_for(get_host(environ), self.app.config["CODEB_PORT"]))
        except Exception:  # noqa: BLE001 -- an unknown host, a broken key file: Flask logs and renders it
            return None
        status, fields, body = answer(body, etag, environ.get("HTTP_IF_NONE_MATCH"))
        if status == 200:
            fields.append(("Content-Length", str(len(body))))
        present = {name.lower() for name, _ in fields}
        fields += headers.defaults(present, https=environ.get("wsgi.url_scheme") == "https", static=False)
        fields += headers.CORS_HEADERS
        return status, fields, body
