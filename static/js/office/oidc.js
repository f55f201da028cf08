// The office shell's OpenID client (authorization code + PKCE, public client "office").
// The access token lives in sessionStorage only; when its hour is up the shell renews it
// with prompt=none (no visible sign-in while the browser session lasts), and falls back
// to the sign-in page when that session has ended. The endpoints and the client id are
// the data attributes of <main>.
import { bufferToBase64url } from "../lib/base64url.js";
import { leave, left, request } from "./leaving.js";
import { loading, t } from "./messages.js";

const config = document.getElementById("main").dataset;
const REDIRECT = `${window.location.origin}/office.html`;
const TOKEN_KEY = "codeb.office.token";
const FLOW_KEY = "codeb.office.flow";
const RENEW_MARGIN = 60; // seconds before expiry

function randomText(bytes) {
  return bufferToBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return bufferToBase64url(digest);
}

export function loadToken() {
  try {
    const token = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    return token && token.access_token ? token : null;
  } catch {
    return null;
  }
}

export function tokenValid(token) {
  return token && token.expires_at - RENEW_MARGIN > Date.now() / 1000;
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function signIn(silent) {
  // The hash names the open channel (#channel=<id>): kept across the round trip to /authorize.
  const hash = /^#[a-z]+=[a-z2-7]{16}$/.test(window.location.hash) ? window.location.hash : "";
  const flow = { state: randomText(24), nonce: randomText(24), verifier: randomText(48), silent, hash };
  sessionStorage.setItem(FLOW_KEY, JSON.stringify(flow));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: REDIRECT,
    scope: "openid profile email",
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await challengeOf(flow.verifier),
    code_challenge_method: "S256",
    ui_locales: document.documentElement.lang,
  });
  if (silent) params.set("prompt", "none");
  loading(silent ? t("renewing") : t("signing_in"));
  window.location.replace(`${config.authorize}?${params}`);
}

function claimsOf(jwt) {
  const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The answer to our authorization request: "ok", "redirect" (asking again), or "failed".
export async function finishSignIn(params) {
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
  sessionStorage.removeItem(FLOW_KEY);
  window.history.replaceState(null, "", `/office.html${(flow && flow.hash) || ""}`);
  if (!flow || params.get("state") !== flow.state || params.get("iss") !== window.location.origin) {
    return "failed"; // not the answer to our request (RFC 9207 §2.4, RFC 6749 §10.12)
  }
  if (params.get("error")) {
    if (params.get("error") === "login_required" && flow.silent) {
      sessionStorage.removeItem(TOKEN_KEY); // the browser session has ended: so has its token
      await signIn(false); // sign in visibly
      return "redirect";
    }
    return "failed";
  }
  const response = await request(config.token, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: REDIRECT,
      client_id: config.clientId, code_verifier: flow.verifier,
    }),
  });
  if (!response.ok) return "failed";
  const tokens = await response.json();
  if (claimsOf(tokens.id_token).nonce !== flow.nonce) return "failed";
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    expires_at: Math.floor(Date.now() / 1000) + tokens.expires_in,
  }));
  return "ok";
}

// Renew shortly before the hour is up, silently.
export function scheduleRenewal(token) {
  const seconds = Math.max(5, token.expires_at - RENEW_MARGIN - Date.now() / 1000);
  window.setTimeout(() => { if (!left()) signIn(true); }, seconds * 1000);
}

// The shell's API (/api/me, or `url`: /api/apps) with the access token.
export async function api(token, method = "GET", body = undefined, url = config.api) {
  return request(url, {
    method,
    headers: { Authorization: `Bearer ${token.access_token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

// RP-initiated logout: the token goes, the session ends at /logout.
export function signOut() {
  leave(); // no call of the shell's meets the tokens the logout revokes
  loading(t("signing_out"));
  const token = loadToken();
  sessionStorage.removeItem(TOKEN_KEY);
  const params = new URLSearchParams({ post_logout_redirect_uri: `${window.location.origin}/` });
  if (token) params.set("id_token_hint", token.id_token);
  window.location.assign(`${config.logout}?${params}`);
}
