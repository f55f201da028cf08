// The office shell (office.html): signs in with its OpenID client (office/oidc.js) while a
// skeleton stands in for the cards, then shows the cards: who is signed in in the terminal
// (office/terminal.js), the tenant's apps (office/apps.js), the places, the phone
// (office/phone.js), and the account menu in the header (office/menu.js).
import { api, finishSignIn, forgetToken, loadToken, scheduleRenewal, signIn, tokenValid } from "./office/oidc.js";
import { startTerminal } from "./office/terminal.js";
import { loadApps } from "./office/apps.js";
import { startMenu } from "./office/menu.js";
import { startDisclosures } from "./office/cards.js";
import { startChannels } from "./office/channels.js";
import { startMeetings } from "./office/meetings.js";
import { startNotifications } from "./office/notifications.js";
import { startPhone } from "./office/phone.js";
import { fail, loading, ready, t } from "./office/messages.js";

async function render(me, token) {
  await loadApps(token).catch(() => {});
  document.getElementById("tile-phone-body").textContent = `${me.ext ?? t("no_ext")} · ${me.sip}`;
  const admin = document.getElementById("tile-admin");
  if (admin && me.roles.includes("admin")) admin.hidden = false;
  startMenu(me);
  startDisclosures();
  ready(t("loaded"));
  startTerminal(me, token);
  startChannels(me, token);
  startMeetings(me, token);
  startNotifications(token);
  startPhone(me, token).catch(() => {});
  scheduleRenewal(token);
}

async function start() {
  loading(t("signing_in")); // the page says nothing of signing in without script
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    const outcome = await finishSignIn(params);
    if (outcome === "redirect") return;
    if (outcome === "failed") { fail(t("failed")); return; }
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
  if (!response.ok) { fail(t("failed")); return; }
  await render(await response.json(), token);
}

start().catch((error) => {
  // fetch() rejects (TypeError) only when the server could not be reached at all.
  if (error instanceof TypeError && !navigator.onLine) window.location.replace("/offline.html");
  else fail(t("failed"));
});
