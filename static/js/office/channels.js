// Chat channels in the shell: the card lists the person's channels with unread counts
// (/api/channels), and #channel=<id> opens one in the channel view. Open pages learn of new
// messages by short polling with If-None-Match (a 304 while nothing happened): IIS's FastCGI
// buffers streamed responses, so there is no long-lived stream. Every text is put in with
// textContent: a message never becomes markup.
// A guest's page (static/js/guest.js) shows one conversation with the same view
// (`startGuestChat`): its calls carry the guest's CSRF header beside the cookie instead of the
// shell's bearer, and it has no card, no member management and no invitations.
import { request } from "./leaving.js";
import { t } from "./messages.js";
import { hideInvites, showInvites, startInvites } from "./invites.js";

const $ = (id) => document.getElementById(id);
const POLL_HIDDEN = 15; // seconds between polls of a page nobody is looking at

// How calls are authorised: `headers(method)`, and for a guest `ended(data)` (a 401: their
// access is over) and `failed(data)` (the conversation could not be opened: the page says why).
let auth = null;
let guest = false; // a guest's page: one conversation, nothing to manage
let me = null;
let listTag = null;
let open = null; // the open channel: { id, last, tag, role, archived, timer, messages: Map }
let listTimer = null;
let home = null; // where the channel view lives when it is no meeting's chat

export function bearer(token) {
  return { headers: () => ({ Authorization: `Bearer ${token.access_token}` }) };
}

async function call(url, { method = "GET", body, tag } = {}) {
  const headers = auth.headers(method);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (tag) headers["If-None-Match"] = tag;
  const response = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 304) return { status: 304, tag };
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && auth.ended) auth.ended(data);
  return { status: response.status, ok: response.ok, data, tag: response.headers.get("ETag") };
}

function showError(element, result) {
  element.textContent = (result.data && result.data.message) || t("failed");
  element.hidden = false;
}

function withChannel(shown) {
  const cards = $("office-cards"); // the shell's cards give way to the view (a guest's page has none)
  if (cards) cards.classList.toggle("with-channel", shown);
}

function pollDelay(seconds) {
  return (document.visibilityState === "visible" ? seconds || 2 : POLL_HIDDEN) * 1000;
}

// -- the card ---------------------------------------------------------------------

function listItem(channel) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = `#channel=${channel.id}`;
  link.className = "channel-link";
  link.dataset.channel = channel.id;
  const name = document.createElement("span");
  name.className = "channel-link-name";
  name.textContent = `# ${channel.name}`;
  link.append(name);
  if (channel.archived) {
    const badge = document.createElement("span");
    badge.className = "badge badge-muted";
    badge.textContent = t("archived");
    link.append(badge);
  }
  const unread = channel.unread || { count: 0, mentions: 0 };
  if (unread.count > 0) {
    const badge = document.createElement("span");
    badge.className = unread.mentions > 0 ? "badge badge-warning unread" : "badge unread";
    badge.textContent = unread.mentions > 0 ? `@ ${unread.count}` : String(unread.count);
    badge.setAttribute("aria-label", unread.mentions > 0
      ? t("unread_mentions", { count: unread.count, mentions: unread.mentions })
      : t("unread", { count: unread.count }));
    link.append(badge);
  }
  item.append(link);
  return item;
}

async function pollList() {
  window.clearTimeout(listTimer);
  let seconds = 2;
  try {
    const result = await call("/api/channels", { tag: listTag });
    if (result.ok) {
      listTag = result.tag;
      seconds = result.data.poll;
      const list = $("channels-list");
      list.replaceChildren(...result.data.channels.map(listItem));
      $("channels-empty").hidden = result.data.channels.length > 0;
    }
  } finally {
    listTimer = window.setTimeout(pollList, pollDelay(seconds));
  }
}

async function createChannel(event) {
  event.preventDefault();
  const error = $("channel-new-error");
  error.hidden = true;
  const input = $("channel-new-name");
  const result = await call("/api/channels", { method: "POST", body: { name: input.value } });
  if (!result.ok) { showError(error, result); return; }
  input.value = "";
  listTag = null;
  window.location.hash = `channel=${result.data.channel.id}`;
  pollList();
}

// -- the channel view ---------------------------------------------------------------

function when(seconds) {
  return new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "short", timeStyle: "short" })
    .format(new Date(seconds * 1000));
}

function textWithMentions(text) {
  // @login of the signed-in person is marked; everything is text nodes, never HTML.
  const fragment = document.createDocumentFragment();
  const mine = me.login ? `@${me.login}` : null; // a guest has no login to be mentioned by
  for (const piece of text.split(/(@[a-z0-9._-]+)/)) {
    if (piece === mine) {
      const mark = document.createElement("mark");
      mark.className = "mention";
      mark.textContent = piece;
      fragment.append(mark);
    } else if (piece) {
      fragment.append(document.createTextNode(piece));
    }
  }
  return fragment;
}

function messageItem(message) {
  const item = document.createElement("li");
  item.className = "channel-message";
  item.id = `message-${message.id}`;
  item.dataset.message = String(message.id);
  if (message.mine) item.classList.add("mine");
  if (me.login && message.mentions && message.mentions.length && message.text
      && message.text.includes(`@${me.login}`)) {
    item.classList.add("mentions-me");
  }
  const head = document.createElement("p");
  head.className = "channel-message-head";
  const who = document.createElement("strong");
  who.textContent = message.name || t("someone");
  head.append(who);
  if (message.guest) {
    const badge = document.createElement("span");
    badge.className = "badge badge-muted";
    badge.textContent = t("guest");
    head.append(badge);
  }
  const time = document.createElement("time");
  time.dateTime = new Date(message.at * 1000).toISOString();
  time.textContent = when(message.at);
  head.append(" ", time);
  if (message.edited && !message.deleted) head.append(` · ${t("edited")}`);
  const body = document.createElement("p");
  body.className = "channel-message-text";
  if (message.deleted) {
    body.classList.add("deleted");
    body.textContent = t("deleted");
  } else {
    body.append(textWithMentions(message.text || ""));
  }
  item.append(head, body);
  if (message.mine && !message.deleted && !open.archived) {
    const actions = document.createElement("p");
    actions.className = "channel-message-actions";
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "link";
    edit.textContent = t("edit");
    edit.addEventListener("click", () => editMessage(message));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = t("delete");
    remove.addEventListener("click", () => deleteMessage(message));
    actions.append(edit, remove);
    item.append(actions);
  }
  return item;
}

function place(message) {
  const list = $("channel-messages");
  const item = messageItem(message);
  const existing = document.getElementById(item.id);
  if (existing) existing.replaceWith(item);
  else list.append(item);
  open.messages.set(message.id, message);
}

// A raw event from /changes: a post adds a message, an edit or a delete changes one.
function apply(event) {
  if (event.op === "post") {
    place({ ...event, id: event.message, edited: null, deleted: false });
  } else {
    const known = open.messages.get(event.message);
    if (!known) return;
    if (event.op === "edit") place({ ...known, text: event.text, edited: event.at });
    if (event.op === "delete") place({ ...known, text: null, deleted: true });
  }
}

function showChannel(channel) {
  open.role = channel.role;
  open.archived = channel.archived;
  $("channel-name").textContent = `# ${channel.name}`;
  $("channel-archived").hidden = !channel.archived;
  $("channel-members-summary").textContent = t("members", { count: channel.members.length + channel.guests.length });
  $("channel-members").replaceChildren(...[...channel.members, ...channel.guests].map((member) => {
    const item = document.createElement("li");
    item.textContent = member.login ? `${member.name} (@${member.login})` : member.name;
    if (member.role !== "member") {
      const badge = document.createElement("span");
      badge.className = "badge badge-muted";
      badge.textContent = t(`role_${member.role}`);
      item.append(badge);
    }
    return item;
  }));
  const owner = channel.role === "owner";
  const member = owner || channel.role === "member"; // not a guest: guests manage nothing
  $("channel-rename").hidden = !owner || channel.archived;
  // A meeting's chat is archived by ending the meeting, and left by leaving the meeting's people.
  $("channel-archive").hidden = !owner || channel.archived || channel.kind === "meeting";
  $("channel-invite").hidden = channel.archived || !member;
  $("channel-leave").hidden = !member;
  $("channel-composer").hidden = channel.archived;
  showInvites(channel);
  // Whoever shows this conversation beside it (a meeting's room and its Call list) learns of every change.
  document.dispatchEvent(new CustomEvent("codeb:channel", { detail: channel }));
}

async function markRead(seq) {
  if (seq > 0 && document.visibilityState === "visible") {
    await call(`/api/channels/${open.id}/read`, { method: "POST", body: { seq } });
  }
}

async function pollChannel() {
  const current = open;
  if (!current) return;
  window.clearTimeout(current.timer);
  let seconds = 2;
  try {
    // `looking`: the person has this page in front of them, so a new message needs no notification.
    const looking = document.visibilityState === "visible" && document.hasFocus() ? "&looking=1" : "";
    const result = await call(`/api/channels/${current.id}/changes?after=${current.last}${looking}`, { tag: current.tag });
    if (open !== current) return;
    if (result.status === 404 || result.status === 403) { closeChannel(); return; }
    if (result.ok) {
      seconds = result.data.poll;
      for (const event of result.data.events) apply(event);
      showChannel(result.data.channel);
      const last = result.data.events.length ? result.data.events[result.data.events.length - 1].seq : current.last;
      current.tag = last === current.last ? result.tag : null;
      current.last = last;
      if (result.data.unread.count > 0) await markRead(current.last);
    }
  } finally {
    if (open === current) current.timer = window.setTimeout(pollChannel, pollDelay(seconds));
  }
}

async function openChannel(id, slot = null) {
  if (open && open.id === id) return;
  closeChannel(false);
  open = { id, last: 0, tag: null, timer: null, messages: new Map(), role: null, archived: false, slot };
  // A meeting's chat shows beside its room (`slot`), without the way back to the channels.
  const view = $("channel-view");
  if (slot) slot.append(view);
  else if (home && view.parentNode !== home.parent) home.parent.insertBefore(view, home.next);
  $("channel-back").hidden = Boolean(slot) || guest;
  $("channel-messages").replaceChildren();
  $("channel-results").hidden = true;
  $("channel-error").hidden = true;
  const [shown, history] = await Promise.all([
    call(`/api/channels/${id}`), call(`/api/channels/${id}/messages?limit=100`),
  ]);
  if (!shown.ok || !history.ok) {
    const result = shown.ok ? history : shown;
    if (auth.failed) auth.failed(result.data);
    else showError($("channel-new-error"), result);
    closeChannel();
    return;
  }
  showChannel(shown.data.channel);
  for (const message of history.data.messages) place(message);
  open.last = history.data.last;
  $("channel-view").hidden = false;
  withChannel(true);
  if (!slot) $("channel-text").focus();
  await markRead(open.last);
  pollChannel();
}

function closeChannel(clearHash = true) {
  if (open) window.clearTimeout(open.timer);
  open = null;
  $("channel-view").hidden = true;
  hideInvites();
  withChannel(false);
  if (clearHash && window.location.hash.startsWith("#channel=")) {
    window.history.replaceState(null, "", window.location.pathname);
  }
}

async function post(event) {
  event.preventDefault();
  const text = $("channel-text");
  const error = $("channel-error");
  error.hidden = true;
  const result = await call(`/api/channels/${open.id}/messages`, { method: "POST", body: { text: text.value } });
  if (!result.ok) { showError(error, result); return; }
  text.value = "";
  pollChannel();
}

async function editMessage(message) {
  const text = window.prompt(t("edit"), message.text || "");
  if (text === null || text === message.text) return;
  const result = await call(`/api/channels/${open.id}/messages/${message.id}`, { method: "PATCH", body: { text } });
  if (!result.ok) { showError($("channel-error"), result); return; }
  pollChannel();
}

async function deleteMessage(message) {
  if (!window.confirm(t("delete_confirm"))) return;
  const result = await call(`/api/channels/${open.id}/messages/${message.id}`, { method: "DELETE" });
  if (!result.ok) { showError($("channel-error"), result); return; }
  pollChannel();
}

async function search(event) {
  event.preventDefault();
  const query = $("channel-search-query").value.trim();
  const results = $("channel-results");
  if (!query) { results.hidden = true; return; }
  const result = await call(`/api/channels/${open.id}/search?q=${encodeURIComponent(query)}`);
  if (!result.ok) { showError($("channel-error"), result); return; }
  results.replaceChildren(...(result.data.messages.length ? result.data.messages.map((message) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#message-${message.id}`;
    link.textContent = `${message.name}: ${message.text}`;
    item.append(link);
    return item;
  }) : [Object.assign(document.createElement("li"), { textContent: t("no_results") })]));
  results.hidden = false;
}

async function change(url, method, body) {
  const result = await call(url, { method, body });
  if (!result.ok) { showError($("channel-error"), result); return null; }
  listTag = null;
  pollList();
  return result;
}

function startForms() {
  $("channel-composer").addEventListener("submit", post);
  $("channel-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("channel-composer").requestSubmit(); }
  });
  $("channel-search").addEventListener("submit", search);
  $("channel-back").addEventListener("click", (event) => { event.preventDefault(); closeChannel(); });
  $("channel-invite").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("channel-invite-login");
    const logins = input.value.split(/[\s,]+/).map((l) => l.replace(/^@/, "")).filter(Boolean);
    if (await change(`/api/channels/${open.id}/members`, "POST", { logins })) { input.value = ""; pollChannel(); }
  });
  $("channel-rename").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await change(`/api/channels/${open.id}`, "PATCH", { name: $("channel-rename-name").value })) pollChannel();
  });
  $("channel-archive").addEventListener("click", async () => {
    if (window.confirm(t("archive_confirm")) && await change(`/api/channels/${open.id}`, "PATCH", { archived: true })) {
      pollChannel();
    }
  });
  $("channel-leave").addEventListener("click", async () => {
    if (window.confirm(t("leave_confirm"))
        && await change(`/api/channels/${open.id}/members/${encodeURIComponent(me.login)}`, "DELETE")) {
      closeChannel();
    }
  });
}

function route() {
  const match = /^#channel=([a-z2-7]{16})$/.exec(window.location.hash);
  if (match) openChannel(match[1]);
  else if (open && !open.slot) closeChannel(false);
}

// The meeting view (meetings.js) shows a meeting's chat in its `slot`, and closes it again.
export function openChat(id, slot) {
  return openChannel(id, slot);
}

export function closeChat() {
  if (open && open.slot) closeChannel(false);
  const view = $("channel-view");
  if (home && view.parentNode !== home.parent) home.parent.insertBefore(view, home.next);
}

// A guest's page: the view of their one conversation, its calls authorised by `guestAuth`. For a
// meeting (meetings.js) the chat opens in the meeting view's slot instead (`openChat`).
export function prepareGuestChat(person, guestAuth) {
  me = person;
  auth = guestAuth;
  guest = true;
  const view = $("channel-view");
  home = { parent: view.parentNode, next: view.nextSibling };
  startForms();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") pollChannel();
  });
}

export function startGuestChat(conversation, person, guestAuth) {
  prepareGuestChat(person, guestAuth);
  return openChannel(conversation.id);
}

// The guest's access has ended, or they left: no more polls.
export function stopGuestChat() {
  closeChat();
  if (open) closeChannel(false);
}

export function startChannels(person, accessToken) {
  me = person;
  auth = bearer(accessToken);
  const view = $("channel-view");
  home = { parent: view.parentNode, next: view.nextSibling };
  startForms();
  startInvites(call);
  $("channel-new").addEventListener("submit", createChannel);
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { pollList(); pollChannel(); }
  });
  pollList();
  route();
}
