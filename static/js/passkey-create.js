// "Add a passkey": on the account page and right after a first sign-in.
import { postJSON } from "./lib/fetch.js";
import { creationOptions, credentialJSON, webauthnAvailable } from "./lib/webauthn.js";

const root = document.getElementById("passkey-create");
const button = document.getElementById("passkey-create-button");
const status = document.getElementById("passkey-create-status");
const nameField = document.getElementById("passkey-name");

function say(text) {
  status.textContent = text || "";
}

async function create() {
  const options = await postJSON(root.dataset.options, {});
  if (!options.ok && options.data.reauth) {
    // An old sign-in: confirm it's you first (the page explains, then comes back here).
    window.location.assign(options.data.reauth);
    return;
  }
  if (!options.ok) {
    say(options.data.message || root.dataset.msgFailed);
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
  const stay = root.dataset.stay === "1";
  const result = await postJSON(root.dataset.verify, {
    challenge_id: options.data.challenge_id,
    credential: credentialJSON(credential),
    name: nameField.value,
    stay,
  });
  if (result.ok && stay && result.data.passkey) {
    // The first-sign-in screen stays: list the new passkey and offer another.
    const item = document.createElement("li");
    item.textContent = result.data.passkey.name || root.dataset.msgUnnamed;
    document.getElementById("passkeys-added").append(item);
    nameField.value = "";
    say(root.dataset.msgAdded);
  } else if (result.ok && result.data.redirect) {
    window.location.assign(result.data.redirect);
  } else {
    say(result.data.message || root.dataset.msgFailed);
  }
}

if (root) {
  if (!webauthnAvailable()) {
    button.disabled = true;
    say(root.dataset.msgUnsupported);
  } else {
    button.addEventListener("click", () => {
      say("");
      button.disabled = true;
      create().catch(() => say(root.dataset.msgFailed)).finally(() => { button.disabled = false; });
    });
  }
}
