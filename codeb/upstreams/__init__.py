"""A tenant's upstream identity providers (corporate SSO): `upstreams/<id>.json`.

An upstream is a company's own identity provider (Entra ID, Okta, Google
Workspace, Keycloak, ADFS …) that people of this tenant may sign in with:
"Sign in with <name>". Each document holds what the admin gave (`add`), every
field validated before anything is written:

- `kind`: `oidc` (CodeB is its relying party: `codeb.upstreams.oidc`) or `saml`
  (CodeB is its service provider: `codeb.upstreams.saml`);
- `name`, the button's label, and `logo_uri`, its logo (https);
- for OIDC `issuer`, `client_id`, `client_secret`, `scopes`, and `token_auth`, how CodeB
  authenticates at its token endpoint (`TOKEN_AUTH`; `private_key_jwt` signs with the
  tenant's own key, `codeb.upstreams.client_key`); for SAML the IdP's
  metadata as imported (`idp_metadata`, from `metadata_url` when fetched, refreshed
  by `refresh_metadata`) and what the admin page shows of it (`idp_entity_id`,
  `sso_url`, `certs`);
- `domains`: email domains that belong to it. An address of one goes straight to
  it from the identifier-first field (home-realm discovery), and signs in or up by
  no other method that takes an address (a mailed link, a password) unless
  `others_allowed`;
- `authoritative`: the admin trusts it for the addresses of those domains, so an
  identity it asserts with a *verified* email of one of them is linked to the
  existing account of that address (`codeb.accounts.links`). Without it, nothing
  is ever linked by email;
- `claims`: which ID-token claims (SAML: attributes) carry the email, the name, the groups and
  the user name (suggesting the login of an account it creates);
  `roles`: group → role, given to the accounts it creates;
- `tenant_ids` (Entra ID's multi-tenant issuer) and `hosted_domain` (Google);
- `required_for`: roles whose holders must sign in through it (`codeb.signin.flow.admit`):
  an administrator, say, only with the company's own sign-in and its MFA.

Presets fill what the products' own documentation asks for (`PRESETS`). `update` changes
what the admin may change later (`EDITABLE`), validated by the same rules as `add`.
"""

import builtins
import re
import secrets
from urllib.parse import urlsplit

from ..accounts.profile import ROLES
from ..errors import BadInput, NotFound
from ..store import layout
from ..store.cache import Memo
from .checks import TEMPLATE, TENANT_ID, UpstreamError, check_url, multi_tenant

KINDS = ("oidc", "saml")
ID = re.compile(r"[a-z0-9]{12}")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
CLAIM = re.compile(r"[A-Za-z0-9_:./-]{1,100}")
DEFAULT_SCOPES = ("openid", "email", "profile")
DEFAULT_CLAIMS = {"email": "email", "name": "name", "groups": "groups", "login": "preferred_username"}
MAX_NAME = 60
# Client authentication at an OIDC upstream's token endpoint (OIDC Core §9): the secret in the
# Authorization header or the body, a JWT signed with the tenant's key, or none (a public client).
TOKEN_AUTH = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
# What `update` may change: an upstream's id, kind, preset and creation stay, and so does a SAML
# IdP's entity (its metadata changes by `refresh_metadata`). `client_secret`: a new one replaces
# the stored one; `remove_client_secret` drops it.
EDITABLE = frozenset({"name", "logo_uri", "domains", "authoritative", "others_allowed", "required_for", "claims",
                      "roles"})
SAML_EDITABLE = EDITABLE | {"idp_initiated"}
OIDC_EDITABLE = EDITABLE | {"issuer", "client_id", "client_secret", "remove_client_secret", "scopes", "tenant_ids",
                            "hosted_domain", "token_auth"}
METADATA_MAX_AGE = 24 * 3600  # a SAML IdP's metadata from a URL is fetched again after a day
METADATA_RETRY = 3600         # and, after a failed fetch, tried again after an hour

# Parsed upstream documents by path, revalidated by the file's stamp on every lookup
# (codeb.store.cache): every sign-in and sign-in page asks for them. Shared: read only.
_upstreams = Memo(size=1024)

# What each product's documentation asks a relying party for (`product`: its name, the same in
# every language; `oidc` is any other provider). Only Google's issuer is the same for every
# customer: it is filled in when none is given (the page's hint shows the others' patterns).
PRESETS: dict[str, dict] = {
    "entra": {"product": "Microsoft Entra ID"},
    "okta": {"product": "Okta", "scopes": ["openid", "email", "profile", "groups"]},
    "google": {"product": "Google Workspace", "issuer": "https://accounts.google.com"},
    "keycloak": {"product": "Keycloak"},
    "adfs": {"product": "ADFS", "scopes": ["openid", "email", "profile", "allatclaims"],
             "claims": {"email": "upn", "name": "unique_name", "groups": "group", "login": "upn"}},
    "oidc": {},
    # SAML 2.0 (Entra ID, Okta, ADFS, Keycloak, Shibboleth …): attribute names; the products'
    # own names are tried after them (codeb.upstreams.saml.WELL_KNOWN).
    "saml": {"product": "SAML 2.0", "claims": {"email": "email", "name": "displayName", "groups": "groups",
                                               "login": "uid"}},
}


def clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not 0 < len(name) <= MAX_NAME:
        raise BadInput("error.upstream.name", max=MAX_NAME)
    return name


def clean_domains(domains) -> list[str]:
    found = []
    for given in domains or ():
        domain = str(given).strip().lower().lstrip("@")
        if not DOMAIN.fullmatch(domain):
            raise BadInput("error.upstream.domain", domain=domain[:80])
        if domain not in found:
            found.append(domain)
    return found


def clean_logo(uri) -> str | None:
    """The button's logo: an absolute https URL (the sign-in page's CSP allows its origin), or none."""
    uri = str(uri or "").strip()
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname or len(uri) > 2000 or any(c.isspace() for c in uri):
        raise BadInput("error.upstream.logo")
    return uri


def clean_issuer(issuer) -> str:
    issuer = str(issuer or "").strip()
    try:
        check_url(issuer.replace(TEMPLATE, "00000000-0000-0000-0000-000000000000"), "the issuer")
    except UpstreamError:
        raise BadInput("error.upstream.issuer", issuer=issuer[:120]) from None
    if "{" in issuer.replace(TEMPLATE, ""):
        raise BadInput("error.upstream.issuer", issuer=issuer[:120])
    return issuer


def clean_claims(claims, defaults=DEFAULT_CLAIMS) -> dict:
    chosen = dict(defaults)
    for key, value in (claims or {}).items():
        if key not in DEFAULT_CLAIMS or not isinstance(value, str) or not CLAIM.fullmatch(value):
            raise BadInput("error.upstream.claim", claim=str(key)[:40])
        chosen[key] = value
    return chosen


def clean_role_map(roles) -> dict:
    mapped = {}
    for group, role in (roles or {}).items():
        if not isinstance(group, str) or not 0 < len(group) <= 200:
            raise BadInput("error.upstream.group")
        if role not in ROLES:
            raise BadInput("error.invalid_role")
        mapped[group] = role
    return mapped


def role_lines(text) -> dict:
    """A group → role mapping from lines `group = role` (the admin page's field, the CLI's
    `--role`). The last `=` divides: a group's name may hold one (CN=Admins,OU=Groups)."""
    mapped = {}
    for line in str(text or "").splitlines():
        if not line.strip():
            continue
        group, sep, role = line.strip().rpartition("=")
        if not sep or not group.strip() or role.strip() not in ROLES:
            raise BadInput("error.upstream.role_line", line=line.strip()[:80], roles=", ".join(ROLES))
        mapped[group.strip()] = role.strip()
    return clean_role_map(mapped)


def clean_token_auth(method, *, typed=None, stored=None) -> str:
    """How CodeB authenticates at the token endpoint: as chosen, else with the secret when there
    is one (a public client without). A secret method needs a secret; the others take none typed
    (it would be kept and never sent)."""
    method = str(method or "").strip() or ("client_secret_basic" if typed or stored else "none")
    if method not in TOKEN_AUTH:
        raise BadInput("error.upstream.token_auth", method=method[:40])
    if method in SECRET_METHODS and not (typed or stored):
        raise BadInput("error.upstream.client_secret_needed", method=method)
    if method not in SECRET_METHODS and typed:
        raise BadInput("error.upstream.client_secret_unused", method=method)
    return method


def token_auth(upstream: dict) -> str:
    """How CodeB authenticates at an OIDC upstream's token endpoint: as chosen, or (an upstream
    added before the choice existed) with its secret if it has one."""
    return upstream.get("token_auth") or ("client_secret_basic" if upstream.get("client_secret") else "none")


class Upstreams:
    def __init__(self, store):
        self.store = store

    def list(self) -> builtins.list[dict]:
        docs = (self._doc(uid) for uid in self.store.list(layout.UPSTREAMS))
        return sorted((d for d in docs if d), key=lambda d: (d["name"].casefold(), d["id"]))

    def enabled(self) -> builtins.list[dict]:
        return [u for u in self.list() if u.get("enabled", True)]

    def get(self, uid) -> dict | None:
        if not isinstance(uid, str) or not ID.fullmatch(uid):
            return None
        return self._doc(uid)

    def _doc(self, uid: str) -> dict | None:
        return self.store.derived(_upstreams, layout.UPSTREAMS, uid, make=dict)

    def require(self, uid) -> dict:
        upstream = self.get(uid)
        if upstream is None:
            raise NotFound()
        return upstream

    def for_domain(self, domain: str, kind: str | None = None) -> dict | None:
        """The enabled upstream that claims this email domain (home-realm discovery), if it is
        of `kind` when one is given."""
        found = next((u for u in self.enabled() if domain in u.get("domains", ())), None)
        return found if found is None or kind in (None, found.get("kind", "oidc")) else None

    def only_way_for(self, email: str) -> dict | None:
        """The enabled upstream that claims this address's domain for itself: its people sign
        in (and up) only through it, unless its admin let them use the other methods too."""
        found = self.for_domain(email.rsplit("@", 1)[-1])
        return found if found is not None and not found.get("others_allowed") else None

    def idp_initiated_by(self, entity_id) -> dict | None:
        """The enabled SAML upstream of this IdP entity that accepts sign-ins started at the IdP."""
        return next((u for u in self.of_kind("saml") if u.get("idp_initiated") and u["idp_entity_id"] == entity_id),
                    None)

    def of_kind(self, kind: str) -> builtins.list[dict]:
        """The enabled upstreams of one protocol (`oidc`, `saml`), for their sign-in buttons."""
        return [u for u in self.enabled() if u.get("kind", "oidc") == kind]

    def add(self, *, name, issuer, client_id, client_secret=None, scopes=None, domains=(),
            authoritative=False, claims=None, roles=None, tenant_ids=(), hosted_domain=None,
            preset="oidc", required_for=(), others_allowed=False, logo_uri=None, token_auth=None) -> dict:
        """An upstream OpenID provider: validate everything, then write it in one document;
        BadInput says what is wrong. `token_auth`: one of TOKEN_AUTH (by default the secret
        in the Authorization header when one is given, else none)."""
        if preset not in PRESETS or preset == "saml":
            raise BadInput("error.upstream.preset", preset=str(preset)[:40])
        oidc = _oidc_fields(preset, issuer=issuer, client_id=client_id, client_secret=client_secret,
                            token_auth=token_auth, scopes=scopes, tenant_ids=tenant_ids, hosted_domain=hosted_domain)
        return self._create({
            **self._new(), **self._shared(name=name, domains=domains, authoritative=authoritative, roles=roles,
                                          required_for=required_for, others_allowed=others_allowed,
                                          logo_uri=logo_uri),
            "kind": "oidc", "preset": preset, **oidc, "claims": _claims(preset, claims),
        })

    def add_saml(self, *, name, metadata=None, metadata_url=None, entity_id=None, domains=(),
                 authoritative=False, claims=None, roles=None, required_for=(), others_allowed=False,
                 logo_uri=None, idp_initiated=False) -> dict:
        """An upstream SAML identity provider from its metadata, given (`metadata`, the XML) or
        fetched from `metadata_url`; `entity_id` picks one IdP of an aggregate. The metadata is
        kept whole (pysaml2 reads it at each sign-in) with what the admin page shows of it.
        `idp_initiated`: a sign-in started at the IdP (its app portal) is accepted too."""
        shared = self._shared(name=name, domains=domains, authoritative=authoritative, roles=roles,
                              required_for=required_for, others_allowed=others_allowed, logo_uri=logo_uri)
        url = str(metadata_url or "").strip() or None
        if url is None and not metadata:
            raise BadInput("error.upstream.saml_metadata_needed")
        protocol = _saml()
        try:
            xml = protocol.fetch_metadata(url) if url else str(metadata)
            found = protocol.read_metadata(xml, str(entity_id).strip() if entity_id else None)
        except UpstreamError as error:
            raise BadInput("error.upstream.saml_metadata", reason=error.reason[:200]) from None
        return self._create({
            **self._new(), **shared, "kind": "saml", "preset": "saml", "idp_metadata": xml, "metadata_url": url,
            "metadata_fetched": int(self.store.clock()), **_idp_fields(found), "claims": _claims("saml", claims),
            "idp_initiated": bool(idp_initiated),
        })

    def update(self, uid, **changes) -> dict:
        """Change what the admin may change of an upstream (`EDITABLE`, for OIDC `OIDC_EDITABLE`),
        the whole result validated by the rules of `add` and `add_saml` (a domain of another
        upstream refused, its own kept), in one locked update: all of it or, BadInput, nothing.
        A changed field is given; one not given stays. `client_secret`: a new one (None keeps the
        stored one); `remove_client_secret`: drop it, and a client authenticating by its secret
        becomes a public one. A method that sends no secret keeps none."""
        current = self.require(uid)  # NotFound, and a uid checked before it names a file
        kind = current.get("kind", "oidc")
        refused = sorted(set(changes) - (OIDC_EDITABLE if kind == "oidc" else SAML_EDITABLE))
        if refused:
            raise BadInput("error.upstream.not_editable", field=refused[0][:40])
        with self.store.update(layout.UPSTREAMS, current["id"]) as doc:
            given = {**doc, **{k: v for k, v in changes.items() if k not in ("client_secret", "remove_client_secret")}}
            fields = {}
            if kind == "oidc":
                fields = _oidc_fields(doc.get("preset", "oidc"), **_secret_change(doc, changes), **{
                    k: given.get(k) for k in ("issuer", "client_id", "scopes", "tenant_ids", "hosted_domain")})
            fields.update(self._shared(
                name=given.get("name"), domains=given.get("domains"), authoritative=given.get("authoritative"),
                roles=given.get("roles"), required_for=given.get("required_for"),
                others_allowed=given.get("others_allowed"), logo_uri=given.get("logo_uri"), own=doc["id"]))
            fields["claims"] = _claims(doc.get("preset", "oidc") if kind == "oidc" else "saml", given.get("claims"))
            if kind == "saml":
                fields["idp_initiated"] = bool(given.get("idp_initiated"))
            doc.update(fields)
        return doc

    def refresh_metadata(self, uid: str) -> dict:
        """Fetch a SAML upstream's metadata again from its URL (new signing certificates, a moved
        sign-on URL): the same IdP entity only. UpstreamError when it cannot be used; the old
        metadata then stays."""
        upstream = self.require(uid)
        if upstream.get("kind") != "saml" or not upstream.get("metadata_url"):
            raise BadInput("error.upstream.saml_no_url")
        protocol = _saml()
        xml = protocol.fetch_metadata(upstream["metadata_url"])
        found = protocol.read_metadata(xml, upstream["idp_entity_id"])
        with self.store.update(layout.UPSTREAMS, upstream["id"]) as doc:
            doc.update({"idp_metadata": xml, "metadata_fetched": int(self.store.clock()), **_idp_fields(found)})
        return doc

    def refresh_if_stale(self, upstream: dict) -> dict:
        """A SAML upstream whose metadata came from a URL more than METADATA_MAX_AGE ago, fetched
        again (a rolled-over certificate is picked up by the next sign-in); at most one try per
        METADATA_RETRY across processes. The upstream as it is now; UpstreamError, the old
        metadata kept, when the fetch failed."""
        now = int(self.store.clock())
        if (upstream.get("kind") != "saml" or not upstream.get("metadata_url")
                or now - upstream.get("metadata_fetched", 0) < METADATA_MAX_AGE
                or now - upstream.get("metadata_tried", 0) < METADATA_RETRY):
            return upstream
        with self.store.update(layout.UPSTREAMS, upstream["id"]) as doc:
            if now - doc.get("metadata_tried", 0) < METADATA_RETRY:
                return doc  # another process is at it
            doc["metadata_tried"] = now
        return self.refresh_metadata(upstream["id"])

    def _shared(self, *, name, domains, authoritative, roles, required_for, others_allowed, logo_uri,
                own: str | None = None) -> dict:
        """What every kind of upstream has, validated: its name, domains (each claimed by one
        upstream only: `own`, the one being changed, may keep its own), whether it is
        authoritative for them, the group → role mapping, and the roles that must sign in
        through it, and whether the people of its domains may also sign in another way (a
        mailed link, a password)."""
        domains = clean_domains(domains)
        if authoritative and not domains:
            raise BadInput("error.upstream.authoritative_needs_domain")
        for other in self.list():
            if other["id"] == own:
                continue
            taken = set(domains) & set(other.get("domains", ()))
            if taken:
                raise BadInput("error.upstream.domain_taken", domain=sorted(taken)[0], upstream=other["name"])
        if any(role not in ROLES for role in required_for or ()):
            raise BadInput("error.invalid_role")
        return {
            "name": clean_name(name), "logo_uri": clean_logo(logo_uri), "domains": domains,
            "authoritative": bool(authoritative),
            "roles": clean_role_map(roles), "required_for": sorted(set(required_for or ())),
            "others_allowed": bool(others_allowed),
        }

    def _new(self) -> dict:
        """What a new upstream starts with besides what the admin gave."""
        return {"id": "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12)),
                "enabled": True, "created": int(self.store.clock())}

    def _create(self, doc: dict) -> dict:
        if not self.store.create(layout.UPSTREAMS, doc["id"], doc=doc):
            raise BadInput("error.bad_request")
        return doc

    def required_for(self, roles) -> builtins.list[dict]:
        """The enabled upstreams one of these roles must sign in through."""
        return [u for u in self.enabled() if set(u.get("required_for", ())) & set(roles)]

    def set_enabled(self, uid: str, enabled: bool) -> dict:
        with self.store.update(layout.UPSTREAMS, self.require(uid)["id"]) as doc:
            doc["enabled"] = bool(enabled)
        return doc

    def remove(self, uid: str) -> bool:
        upstream = self.get(uid)
        return upstream is not None and self.store.delete(layout.UPSTREAMS, upstream["id"])


def redirect_uri(base_url: str) -> str:
    """Where every upstream OIDC provider sends the browser back: one per tenant host."""
    return f"{base_url}/signin/oidc/callback"


def acs_url(base_url: str) -> str:
    """Where every upstream SAML IdP posts its Response (the assertion consumer service)."""
    return f"{base_url}/signin/saml/acs"


def signed_out_url(base_url: str, kind: str) -> str:
    """Where an upstream sends the browser back after signing it out (OIDC's post-logout redirect
    URI, SAML's single-logout service of our metadata)."""
    return f"{base_url}/signin/{kind}/signed-out"


def sp_entity_id(base_url: str, uid: str) -> str:
    """The tenant's SAML entity id towards one upstream: the URL of its signed SP metadata."""
    return f"{base_url}/signin/saml/metadata/{uid}"


def client_jwks_uri(base_url: str) -> str:
    """Where CodeB publishes the public key of its `private_key_jwt` client assertions, for an
    upstream's admin to register (its `jwks_uri` of this client)."""
    return f"{base_url}/signin/oidc/jwks"


def _oidc_fields(preset: str, *, issuer, client_id, client_secret, token_auth, scopes, tenant_ids, hosted_domain,
                 stored_secret=None) -> dict:
    """An OIDC upstream's own fields, validated (add, update). `client_secret`: the one typed now,
    if any; `stored_secret`: the one it has, kept when none is typed (update)."""
    defaults = PRESETS.get(preset, {})
    issuer = clean_issuer(issuer or defaults.get("issuer"))
    client_id = str(client_id or "").strip()
    if not 0 < len(client_id) <= 255:
        raise BadInput("error.upstream.client_id")
    if client_secret is not None and not 0 < len(str(client_secret)) <= 512:
        raise BadInput("error.upstream.client_secret")
    method = clean_token_auth(token_auth, typed=client_secret, stored=stored_secret)
    scopes = [str(s) for s in (scopes or defaults.get("scopes") or DEFAULT_SCOPES)]
    if "openid" not in scopes or any(not CLAIM.fullmatch(s) for s in scopes):
        raise BadInput("error.upstream.scopes")
    tenant_ids = [str(t).lower() for t in tenant_ids or ()]
    if any(not TENANT_ID.fullmatch(t) for t in tenant_ids):
        raise BadInput("error.upstream.tenant_id")
    if multi_tenant(issuer) and not tenant_ids:
        raise BadInput("error.upstream.tenant_ids_needed")
    return {"issuer": issuer, "client_id": client_id, "token_auth": method, "scopes": scopes,
            "client_secret": (client_secret or stored_secret) if method in SECRET_METHODS else None,
            "tenant_ids": tenant_ids,
            "hosted_domain": clean_domains([hosted_domain])[0] if hosted_domain else None}


def _secret_change(doc: dict, changes: dict) -> dict:
    """The client authentication `update` validates: the method chosen (else the stored one),
    the secret typed, and the stored secret unless it is to be removed, which turns a client
    that authenticates by its secret into a public one."""
    method = changes.get("token_auth") or doc.get("token_auth")
    typed = changes.get("client_secret") or None
    removed = bool(changes.get("remove_client_secret"))
    if removed and not typed and (method or token_auth(doc)) in SECRET_METHODS:
        method = "none"
    return {"token_auth": method, "client_secret": typed,
            "stored_secret": None if removed else doc.get("client_secret")}


def _claims(preset: str, claims) -> dict:
    """Which claims (SAML: attributes) carry the email, the name and the groups: those given, the
    preset's for the others."""
    return clean_claims(claims, {**DEFAULT_CLAIMS, **PRESETS.get(preset, {}).get("claims", {})})


def _idp_fields(found: dict) -> dict:
    return {"idp_entity_id": found["entity_id"], "sso_url": found["sso_url"], "slo_url": found.get("slo_url"),
            "certs": found["certs"]}


def _saml():
    """`codeb.upstreams.saml`: pysaml2 and xmlsec1 load at the first SAML sign-in or import."""
    from . import saml  # noqa: PLC0415 -- at first use (see above)

    return saml
