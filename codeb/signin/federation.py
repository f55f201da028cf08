"""What company sign-in does the same over every protocol (OIDC: `upstream_oidc`, SAML:
`upstream_saml`): the buttons, home-realm discovery, the linking rule, the refusals.

A protocol method proves an identity: its upstream's issuer (the OIDC issuer, the
SAML IdP's entity id), its subject there (`sub`, the NameID), and what the upstream
says of the person (`Asserted`). `account` picks the account by one rule:

1. an account already linked to (issuer, subject): the link is the identity;
2. else the account of the asserted email, only if the upstream vouches for the
   address (OIDC: `email_verified` true; SAML has no such claim, so the admin's
   "authoritative" stands for it), the admin marked the upstream authoritative,
   and the address is of one of its domains: then the identity is linked to it;
   an account of that email otherwise is never entered (error.upstream.not_linked),
   which is where other brokers hand accounts over to whoever controls an upstream;
3. else a new account under the tenant's sign-up policy, linked at once, its email
   verified when the upstream vouches for it, its roles from the upstream's groups
   by the admin's mapping, and the first-sign-in screen prefilled with its name.

The one other way a link is made: the person links it from account settings, after a
recent sign-in there (`SignInContext.linking`, kept in the request record): then the
identity is linked to that account whatever its email says, as the person proved both
sides, unless another account holds it.
"""

from dataclasses import dataclass

from .. import audit
from ..accounts import normalize_email
from ..accounts.links import Links
from ..accounts.profile import clean_display_name
from ..errors import AccountDisabled, BadInput, Conflict, SignInFailed, SignUpRefused
from ..store import layout
from ..upstreams import Upstreams
from .base import NotMine, SignInContext, SignInMethod, VerifiedIdentity, hit_limits
from .signup import may_sign_up

REQUEST_LIFETIME = 600
# Requests one client network may send to upstreams, each (how many, per seconds): an office
# behind one NAT address signs in; a flood of request records does not fill the disk.
PER_CLIENT = ((120, 60), (900, 900))
AMR = ("fed",)  # RFC 8176 §2: federated authentication
# The RFC 8176 values an upstream's own `amr` may add (anything else it sends is dropped).
UPSTREAM_AMR = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
                          "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"})


@dataclass(frozen=True)
class Asserted:
    """An identity an upstream proved, in the protocol's terms read out (`claims` of the admin's mapping)."""

    issuer: str
    subject: str
    email: object            # as sent: normalised and checked by `account`
    email_verified: bool     # the upstream vouches for the address
    name: object
    groups: object
    amr: tuple[str, ...] = ()
    login: object = None     # a user name there: what the login of an account it creates is made from


class Federated(SignInMethod):
    """The part of a company sign-in method that is not its protocol: `kind` names the
    upstreams it serves (`codeb.upstreams`)."""

    kind = ""
    takes_identifier = True  # home-realm discovery: a claimed domain goes to its upstream
    stands_apart = True      # its buttons are forms of their own, not choices of the email form
    calls_back = True        # the upstream sends the browser back to GET /signin/<method>/callback

    def usable_by(self, account) -> bool:
        return bool(account.links)

    def page_part(self, tenant) -> dict:
        return {"upstreams": [{"id": u["id"], "name": u["name"], "method": self.name, "logo": u.get("logo_uri")}
                              for u in Upstreams(tenant.store).of_kind(self.kind)]}

    def claims(self, ctx: SignInContext, identifier: str) -> bool:
        if Upstreams(ctx.store).for_domain(identifier.rsplit("@", 1)[-1], self.kind) is None:
            raise NotMine("no upstream of this kind claims this domain")
        return True

    def chosen_upstream(self, ctx: SignInContext, submitted) -> tuple[dict, str | None]:
        """The upstream a `begin` is for (its button, or the domain of the email typed) and
        the normalised email as a hint for it; counted against the client's limit."""
        upstreams = Upstreams(ctx.store)
        hint = submitted.get("email") if isinstance(submitted.get("email"), str) else None
        hint = normalize_email(hint) if hint else None
        if "upstream" in submitted:
            upstream = upstreams.get(submitted["upstream"])
        elif hint:
            upstream = upstreams.for_domain(hint.rsplit("@", 1)[-1], self.kind)
        else:
            raise NotMine("upstream")
        if upstream is None or not upstream.get("enabled", True) or upstream.get("kind", "oidc") != self.kind:
            raise BadInput("error.upstream.unknown")
        hit_limits(ctx.store, layout.UPSTREAM_PER_CLIENT, ctx.client_network, PER_CLIENT)
        return upstream, hint

    def identity(self, ctx: SignInContext, upstream: dict, asserted: Asserted, interaction,
                 link_to: str | None = None, logout: dict | None = None) -> VerifiedIdentity:
        """The verified identity of the account the linking rule picks. `logout`: what signing out
        at the upstream will need (its ID token, the NameID), when the upstream offers it: the
        session keeps it (`VerifiedIdentity.sign_out`), and it ends with the session."""
        try:
            account, created = self.account(ctx, upstream, asserted, link_to)
        except SignInFailed as refusal:  # the sign-in page it leads to still serves the app
            refusal.interaction = interaction
            raise
        if account.disabled:
            raise AccountDisabled()
        return VerifiedIdentity(
            login=account.login, method=self.name, auth_time=ctx.now(),
            amr=AMR + tuple(sorted({a for a in asserted.amr if a in UPSTREAM_AMR})),
            detail={"upstream": upstream["id"], "upstream_name": upstream["name"]},
            interaction=interaction, created=created,
            sign_out={**logout, "upstream": upstream["id"]} if logout is not None else None)

    # -- signing out at the upstream ------------------------------------------------------

    def sign_out_url(self, ctx: SignInContext, upstream: dict, kept: dict, *, state: str) -> tuple[str, dict] | None:
        """Where the browser signs out at the upstream too (OIDC RP-initiated logout, SAML single
        logout), coming back with `state`, and what the way back must find; None when the
        upstream offers none. `kept`: what the sign-in kept for it (`identity`'s `logout`)."""
        return None

    def signed_out(self, ctx: SignInContext, upstream: dict, logout: dict, submitted) -> bool:
        """Whether the upstream's answer to `sign_out_url` (the callback's query) confirms it."""
        return False

    def account(self, ctx: SignInContext, upstream: dict, asserted: Asserted, link_to: str | None = None):
        """(account, created) by the module's linking rule; `link_to`: the account that asked to
        be linked from its settings."""
        links = Links(ctx.accounts)
        linked = links.find(asserted.issuer, asserted.subject)
        if link_to is not None:
            return self._linked_from_settings(ctx, links, linked, link_to, upstream, asserted), False
        if linked is not None:
            return self._roles_synced(ctx, upstream, linked, asserted), False
        try:
            email = normalize_email(asserted.email)
        except BadInput:
            raise self.failed(ctx, upstream, "error.upstream.no_email", "no usable email claim") from None
        verified = asserted.email_verified
        domain = email.rsplit("@", 1)[-1]
        existing = ctx.accounts.find_by_email(email)
        if existing is not None:
            if existing.disabled:
                raise AccountDisabled()  # not linked either
            if not (verified and upstream.get("authoritative") and domain in upstream.get("domains", ())):
                raise self.failed(ctx, upstream, "error.upstream.not_linked",
                                  f"an account of {email} exists; email verified: {verified}, authoritative: "
                                  f"{bool(upstream.get('authoritative'))}")
            self._link(ctx, links, existing.login, upstream, asserted)
            audit.append(ctx.store, "upstream.linked", login=existing.login, sub=existing.sub,
                         upstream=upstream["id"], name=upstream["name"], by="email")
            return self._roles_synced(ctx, upstream, existing, asserted), False
        if not may_sign_up(ctx.tenant, email):
            raise SignUpRefused("error.upstream.no_account")
        roles = ["user"] + sorted({role for group, role in upstream.get("roles", {}).items()
                                   if group in _groups(asserted.groups)})
        try:
            name = clean_display_name(asserted.name)
        except BadInput:
            name = None  # none given, or not one to show: the person types theirs at the first sign-in
        try:
            account = ctx.accounts.create(email=email, roles=roles, display_name=name, language=ctx.language,
                                          email_verified=verified,
                                          login_hint=asserted.login if isinstance(asserted.login, str) else None)
        except Conflict:
            raise self.failed(ctx, upstream, "error.upstream.not_linked", "an account of the email appeared") from None
        self._link(ctx, links, account.login, upstream, asserted)
        return ctx.accounts.require(account.login), True

    def _roles_synced(self, ctx, upstream: dict, account, asserted: Asserted):
        """At every sign-in through it, the roles the admin's group mapping names follow the
        upstream's groups: given while a mapped group is sent, taken when none is (an admin
        removed from the company's admin group is no admin here at the next sign-in). Roles
        the mapping does not name stay as the tenant's admin set them; the last admin keeps it."""
        mapping = upstream.get("roles") or {}
        managed = set(mapping.values()) - {"user"}
        if not managed:
            return account
        given = {role for group, role in mapping.items() if group in _groups(asserted.groups)}
        roles = sorted((set(account.roles) - managed) | given | {"user"})
        if roles == sorted(account.roles):
            return account
        try:
            updated = ctx.accounts.set_roles(account.login, roles)
        except Conflict:  # it would leave the tenant without an admin: the role stays
            return account
        audit.append(ctx.store, "upstream.roles_synced", login=account.login, sub=account.sub,
                     upstream=upstream["id"], name=upstream["name"], before=account.roles, after=updated.roles)
        return updated

    def _linked_from_settings(self, ctx, links: Links, linked, login: str, upstream: dict, asserted: Asserted):
        if linked is not None and linked.login != login:
            raise self.failed(ctx, upstream, "error.upstream.linked_elsewhere", "identity linked elsewhere")
        account = ctx.accounts.get(login)
        if account is None:
            raise self.failed(ctx, upstream, "error.upstream.expired", "the account to link is gone")
        if linked is None:
            self._link(ctx, links, login, upstream, asserted)
            audit.append(ctx.store, "upstream.linked", login=login, sub=account.sub, upstream=upstream["id"],
                         name=upstream["name"], by="account")
        return ctx.accounts.require(login)

    def _link(self, ctx, links: Links, login: str, upstream: dict, asserted: Asserted) -> None:
        try:
            links.link(login, upstream, asserted.issuer, asserted.subject)
        except Conflict:
            raise self.failed(ctx, upstream, "error.upstream.linked_elsewhere", "identity linked elsewhere") from None

    def failed(self, ctx, upstream: dict | None, message_id: str, reason: str, *,
               interaction: str | None = None) -> SignInFailed:
        """A refusal: audited with its exact reason (`upstream.refused`); the person reads `message_id`
        on the sign-in page, which goes on serving `interaction` (the app the sign-in was for)."""
        audit.append(ctx.store, "upstream.refused", upstream=upstream["id"] if upstream else None,
                     name=upstream["name"] if upstream else None, reason=reason[:300], ip=ctx.client_ip)
        refusal = SignInFailed(message_id)
        refusal.interaction = interaction
        return refusal


def _groups(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {g for g in value if isinstance(g, str)} if isinstance(value, list) else set()
