"""Sign in with the company's identity provider over SAML 2.0 ("Sign in with Acme").

`begin` sends the browser to the IdP with a signed AuthnRequest (HTTP-Redirect;
`codeb.upstreams.saml` builds it) after filing a *request record* under the hash of
its RelayState (ten minutes, taken once): the upstream, the request's ID, the
waiting authorization request and the browser it was made for.

The IdP's page posts the Response to `POST /signin/saml/acs` (HTTP-POST binding).
That post comes from the IdP's site, so no cookie of ours comes with it (they are
SameSite=Lax) and nothing there can tell which browser it is: `arrive` takes the
record by RelayState (a forged or replayed one finds none), has the Response
checked against that record's request (`codeb.upstreams.saml.verify_response`),
spends the assertion's ID (kept until the assertion expires: a replay finds it),
and keeps the identity for two minutes under a fresh name. The browser goes on
with that name to `GET /signin/saml/callback`, a top-level GET that carries our
cookies again, where `complete` takes the identity, checks this is the browser
that began, and signs in by the linking rule of `codeb.signin.federation`. Every
refusal is audited with its exact reason.

Signing out of CodeB offers to sign out at the IdP too when its metadata names a
single-logout service: a signed LogoutRequest (HTTP-Redirect) for the NameID and
SessionIndex the sign-in kept, its LogoutResponse back at `/signin/saml/signed-out`.

A sign-in started at the IdP (its app portal: a Response answering no request, no
RelayState of ours) is refused unless the admin allows it for that upstream: it cannot
be bound to the browser that asked, so it opens the door to signing someone into an
account of the attacker's (login CSRF). Every other check stands, the replay cache
above all, which for these is the only thing that makes a Response usable once.

The NameID is the subject: a transient one (a new value at each sign-in) cannot
be linked to an account, so it is refused with the reason the IdP's admin needs.
"""

import secrets

from .. import audit
from ..errors import NotFound, SignInFailed
from ..store import layout, secret_id
from ..upstreams import Upstreams, acs_url, signed_out_url, sp_entity_id
from ..upstreams.checks import UpstreamError
from .base import Challenge, NotMine, SignInContext, VerifiedIdentity
from .federation import REQUEST_LIFETIME, Asserted, Federated

ARRIVAL_LIFETIME = 120  # seconds from the ACS to the callback: one redirect
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
MAX_RELAY_STATE = 80  # SAML bindings §3.4.3: at most 80 bytes; ours are 43
# What a refusal at the ACS may show on the sign-in page the browser is sent on to.
REFUSALS = frozenset({"error.upstream.expired", "error.upstream.unknown", "error.upstream.refused",
                      "error.upstream.bad_token", "error.upstream.denied", "error.upstream.bad_discovery"})


def _requests(store):
    return store.transient(layout.UPSTREAM_REQUESTS)


def _arrivals(store):
    return store.transient(layout.UPSTREAM_ARRIVALS)


def service_provider(ctx: SignInContext, upstream: dict, *, unsolicited: bool = False):
    """pysaml2's client for this tenant host and upstream (`codeb.upstreams.saml.client`)."""
    return _protocol().client(ctx.store, upstream, entity_id=sp_entity_id(ctx.base_url, upstream["id"]),
                              acs_url=acs_url(ctx.base_url), slo_url=signed_out_url(ctx.base_url, "saml"),
                              unsolicited=unsolicited)


class UpstreamSAML(Federated):
    name = "saml"
    kind = "saml"
    posts_back = True

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        upstream, _ = self.chosen_upstream(ctx, submitted)
        try:
            upstream = Upstreams(ctx.store).refresh_if_stale(upstream)
        except UpstreamError as error:  # the sign-in goes on with the metadata it has
            audit.append(ctx.store, "upstream.refresh_failed", upstream=upstream["id"], name=upstream["name"],
                         reason=error.reason[:300])
        relay_state = secrets.token_urlsafe(32)
        try:
            request_id, url = _protocol().authn_request(service_provider(ctx, upstream), upstream,
                                                        relay_state=relay_state)
        except UpstreamError as error:
            raise self.failed(ctx, upstream, error.message_id, error.reason) from None
        _requests(ctx.store).put(secret_id(relay_state), {
            "upstream": upstream["id"], "saml_request": request_id,
            "browser": secret_id(ctx.browser) if ctx.browser else None,
            "interaction": submitted.get("i") or None, "link_to": ctx.linking, "created": ctx.now(),
        }, ttl=REQUEST_LIFETIME)
        return Challenge(data={}, redirect=url)

    def arrive(self, ctx: SignInContext, form) -> dict:
        relay_state = form.get("RelayState")
        ours = isinstance(relay_state, str) and 0 < len(relay_state) <= MAX_RELAY_STATE
        record = _requests(ctx.store).take(secret_id(relay_state)) if ours else None
        if record is None or "saml_request" not in record:  # never ours, expired or spent
            record = self._started_at_idp(ctx, form)
            if record is None:
                raise self.failed(ctx, None, "error.upstream.expired", "unknown or spent RelayState" if ours
                                  else "no RelayState (unsolicited response)")
        try:
            identity, upstream = self._verified(ctx, record, form)
        except SignInFailed as refusal:  # the sign-in page it leads to still serves the app
            refusal.interaction = record.get("interaction")
            raise
        arrival = secrets.token_urlsafe(32)
        _arrivals(ctx.store).put(secret_id(arrival), {
            "upstream": upstream["id"], "browser": record.get("browser"), "unsolicited": record["saml_request"] is None,
            "interaction": record.get("interaction"), "link_to": record.get("link_to"), "identity": identity,
        }, ttl=ARRIVAL_LIFETIME)
        return {"arrival": arrival}

    def _started_at_idp(self, ctx: SignInContext, form) -> dict | None:
        """For a Response that answers no request, from an IdP whose upstream allows sign-ins
        started there (its app portal): a request record of none, bound to no browser. Such a
        sign-in cannot be tied to the browser that asked, which is why it is off by default."""
        upstream = Upstreams(ctx.store).idp_initiated_by(_protocol().unsolicited_issuer(form.get("SAMLResponse")))
        if upstream is None:
            return None
        return {"upstream": upstream["id"], "saml_request": None, "browser": None, "interaction": None}

    def _verified(self, ctx: SignInContext, record: dict, form) -> tuple[dict, dict]:
        """(the identity the posted Response asserts, its upstream), every check passed and the
        assertion spent; SignInFailed, audited, otherwise."""
        upstream = Upstreams(ctx.store).get(record["upstream"])
        if upstream is None or not upstream.get("enabled", True) or upstream.get("kind") != self.kind:
            raise self.failed(ctx, None, "error.upstream.unknown", "the upstream is gone or off")
        protocol = _protocol()
        try:
            sp = service_provider(ctx, upstream, unsolicited=record["saml_request"] is None)
            identity = protocol.verify_response(sp, upstream, form.get("SAMLResponse"),
                                                request_id=record["saml_request"], acs_url=acs_url(ctx.base_url),
                                                now=ctx.now())
        except UpstreamError as error:
            raise self.failed(ctx, upstream, error.message_id, error.reason) from None
        used = secret_id(f"{upstream['idp_entity_id']}\n{identity['assertion_id']}")
        until = max(identity["expires"] - ctx.now(), 0) + protocol.SKEW
        if not ctx.store.transient(layout.SAML_ASSERTIONS).create(used, {"upstream": upstream["id"]}, ttl=until):
            raise self.failed(ctx, upstream, "error.upstream.expired", "the assertion was used before (replay)")
        if identity["name_id_format"] == TRANSIENT:
            raise self.failed(ctx, upstream, "error.upstream.refused",
                              "a transient NameID: the IdP must send a persistent or email NameID")
        return identity, upstream

    def published(self, ctx: SignInContext, uid: str) -> tuple[str, str]:
        upstream = Upstreams(ctx.store).get(uid)
        if upstream is None or upstream.get("kind") != self.kind:
            raise NotFound()
        return "application/samlmetadata+xml", _protocol().sp_metadata(service_provider(ctx, upstream))

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        if submitted.get("failed") in REFUSALS:  # refused at the ACS (and audited there)
            refusal = SignInFailed(submitted["failed"])
            refusal.interaction = submitted.get("i") if isinstance(submitted.get("i"), str) else None
            raise refusal
        arrival = submitted.get("arrival")
        if not isinstance(arrival, str) or not 0 < len(arrival) <= 200:
            raise NotMine("arrival")
        record = _arrivals(ctx.store).take(secret_id(arrival))
        if record is None:
            raise self.failed(ctx, None, "error.upstream.expired", "unknown or spent arrival")
        if not record.get("unsolicited") and (not ctx.browser or record.get("browser") != secret_id(ctx.browser)):
            raise self.failed(ctx, None, "error.upstream.expired", "arrival of another browser")
        upstream = Upstreams(ctx.store).get(record["upstream"])
        if upstream is None or not upstream.get("enabled", True) or upstream.get("kind") != self.kind:
            raise self.failed(ctx, None, "error.upstream.unknown", "the upstream is gone or off",
                              interaction=record.get("interaction"))
        identity, mapping = record["identity"], upstream["claims"]
        protocol = _protocol()
        emails = protocol.attribute(identity, mapping["email"], "email")
        names = protocol.attribute(identity, mapping["name"], "name")
        email = emails[0] if emails else None
        # SAML has no email_verified: the admin's "authoritative" for the address's domain stands for it.
        domain = email.rsplit("@", 1)[-1].lower() if isinstance(email, str) else ""
        vouched = bool(upstream.get("authoritative")) and domain in upstream.get("domains", ())
        return self.identity(ctx, upstream, Asserted(
            issuer=upstream["idp_entity_id"], subject=identity["name_id"], email=email, email_verified=vouched,
            name=names[0] if names else None, groups=protocol.attribute(identity, mapping["groups"], "groups"),
            login=next(iter(protocol.attribute(identity, mapping.get("login", "uid"), "login")), None),
            amr=tuple(identity["amr"])), record.get("interaction"), record.get("link_to"),
            logout={key: identity[key] for key in ("name_id", "name_id_format", "session_index")}
            if upstream.get("slo_url") else None)

    def sign_out_url(self, ctx: SignInContext, upstream: dict, kept: dict, *, state: str) -> tuple[str, dict] | None:
        if not upstream.get("slo_url"):
            return None
        request_id, url = _protocol().logout_request(
            service_provider(ctx, upstream), upstream, name_id=kept["name_id"],
            name_id_format=kept.get("name_id_format") or "", session_index=kept.get("session_index"),
            relay_state=state)
        return url, {"saml_request": request_id}

    def signed_out(self, ctx: SignInContext, upstream: dict, logout: dict, submitted) -> bool:
        return _protocol().logout_confirmed(service_provider(ctx, upstream), upstream, dict(submitted),
                                            request_id=logout.get("saml_request", ""))


def _protocol():
    """`codeb.upstreams.saml`: pysaml2 and cryptography load at the first SAML sign-in, not
    when the app starts (tests/structure/test_startup.py)."""
    from ..upstreams import saml  # noqa: PLC0415 -- at first use (see above)

    return saml
