// "Add a passkey": on the account page and in the first sign-in's passkey step.
// A typed name is never dropped: the server checks it before the ceremony (so a bad one is
// said beside the field, before the device is asked), it survives the "confirm it's you"
// detour, and the passkey is saved under it; with no name typed, the server names the
// passkey after its authenticator.
import { postJSON } from "./lib/fetch.js";
import { creationOptions, credentialJSON, webauthnAvailable } from "./lib/webauthn.js";

const root = document.getElementById("passkey-create");
const button = document.getElementById("passkey-create-button");
const status = document.getElementById("passkey-create-status");
const nameField = document.getElementById("passkey-name");
const nameError = document.getElementById("passkey-name-error");
const KEPT_NAME = "codeb.passkey.name"; // the typed name, across the confirm-it's-you page

function say(text) {
  status.textContent = text || "";
}

function markName(message) {
  nameError.textContent = message || "";
  nameError.hidden = !message;
  if (message) {
    nameField.setAttribute("aria-invalid", "true");
    nameField.focus();
  } else {
    nameField.removeAttribute("aria-invalid");
  }
}

function refused(data) {
  if (data.error === "error.passkey_name") markName(data.message);
  else say(data.message || root.dataset.msgFailed);
}

async function create() {
  const name = nameField.value;
  const options = await postJSON(root.dataset.options, { name });
  if (!options.ok && options.data.reauth) {
    // An old sign-in: confirm it's you first (the page explains, then comes back here).
    if (name.trim()) sessionStorage.setItem(KEPT_NAME, name);
    window.location.assign(options.data.reauth);
    return;
  }
  if (!options.ok) {
    refused(options.data);
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: creationOptions(options.data.publicKey) });
  } catch (error) {
    if (error.name === "InvalidStateError") say(root.dataset.msgExists);
    else if (error.name === "NotAllowedError") say(root.dataset.msgCancelled);
    else say(root.dataset.msgFailed);
    return;
  }
  say(root.dataset.msgWorking);
  const result = await postJSON(root.dataset.verify, {
    challenge_id: options.data.challenge_id,
    credential: credentialJSON(credential),
    name,
  });
  if (result.ok && result.data.redirect) {
    sessionStorage.removeItem(KEPT_NAME);
    say(root.dataset.msgAdded.replace("{name}", result.data.passkey?.name || root.dataset.msgUnnamed));
    window.location.assign(result.data.redirect);
  } else {
    refused(result.data);
  }
}

if (root) {
  const kept = sessionStorage.getItem(KEPT_NAME);
  if (kept && !nameField.value) nameField.value = kept;
  sessionStorage.removeItem(KEPT_NAME);
  nameField.addEventListener("input", () => markName(""));
  if (!webauthnAvailable()) {
    button.disabled = true;
    say(root.dataset.msgUnsupported);
  } else {
    button.addEventListener("click", () => {
      say("");
      markName("");
      button.disabled = true;
      create().catch(() => say(root.dataset.msgFailed)).finally(() => { button.disabled = false; });
    });
  }
}
