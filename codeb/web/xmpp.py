"""The HTTP auth endpoint for the tenant's Prosody: CodeB's own module and the community's `mod_auth_http`.

CodeB's module (deploy/prosody/mod_auth_codeb.lua) is configured with
`codeb_auth_url = "https://<tenant host>/xmpp/auth"` and `codeb_auth_secret = "<secret>"`, and
POSTs its questions as a form, the password in the body:

    POST /xmpp/auth/check_password    user=<login>&server=<host>&pass=<password>
    POST /xmpp/auth/user_exists       user=<login>&server=<host>

The community module `mod_auth_http` (not in Debian's prosody-modules) asks the same with
`http_auth_url` and `http_auth_credentials = "prosody:<secret>"`, as GETs whose query string
holds the password (the site's IIS logging is off for /xmpp/auth for that reason:
deploy/CodebDeploy):

    GET /xmpp/auth/check_password?user=<login>&server=<host>&pass=<password>
    GET /xmpp/auth/user_exists?user=<login>&server=<host>

`python -m codeb xmpp-auth-secret TENANT` prints both configurations. Each question is
answered 200 with the text `true` or `false` and nothing else (codeb.native.xmpp_auth
decides). mod_auth_http's other methods (`register`, `set_password`, `remove_user`, POSTed) are not
CodeB's to grant: 403, refused (the module treats any answer but 200 as a refusal), with no body.

Only the tenant's XMPP server may ask: every request carries the tenant's shared secret, as
HTTP Basic's password (what mod_auth_http sends) or as a bearer token (mod_auth_codeb). Behind
IIS nothing here can tell a loopback caller from another, so the secret is the only key; without
it, or before the operator made one, the answer is 401, audited without what was sent. Wrong
passwords are counted per account and per source (the caller's network, which is the XMPP
server's: codeb.native.xmpp_auth.SOURCE_FAILURES).
"""

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, g, request

from .. import audit
from ..native import xmpp_auth
from ..oidc.clients import FIRST_PARTY
from ..oidc.requests import NO_STORE
from ..signin.base import client_network
from ..store import layout
from . import context, server_keys
from .oidc import provider

bp = Blueprint("xmpp", __name__, url_prefix="/xmpp/auth")
REALM = 'Basic realm="codeb-xmpp-auth", charset="UTF-8"'
NOT_OURS = ("register", "set_password", "remove_user")
MAX_TOKEN = 8192  # characters: what codeb.oidc.tokens reads of a token at most


def _text(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers.update(dict(NO_STORE))
    return response


def _refused_caller(source: str) -> Response:
    """401 for a caller without the secret, audited without what it sent. It is not counted in
    its source's failure window: a 256-bit secret needs no such limit, and on a shared network
    (or the loopback) that window is also the real XMPP server's, which a stranger would lock."""
    audit.append(g.tenant.store, "xmpp.auth_refused", via="http", reason="secret", ip=source)
    response = _text("", 401)
    response.headers["WWW-Authenticate"] = REALM
    return response


def _field(name: str) -> str | None:
    """A field of the question: the query of a GET (mod_auth_http), the form of a POST (mod_auth_codeb)."""
    value = (request.form if request.method == "POST" else request.args).get(name)
    return value if isinstance(value, str) and len(value) <= xmpp_auth.MAX_REQUEST else None


@bp.route("/check_password", methods=["GET", "POST"])
def check_password():
    bridge, source = xmpp_auth.Bridge(g.tenant), client_network(context.client_ip())
    if not server_keys.key_ok(layout.XMPP_AUTH_SECRET):
        return _refused_caller(source)
    yes = bridge.check_password(_field("user"), _field("server"), _field("pass"), via="http", source=source)
    return _text("true" if yes else "false")


@bp.post("/check_token")
def check_token():
    """SASL OAUTHBEARER (RFC 7628) through CodeB's Prosody module: `user`, `server` and `token`,
    an access token of the tenant's office shell, checked as the shell's own resources check it."""
    bridge, source = xmpp_auth.Bridge(g.tenant), client_network(context.client_ip())
    if not server_keys.key_ok(layout.XMPP_AUTH_SECRET):
        return _refused_caller(source)
    token = request.form.get("token")
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        token = ""  # no token of ours: refused (and audited) by the same checks
    yes = bridge.check_token(_field("user"), _field("server"), token, bearer=_shell_account, via="http",
                             source=source)
    return _text("true" if yes else "false")


def _shell_account(token: str):
    """The account of a valid access token of the office shell, or None."""
    from ..oidc.userinfo import verify_bearer  # noqa: PLC0415 -- at first use (codeb.web)

    try:
        return verify_bearer(provider(), token, audience=FIRST_PARTY).account
    except OAuth2Error:
        return None


@bp.route("/user_exists", methods=["GET", "POST"])
def user_exists():
    bridge, source = xmpp_auth.Bridge(g.tenant), client_network(context.client_ip())
    if not server_keys.key_ok(layout.XMPP_AUTH_SECRET):
        return _refused_caller(source)
    return _text("true" if bridge.user_exists(_field("user"), _field("server")) else "false")


def not_ours():
    """`register`, `set_password`, `remove_user`: accounts and app passwords change on CodeB's own pages."""
    return _text("", 403)


for _method in NOT_OURS:
    bp.add_url_rule(f"/{_method}", endpoint=f"not_ours_{_method}", view_func=not_ours, methods=["POST"])
context.CSRF_EXEMPT.update({f"xmpp.not_ours_{method}" for method in NOT_OURS})
# The caller's key is the shared secret, not a browser's session.
context.CSRF_EXEMPT.update({"xmpp.check_password", "xmpp.user_exists", "xmpp.check_token"})
