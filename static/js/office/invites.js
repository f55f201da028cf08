// Guests of the open conversation, for its members (the channel view's "Guests", channels.js
// calls in): a new invitation, as a link shown this once or as a mail; the conversation's
// invitations (/api/guests/invites) with their state and the guests who came by each, and
// for the inviter "Withdraw" (the link stops working, its guests lose access) and "Remove"
// (one guest). The server decides who may do what; the buttons show for one's own. Every text
// is put in with textContent.
import { t } from "./messages.js";

const $ = (id) => document.getElementById(id);
const moments = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });

let call = null;     // channels.js's call(): the shell's bearer
let scope = null;    // { kind, id } of the conversation shown
let seen = "";       // its guests as last shown: a change reloads the invitations
let loading = null;  // the reload under way
let again = false;   // asked for again meanwhile

function at(seconds) {
  return moments.format(new Date(seconds * 1000));
}

function failed(result) {
  const error = $("channel-guest-error");
  error.textContent = (result.data && result.data.message) || t("failed");
  error.hidden = false;
}

function button(text, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "link";
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

function badge(state) {
  const element = document.createElement("span");
  element.className = state === "open" ? "badge badge-success" : "badge badge-muted";
  element.textContent = t(`guest_state_${state}`);
  return element;
}

function guestItem(invite, guest) {
  const item = document.createElement("li");
  item.className = "guest-invite-guest";
  item.append(guest.name);
  if (guest.removed) {
    const removed = document.createElement("span");
    removed.className = "badge badge-muted";
    removed.textContent = t("guest_removed");
    item.append(removed);
  } else if (invite.mine && (invite.state === "open" || invite.state === "used")) {
    item.append(" ", button(t("guest_remove"), async () => {
      if (!window.confirm(t("guest_remove_confirm", { name: guest.name }))) return;
      const result = await call(`/api/guests/${guest.id}`, { method: "DELETE" });
      if (!result.ok) { failed(result); return; }
      reload();
    }));
  }
  return item;
}

function inviteItem(invite) {
  const item = document.createElement("li");
  item.className = "guest-invite";
  item.dataset.invite = invite.id;
  item.dataset.state = invite.state;
  const head = document.createElement("p");
  head.className = "guest-invite-head";
  const what = document.createElement("strong");
  what.textContent = invite.email ? t("guest_invite_mailed", { email: invite.email })
    : t(invite.multi ? "guest_invite_link_many" : "guest_invite_link_one");
  head.append(what, badge(invite.state));
  const about = document.createElement("p");
  about.className = "hint guest-invite-about";
  about.textContent = `${t("guest_invite_by", { name: invite.by_name || t("someone"), expires: at(invite.expires) })}`
    + ` · ${t("guest_uses", { count: invite.uses })}`;
  item.append(head, about);
  if (invite.guests.length) {
    const guests = document.createElement("ul");
    guests.className = "guest-invite-guests";
    guests.append(...invite.guests.map((guest) => guestItem(invite, guest)));
    item.append(guests);
  }
  if (invite.mine && (invite.state === "open" || invite.state === "used")) {
    const actions = document.createElement("p");
    actions.className = "channel-message-actions";
    actions.append(button(t("guest_withdraw"), async () => {
      if (!window.confirm(t("guest_withdraw_confirm"))) return;
      const result = await call(`/api/guests/invites/${invite.id}`, { method: "DELETE" });
      if (!result.ok) { failed(result); return; }
      reload();
    }));
    item.append(actions);
  }
  return item;
}

async function load() {
  const shown = scope;
  if (!shown) return;
  const query = new URLSearchParams({ kind: shown.kind, id: shown.id });
  const result = await call(`/api/guests/invites?${query}`);
  if (scope !== shown) return;
  if (!result.ok) { failed(result); return; }
  const list = $("channel-guest-invites");
  list.replaceChildren(...result.data.invites.map(inviteItem));
  if (!result.data.invites.length) {
    list.append(Object.assign(document.createElement("li"), { className: "hint", textContent: t("guest_no_invites") }));
  }
}

function reload() {
  if (loading) { again = true; return; }
  loading = load().finally(() => {
    loading = null;
    if (again) { again = false; reload(); }
  });
}

async function create(event) {
  event.preventDefault();
  if (!scope) return;
  $("channel-guest-error").hidden = true;
  $("channel-guest-sent").textContent = "";
  $("channel-guest-link-box").hidden = true;
  $("channel-guest-link").value = "";
  const email = $("channel-guest-email").value.trim();
  const body = { scope, ttl: Number($("channel-guest-ttl").value), multi: $("channel-guest-multi").checked };
  if (email) body.email = email;
  const result = await call("/api/guests/invites", { method: "POST", body });
  if (!result.ok) { failed(result); return; }
  $("channel-guest-email").value = "";
  $("channel-guest-multi").checked = false;
  if (result.data.link) {
    $("channel-guest-link").value = result.data.link; // shown this once: the server keeps only its hash
    $("channel-guest-copied").textContent = "";
    $("channel-guest-link-box").hidden = false;
    $("channel-guest-link").select();
  } else {
    $("channel-guest-sent").textContent = t("guest_mailed", { email: result.data.invite.email });
  }
  reload();
}

async function copy() {
  const field = $("channel-guest-link");
  try {
    await navigator.clipboard.writeText(field.value);
    $("channel-guest-copied").textContent = t("guest_copied");
  } catch {
    field.select(); // refused (no permission, not a secure context): selected, Ctrl+C copies it
  }
}

function forget() {
  $("channel-guest-error").hidden = true;
  $("channel-guest-sent").textContent = "";
  $("channel-guest-link-box").hidden = true;
  $("channel-guest-link").value = "";
  $("channel-guest-copied").textContent = "";
  $("channel-guest-invites").replaceChildren();
  $("channel-guests").open = false;
}

// The open channel as its latest answer has it: the part shows for its members, never for guests.
export function showInvites(channel) {
  const box = $("channel-guests");
  if (!box) return;
  const member = channel.role === "owner" || channel.role === "member";
  box.hidden = !member || channel.archived;
  const next = { kind: channel.kind === "meeting" ? "meeting" : "channel", id: channel.id };
  if (!scope || scope.id !== next.id || scope.kind !== next.kind) {
    forget();
    scope = next;
    seen = "";
  }
  const guests = (channel.guests || []).map((guest) => guest.id).sort().join(" ");
  if (box.open && !box.hidden && guests !== seen) reload();
  seen = guests;
}

export function hideInvites() {
  if (!$("channel-guests")) return;
  forget();
  scope = null;
  $("channel-guests").hidden = true;
}

export function startInvites(caller) {
  call = caller;
  if (!$("channel-guests")) return;
  $("channel-guest-form").addEventListener("submit", create);
  $("channel-guest-copy").addEventListener("click", copy);
  $("channel-guests").addEventListener("toggle", () => { if ($("channel-guests").open) reload(); });
}
