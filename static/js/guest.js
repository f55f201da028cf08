// The guest's page (/guest, templates/guest/room.html): someone from outside, with no account,
// comes in by an invitation link `/guest#<token>`. The token is in the fragment, which the
// browser never sends anywhere: this script reads it, takes it out of the address bar (and so
// out of the history and any bookmark), and asks the server what it invites to
// (/api/guest/check). The guest gives a display name and joins (/api/guest/join), which sets
// their session cookie (HttpOnly) and answers a CSRF token that goes with every write. Then
// the page shows the one conversation with the shell's own views: a channel (office/channels.js)
// or a meeting with its chat beside it (office/meetings.js). After a reload, /api/guest/me
// says who the guest is. A 401 from any call means the access has ended (the meeting is over,
// the invitation withdrawn, the guest removed): the page says so and polls no more.
import { t } from "./office/messages.js";
import { startGuestChat, stopGuestChat } from "./office/channels.js";
import { startGuestMeeting, stopGuestMeeting } from "./office/meetings.js";

const $ = (id) => document.getElementById(id);
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const moments = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });

let token = null;   // the link's token, until it is redeemed
let session = null; // { guest, conversation, csrf } once in
let over = false;   // the access ended or the guest left: nothing more is asked

async function send(url, body) {
  const response = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, ok: response.ok, data };
}

function say(text) {
  const status = $("guest-status");
  status.textContent = text;
  status.hidden = !text;
}

function alarm(text) {
  $("guest-error-text").textContent = text;
  $("guest-error").hidden = !text;
}

function refused(result) {
  say("");
  alarm((result.data && result.data.message) || t("failed"));
}

// The calls of the conversation's views: the cookie goes by itself (same origin); a write
// carries the CSRF token of the join's answer.
const auth = {
  headers(method) {
    return UNSAFE.has(method) && session ? { "X-CSRF-Token": session.csrf } : {};
  },
  ended(data) {
    if (over) return;
    finish(false);
    alarm((data && data.message) || t("guest_ended"));
  },
  failed(data) {
    if (!over) alarm((data && data.message) || t("failed"));
  },
};

function finish(tellServer) {
  over = true;
  stopGuestMeeting(tellServer);
  stopGuestChat();
  $("guest-in").hidden = true;
}

function invitation(answer) {
  const inviter = answer.by_name || t("someone");
  const { kind, name } = answer.conversation;
  return t(kind === "meeting" ? "guest_invited_meeting" : "guest_invited_channel", { inviter, name });
}

async function check() {
  const result = await send("/api/guest/check", { token });
  if (!result.ok) { refused(result); return; }
  say("");
  $("guest-invitation").textContent = invitation(result.data);
  $("guest-valid").textContent = t("guest_valid_until", { expires: moments.format(new Date(result.data.expires * 1000)) });
  $("guest-join").hidden = false;
  $("guest-name").focus();
}

async function join(event) {
  event.preventDefault();
  alarm("");
  const button = $("guest-join-form").querySelector("button[type=submit]");
  button.disabled = true;
  say(t("guest_joining"));
  const result = await send("/api/guest/join", { token, name: $("guest-name").value });
  button.disabled = false;
  if (!result.ok) {
    refused(result);
    $("guest-name").setAttribute("aria-invalid", String(result.status === 400));
    $("guest-name").focus();
    return;
  }
  token = null; // redeemed: the cookie is the guest's way in now
  enter(result.data);
}

async function enter(answer) {
  session = answer;
  say("");
  $("guest-join").hidden = true;
  $("guest-in").hidden = false;
  $("guest-who").textContent = t("guest_you_are", { name: answer.guest.name });
  const person = { login: null, display_name: answer.guest.name, guest: true };
  if (answer.conversation.kind === "meeting") {
    await startGuestMeeting(answer.conversation, person, auth);
    if (!over && !$("meeting-join").hidden) $("meeting-join").focus();
  } else {
    await startGuestChat(answer.conversation, person, auth);
  }
}

async function leave() {
  if (!session || !window.confirm(t("guest_leave_confirm"))) return;
  const csrf = session.csrf;
  finish(true); // out of the room first: its presence ends while the session still counts
  const response = await fetch("/api/guest/session", { method: "DELETE", headers: { "X-CSRF-Token": csrf } });
  session = null;
  alarm(response.ok || response.status === 401 ? "" : t("failed"));
  say(t("guest_left"));
}

async function start() {
  $("guest-join-form").addEventListener("submit", join);
  $("guest-leave").addEventListener("click", leave);
  // A link opened over this page only changes the fragment: start again with it.
  window.addEventListener("hashchange", () => { if (window.location.hash.length > 1) window.location.reload(); });
  const fragment = window.location.hash.slice(1);
  if (fragment) {
    token = fragment;
    // Out of the address bar, the history and any bookmark: the page has it now.
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    await check();
    return;
  }
  const me = await send("/api/guest/me");
  if (me.ok) { enter(me.data); return; }
  say(t("guest_no_link"));
}

start().catch(() => alarm(t("failed")));
