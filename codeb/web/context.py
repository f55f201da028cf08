"""Per-request context: the tenant, the person's session and language.

`before_request` resolves the tenant from the Host header (or the site's fixed
tenant) before anything else, so no later step can reach another tenant's
folder. The session is loaded from its cookie; an anonymous one is created only
when a page needs a CSRF token.
"""

import hmac
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask.ctx import _AppCtxGlobals
from werkzeug.wsgi import get_host

from .. import i18n
from ..accounts import Accounts
from ..accounts.sessions import Sessions
from ..errors import BadInput, CsrfFailed, NotFound, UnknownTenant
from ..notify.mail import Mailer, mailer_for
from ..oidc import backchannel
from ..tenants.hosts import is_loopback, normalize_host
from ..tenants.secrets import session_secret

# In a session: where the next sign-in in this browser returns (a "confirm it's you" step).
AFTER_SIGNIN = "after_signin"

# Endpoints that are protocol peers' entry points, not forms of ours.
CSRF_EXEMPT = {"oidc.token", "oidc.userinfo", "oidc.logout", "static"}


def tenants():
    return current_app.extensions["codeb.tenants"]


TENANT = "codeb.tenant"  # the WSGI environ's key for the tenant resolved for this request
UNKNOWN = object()  # …when no tenant serves its host


def tenant_of(environ, registry):
    """The tenant of this request's host, looked up once per request: the public documents'
    layer (codeb.web.documents) may have looked before Flask does. Raises UnknownTenant."""
    found = environ.get(TENANT)
    if found is None:
        try:
            found = registry.for_host(get_host(environ))
        except UnknownTenant:
            found = UNKNOWN
        environ[TENANT] = found
    if found is UNKNOWN:
        raise UnknownTenant()
    return found


def load_tenant() -> None:
    """Resolve the tenant; what only some endpoints use is made when first read (`Globals`).

    The static files are the same for every host and hold nothing of a tenant: they are
    served without one, so the unknown-host page has its stylesheet too."""
    if request.endpoint == "static":
        return
    site = host_site_of(request.host)
    if site is not None:
        load_host_site(site)
        return
    g.tenant = tenant_of(request.environ, tenants())
    backchannel.resume(g.tenant.store)
    g.issuer = g.tenant.issuer_for(request.host, current_app.config["CODEB_PORT"])
    g.ended_session = None
    g.form_targets = set()
    g.image_sources = set()  # origins this page shows an image from (an app's logo)


HOST_SITE_BLUEPRINT = "get_tenant"  # codeb.web.get_tenant: all the host's own site serves


def host_site_of(host_header: str) -> dict | None:
    """The host site's settings (codeb.provisioning.site) if the request is for its name, else None."""
    settings = tenants().data.site_settings()
    if not settings:
        return None
    try:
        host = normalize_host(host_header)
    except BadInput:
        return None
    return settings if settings.get("name") == host else None


def load_host_site(settings: dict) -> None:
    """The host's own site is no tenant: no tenant, session or account is ever made for it, and
    only its blueprint answers there (any other path is a 404). `g.tenant` stays unset."""
    g.host_site = settings
    g.ended_session = None
    g.form_targets = set()
    g.image_sources = set()
    if request.blueprint != HOST_SITE_BLUEPRINT:
        raise NotFound()


def accounts_of(tenant) -> Accounts:
    return Accounts(tenant.store, host=tenant.hosts[0], signed_out=backchannel.account_signed_out)


def sessions_of(tenant) -> Sessions:
    store = tenant.store
    return Sessions(store, lambda: session_secret(store), ended=backchannel.session_ended)


def _accounts():
    return accounts_of(g.tenant)


def _sessions():
    return sessions_of(g.tenant)


def _session():
    return g.sessions.load(request.cookies.get(cookie_name()), g.accounts)


def _account():
    return g.accounts.get(g.session.login) if g.session and g.session.login else None


def _superuser():
    return bool(g.session and not g.session.anonymous and g.session.data.get("superuser"))


# Made at first use, once the tenant is known: the token endpoint, userinfo, discovery and
# the JWKS read no cookie, build no account store and negotiate no language; a page that
# renders does all of it, in this order of dependence.
LAZY = {"accounts": _accounts, "sessions": _sessions, "session": _session, "account": _account,
        "superuser": _superuser, "lang": lambda: choose_language()}  # noqa: PLW0108 -- defined below


class Globals(_AppCtxGlobals):
    """Flask's `g`, with the request's accounts, sessions, session, account, superuser flag
    and language (`LAZY`) made when a view, a template or a hook first reads them."""

    def __getattr__(self, name):
        make = LAZY.get(name)
        if make is None or "tenant" not in self.__dict__:
            raise AttributeError(name)
        # A stand-in while it is being made: a failure leaves nothing half made, and the
        # error page that follows sees no session or account (and the default language)
        # rather than failing again.
        self.__dict__[name] = i18n.DEFAULT if name == "lang" else None
        value = make()
        self.__dict__[name] = value
        return value

    def get(self, name, default=None):
        if name in LAZY and name not in self.__dict__ and "tenant" in self.__dict__:
            return getattr(self, name)
        return self.__dict__.get(name, default)


def loaded(name: str):
    """A lazy part of `g` if this request made it already, else None (never makes it)."""
    return g.__dict__.get(name)


def secure_cookies() -> bool:
    """`Secure` everywhere except plain HTTP on a loopback name (local development)."""
    return request.scheme == "https" or not is_loopback(normalize_host(request.host))


def cookie_name() -> str:
    # The __Host- prefix pins the cookie to this exact host, path / and Secure.
    return "__Host-codeb" if secure_cookies() else "codeb"


def session():
    """The browser's session, started (anonymous) if it has none yet."""
    if g.session is None:
        g.session = g.sessions.start()
    return g.session


def rp_id() -> str:
    """The WebAuthn RP ID: the host the person sees, port dropped."""
    return normalize_host(request.host)


def end_browser_session() -> None:
    """Sign this browser out: its session ends when the response goes, its cookie with it."""
    if g.session is not None:
        g.ended_session, g.session, g.account = g.session, None, None


def allow_form_redirect_to(pending) -> None:
    """A form that ends in a redirect to the waiting client (POST → 303 → 302) needs the
    client's origin in the page's CSP `form-action`."""
    if pending:
        parts = urlsplit(pending["params"]["redirect_uri"])
        if parts.scheme in ("http", "https"):
            g.form_targets.add(f"{parts.scheme}://{parts.netloc}")


def allow_image_from(url: str | None) -> str | None:
    """Let this page's CSP `img-src` name the origin of `url` (an https URL an admin set, such as
    an app's logo) and return the URL; None, and nothing allowed, for anything but https."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    g.image_sources.add(f"https://{parts.netloc}")
    return url


def mailer() -> Mailer:
    return mailer_for(g.tenant, data_root=current_app.config["CODEB_DATA"],
                      echo=current_app.config["CODEB_ECHO_MAIL"], base_url=g.issuer)


def choose_language(ui_locales: str | None = None) -> str:
    """The person's setting, then `ui_locales`, then Accept-Language, then the tenant default."""
    available = g.tenant.available_languages
    candidates = []
    if g.session is not None:
        candidates.append(g.session.data.get("lang"))
    if g.get("account") is not None:
        candidates.append(g.account.language)
    candidates += (ui_locales or "").split()
    candidates += i18n.parse_accept_language(request.headers.get("Accept-Language"))
    return (i18n.negotiate(candidates, available)
            or g.tenant.setting("default_language", default=i18n.DEFAULT))


def translate(message_id: str, **params) -> str:
    lang = g.get("lang", i18n.DEFAULT)
    extra = g.tenant.languages.get(lang) if g.get("tenant") else None
    return i18n.translate(lang, message_id, extra, **params)


def time_zone() -> str:
    """The zone a person reads times in: the tenant's (`time_zone` in its settings).

    A tenant setting rather than the browser's zone: pages and mails are rendered on
    the server without script, a mail has no browser at all, and an organisation's
    people share one office clock; the setting is validated when an admin saves it."""
    return g.tenant.setting("time_zone", default=i18n.DEFAULT_TIME_ZONE)


def format_moment(timestamp) -> str:
    """A stored moment (seconds since 1970) as a date and time of the person's language and zone."""
    return i18n.format_moment(g.get("lang", i18n.DEFAULT), timestamp, time_zone())


def format_day(timestamp) -> str:
    """A stored moment's calendar day, in the person's language and zone."""
    return i18n.format_day(g.get("lang", i18n.DEFAULT), timestamp, time_zone())


def format_number(value) -> str:
    return i18n.format_number(g.get("lang", i18n.DEFAULT), value)


def format_size(size) -> str:
    return i18n.format_size(g.get("lang", i18n.DEFAULT), size)


def check_csrf() -> None:
    """Every POST to a form of ours carries the session's CSRF token (DESIGN invariant 5)."""
    if request.method == "POST" and request.endpoint not in CSRF_EXEMPT:
        if g.get("host_site") is not None:
            return  # no session there: its blueprint checks its own token (codeb.web.get_tenant)
        verify_csrf()


def verify_csrf() -> None:
    # Forms send the token as a field, the browser code's JSON calls as a header.
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token", "")
    expected = g.session.data.get("csrf") if g.session is not None else None
    if not expected or not hmac.compare_digest(str(sent), expected):
        raise CsrfFailed()


def client_ip() -> str:
    # IIS passes the peer as REMOTE_ADDR; a proxy in front must be configured
    # there (ARR), not trusted from a header the client controls.
    return request.remote_addr or "unknown"
