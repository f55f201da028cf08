"""Sign-in methods: one module each behind one interface (`base.SignInMethod`).

`REGISTRY` lists every method, in the order the sign-in page offers them;
`enabled(tenant)` the ones a tenant switched on. The web layer reaches a method
only through these (one dispatch, `/signin/<method>/<step>`), and whatever the
method, `flow.finish` is what follows a verified identity. A new method is a
module here, a line in `REGISTRY`, its templates in `templates/signin/<name>/`,
and the contract test.
"""

import secrets
from collections.abc import Mapping

from ..errors import BadInput
from ..store import layout, secret_id
from ..tenants.settings import signup_part
from ..upstreams import Upstreams
from ..upstreams.checks import UpstreamError
from .base import NotMine, SignInContext, SignInMethod
from .federation import Federated
from .magic_link import MagicLink
from .passkey import PasskeySignIn
from .password import PasswordSignIn
from .upstream_oidc import UpstreamOIDC
from .upstream_saml import UpstreamSAML
from .wallet import WalletSignIn

# The passkey first; corporate SSO before the mailed link, so a domain it claims goes to it.
METHODS: tuple[type[SignInMethod], ...] = (PasskeySignIn, UpstreamOIDC, UpstreamSAML, WalletSignIn, MagicLink,
                                           PasswordSignIn)
REGISTRY: dict[str, type[SignInMethod]] = {method.name: method for method in METHODS}


def enabled(tenant) -> dict[str, SignInMethod]:
    """The tenant's methods, by name, in the sign-in page's order."""
    chosen = set(tenant.setting("methods", default=[]) or ())
    return {name: method() for name, method in REGISTRY.items() if name in chosen}


def switch_on(store, name: str) -> None:
    """Add a method to the tenant's sign-in methods (in the registry's order), the others kept:
    federating a company's identity provider switches company sign-in on."""
    with store.update(layout.TENANT) as doc:
        chosen = set(doc.get("methods") or ()) | {name}
        doc["methods"] = [method for method in REGISTRY if method in chosen]


def identifier_methods(tenant) -> dict[str, SignInMethod]:
    """The enabled methods that may follow the identifier-first email field, in dispatch order."""
    return {name: method for name, method in enabled(tenant).items() if method.takes_identifier}


def next_step(ctx: SignInContext, identifier: str, *, chosen: str | None = None) -> SignInMethod:
    """Identifier first: the method that takes the next step for `identifier` (a normalised
    email). `chosen`: the method the person picked on the page ("Use my password"), if it is
    one of them. Otherwise each method in the registry's order may claim the address; the
    first that does answers (a claimed SSO domain goes before the mailed link). BadInput when
    no enabled method takes an identifier (a passkey-only tenant)."""
    candidates = identifier_methods(ctx.tenant)
    if chosen in candidates:
        return candidates[chosen]
    for method in candidates.values():
        try:
            if method.claims(ctx, identifier):
                return method
        except NotMine:
            continue
    raise BadInput("error.signin.no_identifier_method")


LOGOUT_LIFETIME = 600  # seconds a browser may take to sign out at a company's identity provider


def sign_out_elsewhere(ctx: SignInContext, kept) -> dict | None:
    """At sign-out, for a session that came through a company's identity provider offering it
    (`kept`: the session's `sign_out`, `VerifiedIdentity.sign_out`): the provider's name and the
    URL that signs the browser out there too; a state record waits for the way back."""
    kept = kept if isinstance(kept, dict) else None
    upstream = Upstreams(ctx.store).get(kept.get("upstream")) if kept else None
    kind = REGISTRY.get(upstream.get("kind", "oidc")) if upstream and upstream.get("enabled", True) else None
    method = kind() if kind else None
    if kept is None or upstream is None or not isinstance(method, Federated):
        return None
    state = secrets.token_urlsafe(32)
    try:
        found = method.sign_out_url(ctx, upstream, kept, state=state)
    except UpstreamError:  # its discovery or metadata cannot be read now: sign out here only
        return None
    if found is None:
        return None
    url, keep = found
    ctx.store.transient(layout.UPSTREAM_LOGOUTS).put(secret_id(state), {**keep, "upstream": upstream["id"]},
                                                     ttl=LOGOUT_LIFETIME)
    return {"name": upstream["name"], "url": url}


def signed_out_at(ctx: SignInContext, name: str, submitted: Mapping) -> dict | None:
    """Back from signing out at a company's identity provider (`sign_out_elsewhere`): its name,
    and whether its answer confirms it; None for a state this tenant never sent (or spent)."""
    state = submitted.get("state") or submitted.get("RelayState")
    if not isinstance(state, str) or not 0 < len(state) <= 200 or name not in REGISTRY:
        return None
    logout = ctx.store.transient(layout.UPSTREAM_LOGOUTS).take(secret_id(state))
    upstream = Upstreams(ctx.store).get(logout.get("upstream")) if logout else None
    method = REGISTRY[name]()
    if logout is None or upstream is None or upstream.get("kind", "oidc") != name or not isinstance(method, Federated):
        return None
    return {"name": upstream["name"], "confirmed": method.signed_out(ctx, upstream, logout, submitted)}


def link_method() -> SignInMethod:
    """The method whose mailed links (sign-in links, invitations) open at `/link/<link>`."""
    return next(method() for method in METHODS if method.opens_links)


def can_sign_in(tenant, account) -> bool:
    """Whether the account can sign in by one of the tenant's methods."""
    return not account.disabled and any(m.usable_by(account) for m in enabled(tenant).values())


def settings_parts(*, methods, submitted: Mapping) -> dict:
    """The sign-in part of the admin's settings form, validated: which methods, the
    sign-up policy, and each method's own part (it validates its fields itself)."""
    chosen = [name for name in REGISTRY if name in set(methods or ())]
    if not chosen:
        raise BadInput("error.settings_no_method")
    parts = {"methods": chosen}
    parts.update(signup_part(submitted.get("signup"), (submitted.get("domains") or "").replace(",", " ").split()))
    for method in REGISTRY.values():
        parts.update(method().settings(submitted))
    return parts
