// The office shell: CodeB's own OpenID client (authorization code + PKCE, public client
// "office"). The access token lives in sessionStorage only; when its hour is up the shell
// renews it with prompt=none (no visible sign-in while the browser session lasts), and
// falls back to the sign-in page when that session has ended.
import { bufferToBase64url } from "./webauthn.js";

const main = document.getElementById("main");
const status = document.getElementById("office-status");
const messages = JSON.parse(document.getElementById("office-messages").textContent);
const config = main.dataset;
const REDIRECT = `${window.location.origin}/office.html`;
const TOKEN_KEY = "codeb.office.token";
const FLOW_KEY = "codeb.office.flow";
const RENEW_MARGIN = 60; // seconds before expiry

const say = (text) => { status.textContent = text; };
const t = (key, values = {}) => (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

function randomText(bytes) {
  return bufferToBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return bufferToBase64url(digest);
}

function loadToken() {
  try {
    const token = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    return token && token.access_token ? token : null;
  } catch {
    return null;
  }
}

function tokenValid(token) {
  return token && token.expires_at - RENEW_MARGIN > Date.now() / 1000;
}

async function signIn(silent) {
  const flow = { state: randomText(24), nonce: randomText(24), verifier: randomText(48), silent };
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
  say(silent ? t("renewing") : t("signing_in"));
  window.location.replace(`${config.authorize}?${params}`);
}

function claimsOf(jwt) {
  const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The answer to our authorization request: "ok", "redirect" (asking again), or "failed".
async function finishSignIn(params) {
  const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
  sessionStorage.removeItem(FLOW_KEY);
  window.history.replaceState(null, "", "/office.html");
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
  const response = await fetch(config.token, {
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

async function api(token, method = "GET", body = undefined) {
  return fetch(config.api, {
    method,
    headers: { Authorization: `Bearer ${token.access_token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

// -- the terminal panel -------------------------------------------------------

const output = document.getElementById("terminal-output");
const input = document.getElementById("terminal-input");

function print(line) {
  output.textContent += `${line}\n`;
  output.scrollTop = output.scrollHeight;
}

function authLine(me) {
  const method = me.auth.method ? t(`method_${me.auth.method}`) : me.auth.amr.join(", ");
  const detail = [me.auth.passkey, me.auth.authenticator].filter((x, i, all) => x && all.indexOf(x) === i);
  return detail.length ? `${method} (${detail.join(", ")})` : method;
}

function whoami(me) {
  print(`codeb> ${t("welcome", { name: me.nickname || me.display_name })}`);
  print(`codeb> ${t("tenant")} = ${me.tenant.host}`);
  print(`codeb> ${t("auth")} = ${authLine(me)}`);
  print(`codeb> ${t("roles")} = ${me.roles.join(", ")}`);
  print(`codeb> ${t("sip")} = ${me.sip}`);
  print(`codeb> ${t("ext")} = ${me.ext ?? t("no_ext")}`);
  print(`codeb> ${t("ready")}`);
}

function commands(me) {
  const list = {
    "?": [t("cmd_help"), () => {
      print(t("help_title"));
      Object.entries(list).forEach(([name, [text]]) => print(`  ${name.padEnd(8)} ${text}`));
    }],
    whoami: [t("cmd_whoami"), () => whoami(me)],
    phone: [t("cmd_phone"), () => print(t("phone_info", { ext: me.ext ?? t("no_ext"), sip: me.sip }))],
    account: [t("cmd_account"), () => window.location.assign("/account")],
    help: [t("cmd_help_page"), () => window.location.assign("/help")],
    lang: [t("cmd_lang", { languages: me.languages.join(", ") }), null],
    clear: [t("cmd_clear"), () => { output.textContent = ""; }],
    signout: [t("cmd_signout"), signOut],
  };
  if (me.roles.includes("admin") && document.getElementById("tile-admin")) {
    list.admin = [t("cmd_admin"), () => window.location.assign("/admin.html")];
  }
  return list;
}

async function changeLanguage(token, lang) {
  const response = await api(token, "PATCH", { language: lang });
  if (!response.ok) { print(t("lang_unknown")); return; }
  print(t("lang_done"));
  window.location.reload();
}

function signOut() {
  const token = loadToken();
  sessionStorage.removeItem(TOKEN_KEY);
  const params = new URLSearchParams({ post_logout_redirect_uri: `${window.location.origin}/` });
  if (token) params.set("id_token_hint", token.id_token);
  window.location.assign(`${config.logout}?${params}`);
}

function render(me, token) {
  document.getElementById("terminal").hidden = false;
  document.getElementById("tiles").hidden = false;
  document.getElementById("office-signout").hidden = false;
  document.getElementById("office-signout").addEventListener("click", signOut);
  document.getElementById("tile-phone-body").textContent = `${me.ext ?? t("no_ext")} · ${me.sip}`;
  const admin = document.getElementById("tile-admin");
  if (admin && me.roles.includes("admin")) admin.hidden = false;
  say("");
  whoami(me);
  const list = commands(me);
  document.getElementById("terminal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const [name, ...args] = input.value.trim().split(/\s+/);
    input.value = "";
    if (!name) return;
    print(`codeb> ${name} ${args.join(" ")}`.trimEnd());
    if (name === "lang") { changeLanguage(token, args[0]); return; }
    const command = list[name.toLowerCase()];
    if (command) command[1](); else print(t("unknown", { command: name }));
  });
  // Renew shortly before the hour is up, silently.
  const seconds = Math.max(5, token.expires_at - RENEW_MARGIN - Date.now() / 1000);
  window.setTimeout(() => signIn(true), seconds * 1000);
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    const outcome = await finishSignIn(params);
    if (outcome === "redirect") return;
    if (outcome === "failed") { say(t("failed")); return; }
  }
  const token = loadToken();
  if (!tokenValid(token)) {
    await signIn(true); // silent first: a live browser session answers without a page
    return;
  }
  const response = await api(token);
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    await signIn(true);
    return;
  }
  if (!response.ok) { say(t("failed")); return; }
  render(await response.json(), token);
}

start().catch((error) => {
  // fetch() rejects (TypeError) only when the server could not be reached at all.
  if (error instanceof TypeError && !navigator.onLine) window.location.replace("/offline.html");
  else say(t("failed"));
});
