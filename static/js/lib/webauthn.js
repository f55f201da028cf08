// WebAuthn helpers shared by the sign-in page and the passkey controls.
// JSON options and results per WebAuthn L3 §5.1.8-10, with a fallback for
// browsers without PublicKeyCredential.parse*OptionsFromJSON / toJSON.
import { base64urlToBuffer, bufferToBase64url } from "./base64url.js";

function descriptors(list) {
  return (list || []).map((item) => ({ ...item, id: base64urlToBuffer(item.id) }));
}

export function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

export function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: base64urlToBuffer(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

export function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") {
    return credential.toJSON();
  }
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response: { clientDataJSON: bufferToBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = bufferToBase64url(response.attestationObject);
    json.response.transports = typeof response.getTransports === "function" ? response.getTransports() : [];
  } else {
    json.response.authenticatorData = bufferToBase64url(response.authenticatorData);
    json.response.signature = bufferToBase64url(response.signature);
    if (response.userHandle) json.response.userHandle = bufferToBase64url(response.userHandle);
  }
  return json;
}

export function webauthnAvailable() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}
