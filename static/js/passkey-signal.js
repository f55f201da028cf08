// After a passkey was removed on the account page: tell the browser's passkey provider, so the
// device stops offering it (WebAuthn Signal API). Feature-detected: browsers without it lose
// nothing, the server has already forgotten the passkey.
const data = document.getElementById("passkey-signal");

async function signal() {
  const api = window.PublicKeyCredential;
  const { rpId, userId, removed } = data.dataset;
  const accepted = (data.dataset.accepted || "").split(" ").filter(Boolean);
  const calls = [];
  if (api && typeof api.signalUnknownCredential === "function" && removed) {
    calls.push(api.signalUnknownCredential({ rpId, credentialId: removed }));
  }
  if (api && typeof api.signalAllAcceptedCredentials === "function" && userId) {
    calls.push(api.signalAllAcceptedCredentials({ rpId, userId, allAcceptedCredentialIds: accepted }));
  }
  // A provider may refuse (no such passkey on this device): nothing for the person to do.
  await Promise.allSettled(calls);
}

if (data) signal();
