"""What relying parties' servers ask for most, answered before Flask: discovery, the JWKS,
userinfo and the token endpoint.

Discovery and the JWKS are the same bytes for every request to a host until the tenant's
settings or keys change (`codeb.oidc.discovery.document`, `codeb.oidc.keys`, each revalidated
by the file's stamp). Userinfo is the claims of one access token, checked by the one rule of
`codeb.oidc.userinfo` on every request; a token answer is the provider's own
(`codeb.oidc.provider.Provider.token`). `BeforeFlask` wraps the Flask application and answers
here, with the headers the Flask pipeline gives them (`codeb.web.headers`):

- a plain `GET` of discovery or the JWKS for a known host;
- a `GET /userinfo` carrying a bearer token in its `Authorization` header and no cookie;
- a `POST /token` with a form body of at most `MAX_FORM` bytes and no cookie.

A browser's request (a cookie: a guest's too) is Flask's, and so is every other request and
any this layer cannot answer before it acts (an unknown host, a query string, a `HEAD`, a
refused bearer token, a failure), unchanged: Flask answers it as before, its error included.
The token endpoint acts (a code is spent, a chain rotated), so once it has run nothing runs
it again: its reply is answered here when it is JSON, as every protocol reply is; anything
else, an exception included, is handed to the Flask view in the environ (`TOKEN_OUTCOME`),
which answers, logs and references it as if it had run the endpoint itself. `answer` is the
one rule for both paths of the public documents; tests/http/test_documents.py holds the two
paths to the same bytes and headers.
"""

import io
import json

from werkzeug.datastructures import EnvironHeaders
from werkzeug.formparser import parse_form_data
from werkzeug.http import HTTP_STATUS_CODES, parse_etags
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


def provider_for(tenant, issuer: str):
    from ..oidc.provider import Provider  # noqa: PLC0415 -- at first use (codeb.web)

    return Provider(tenant=tenant, issuer=issuer, accounts=context.accounts_of(tenant),
                    sessions=context.sessions_of(tenant))


def userinfo(tenant, issuer: str, environ) -> bytes:
    """The body of a `GET /userinfo` with a bearer token; raises what the endpoint raises."""
    from ..oidc.userinfo import userinfo as claims_of  # noqa: PLC0415 -- at first use (codeb.web)

    request = ProtocolRequest("GET", issuer + "/userinfo", EnvironHeaders(environ), {})
    return json.dumps(claims_of(provider_for(tenant, issuer), request)).encode()


MAX_FORM = 64 * 1024  # bytes of a token request's form answered here; a larger one is Flask's
FORM = "application/x-www-form-urlencoded"
TOKEN_OUTCOME = "codeb.token_outcome"  # the environ's key for the token endpoint's non-JSON outcome


def token_call(environ) -> bool:
    """A relying party's server at the token endpoint: a form POST, no cookie, no query."""
    return (environ.get("REQUEST_METHOD") == "POST" and not environ.get("QUERY_STRING")
            and not environ.get("HTTP_COOKIE")
            and (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower() == FORM)


def read_form(environ) -> dict[str, list[str]] | None:
    """The form of a token request, parsed as Flask parses it (werkzeug), or None to leave the
    request to Flask; the body read stays readable for Flask either way."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 <= length <= MAX_FORM:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != length:
        return None
    _, form, _ = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)}, max_content_length=MAX_FORM)
    return form.to_dict(flat=False)


def token(tenant, issuer: str, environ) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The token endpoint's JSON reply, or None with its other outcome in `environ` for Flask."""
    form = read_form(environ)
    if form is None:
        return None
    request = ProtocolRequest("POST", issuer + "/token", EnvironHeaders(environ), {}, form)
    try:
        reply = provider_for(tenant, issuer).token(request)
    except Exception as error:  # noqa: BLE001 -- Flask's handlers answer it (TOKEN_OUTCOME)
        environ[TOKEN_OUTCOME] = error
        return None
    content_type = next((value for name, value in reply.headers if name.lower() == "content-type"), "")
    if not content_type.startswith("application/json") or not isinstance(reply.body, str):
        environ[TOKEN_OUTCOME] = reply  # nothing after the endpoint may fail and leave it to run again
        return None
    body = reply.body.encode()  # JSON, ASCII as json.dumps writes it
    return reply.status, [*reply.headers, ("Content-Length", str(len(body)))], body


DOCUMENTS = {"/.well-known/openid-configuration": discovery_document, "/jwks.json": key_set}


def bearer_call(environ) -> bool:
    """A relying party's server asking for userinfo: a bearer token in the header, no cookie."""
    return (environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING")
            and not environ.get("HTTP_COOKIE")
            and (environ.get("HTTP_AUTHORIZATION") or "")[:7].lower() == "bearer ")


class BeforeFlask:
    """WSGI middleware around the Flask application `app` (whose `wsgi_app` is `inner`)."""

    def __init__(self, app, inner):
        self.app, self.inner = app, inner

    def __call__(self, environ, start_response):
        made = self.made(environ)
        if made is None:
            return self.inner(environ, start_response)
        status, fields, body = made
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", fields)
        return [body]

    def made(self, environ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The whole answer, or None for Flask to give it."""
        path = environ.get("PATH_INFO", "")
        document = DOCUMENTS.get(path)
        if document is not None:
            if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
                return None
        elif not ((path == "/userinfo" and bearer_call(environ)) or (path == "/token" and token_call(environ))):
            return None
        try:
            tenant = context.tenant_of(environ, self.app.extensions["codeb.tenants"])
            issuer = tenant.issuer_for(get_host(environ), self.app.config["CODEB_PORT"])
            if path == "/token":
                made = token(tenant, issuer, environ)
                if made is None:
                    return None
                status, fields, body = made
            elif document is None:
                body = userinfo(tenant, issuer, environ)
                status, fields = 200, [("Content-Type", "application/json"), *NO_STORE]
            else:
                status, fields, body = answer(*document(tenant, issuer), environ.get("HTTP_IF_NONE_MATCH"))
        except Exception:  # noqa: BLE001 -- an unknown host, a refused token, a broken key file: Flask's
            return None
        if status == 200 and path != "/token":
            fields.append(("Content-Length", str(len(body))))
        present = {name.lower() for name, _ in fields}
        fields += headers.defaults(present, https=environ.get("wsgi.url_scheme") == "https", static=False)
        fields += headers.CORS_HEADERS
        return status, fields, body
