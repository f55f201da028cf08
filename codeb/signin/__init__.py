"""Sign-in methods: one module each behind one interface (`base.SignInMethod`).

`REGISTRY` lists every method, in the order the sign-in page offers them;
`enabled(tenant)` the ones a tenant switched on. The web layer reaches a method
only through these (one dispatch, `/signin/<method>/<step>`), and whatever the
method, `flow.finish` is what follows a verified identity. A new method is a
module here, a line in `REGISTRY`, its templates in `templates/signin/<name>/`,
and the contract test.
"""

from collections.abc import Mapping

from ..errors import BadInput
from ..store import layout
from ..tenants.settings import signup_part
from .base import NotMine, SignInContext, SignInMethod
from .magic_link import MagicLink
from .passkey import PasskeySignIn
from .password import PasswordSignIn
from .upstream_oidc import UpstreamOIDC
from .upstream_saml import UpstreamSAML

# The passkey first; corporate SSO before the mailed link, so a domain it claims goes to it.
METHODS: tuple[type[SignInMethod], ...] = (PasskeySignIn, UpstreamOIDC, UpstreamSAML, MagicLink, PasswordSignIn)
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
