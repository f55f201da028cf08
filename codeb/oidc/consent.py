"""Consent: whether the person must allow an app their data before it gets a code.

OIDC Core §3.1.2.4: the provider obtains the person's consent before releasing
information to a client. Here it asks when the request says `prompt=consent`,
or when the admin marked the client as a third-party app (`consent_required`)
and this account has not yet allowed it every scope now asked for; the answer
is remembered per account, client and scope set (`codeb.accounts.consents`).
With `prompt=none` a needed consent is the `consent_required` error instead of
a page (§3.1.2.6). CodeB's own office shell never asks.
"""

from dataclasses import dataclass

from authlib.oauth2.rfc6749 import scope_to_list

from ..accounts.consents import remembered

# What each scope lets the app have, in plain words (catalogue ids), in the order shown.
SCOPE_MESSAGES = {
    "openid": "consent.scope.openid",
    "profile": "consent.scope.profile",
    "email": "consent.scope.email",
    "offline_access": "consent.scope.offline_access",
    "verified_identity": "consent.scope.verified_identity",
}


@dataclass(frozen=True)
class ConsentAsked:
    """What the consent screen shows: which app, and the scopes it asks for."""

    client_id: str
    scopes: tuple[str, ...]


def requested_scopes(client, scope) -> tuple[str, ...]:
    """The scopes the code would carry: those asked for that the client may have, in SCOPE order."""
    allowed = set(scope_to_list(client.get_allowed_scope(scope)) or ())
    return tuple(s for s in SCOPE_MESSAGES if s in allowed)


def covered(account, client_id: str, scopes) -> bool:
    """Whether the account's remembered consent to `client_id` covers every one of `scopes`."""
    granted = set(remembered(account).get(client_id, {}).get("scopes", ()))
    return set(scopes) <= granted


def needed(*, client, account, scope, prompts, consented: bool = False) -> ConsentAsked | None:
    """The consent to ask for before a code is issued, or None. `consented`: the person just
    answered the consent screen for this very request."""
    if consented or client.doc.get("first_party"):
        return None
    scopes = requested_scopes(client, scope)
    if "consent" in prompts or (client.consent_required and not covered(account, client.client_id, scopes)):
        return ConsentAsked(client_id=client.client_id, scopes=scopes)
    return None


def described(scopes) -> list[str]:
    """The catalogue ids of the scopes' plain descriptions, in the order shown."""
    return [SCOPE_MESSAGES[s] for s in SCOPE_MESSAGES if s in set(scopes)]
