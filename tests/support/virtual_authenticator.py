"""Chromium's virtual WebAuthn authenticator, driven over the DevTools protocol.

A virtual authenticator belongs to one page (one CDP target) and survives its
navigations, including the ones to another origin. It answers
`navigator.credentials.create()` / `.get()` like a platform authenticator
(transport `internal`, CTAP 2.1) that keeps discoverable credentials, can do
user verification, and does not sync (its credentials are not backup
eligible: the app reports them as `hwk`).

    device = VirtualAuthenticator.attach(page)                       # Touch ID that always says yes
    device = VirtualAuthenticator.attach(page, user_verified=False)  # the fingerprint is not recognised
    device = VirtualAuthenticator.attach(page, user_verification=False,
                                         user_verified=False)        # a key without PIN or biometrics
    device = VirtualAuthenticator.attach(page, presence=False)       # nobody touches the sensor

`presence=False` turns off automatic presence simulation: a request that needs
a touch then waits ("will not be resolved", per the protocol's description)
until the test turns it on with `device.set_presence(True)` and the page makes
a new request. See `test_passkeys.py` for why the sign-in button tests need it.
"""

from dataclasses import dataclass


@dataclass
class VirtualAuthenticator:
    cdp: object  # playwright CDPSession of the page
    id: str

    @classmethod
    def attach(cls, page, *, user_verified: bool = True, presence: bool = True,
               resident_keys: bool = True, user_verification: bool = True) -> "VirtualAuthenticator":
        cdp = page.context.new_cdp_session(page)
        # enableUI False: no browser dialogs (none could be clicked in headless mode);
        # the virtual authenticator answers by itself.
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": "internal",
            "hasResidentKey": resident_keys,
            "hasUserVerification": user_verification,
            "isUserVerified": user_verified,
            "automaticPresenceSimulation": presence,
        }})
        return cls(cdp, added["authenticatorId"])

    def credentials(self) -> list[dict]:
        """The credentials it holds: credentialId (base64), rpId, userHandle, signCount, privateKey."""
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def add_credential(self, credential: dict) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})

    def remove_credential(self, credential_id: str) -> None:
        self.cdp.send("WebAuthn.removeCredential",
                      {"authenticatorId": self.id, "credentialId": credential_id})

    def clear_credentials(self) -> None:
        self.cdp.send("WebAuthn.clearCredentials", {"authenticatorId": self.id})

    def set_presence(self, enabled: bool) -> None:
        """Automatic presence simulation: whether a user-presence test succeeds at once."""
        self.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                      {"authenticatorId": self.id, "enabled": enabled})

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})

    def remove(self) -> None:
        """Unplug it: its credentials are gone with it."""
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})
