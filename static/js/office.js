// The office shell (office.html): signs in with its OpenID client (office/oidc.js), then
// shows who is signed in in its terminal (office/terminal.js), the tiles and "Sign out".
import { api, finishSignIn, forgetToken, loadToken, scheduleRenewal, signIn, signOut, tokenValid } from "./office/oidc.js";
import { showTerminal, startTerminal } from "./office/terminal.js";
import { say, t } from "./office/messages.js";

function render(me, token) {
  showTerminal();
  document.getElementById("tiles").hidden = false;
  document.getElementById("office-signout").hidden = false;
  document.getElementById("office-signout").addEventListener("click", signOut);
  document.getElementById("tile-phone-body").textContent = `${me.ext ?? t("no_ext")} · ${me.sip}`;
  const admin = document.getElementById("tile-admin");
  if (admin && me.roles.includes("admin")) admin.hidden = false;
  say("");
  startTerminal(me, token);
  scheduleRenewal(token);
}

async function start() {
  document.getElementById("office-status").hidden = false; // the page says nothing of signing in without script
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
    forgetToken();
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
