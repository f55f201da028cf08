// The phone card (templates/office/cards/phone.html). /api/phone says what the tenant offers
// (codeb.web.phone): with a SIP server for browsers, the card loads SIP.js (vendor/sip.js, only
// then: it is big) and registers this browser over WebSocket as sip:<login>@<realm> with the
// short-lived credentials CodeB mints (Kamailio's auth_ephemeral), asks for new ones before they
// expire, and places and receives audio calls (WebRTC, with the tenant's TURN servers). Without
// one it shows how to set up a native SIP app with an app password. The registration state and
// the call's state (SIP.js's SessionState) are in data-state attributes as well as in words.
import { request } from "./leaving.js";
import { t } from "./messages.js";
import { loadToken } from "./oidc.js";

const $ = (id) => document.getElementById(id);
// An extension (digits) or a login (codeb.store.names.LOGIN_PATTERN): what the dial field takes.
const TARGET = /^(?:[0-9]{1,9}|[a-z0-9](?:[a-z0-9]|[._-](?=[a-z0-9])){0,63})$/;
const RENEW_BEFORE = 300; // seconds before the credentials expire that new ones are fetched
const MEDIA = { constraints: { audio: true, video: false } };
const BADGES = { registering: "badge-muted", registered: "badge-success", unregistered: "badge-warning",
  failed: "badge-error" };

let token = null;
let sip = null; // the SIP.js module
let phone = null; // the last answer of /api/phone
let ua = null;
let registerer = null;
let session = null; // the one call: an Inviter (placed) or an Invitation (received)
let renewal = null;

async function fetchPhone() {
  const current = loadToken() || token; // the shell renews its token: the newest one
  const response = await request("/api/phone", { headers: { Authorization: `Bearer ${current.access_token}` } });
  if (!response.ok) throw new Error(`/api/phone answered ${response.status}`);
  return response.json();
}

function showRegistration(state) {
  const badge = $("phone-state");
  badge.dataset.state = state;
  badge.className = `badge ${BADGES[state]}`;
  badge.textContent = t(`phone_${state}`);
  $("phone-retry").hidden = state !== "failed" && state !== "unregistered";
  $("phone-call").disabled = state !== "registered" || session !== null;
}

function showError(key, code = "") {
  const element = $("phone-error");
  element.textContent = key ? t(key, { code }) : "";
  element.hidden = !key;
}

// -- credentials ------------------------------------------------------------------

function iceConfiguration(answer) {
  // SIP.js would otherwise ask a public STUN server: only the tenant's own TURN servers, or none.
  return { peerConnectionConfiguration: { iceServers: answer.ice_servers }, iceGatheringTimeout: 2000 };
}

function scheduleRenewal() {
  window.clearTimeout(renewal);
  const seconds = Math.max(30, phone.expires - RENEW_BEFORE - Date.now() / 1000);
  renewal = window.setTimeout(renew, seconds * 1000);
}

// New credentials for the next challenge (a refreshed REGISTER, the next call): SIP.js reads
// them from its configuration each time it answers one.
async function renew() {
  try {
    const answer = await fetchPhone();
    if (answer.phone !== "browser" || !ua) return;
    phone = answer;
    ua.configuration.authorizationUsername = answer.username;
    ua.configuration.authorizationPassword = answer.password;
    ua.configuration.sessionDescriptionHandlerFactoryOptions = iceConfiguration(answer);
  } catch {
    // the server is out of reach for now: the credentials still last a few minutes
  }
  scheduleRenewal();
}

// -- registration -----------------------------------------------------------------

async function register(offered = null) {
  showRegistration("registering");
  showError(null);
  try {
    if (!sip) sip = await import("../vendor/sip.js");
    phone = offered || await fetchPhone();
    if (phone.phone !== "browser") { show(phone); return; }
    const agent = new sip.UserAgent({
      uri: sip.UserAgent.makeURI(phone.aor),
      displayName: phone.display_name,
      authorizationUsername: phone.username,
      authorizationPassword: phone.password,
      transportOptions: { server: phone.ws_url },
      sessionDescriptionHandlerFactoryOptions: iceConfiguration(phone),
      logLevel: "error",
      // A stopped agent's or registerer's news (after a retry) is no longer the card's.
      delegate: { onInvite: incoming, onDisconnect: () => { if (ua === agent) showRegistration("failed"); } },
    });
    ua = agent;
    await agent.start();
    const registration = new sip.Registerer(agent);
    registerer = registration;
    registration.stateChange.addListener((state) => {
      if (registerer !== registration) return;
      if (state === sip.RegistererState.Registered) showRegistration("registered");
      else if (state === sip.RegistererState.Unregistered) showRegistration("unregistered");
    });
    await registration.register({
      requestDelegate: { onReject: () => { if (registerer === registration) showRegistration("failed"); } },
    });
    scheduleRenewal();
  } catch {
    showRegistration("failed");
  }
}

async function retry() {
  await stop();
  await register(); // new credentials too
}

async function stop() {
  window.clearTimeout(renewal);
  const agent = ua;
  ua = null;
  registerer = null;
  session = null;
  try {
    if (agent) await agent.stop(); // ends its calls, and unregisters if it is registered
  } catch {
    // already stopped, or the connection is gone: nothing to undo
  }
}

// -- calls ------------------------------------------------------------------------

function peerName(call) {
  const identity = call.remoteIdentity;
  return identity.displayName || identity.uri.user || "";
}

function showCall(call, state) {
  const line = $("phone-call-line");
  const label = $("phone-call-state");
  label.dataset.state = state;
  const peer = peerName(call);
  const S = sip.SessionState;
  const placed = call instanceof sip.Inviter;
  label.textContent = state === S.Established ? t("phone_in_call", { peer })
    : state === S.Terminated || state === S.Terminating ? t("phone_ended")
      : placed ? t("phone_calling", { peer }) : t("phone_connecting");
  line.hidden = false;
  $("phone-hangup").hidden = state === S.Terminated || state === S.Terminating;
  if (state === S.Established) {
    $("phone-audio").srcObject = call.sessionDescriptionHandler.remoteMediaStream;
  }
  if (state === S.Terminated) {
    $("phone-audio").srcObject = null;
    $("phone-incoming").hidden = true;
    if (session === call) session = null;
    showRegistration($("phone-state").dataset.state);
  }
}

function follow(call) {
  session = call;
  showRegistration($("phone-state").dataset.state); // no second call while this one lasts
  call.stateChange.addListener((state) => showCall(call, state));
}

function place(event) {
  event.preventDefault();
  const target = $("phone-target").value.trim().toLowerCase();
  if (!TARGET.test(target)) { showError("phone_bad_target"); return; }
  if (!ua || session) return;
  showError(null);
  const uri = sip.UserAgent.makeURI(`sip:${target}@${phone.realm}`);
  const call = new sip.Inviter(ua, uri, { sessionDescriptionHandlerOptions: MEDIA });
  follow(call);
  showCall(call, call.state);
  call.invite({
    requestDelegate: { onReject: (response) => showError("phone_call_failed", response.message.statusCode) },
  }).catch(() => showError("phone_no_media"));
}

function incoming(invitation) {
  if (session) { // busy with another call: RFC 3261 §21.4.24
    invitation.reject({ statusCode: 486 }).catch(() => {});
    return;
  }
  follow(invitation);
  $("phone-incoming-text").textContent = t("phone_incoming", { peer: peerName(invitation) });
  $("phone-incoming").hidden = false;
}

function answer() {
  const call = session;
  $("phone-incoming").hidden = true;
  if (!call || typeof call.accept !== "function") return; // only a received call is answered
  call.accept({ sessionDescriptionHandlerOptions: MEDIA }).catch(() => showError("phone_no_media"));
}

function decline() {
  const call = session;
  $("phone-incoming").hidden = true;
  if (call && typeof call.accept === "function") call.reject().catch(() => {});
}

function hangUp() {
  const call = session;
  if (!call) return;
  const S = sip.SessionState;
  if (call.state === S.Established) call.bye().catch(() => {});
  else if (call.state === S.Initial || call.state === S.Establishing) {
    (call.cancel ? call.cancel() : call.reject()).catch(() => {});
  }
}

// -- the card ---------------------------------------------------------------------

function show(answer) {
  $("phone-browser").hidden = answer.phone !== "browser";
  $("phone-no-secret").hidden = answer.phone !== "no_secret";
  $("phone-native").hidden = answer.phone !== "native";
  $("phone-native-password").hidden = !answer.app_passwords;
  $("phone-native-forbidden").hidden = answer.app_passwords;
}

export async function startPhone(me, shellToken) {
  token = shellToken;
  $("phone-ext").textContent = me.ext ?? t("no_ext");
  $("phone-sip").textContent = me.sip;
  let offered;
  try {
    offered = await fetchPhone();
  } catch {
    return; // the card keeps the extension and address; the rest needs the server
  }
  show(offered);
  if (offered.phone !== "browser") return;
  $("phone-dial").addEventListener("submit", place);
  $("phone-retry").addEventListener("click", retry);
  $("phone-answer").addEventListener("click", answer);
  $("phone-decline").addEventListener("click", decline);
  $("phone-hangup").addEventListener("click", hangUp);
  window.addEventListener("pagehide", () => { stop(); });
  await register(offered);
}
