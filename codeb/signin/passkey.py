"""Passkey sign-in (FIDO2 / WebAuthn): usernameless, discoverable credentials.

`begin` issues a challenge for `navigator.credentials.get()` with an empty
`allowCredentials`, so the browser offers any passkey of this site, in the
modal dialog or in the email field's autofill (conditional mediation).
`complete` follows WebAuthn L3 §7.2: the challenge is ours, unspent and this
browser's; the credential is found through the `credential` index; py_webauthn
checks type, challenge, origin, RP ID hash, user presence, user verification
(tenant policy) and the signature; the user handle must name the account
(step 6); and a signature counter that does not grow is refused as a possible
cloned authenticator (step 22) and written to the audit log. py_webauthn is
imported in `begin` and `complete`: a process loads it at its first ceremony,
not at start-up (codeb.accounts.passkeys says why).
"""

import json

from .. import audit
from ..accounts.passkeys import (
    CHALLENGE_LIFETIME,
    INVALID,
    UV_MISSING,
    WRONG_SITE,
    Challenges,
    Passkeys,
    PasskeyUse,
    Policy,
    base64url_to_bytes,
    check_credential_id,
    find,
    refusal,
    user_handle,
)
from ..errors import AccountDisabled, SignInFailed
from .base import Challenge, SignInContext, SignInMethod, VerifiedIdentity, submitted_field

PURPOSE = "signin"
REASONS = {WRONG_SITE: "error.passkey_wrong_site", UV_MISSING: "error.passkey_uv_required",
           INVALID: "error.passkey_invalid"}


class PasskeySignIn(SignInMethod):
    name = "passkey"
    answers = "json"  # the sign-in page's script runs the ceremony (static/js/signin.js)

    def begin(self, ctx: SignInContext, submitted) -> Challenge:
        """Options for navigator.credentials.get(), and the id of their challenge."""
        from webauthn import generate_authentication_options, options_to_json  # noqa: PLC0415 -- see above
        from webauthn.helpers.structs import UserVerificationRequirement  # noqa: PLC0415

        policy = Passkeys(ctx.tenant, ctx.accounts).policy
        cid, challenge = Challenges(ctx.store).issue(purpose=PURPOSE, browser=ctx.browser,
                                                     client=ctx.client_network)
        options = generate_authentication_options(
            rp_id=ctx.rp_id, challenge=challenge, timeout=CHALLENGE_LIFETIME * 1000,
            allow_credentials=[],
            user_verification=UserVerificationRequirement(policy.user_verification))
        return Challenge(data={"challenge_id": cid, "publicKey": json.loads(options_to_json(options))})

    def complete(self, ctx: SignInContext, submitted) -> VerifiedIdentity:
        from webauthn import verify_authentication_response  # noqa: PLC0415 -- see above
        from webauthn.helpers.exceptions import WebAuthnException  # noqa: PLC0415

        credential = submitted_field(submitted, "credential")
        challenge_id = submitted_field(submitted, "challenge_id")
        challenge = Challenges(ctx.store).take(challenge_id, purpose=PURPOSE, browser=ctx.browser)
        rp_id, origin = ctx.rp_id, ctx.base_url
        if not isinstance(credential, dict):
            raise SignInFailed("error.passkey_invalid")
        credential_id = check_credential_id(credential.get("id"))
        passkeys = Passkeys(ctx.tenant, ctx.accounts)
        account = passkeys.owner(credential_id)
        if account is None:
            raise SignInFailed("error.passkey_unknown")
        passkey = find(account, credential_id)
        if passkey is None:  # owner() found it in this very document; this only says so to the reader
            raise SignInFailed("error.passkey_unknown")
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge, expected_rp_id=rp_id,
                expected_origin=origin, credential_public_key=passkey.public_key,
                credential_current_sign_count=0,  # the counter is checked below, after the signature
                require_user_verification=passkeys.policy.uv_required)
        except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
            raise SignInFailed(REASONS[refusal(
                credential, ceremony="get", challenge=challenge, rp_id=rp_id, origin=origin,
                uv_required=passkeys.policy.uv_required)]) from None
        self._check_user_handle(credential, account)
        self._check_counter(ctx, account, passkey, verified.new_sign_count)
        if account.disabled:
            raise AccountDisabled()
        # The caller stores what changed (STYLE), with the session list in one account write.
        use = PasskeyUse(credential_id, sign_count=verified.new_sign_count,
                         backed_up=verified.credential_backed_up, now=ctx.now())
        return VerifiedIdentity(
            login=account.login, method=self.name, auth_time=ctx.now(),
            amr=amr(backup_eligible=passkey.backup_eligible, user_verified=verified.user_verified),
            detail={"passkey": credential_id, "name": passkey.name,
                    "authenticator": passkey.authenticator},
            account_change=use)

    @staticmethod
    def _check_user_handle(credential: dict, account) -> None:
        # WebAuthn L3 §7.2 step 6: with no allowCredentials the user handle must
        # be present and identify the account that owns the credential.
        handle = (credential.get("response") or {}).get("userHandle")
        try:
            if not handle or base64url_to_bytes(handle) != user_handle(account):
                raise SignInFailed("error.passkey_invalid")
        except (ValueError, TypeError):
            raise SignInFailed("error.passkey_invalid") from None

    @staticmethod
    def _check_counter(ctx: SignInContext, account, passkey, new_count: int) -> None:
        # WebAuthn L3 §7.2 step 22: a counter that does not grow means two
        # authenticators may hold one key.
        stored = passkey.sign_count
        if (new_count or stored) and new_count <= stored:
            audit.append(ctx.store, "passkey.counter_regression", login=account.login, sub=account.sub,
                         passkey=passkey.id, stored=stored, received=new_count, ip=ctx.client_ip,
                         note="possible cloned authenticator")
            raise SignInFailed("error.passkey_cloned")

    def settings(self, submitted) -> dict:
        """The tenant's passkey policy from the admin's form (codeb.accounts.passkeys.Policy)."""
        return {"passkeys": Policy.validate(
            user_verification=submitted.get("user_verification"), attestation=submitted.get("attestation"),
            allowed_aaguids=(submitted.get("allowed_aaguids") or "").split(),
            max_per_account=submitted.get("max_passkeys"))}

    def usable_by(self, account) -> bool:
        return account.has_passkeys


def amr(*, backup_eligible: bool, user_verified: bool) -> tuple[str, ...]:
    """RFC 8176 values: a synced passkey is a software key (`swk`), a device-bound one a
    hardware key (`hwk`); `user` for the presence test; with user verification the
    sign-in combined possession with a PIN or biometric, so also `mfa`."""
    values = ["swk" if backup_eligible else "hwk", "user"]
    if user_verified:
        values.append("mfa")
    return tuple(values)

