"""Sign in with the EU Digital Identity Wallet: a PID presented over OpenID4VP 1.0 (HAIP).

`begin` opens a *transaction* (`transient/wallet-requests/`, under the hash of its id,
REQUEST_LIFETIME): a fresh nonce (256 bits) and `state`, a P-256 key made for this
request alone to which the wallet encrypts its answer, the waiting authorization request,
and the browser that asked (the hash of its session's CSRF token). The browser is sent to
the *present* page, which shows the request three ways (`codeb.web.wallet`):

- **Same device:** a link whose `href` is the request URL (`openid4vp://?client_id=…
  &request_uri=…`), opening the wallet app on this phone. The wallet fetches the signed
  request object at `request_uri`, asks the person, and posts its answer to the
  transaction's `response_uri`. That answer is verified there (`respond`); the wallet is
  told to send its browser to the callback with a one-time `response_code`, and only the
  browser that began, bringing that code, completes the sign-in. An attacker who relays
  the link to a victim gets nothing: the code goes to the victim's browser, and the
  attacker's tab cannot complete without it (OpenID4VP §14.2, session fixation).
- **Another device:** the same request as a QR code (request URI `?via=qr`), scanned by
  the wallet on the person's phone. No browser comes back, so the present page polls
  (`status`) and completes when the verified answer has arrived, in its own session. As
  with any QR sign-in, a person can be talked into scanning someone else's code: the
  wallet shows the verifier's certified name, and a tenant may switch this way off
  (`cross_device`).
- **The browser's Digital Credentials API** where it has one (`openid4vp-v1-signed`,
  `dc_api.jwt`): the page hands the browser the signed request, the browser hands it to a
  wallet together with the page's origin, and the encrypted answer comes back to the page,
  which posts it to `complete`. The key binding names `origin:<our origin>` and an mdoc's
  transcript binds the origin, so an answer made for another site is refused.

Whichever way, the verification is the same (`verified`): the answer opened with the
request's key, one PID presentation in it, verified by its format's verifier in
`codeb.wallet` against the tenant's trust list, and its Token Status List entry checked
(fail closed unless the admin chose otherwise). Refusals are audited with their reason;
a verified presentation is audited with its issuer and credential type, never a claim.

Nothing of the presentation is kept. The answer is verified in the request that brought
it; the transaction then holds only what the sign-in needs: the account the wallet
identity is linked to, or, while none is, the claims the sign-up or the linking needs,
until the browser takes it (`take`: deleted). The wallet identity is a link
(`codeb.accounts.links`) whose subject is an HMAC under a tenant key of the PID
provider's CA and a stable claim (the personal administrative number when the PID
carries one, else the tenant's claims, normalised): name and birth date are not a
unique identifier (OpenID4VP §14), so the HMAC is never compared across tenants and
never reversed. A person links their wallet from account settings after a recent
sign-in (`SignInContext.linking`), which also marks the account identity-verified.
"""

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Mapping
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

from .. import audit
from ..accounts.links import Links
from ..accounts.profile import clean_display_name
from ..errors import AccountDisabled, BadInput, Conflict, NotFound, SignInFailed, concerning
from ..invites import SIGNUP
from ..store import layout, secret_id
from ..tenants.secrets import session_secret
from ..upstreams.checks import UpstreamError
from ..upstreams.fetch import get_bytes
from .base import Challenge, Continue, SignInContext, SignInMethod, VerifiedIdentity, hit_limits, submitted_field
from .signup import begin as signup_begin
from .signup import policy_of

REQUEST_LIFETIME = 300   # seconds a transaction waits for the wallet
# The claims that name the person (codeb.wallet.request, which loads late: the same names).
IDENTITY_CLAIMS = ("given_name", "family_name", "birth_date")
LINK_CLAIM = "personal_administrative_number"
PER_CLIENT = ((60, 60), (300, 900))  # transactions one client network may open
AMR = ("wallet",)        # not an RFC 8176 value: `amr` is open to others (RFC 8176 §2)
LINK_ISSUER = "urn:codeb:eudi-wallet"
WALLET = {"id": "wallet", "name": "EU Digital Identity Wallet"}  # what the account's link names
TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
RESPONSE_CODE = re.compile(r"[A-Za-z0-9_-]{43}")
STATUS_LIST_LIMIT = 1_000_000  # bytes of a Token Status List fetched

# What a transaction is: waiting for the wallet; opened (the wallet fetched the request);
# arrived (a verified answer waits for its browser); failed (the answer was refused).
WAITING, OPENED, ARRIVED, FAILED, EXPIRED = "waiting", "opened", "arrived", "failed", "expired"
REDIRECTED = "redirected"  # what the poll says of a same-device answer: it completes where the wallet sent the browser

# The refusal reasons a person reads a message of their own for; every other is "refused".
MESSAGES = {
    "untrusted_issuer": "error.wallet.untrusted", "self_signed_leaf": "error.wallet.untrusted",
    "expired": "error.wallet.credential_expired", "certificate_expired": "error.wallet.credential_expired",
    "revoked": "error.wallet.revoked", "suspended": "error.wallet.revoked",
    "status_unavailable": "error.wallet.status_unavailable", "declined": "error.wallet.declined",
    "missing_claims": "error.wallet.missing_claims",
}


OPTIONAL_CLAIMS = ("nationality", "email")  # what a tenant may ask for besides the identity claims
PID_VCT = "urn:eudi:pid:1"  # the EU's PID type (codeb.wallet.request.PID_VCT), always accepted
SCHEMES = ("openid4vp", "haip-vp", "eudi-openid4vp")
PREFIXES = ("x509_hash", "x509_san_dns")
MAX_TYPES = 10
CREDENTIAL_TYPE = re.compile(r"(urn:[A-Za-z0-9][A-Za-z0-9:._-]{1,190}|https://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{3,190})")


def settings_part(submitted: Mapping) -> dict:
    """The wallet's settings from the admin's form (`/admin/wallet`), validated: the claims
    asked for besides those that name the person, the SD-JWT VC types accepted besides the
    EU's PID type, the client identifier prefix, the URL scheme that opens wallets, whether
    a wallet on another device may answer (the QR code), whether answers are encrypted
    (off only for development) and whether a status list that cannot be fetched lets the
    credential through."""
    claims = submitted.getlist("claims") if hasattr(submitted, "getlist") else submitted.get("claims") or []
    if any(name not in OPTIONAL_CLAIMS for name in claims):
        raise BadInput("error.wallet.settings_claims", field="claims")
    types = (submitted.get("vct_values") or "").split()
    if len(types) > MAX_TYPES or any(not CREDENTIAL_TYPE.fullmatch(vct) for vct in types):
        raise BadInput("error.wallet.settings_types", field="vct_values", max=MAX_TYPES)
    prefix, scheme = submitted.get("client_id_prefix"), submitted.get("scheme")
    if prefix not in PREFIXES:
        raise BadInput("error.wallet.settings_choice", field="client_id_prefix")
    if scheme not in SCHEMES:
        raise BadInput("error.wallet.settings_choice", field="scheme")
    return {"wallet": {"claims": [name for name in OPTIONAL_CLAIMS if name in claims],
                       "vct_values": [PID_VCT] + [vct for vct in dict.fromkeys(types) if vct != PID_VCT],
                       "client_id_prefix": prefix, "scheme": scheme,
                       "cross_device": submitted.get("cross_device") == "1",
                       "encrypted": submitted.get("encrypted") == "1",
                       "status_fail_open": submitted.get("status_fail_open") == "1"}}


def settings_of(tenant) -> dict:
    """The tenant's wallet settings, with the defaults."""
    saved = tenant.setting("wallet", default={}) or {}
    return {"claims": [name for name in saved.get("claims") or () if name in OPTIONAL_CLAIMS],
            "vct_values": list(saved.get("vct_values") or (PID_VCT,)),
            "client_id_prefix": saved.get("client_id_prefix") or "x509_hash",
            "encrypted": saved.get("encrypted", True) is not False,
            "cross_device": saved.get("cross_device", True) is not False,
            "scheme": saved.get("scheme") or "openid4vp",
            "status_fail_open": bool(saved.get("status_fail_open"))}


def _transactions(store):
    return store.transient(layout.WALLET_REQUESTS)


def _valid_id(tid) -> str | None:
    return tid if isinstance(tid, str) and TRANSACTION_ID.fullmatch(tid) else None


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


class WalletSignIn(SignInMethod):
    name = "wallet"
    OPTIONAL_CLAIMS, SCHEMES, PREFIXES = OPTIONAL_CLAIMS, SCHEMES, PREFIXES
    settings_part = staticmethod(settings_part)
    settings_of = staticmethod(settings_of)
    stands_apart = True  # its own button on the sign-in page
    calls_back = True    # same device: the wallet sends the browser to GET /signin/wallet/callback

    def usable_by(self, account) -> bool:
        return any(link.get("issuer") == LINK_ISSUER for link in account.links)

    def page_part(self, tenant) -> dict:
        return {"wallet": True}

    # -- the transaction -------------------------------------------------------------

    def begin(self, ctx: SignInContext, submitted: Mapping) -> Challenge:
        submitted_field(submitted, "wallet")
        if not ctx.browser:
            raise BadInput("error.bad_request")
        hit_limits(ctx.store, layout.WALLET_PER_CLIENT, ctx.client_network, PER_CLIENT)

        tid = secrets.token_urlsafe(32)
        private, public = _late().response.new_key()
        now = ctx.now()
        record = {"browser": secret_id(ctx.browser), "interaction": submitted.get("i") or None,
                  "linking": ctx.linking, "nonce": secrets.token_urlsafe(32), "state": secrets.token_urlsafe(32),
                  "key": private, "public": public, "step": WAITING, "via": None, "created": now,
                  "expires": now + REQUEST_LIFETIME}
        _transactions(ctx.store).put(secret_id(tid), record, ttl=REQUEST_LIFETIME)
        return Challenge(data={"transaction": tid}, then=f"/signin/wallet/present?t={tid}")

    def _record(self, ctx: SignInContext, tid) -> dict | None:
        tid = _valid_id(tid)
        return _transactions(ctx.store).get(secret_id(tid)) if tid else None

    def _bound(self, ctx: SignInContext, record: dict | None) -> bool:
        return (record is not None and bool(ctx.browser)
                and hmac.compare_digest(record.get("browser", ""), secret_id(ctx.browser)))

    def waiting(self, ctx: SignInContext, pid) -> dict | None:
        """What the present page shows: the request URLs (same device, QR) and the signed
        request for the Digital Credentials API; None unless it is this browser's."""
        record = self._record(ctx, pid)
        if not self._bound(ctx, record) or record is None or record["step"] in (ARRIVED, FAILED):
            return None
        vp = _late().request

        settings = settings_of(ctx.tenant)
        client_id = self.client_id(ctx)
        request_uri = f"{ctx.base_url}/signin/wallet/request/{pid}"
        return {"transaction": pid, "expires": record["expires"], "interaction": record.get("interaction"),
                "link": vp.authorization_url(settings["scheme"], client_id=client_id, request_uri=request_uri),
                "qr": (vp.authorization_url(settings["scheme"], client_id=client_id,
                                            request_uri=request_uri + "?via=qr")
                       if settings["cross_device"] else None),
                "dc_request": self.dc_api_request(ctx, record)}

    def status(self, ctx: SignInContext, pid, *, signed_in_by: str | None = None) -> dict:
        """The present page's poll: where this browser's transaction stands."""
        record = self._record(ctx, pid)
        if not self._bound(ctx, record) or record is None:
            return {"state": EXPIRED}
        answer = {"state": record["step"]}
        if record["step"] == FAILED:
            answer["message"] = MESSAGES.get(record.get("reason", ""), "error.wallet.refused")
            answer["reason"] = record.get("reason")
        if record["step"] == ARRIVED and record.get("code"):
            answer["state"] = REDIRECTED  # same device: only the browser the wallet sent on, with its code
        return answer

    # -- the request object ------------------------------------------------------------

    def verifier(self, ctx: SignInContext):
        """(the tenant's verifier key and chain, the full client id wallets know it by)."""
        host = urlsplit(ctx.base_url).hostname or ""
        found = _late().tenant.verifier(ctx.store, host=host)
        return found, _late().request.client_id(settings_of(ctx.tenant)["client_id_prefix"],
                                                x509_hash=found.x509_hash, host=host)

    def client_id(self, ctx: SignInContext) -> str:
        return self.verifier(ctx)[1]

    def _query(self, ctx: SignInContext) -> dict:

        settings = settings_of(ctx.tenant)
        return _late().request.dcql_query(settings["claims"], vct_values=settings["vct_values"])

    def request_object(self, ctx: SignInContext, tid, *, via: str | None, wallet_nonce) -> str:
        """The signed request object the wallet fetches at `request_uri` (GET, or POST with
        its `wallet_nonce`); the first fetch fixes whether it came by link or by QR code.
        NotFound for a transaction that is not waiting (expired, answered)."""
        settings = settings_of(ctx.tenant)
        via = "qr" if via == "qr" and settings["cross_device"] else "link"
        if wallet_nonce is not None and (not isinstance(wallet_nonce, str) or not 0 < len(wallet_nonce) <= 200):
            raise BadInput("error.bad_request")
        tid = _valid_id(tid)
        if tid is None:
            raise NotFound()
        vp = _late().request
        with _transactions(ctx.store).update(secret_id(tid)) as record:
            if not record or record.get("step") not in (WAITING, OPENED):
                raise NotFound()
            record["step"], record["via"] = OPENED, record.get("via") or via
            encrypted = record.setdefault("encrypted", settings["encrypted"])  # fixed at the first fetch
            found, client_id = self.verifier(ctx)
            params = vp.parameters(
                client_id=client_id, response_uri=f"{ctx.base_url}/signin/wallet/response/{tid}",
                nonce=record["nonce"], state=record["state"], dcql=self._query(ctx),
                metadata=vp.client_metadata(record["public"] if encrypted else None, client_name=ctx.tenant.name),
                response_mode="direct_post.jwt" if encrypted else "direct_post", wallet_nonce=wallet_nonce)
        return vp.request_object(key=found.key, chain=found.chain, claims=params, now=ctx.now())

    def dc_api_request(self, ctx: SignInContext, record: dict) -> str:
        """The signed request the page hands the browser's Digital Credentials API."""
        vp = _late().request
        found, client_id = self.verifier(ctx)
        params = vp.parameters(client_id=client_id, response_uri=None, nonce=record["nonce"], state=None,
                               dcql=self._query(ctx), metadata=vp.client_metadata(record["public"]),
                               response_mode="dc_api.jwt", expected_origins=[_origin(ctx.base_url)])
        return vp.request_object(key=found.key, chain=found.chain, claims=params, now=ctx.now())

    # -- the wallet's answer -----------------------------------------------------------

    def respond(self, ctx: SignInContext, tid, form: Mapping) -> dict:
        """The wallet posted its answer to the transaction's response URI: verified here, and
        what the wallet is told (same device: where to send its browser, with a one-time code).
        Refused answers raise BadInput with the reason, after the transaction is marked failed."""
        tid = _valid_id(tid)
        record = _transactions(ctx.store).get(secret_id(tid)) if tid else None
        if tid is None or record is None or record.get("step") not in (WAITING, OPENED):
            raise NotFound()
        late = _late()
        vp_response = late.response
        try:
            if "error" in form:  # the person declined, or the wallet could not answer
                raise late.Refused("declined", str(form.get("error"))[:80])
            if record.get("encrypted", True) or "response" in form:
                params = vp_response.open_response(form.get("response"), private_key=record["key"],
                                                   enc_values=("A128GCM", "A256GCM"))
            else:
                params = dict(form)
            if not hmac.compare_digest(str(params.get("state", form.get("state", ""))), record["state"]):
                raise late.Refused("wrong_state", "the answer is for another request")
            result = self.verified(ctx, record, params, audience=self.client_id(ctx),
                                   response_uri=f"{ctx.base_url}/signin/wallet/response/{tid}")
        except late.Refused as refusal:
            self._fail(ctx, tid, refusal)
            if refusal.reason == "declined":  # an error response, processed: 200 and nothing more
                return {}
            raise BadInput("error.wallet.refused", reason=refusal.reason) from None
        code = secrets.token_urlsafe(32) if record.get("via") != "qr" else None
        with _transactions(ctx.store).update(secret_id(tid)) as current:
            if not current or current.get("step") not in (WAITING, OPENED):
                raise NotFound()  # answered twice at once: the first one stands
            _forget_request(current)
            current.update({"step": ARRIVED, "result": result, "code": secret_id(code) if code else None})
        if code is None:
            return {}
        query = urlencode({"t": tid, "response_code": code})
        return {"redirect_uri": f"{ctx.base_url}/signin/wallet/callback?{query}"}

    def _fail(self, ctx: SignInContext, tid: str, refusal) -> None:
        audit.append(ctx.store, "wallet.refused", reason=refusal.reason, detail=refusal.detail[:200], ip=ctx.client_ip)
        with _transactions(ctx.store).update(secret_id(tid)) as current:
            if current and current.get("step") in (WAITING, OPENED):
                _forget_request(current)
                current.update({"step": FAILED, "reason": refusal.reason})

    def verified(self, ctx: SignInContext, record: dict, params: Mapping, *, audience: str,
                 response_uri: str | None = None, origin: str | None = None) -> dict:
        """The presentation in an opened answer, verified; what the sign-in keeps of it."""
        late = _late()
        vp, vp_response, sdjwt, mdoc = late.request, late.response, late.sdjwt, late.mdoc
        fmt, presentation = vp_response.presentation(params, queries={vp.SD_JWT_QUERY: vp.SD_JWT,
                                                                      vp.MDOC_QUERY: vp.MDOC})
        anchors = _late().tenant.TrustList(ctx.store).anchors()
        settings = settings_of(ctx.tenant)
        if fmt == vp.SD_JWT:
            presented = sdjwt.verify(presentation, anchors=anchors, client_id=audience, nonce=record["nonce"],
                                     now=ctx.now(), types=settings["vct_values"])
        else:
            # The response key is in the transcript only where the answer was encrypted to it.
            thumbprint = vp_response.thumbprint(record["public"]) if origin or record.get("encrypted", True) else None
            transcript = (mdoc.dc_api_session_transcript(origin=origin, nonce=record["nonce"],
                                                         jwk_thumbprint=thumbprint) if origin else
                          mdoc.session_transcript(client_id=audience, nonce=record["nonce"],
                                                  jwk_thumbprint=thumbprint, response_uri=response_uri or ""))
            presented = mdoc.verify(presentation, anchors=anchors, transcript=transcript, now=ctx.now(),
                                    doc_types=[vp.PID_DOCTYPE])
        if presented.status is not None:
            self._check_status(ctx, presented.status, fail_open=settings["status_fail_open"])
        # Only what was asked for: a wallet that discloses more has it dropped here.
        asked = vp.requested(settings["claims"])
        claims = {name: value for name, value in vp.claims_of(presented.format, presented.claims).items()
                  if name in asked}
        if any(not claims.get(name) for name in vp.IDENTITY_CLAIMS):
            raise late.Refused("missing_claims", "the presentation lacks a claim that names the person")
        anchor = next(a for a in anchors if a.id == presented.anchor)
        subject = link_subject(ctx.store, anchor=anchor.certificate.subject.rfc4514_string(), claims=claims)
        audit.append(ctx.store, "wallet.verified", name=presented.issuer[:200],
                     credential_type=presented.credential_type, format=presented.format, ip=ctx.client_ip)
        result = {"subject": subject, "issuer": presented.issuer[:200], "credential_type": presented.credential_type,
                  "format": presented.format}
        if record.get("linking") or Links(ctx.accounts).find(LINK_ISSUER, subject) is not None:
            return result  # the account is known: nothing of the PID is needed any further
        # No account yet: the name its sign-up will prefill (`_offer_sign_up`), and no more.
        return {**result, "claims": {k: claims[k] for k in ("given_name", "family_name") if isinstance(claims[k], str)}}

    def _check_status(self, ctx: SignInContext, reference: dict, *, fail_open: bool) -> None:

        cache = ctx.store.transient(layout.WALLET_STATUS_LISTS)
        late = _late()
        status = late.status
        key = secret_id(reference["uri"])
        kept = cache.get(key)
        signers = _late().tenant.TrustList(ctx.store, layout.WALLET_STATUS_SIGNERS).anchors()
        try:
            token = kept["token"] if kept else get_bytes(reference["uri"], "status list", limit=STATUS_LIST_LIMIT,
                                                       accept="application/statuslist+jwt").decode("ascii")
            found = status.read_token(token, uri=reference["uri"], signers=signers, now=ctx.now())
        except (UpstreamError, UnicodeDecodeError):
            if fail_open:
                return
            raise late.Refused("status_unavailable", "the credential's status list cannot be fetched") from None
        if kept is None:
            cache.put(key, {"token": token}, ttl=status.cache_for(found, now=ctx.now()))
        status.check(found, reference["idx"])

    # -- the browser completes ------------------------------------------------------------

    def complete(self, ctx: SignInContext, submitted: Mapping) -> VerifiedIdentity:
        tid = _valid_id(submitted_field(submitted, "t"))
        record = self._record(ctx, tid)
        if tid is None or record is None:
            raise SignInFailed("error.wallet.expired")
        if not self._bound(ctx, record):
            raise SignInFailed("error.wallet.other_browser")
        if "dc_response" in submitted:
            return self._complete_dc_api(ctx, tid, record, submitted["dc_response"])
        if record["step"] != ARRIVED:
            raise SignInFailed("error.wallet.refused" if record["step"] == FAILED else "error.wallet.not_yet",
                               reason=record.get("reason", ""))
        if record.get("code"):  # same device: only with the code the wallet's redirect brought
            code = submitted.get("response_code")
            if not isinstance(code, str) or not RESPONSE_CODE.fullmatch(code) or \
                    not hmac.compare_digest(secret_id(code), record["code"]):
                raise SignInFailed("error.wallet.bad_code")
        taken = _transactions(ctx.store).take(secret_id(tid))
        if taken is None or taken.get("step") != ARRIVED:
            raise SignInFailed("error.wallet.expired")
        return self.identity(ctx, taken)

    def _complete_dc_api(self, ctx: SignInContext, tid: str, record: dict, sent) -> VerifiedIdentity:

        late = _late()
        vp_response = late.response
        if record["step"] not in (WAITING, OPENED):
            raise SignInFailed("error.wallet.expired")
        taken = _transactions(ctx.store).take(secret_id(tid))  # one try: a replayed answer finds nothing
        if taken is None:
            raise SignInFailed("error.wallet.expired")
        origin = _origin(ctx.base_url)
        try:
            data = json.loads(sent) if isinstance(sent, str) and len(sent) <= vp_response.MAX_RESPONSE else None
            if not isinstance(data, dict):
                raise late.Refused("malformed", "the browser's answer is not an object")
            if "error" in data:
                raise late.Refused("declined", str(data.get("error"))[:80])
            params = vp_response.open_response(data.get("response"), private_key=taken["key"],
                                               enc_values=("A128GCM", "A256GCM"))
            result = self.verified(ctx, taken, params, audience=f"origin:{origin}", origin=origin)
        except late.Refused as refusal:
            audit.append(ctx.store, "wallet.refused", reason=refusal.reason, detail=refusal.detail[:200],
                         ip=ctx.client_ip)
            failure = SignInFailed(MESSAGES.get(refusal.reason, "error.wallet.refused"), reason=refusal.reason)
            failure.interaction = taken.get("interaction")
            raise failure from None
        _forget_request(taken)
        return self.identity(ctx, {**taken, "result": result})

    def identity(self, ctx: SignInContext, record: dict) -> VerifiedIdentity:
        """The account a verified presentation signs in: the one linked to the wallet identity,
        or, from account settings, the one that asked to be linked (then marked verified)."""
        result = record["result"]
        links = Links(ctx.accounts)
        interaction = record.get("interaction")
        account = None
        if record.get("linking"):
            account = self._link(ctx, links, record["linking"], result)
        else:
            account = links.find(LINK_ISSUER, result["subject"])
        if account is None:
            self._offer_sign_up(ctx, record)
            failure = SignInFailed("error.wallet.not_linked")
            failure.interaction = interaction
            raise failure
        if account.disabled:
            raise AccountDisabled()
        return VerifiedIdentity(login=account.login, method=self.name, amr=AMR, auth_time=ctx.now(),
                                detail={"issuer": result["issuer"], "credential_type": result["credential_type"]},
                                interaction=interaction)

    # -- signing up with the wallet ----------------------------------------------------------

    def _offer_sign_up(self, ctx: SignInContext, record: dict) -> None:
        """A verified PID no account is linked to, where the tenant lets people sign up: the
        browser goes on to "Create your account" (Continue), which asks the email a new
        account needs. What that page needs waits for it, bound to this browser, no longer
        than a sign-up link lives: the wallet identity (its HMAC), the name to prefill."""
        if policy_of(ctx.tenant)["policy"] == "invite":
            return
        result = record["result"]
        claims = result.get("claims") or {}
        name = " ".join(str(claims[part]) for part in ("given_name", "family_name") if claims.get(part))
        token = secrets.token_urlsafe(32)
        ctx.store.transient(layout.WALLET_ARRIVALS).put(secret_id(token), {
            "browser": record["browser"], "interaction": record.get("interaction"), "display_name": name[:80],
            "link": {"upstream": WALLET, "name": result["issuer"], "issuer": LINK_ISSUER, "subject": result["subject"],
                     "verified": {"level": "eudi_pid", "issuer": result["issuer"],
                                  "credential_type": result["credential_type"], "at": ctx.now()}},
        }, ttl=SIGNUP.lifetime)
        raise Continue(f"/signin/wallet/signup?s={token}")

    def _sign_up_record(self, ctx: SignInContext, token) -> dict | None:
        record = (ctx.store.transient(layout.WALLET_ARRIVALS).get(secret_id(token))
                  if isinstance(token, str) and TRANSACTION_ID.fullmatch(token) else None)
        return record if self._bound(ctx, record) else None

    def sign_up_page(self, ctx: SignInContext, token) -> dict | None:
        """What "Create your account" shows (the name the PID gave); None unless this browser's."""
        record = self._sign_up_record(ctx, token)
        return None if record is None else {"display_name": record["display_name"],
                                            "interaction": record.get("interaction")}

    def sign_up(self, ctx: SignInContext, token, submitted: Mapping, *, methods) -> dict:
        """The email for the new account: a sign-up link is mailed (`codeb.signin.signup`), which
        creates the account linked to the wallet, if it is opened in this browser."""
        record = self._sign_up_record(ctx, token)
        if record is None:
            raise SignInFailed("error.wallet.expired")
        name = submitted.get("display_name")
        with concerning("display_name"):
            shown = clean_display_name(name) if isinstance(name, str) and name.strip() else None
        with concerning("email"):
            data = signup_begin(ctx, submitted, methods=methods, interaction=record.get("interaction"),
                                proven={"browser": record["browser"], "display_name": shown, "link": record["link"]})
        ctx.store.transient(layout.WALLET_ARRIVALS).delete(secret_id(token))
        return data

    def _link(self, ctx: SignInContext, links: Links, login: str, result: dict):
        linked = links.find(LINK_ISSUER, result["subject"])
        if linked is not None and linked.login != login:
            raise SignInFailed("error.wallet.linked_elsewhere")
        account = ctx.accounts.get(login)
        if account is None:
            raise SignInFailed("error.wallet.expired")
        if linked is None:
            verified = {"level": "eudi_pid", "issuer": result["issuer"], "credential_type": result["credential_type"],
                        "at": ctx.now()}
            try:
                links.link(login, WALLET, LINK_ISSUER, result["subject"], verified=verified)
            except Conflict:
                raise SignInFailed("error.wallet.linked_elsewhere") from None
            audit.append(ctx.store, "wallet.linked", login=login, sub=account.sub, name=result["issuer"],
                         credential_type=result["credential_type"])
        return ctx.accounts.require(login)


def _forget_request(record: dict) -> None:
    """What only the request needed goes once it is answered: the nonce, `state`, the key."""
    for name in ("nonce", "state", "key", "public"):
        record.pop(name, None)


def _normalised(value) -> str:
    return unicodedata.normalize("NFKC", str(value)).casefold().strip()


def link_subject(store, *, anchor: str, claims: dict) -> str:
    """The wallet identity as a link's subject: an HMAC under a key of this tenant's of the
    PID provider's CA (its subject name, which survives a new CA key) and the stable claim:
    the personal administrative number when the PID has one (a change of name keeps it),
    else given name, family name and birth date, normalised (NFKC, case folded). Both are
    always asked for (`codeb.wallet.request.requested`), so the same person's wallet gives
    the same subject at every sign-in, whichever of its formats it presents, whatever else
    the tenant asks for."""
    if claims.get(LINK_CLAIM):
        stable: list = ["pan", _normalised(claims[LINK_CLAIM])]
    else:
        stable = ["claims"] + [[name, _normalised(claims.get(name, ""))] for name in IDENTITY_CLAIMS]
    key = hmac.new(session_secret(store), b"codeb.wallet-link", hashlib.sha256).digest()
    message = json.dumps([anchor, stable], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _late() -> SimpleNamespace:
    """The verifiers (`codeb.wallet`) and the tenant's trust list and verifier key
    (`codeb.tenants.wallet`): joserfc, cryptography and cbor2 load at the first wallet
    sign-in, not when the app starts (tests/structure/test_startup.py)."""
    from ..tenants import wallet as tenant  # noqa: PLC0415 -- at first use (see above)
    from ..wallet import Refused, mdoc, request, response, sdjwt, status  # noqa: PLC0415 -- at first use (see above)

    return SimpleNamespace(tenant=tenant, mdoc=mdoc, request=request, response=response, sdjwt=sdjwt, status=status,
                           Refused=Refused)
