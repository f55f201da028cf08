"""Authlib's grants, with their storage hooks filled from the tenant store.

Authorization codes and refresh tokens are stored only as their SHA-256 and
spent by renaming the record into its replay marker (`Transient.move_to`), so
exactly one request can spend one, in any process, and only by the client it was
issued to (another client's attempt leaves it untouched). A code's record lives
as long as a marker must (SPENT_LIFETIME) and is usable only until `usable_until`.
By the marker, that client's second use of a code (RFC 6749 §4.1.2) or of a
rotated refresh token (RFC 9700 §4.14.2) is recognised as a replay and revokes the whole grant, and with it every token
carrying its `gid`.
`Grants` keeps, per grant, how its sign-in happened and whether it was revoked.

A refresh token is `<gid>.<secret>`, and its grant's one `RefreshChain` document holds
the current token's hash and the hashes already spent: a rotation is one write of
that document, compare-and-swap under its lock, so exactly one request rotates a
token. The lock is taken before the chain is read and held across the signing, so
the chain is read once per rotation; a racing request waits for it and then finds
its token spent (a reuse: the grant is revoked, as the loser of a race always was).
A spent hash presented by the grant's client is a replay and revokes the grant;
another client's attempt changes nothing. (Refresh tokens from before chains,
without `<gid>.`, are spent once the old way and continue as a chain.)

A code or refresh token names the account by login and `sub` and records when
its grant began (`granted`: the code's issue; every refresh token after it
keeps it). It is spent only for that same account (a later account with the
login has another sub) and only if the grant began after the account's
`tokens_not_before` (disabling it, signing out everywhere).
"""

import hmac
import re
import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.models import AuthorizationCodeMixin

from ..store import layout, secret_id
from . import backchannel
from .discovery import CLIENT_AUTH_METHODS
from .tokens import CODE_LIFETIME, REFRESH_LIFETIME, TOKEN_LIFETIME
from .userinfo import claims_for

SPENT_LIFETIME = 86400  # how long a replayed code or refresh token is still recognised
SPENT_KEPT = 64  # spent refresh hashes a chain remembers (within SPENT_LIFETIME)
GRANT_ID = re.compile(r"[0-9a-f]{32}")


class Grants:
    """Every grant the provider made: how the person signed in for it, and revocation."""

    def __init__(self, store, now):
        self.notes = store.transient(layout.GRANTS)
        self.revoked = store.transient(layout.REVOKED_GRANTS)
        self.now = now

    def note(self, gid: str, record: dict) -> None:
        self.notes.put(gid, record, ttl=REFRESH_LIFETIME)

    def get(self, gid) -> dict | None:
        return self.notes.get(gid) if isinstance(gid, str) and GRANT_ID.fullmatch(gid) else None

    def revoke(self, gid: str) -> None:
        self.revoked.put(gid, {"revoked": self.now()}, ttl=REFRESH_LIFETIME)

    def is_revoked(self, gid) -> bool:
        if not isinstance(gid, str) or not GRANT_ID.fullmatch(gid):
            return True  # a token without a grant id of ours is no token of ours
        return self.revoked.get(gid) is not None


class RefreshChain:
    """Each grant's refresh token: one document under `refresh-chains/<gid>` holding the
    client, scope and person it was issued for, the current token's hash and the spent ones."""

    def __init__(self, store, now):
        self.records = store.transient(layout.REFRESH_CHAINS)
        self.now = now

    @staticmethod
    def new_token(gid: str) -> str:
        return f"{gid}.{secrets.token_urlsafe(32)}"

    @staticmethod
    def grant_of(token: str) -> str | None:
        """The grant id a refresh token names, None for a token from before chains."""
        gid, dot, rest = token.partition(".")
        return gid if dot and rest and GRANT_ID.fullmatch(gid) else None

    def start(self, gid: str, record: dict, token: str, *, lifetime: int = REFRESH_LIFETIME) -> None:
        """A new chain; each rotation keeps it `lifetime` seconds more (the client's setting)."""
        record = {**record, "current": secret_id(token), "spent": []}
        if lifetime != REFRESH_LIFETIME:
            record["lifetime"] = lifetime
        self.records.put(gid, record, ttl=lifetime)

    def get(self, gid: str) -> dict | None:
        return self.records.get(gid)

    @staticmethod
    def is_current(doc: dict, token: str) -> bool:
        return hmac.compare_digest(doc["current"], secret_id(token))

    @staticmethod
    def was_spent(doc: dict, token: str) -> bool:
        presented = secret_id(token)
        return any(hmac.compare_digest(h, presented) for h, _ in doc.get("spent", []))

    def held(self, gid: str, hold: ExitStack) -> dict | None:
        """The chain, read under its lock, which `hold` keeps until the request's end: the
        rotation that follows the signing (`rotate_held`) writes what was read here, and a
        racing request waits, then finds the token spent."""
        hold.enter_context(self.records.lock(gid))
        return self.records.get(gid)

    def rotate_held(self, gid: str, doc: dict, new: str, scope) -> None:
        """Write the rotation of `doc`, read by `held` under the lock still held: the
        compare was made then, and nobody can have changed the chain since."""
        now = self.now()
        kept = [e for e in doc.get("spent", []) if e[1] > now - SPENT_LIFETIME]
        doc["spent"] = [*kept, [doc["current"], now]][-SPENT_KEPT:]
        doc["current"] = secret_id(new)
        doc["scope"] = scope
        doc.pop("expires", None)
        self.records.put(gid, doc, ttl=doc.get("lifetime", REFRESH_LIFETIME))


@dataclass(frozen=True)
class Principal:
    """The signed-in person as the protocol sees them: account plus how and when."""

    account: Any  # codeb.accounts.Account
    auth_time: int
    amr: tuple
    grant_id: str
    granted: int | None = None  # when the grant began; None until its code is stored

    sub = property(lambda self: self.account.sub)
    roles = property(lambda self: self.account.roles)

    def get_user_id(self):
        return self.account.sub

    def record(self) -> dict:
        """What a stored code or refresh token keeps of the person; `principal_from` reads it back."""
        return {"login": self.account.login, "sub": self.sub, "auth_time": self.auth_time,
                "amr": list(self.amr), "gid": self.grant_id, "granted": self.granted}


class CodeRecord(AuthorizationCodeMixin):
    def __init__(self, doc: dict):
        self.doc = doc
        self.code_challenge = doc.get("code_challenge")
        self.code_challenge_method = doc.get("code_challenge_method")

    def get_redirect_uri(self):
        return self.doc["redirect_uri"]

    def get_scope(self):
        return self.doc["scope"]

    def get_nonce(self):
        return self.doc.get("nonce")

    def get_auth_time(self):
        return self.doc.get("auth_time")

    def get_amr(self):
        return self.doc.get("amr")

    def get_acr(self):
        return None


class RefreshRecord:
    def __init__(self, doc: dict, presented: str | None = None, principal: "Principal | None" = None):
        self.doc = doc
        self.presented = presented  # the chain's current token, read under its lock, rotated in save_token
        self.principal = principal  # whom it stands for, found once per request

    def check_client(self, client):
        return client.get_client_id() == self.doc["client_id"]

    def get_scope(self):
        return self.doc["scope"]


def principal_from(server, doc: dict) -> Principal | None:
    """The person a stored code or refresh token was issued to, if it still stands for them."""
    account = server.accounts.get(doc["login"])
    if account is None or account.disabled or account.sub != doc["sub"]:
        return None
    # Records from before grants noted their start began no later than their sign-in.
    granted = doc.get("granted") or doc["auth_time"]
    if granted <= account.tokens_not_before:  # the same second counts as before: times are whole seconds
        return None
    return Principal(account, doc["auth_time"], tuple(doc.get("amr", ())), doc["gid"], granted=granted)


def spend(server, kind, spent_kind: str, secret: str, client) -> dict | None:
    """Spend a single-use record issued to `client`; on that client's replay, revoke the grant
    it belonged to. Another client's attempt changes nothing (RFC 6749 §4.1.3, §6): the
    record is checked before it is spent, so its rightful client can still spend it.

    Spending is one rename of the record into its replay marker (`Transient.move_to`):
    exactly one request in any process renames it, every later one finds the marker."""
    rid = secret_id(secret)
    client_id = client.get_client_id()
    spent = server.store.transient(spent_kind)
    # A record never changes once written, so what is read here is what the rename spends.
    pending = kind.get(rid)
    if pending is not None and pending.get("client_id") != client_id:
        return None
    if pending is not None and pending.get("usable_until", pending["expires"]) <= server.now():
        return None  # expired: refused, left for the purge, and no marker of a use
    if pending is None or not kind.move_to(rid, spent):
        replay = spent.get(rid)
        if replay and replay.get("client_id", client_id) == client_id:
            server.grants.revoke(replay["gid"])
        return None
    if server.grants.is_revoked(pending["gid"]):
        return None
    return pending


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code, request):
        principal: Principal = request.user
        payload = request.payload.data
        self.server.codes.put(secret_id(code), {
            "client_id": request.client.get_client_id(),
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.scope,
            "nonce": payload.get("nonce"),
            "code_challenge": payload.get("code_challenge"),
            "code_challenge_method": payload.get("code_challenge_method"),
            "dpop_jkt": payload.get("dpop_jkt"),  # RFC 9449 §10: the key the code is bound to, if any
            **principal.record(),
            "granted": self.server.now(),  # the grant begins with its code
            # Usable for CODE_LIFETIME; the record lives on as its own replay marker once spent.
            "usable_until": self.server.now() + CODE_LIFETIME,
        }, ttl=SPENT_LIFETIME)

    def query_authorization_code(self, code, client):
        if not isinstance(code, str) or len(code) > 200:
            return None
        doc = spend(self.server, self.server.codes, layout.SPENT_CODES, code, client)
        bound = doc.get("dpop_jkt") if doc else None
        if bound and (self.server.dpop is None or self.server.dpop.jkt != bound):
            # RFC 9449 §10: a bound code is spent only with a proof of its key (spent even so, as any
            # code a wrong exchange presented: a second try is a replay).
            raise InvalidGrantError("The DPoP proof is not made with the key the authorization request named.")
        return CodeRecord(doc) if doc else None

    def delete_authorization_code(self, authorization_code):
        pass  # already removed when it was spent

    def authenticate_user(self, authorization_code):
        return principal_from(self.server, authorization_code.doc)

    def create_token_response(self):
        reply = super().create_token_response()  # Authlib's, with its hooks: the ID token (OpenIDCode)
        self.remember_for_logout()
        return reply

    def remember_for_logout(self):
        """Back-Channel Logout §2.3: a client that takes back-channel logouts (§2.2) is remembered
        for the browser session its tokens came from (`sid`, as its ID token says), so that the
        end of that session, or of the account's, reaches it. Nothing is written for other clients."""
        client, principal = self.request.client, self.request.user
        if not client.backchannel_logout_uri:
            return
        backchannel.remember(self.server.store, client_id=client.get_client_id(), issuer=self.server.issuer,
                             sub=principal.sub, login=principal.account.login,
                             sid=backchannel.session_id_of(self.server.grants.get(principal.grant_id)),
                             now=self.server.now())


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: RFC 9700 §4.14.2

    def authenticate_refresh_token(self, refresh_token):
        if not isinstance(refresh_token, str) or len(refresh_token) > 200:
            return None
        gid = RefreshChain.grant_of(refresh_token)
        if gid is not None:
            return self._from_chain(gid, refresh_token)
        doc = spend(self.server, self.server.refresh_tokens, layout.SPENT_REFRESH, refresh_token,
                    self.request.client)
        # A token whose person no longer stands behind it is invalid_grant (RFC 6749 §5.2: revoked).
        principal = principal_from(self.server, doc) if doc else None
        return RefreshRecord(doc, principal=principal) if doc and principal else None

    def _from_chain(self, gid: str, token: str):
        """Read the chain once, under its lock, which the request holds across the signing
        (`Provider.token`); the rotation is the one write, in `Provider.save_token`."""
        doc = self.server.refresh_chains.held(gid, self.request.hold)
        if doc is None or doc["client_id"] != self.request.client.get_client_id():
            return None  # another client's attempt changes nothing (RFC 6749 §6)
        if not RefreshChain.is_current(doc, token):
            if RefreshChain.was_spent(doc, token):  # reuse: RFC 9700 §4.14.2
                self.server.grants.revoke(gid)
            return None
        if self.server.grants.is_revoked(gid):
            return None
        if doc.get("jkt") and (self.server.dpop is None or self.server.dpop.jkt != doc["jkt"]):
            return None  # RFC 9449 §5: a bound chain is refreshed only with a proof of its key; nothing spent
        principal = principal_from(self.server, doc)
        return RefreshRecord(doc, presented=token, principal=principal) if principal else None

    def authenticate_user(self, refresh_token):
        return refresh_token.principal  # found by authenticate_refresh_token, in this request

    def issue_token(self, user, refresh_token):
        """Authlib's, rotating the refresh token except for a FAPI 2.0 client (§5.3.2.1, 10.: no
        rotation unless a retry with the previous token succeeds, which reuse detection forbids;
        its refresh token is good only with its private_key_jwt authentication): it keeps its
        token, and its refresh writes nothing."""
        rotate = self.INCLUDE_NEW_REFRESH_TOKEN and not self.request.client.fapi
        return self.generate_token(user=user, scope=self.request.payload.scope or refresh_token.get_scope(),
                                   include_refresh_token=rotate)

    def revoke_old_credential(self, refresh_token):
        pass  # already replaced by the rotation (or taken, for a token from before chains)


class MachineGrant(grants.ClientCredentialsGrant):
    """client_credentials (RFC 6749 §4.4) for a machine client allowed it: a confidential client
    authenticated as at /token, given only its own API scopes (`Client.api_scopes`; all of them
    when it names none, RFC 6749 §3.3), never a person's (`openid`, `profile`, ...), and no
    refresh token (§4.4.3). The token's `aud` is the client's audience (tokens.issue_machine_token)."""

    TOKEN_ENDPOINT_AUTH_METHODS = [m for m in CLIENT_AUTH_METHODS if m != "none"]

    def validate_requested_scope(self):
        client = self.request.client
        asked = scope_to_list(self.request.payload.scope or "") or list(client.api_scopes)
        if not set(asked) <= set(client.api_scopes):
            raise InvalidScopeError("The client may not ask for that scope.")
        self.request.payload.data["scope"] = " ".join(asked)  # the scope the token and its reply carry


class Pkce(CodeChallenge):
    """PKCE with S256 only (RFC 9700 §2.1.1); required of public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def __init__(self):
        super().__init__(required=True)

    def validate_code_verifier(self, grant, result):
        if grant.request.client.public and not grant.request.authorization_code.code_challenge:
            raise InvalidRequestError("PKCE is required for public clients.")
        super().validate_code_verifier(grant, result)


class OpenIDCode(oidc_grants.OpenIDCode):
    """The ID token: RS256 with the tenant's current key, one hour, `sub`, `tenant`, `roles`, `amr`,
    and `sid`, the browser session it came from (Back-Channel Logout §2.1, §2.4; codeb.oidc.backchannel)."""

    def __init__(self, server):
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce, request):
        return False  # each code is single-use, which already stops ID token replay

    def resolve_client_private_key(self, client):
        return self.server.keys.current

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.server.keys.kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = self.server.now()
        return {"iss": self.server.issuer, "aud": client.get_client_id(),
                "iat": now, "exp": now + TOKEN_LIFETIME}

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        # The session the grant's note names (codeb.oidc.authorize); none if the note is lost.
        sid = backchannel.session_id_of(self.server.grants.get(authorization_code.doc.get("gid")))
        if sid:
            claims["sid"] = sid
        return claims

    def generate_user_info(self, user, scope):
        return claims_for(user.account, scope, self.server.tenant.name)

