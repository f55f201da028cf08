// Passkey sign-in: the button (modal) and autofill in the email field
// (conditional mediation). A failed or aborted autofill request must never
// break the page or the other sign-in methods: it ends quietly.
import { postJSON } from "./lib/fetch.js";
import { credentialJSON, requestOptions, webauthnAvailable } from "./lib/webauthn.js";

const root = document.getElementById("passkey-signin");
const button = document.getElementById("passkey-button");
const status = document.getElementById("passkey-status");
let pending = null;

function say(text) {
  status.textContent = text || "";
}

async function signIn(mediation) {
  if (pending) pending.abort();
  const controller = new AbortController();
  pending = controller;
  const options = await postJSON(root.dataset.options, {});
  if (!options.ok) {
    if (mediation !== "conditional") say(options.data.message || root.dataset.msgFailed);
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.get({
      publicKey: requestOptions(options.data.publicKey),
      mediation,
      signal: controller.signal,
    });
  } catch (error) {
    if (error.name === "AbortError" || mediation === "conditional") return;
    say(error.name === "NotAllowedError" ? root.dataset.msgCancelled : root.dataset.msgFailed);
    return;
  } finally {
    if (pending === controller) pending = null;
  }
  if (!credential) return;
  say(root.dataset.msgWorking);
  const result = await postJSON(root.dataset.verify, {
    challenge_id: options.data.challenge_id,
    credential: credentialJSON(credential),
    i: root.dataset.interaction || undefined,
  });
  if (result.ok && result.data.redirect) {
    window.location.assign(result.data.redirect);
  } else {
    say(result.data.message || root.dataset.msgFailed);
    startAutofill();
  }
}

async function startAutofill() {
  try {
    if (typeof PublicKeyCredential.isConditionalMediationAvailable === "function"
        && await PublicKeyCredential.isConditionalMediationAvailable()) {
      await signIn("conditional");
    }
  } catch {
    // Autofill is a convenience: the button and the email link still work.
  }
}

if (root && webauthnAvailable()) {
  root.hidden = false;
  button.addEventListener("click", () => {
    say("");
    signIn("optional").catch(() => say(root.dataset.msgFailed));
  });
  startAutofill();
}
