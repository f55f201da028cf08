// Meeting rooms in the shell: the card lists the person's meetings (/api/meetings), and
// #meeting=<id> opens one in the meeting view, its chat beside it (channels.js). Joining
// sends a heartbeat every few seconds; audio and video go between the browsers as a WebRTC
// mesh (each peer connects to each other one, up to four people), with the tenant's TURN
// credentials (/api/turn). Offers, answers and ICE candidates travel through the server:
// POST .../signals to send, and a poll of GET .../signals each second, which also says who is
// present. Of two peers, the one whose id sorts first makes the offer: no offers cross.
// A guest's page (static/js/guest.js) shows their one meeting with the same view
// (`startGuestMeeting`): no card, no way back, nothing an owner does (end, ring).
import { bearer, closeChat, openChat, prepareGuestChat } from "./channels.js";
import { request } from "./leaving.js";
import { t } from "./messages.js";

const $ = (id) => document.getElementById(id);
const lang = document.documentElement.lang;
const moments = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

let auth = null; // how calls are authorised (channels.js: `bearer`, or the guest page's)
let guest = false;
let me = null;
let listTimer = null;
let room = null; // the open meeting: { id, meeting, peer, stream, iceServers, peers: Map, beat, poll }

async function call(url, { method = "GET", body } = {}) {
  const headers = auth.headers(method);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && auth.ended) auth.ended(data);
  return { status: response.status, ok: response.ok, data };
}

function showError(result) {
  const element = $("meeting-error");
  element.textContent = (result && result.data && result.data.message) || t("failed");
  element.hidden = false;
}

function when(meeting) {
  const at = (seconds) => moments.format(new Date(seconds * 1000));
  if (meeting.starts && meeting.ends) return t("meeting_scheduled", { starts: at(meeting.starts), ends: at(meeting.ends) });
  if (meeting.starts) return t("meeting_from", { starts: at(meeting.starts) });
  if (meeting.ends) return t("meeting_until", { ends: at(meeting.ends) });
  return "";
}

// -- the card ---------------------------------------------------------------------

function listItem(meeting) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = `#meeting=${meeting.id}`;
  link.className = "channel-link";
  link.dataset.meeting = meeting.id;
  const name = document.createElement("span");
  name.className = "channel-link-name";
  name.textContent = meeting.name;
  link.append(name);
  const time = when(meeting);
  if (meeting.over || time) {
    const badge = document.createElement("span");
    badge.className = "badge badge-muted";
    badge.textContent = meeting.over ? t("meeting_over") : time;
    link.append(badge);
  }
  item.append(link);
  return item;
}

async function pollList() {
  window.clearTimeout(listTimer);
  try {
    const result = await call("/api/meetings");
    if (result.ok) {
      $("meetings-list").replaceChildren(...result.data.meetings.map(listItem));
      $("meetings-empty").hidden = result.data.meetings.length > 0;
    }
  } finally {
    listTimer = window.setTimeout(pollList, document.visibilityState === "visible" ? 10_000 : 30_000);
  }
}

function localMoment(value) {
  return value ? new Date(value).toISOString() : null; // the field's local time, with its offset
}

async function createMeeting(event) {
  event.preventDefault();
  const error = $("meeting-new-error");
  error.hidden = true;
  const result = await call("/api/meetings", { method: "POST", body: {
    name: $("meeting-new-name").value,
    starts: localMoment($("meeting-new-starts").value),
    ends: localMoment($("meeting-new-ends").value),
  } });
  if (!result.ok) {
    error.textContent = result.data.message || t("failed");
    error.hidden = false;
    return;
  }
  event.target.reset();
  pollList();
  window.location.hash = `#meeting=${result.data.meeting.id}`;
}

// -- the room: WebRTC ----------------------------------------------------------------

function tile(peer, name, local = false) {
  const item = document.createElement("li");
  item.className = local ? "meeting-tile local" : "meeting-tile";
  item.dataset.peer = peer;
  item.dataset.state = local ? "local" : "new";
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  if (local) video.muted = true; // never hear oneself
  const label = document.createElement("span");
  label.className = "meeting-tile-name";
  label.textContent = name;
  item.append(video, label);
  $("meeting-videos").append(item);
  return item;
}

async function send(to, kind, data) {
  if (!room) return;
  const result = await call(`/api/meetings/${room.id}/signals`, { method: "POST", body: { to, kind, data } });
  if (!result.ok && result.status !== 404) showError(result); // 404: that peer has just left
}

function connect(peer, name) {
  const current = room;
  const pc = new RTCPeerConnection({ iceServers: current.iceServers });
  const entry = { pc, name, tile: tile(peer, name), pending: [] };
  current.peers.set(peer, entry);
  if (current.stream) {
    for (const track of current.stream.getTracks()) pc.addTrack(track, current.stream);
  } else {
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  pc.onicecandidate = (event) => { if (event.candidate) send(peer, "candidate", event.candidate.toJSON()); };
  pc.ontrack = (event) => {
    const video = entry.tile.querySelector("video");
    // A track the other side sent without a stream still gets one of its own here.
    const stream = event.streams[0] || video.srcObject || new MediaStream();
    if (!event.streams[0] && !stream.getTracks().includes(event.track)) stream.addTrack(event.track);
    if (video.srcObject !== stream) video.srcObject = stream;
  };
  pc.onconnectionstatechange = () => {
    entry.tile.dataset.state = pc.connectionState;
    if (pc.connectionState === "failed" && current.peer < peer) offer(peer, entry, true);
  };
  if (current.peer < peer) offer(peer, entry, false);
  return entry;
}

async function offer(peer, entry, restart) {
  const description = await entry.pc.createOffer(restart ? { iceRestart: true } : {});
  await entry.pc.setLocalDescription(description);
  send(peer, "offer", { type: description.type, sdp: description.sdp });
}

function drop(peer) {
  const entry = room && room.peers.get(peer);
  if (!entry) return;
  entry.pc.close();
  entry.tile.remove();
  room.peers.delete(peer);
}

async function onSignal(signal) {
  let entry = room.peers.get(signal.from);
  if (signal.kind === "bye") { drop(signal.from); return; }
  if (!entry) {
    if (signal.kind !== "offer") return; // a candidate of a connection already gone
    entry = connect(signal.from, "");
  }
  const pc = entry.pc;
  if (signal.kind === "offer") {
    await pc.setRemoteDescription(signal.data);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    send(signal.from, "answer", { type: answer.type, sdp: answer.sdp });
  } else if (signal.kind === "answer") {
    if (pc.signalingState === "have-local-offer") await pc.setRemoteDescription(signal.data);
  } else if (signal.kind === "candidate") {
    if (!pc.remoteDescription) { entry.pending.push(signal.data); return; }
    await pc.addIceCandidate(signal.data).catch(() => {});
  }
  if (pc.remoteDescription && entry.pending.length) {
    for (const candidate of entry.pending.splice(0)) await pc.addIceCandidate(candidate).catch(() => {});
  }
}

function showPresent(present) {
  const list = $("meeting-present");
  list.replaceChildren(...present.map((person) => {
    const item = document.createElement("li");
    const mine = room && person.peer === room.peer;
    item.textContent = mine ? t("meeting_you", { name: person.name || me.display_name }) : person.name;
    if (person.guest) {
      const badge = document.createElement("span");
      badge.className = "badge badge-muted";
      badge.textContent = t("guest");
      item.append(badge);
    }
    return item;
  }));
  if (!present.length) list.append(Object.assign(document.createElement("li"), { textContent: t("meeting_nobody") }));
  if (!room || !room.peer) return;
  const others = present.filter((person) => person.peer !== room.peer);
  for (const person of others) {
    const entry = room.peers.get(person.peer);
    if (!entry) connect(person.peer, person.name);
    else if (!entry.name && person.name) {
      entry.name = person.name;
      entry.tile.querySelector(".meeting-tile-name").textContent = person.name;
    }
  }
  const here = new Set(others.map((person) => person.peer));
  for (const peer of [...room.peers.keys()]) if (!here.has(peer)) drop(peer);
  $("meeting-status").textContent = others.length
    ? t("meeting_joined", { count: others.length }) : t("meeting_alone");
}

async function poll() {
  const current = room;
  if (!current || !current.peer) return;
  try {
    const result = await call(`/api/meetings/${current.id}/signals`);
    if (room !== current) return;
    if (result.status === 409) { ended(result); return; }
    if (result.ok) {
      for (const signal of result.data.signals) await onSignal(signal);
      showPresent(result.data.present);
    }
  } finally {
    if (room === current && current.peer) current.poll = window.setTimeout(poll, 1000);
  }
}

async function heartbeat() {
  const current = room;
  if (!current || !current.peer) return;
  const result = await call(`/api/meetings/${current.id}/presence`, { method: "POST" });
  if (room !== current) return;
  if (result.status === 409) { ended(result); return; }
  if (result.ok) current.peer = result.data.peer;
  current.beat = window.setTimeout(heartbeat, (result.ok ? result.data.heartbeat : 5) * 1000);
}

async function media() {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return null;
  try {
    return await devices.getUserMedia({ audio: true, video: true });
  } catch (error) {
    return devices.getUserMedia({ audio: true }).catch(() => null);
  }
}

async function join() {
  const current = room;
  $("meeting-error").hidden = true;
  $("meeting-join").disabled = true;
  $("meeting-status").textContent = t("meeting_connecting");
  const [stream, servers] = await Promise.all([media(), call("/api/turn")]);
  if (room !== current) { if (stream) stream.getTracks().forEach((track) => track.stop()); return; }
  current.stream = stream;
  current.iceServers = servers.ok ? servers.data.iceServers : [];
  const result = await call(`/api/meetings/${current.id}/presence`, { method: "POST" });
  $("meeting-join").disabled = false;
  if (!result.ok) {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    current.stream = null;
    $("meeting-status").textContent = "";
    showError(result);
    return;
  }
  current.peer = result.data.peer;
  const mine = tile(current.peer, t("meeting_you", { name: me.display_name }), true);
  if (stream) mine.querySelector("video").srcObject = stream;
  else $("meeting-status").textContent = t("meeting_no_media");
  $("meeting-join").hidden = true;
  $("meeting-leave").hidden = false;
  $("meeting-mic").hidden = !stream || !stream.getAudioTracks().length;
  $("meeting-camera").hidden = !stream || !stream.getVideoTracks().length;
  showPresent(result.data.present);
  current.beat = window.setTimeout(heartbeat, result.data.heartbeat * 1000);
  poll();
}

function hangUp(tellServer) {
  const current = room;
  if (!current || !current.peer) return;
  window.clearTimeout(current.beat);
  window.clearTimeout(current.poll);
  for (const peer of [...current.peers.keys()]) {
    if (tellServer) send(peer, "bye", {});
    drop(peer);
  }
  if (current.stream) current.stream.getTracks().forEach((track) => track.stop());
  current.stream = null;
  if (tellServer) call(`/api/meetings/${current.id}/presence`, { method: "DELETE" });
  current.peer = null;
  $("meeting-videos").replaceChildren();
  $("meeting-join").hidden = false;
  for (const id of ["meeting-leave", "meeting-mic", "meeting-camera"]) $(id).hidden = true;
  $("meeting-status").textContent = "";
}

function ended() {
  if (room && room.meeting) room.meeting.over = true; // a later change of its chat shows no Call list again
  hangUp(false);
  $("meeting-over").hidden = false;
  $("meeting-join").hidden = true;
  $("meeting-end").hidden = true;
  $("meeting-ring").hidden = true;
  $("meeting-status").textContent = t("meeting_ended_notice");
}

function toggle(kind) {
  if (!room || !room.stream) return;
  const tracks = kind === "mic" ? room.stream.getAudioTracks() : room.stream.getVideoTracks();
  const off = tracks.some((track) => track.enabled);
  for (const track of tracks) track.enabled = !off;
  const button = $(`meeting-${kind === "mic" ? "mic" : "camera"}`);
  button.setAttribute("aria-pressed", String(off));
  button.textContent = kind === "mic" ? t(off ? "meeting_unmute" : "meeting_mute")
    : t(off ? "meeting_camera_on" : "meeting_camera_off");
}

// -- the view ----------------------------------------------------------------------

function withMeeting(shown) {
  const cards = $("office-cards"); // the shell's cards give way to the room (a guest's page has none)
  if (cards) cards.classList.toggle("with-channel", shown);
}

// The owner's Call list: the meeting's people but the owner, kept as the chat's members change
// (channels.js tells of each change), the one chosen staying chosen.
function showRing(meeting, channel) {
  const ring = $("meeting-ring");
  const select = $("meeting-ring-login");
  const chosen = select.value;
  const members = channel.members.filter((member) => member.login !== me.login);
  ring.hidden = !meeting.owner || meeting.over || !members.length;
  const same = members.length === select.options.length
    && members.every((member, i) => select.options[i].value === member.login
      && select.options[i].textContent === `${member.name} (@${member.login})`);
  if (same) return;
  select.replaceChildren(...members.map((member) => Object.assign(
    document.createElement("option"), { value: member.login, textContent: `${member.name} (@${member.login})` })));
  if (members.some((member) => member.login === chosen)) select.value = chosen;
}

function showMeeting(meeting, channel) {
  $("meeting-name").textContent = meeting.name;
  const time = when(meeting);
  $("meeting-when").textContent = time;
  $("meeting-when").hidden = !time;
  $("meeting-over").hidden = !meeting.over;
  $("meeting-join").hidden = meeting.over || Boolean(room && room.peer);
  $("meeting-end").hidden = !meeting.owner || meeting.over;
  showRing(meeting, channel);
  if (meeting.over) $("meeting-status").textContent = t("meeting_ended_notice");
}

async function openMeeting(id) {
  if (room && room.id === id) return;
  closeMeeting(false);
  room = { id, peer: null, stream: null, iceServers: [], peers: new Map(), beat: null, poll: null };
  const current = room;
  $("meeting-error").hidden = true;
  $("meeting-status").textContent = "";
  const shown = await call(`/api/meetings/${id}`);
  if (room !== current) return;
  if (!shown.ok) {
    closeMeeting();
    if (auth.failed) auth.failed(shown.data);
    else showError(shown);
    return;
  }
  current.meeting = shown.data.meeting;
  showMeeting(shown.data.meeting, shown.data.channel);
  showPresent(shown.data.present);
  $("meeting-view").hidden = false;
  $("meeting-back").hidden = guest;
  withMeeting(true);
  await openChat(id, $("meeting-chat"));
  withMeeting(true);
}

function closeMeeting(clearHash = true) {
  if (room) hangUp(true);
  room = null;
  closeChat();
  $("meeting-view").hidden = true;
  withMeeting(false);
  if (clearHash && window.location.hash.startsWith("#meeting=")) {
    window.history.replaceState(null, "", window.location.pathname);
  }
}

function startForms() {
  $("meeting-join").addEventListener("click", join);
  $("meeting-leave").addEventListener("click", () => hangUp(true));
  $("meeting-mic").addEventListener("click", () => toggle("mic"));
  $("meeting-camera").addEventListener("click", () => toggle("camera"));
  $("meeting-back").addEventListener("click", (event) => { event.preventDefault(); closeMeeting(); });
  $("meeting-end").addEventListener("click", async () => {
    if (!room || !window.confirm(t("meeting_end_confirm"))) return;
    const result = await call(`/api/meetings/${room.id}/end`, { method: "POST" });
    if (!result.ok) { showError(result); return; }
    ended();
    pollList();
  });
  $("meeting-ring").addEventListener("submit", async (event) => {
    event.preventDefault();
    const login = $("meeting-ring-login").value;
    const result = await call(`/api/meetings/${room.id}/ring`, { method: "POST", body: { login } });
    if (!result.ok) { showError(result); return; }
    const chosen = $("meeting-ring-login").selectedOptions[0];
    $("meeting-status").textContent = t("meeting_rung", { name: chosen ? chosen.textContent : login });
  });
  window.addEventListener("pagehide", () => { if (room) hangUp(true); });
  document.addEventListener("codeb:channel", (event) => {
    if (room && room.meeting && event.detail.id === room.id) showRing(room.meeting, event.detail);
  });
}

function route() {
  const match = /^#meeting=([a-z2-7]{16})$/.exec(window.location.hash);
  if (match) openMeeting(match[1]);
  else if (room) closeMeeting(false);
}

// A guest's page: their one meeting, its calls authorised by `guestAuth` (channels.js too, for its chat).
export function startGuestMeeting(conversation, person, guestAuth) {
  me = person;
  auth = guestAuth;
  guest = true;
  prepareGuestChat(person, guestAuth);
  startForms();
  return openMeeting(conversation.id);
}

// The guest's access has ended (`tellServer` false: nothing to tell) or they leave.
export function stopGuestMeeting(tellServer) {
  if (room) hangUp(tellServer);
  room = null;
  closeChat();
  $("meeting-view").hidden = true;
}

export function startMeetings(person, accessToken) {
  me = person;
  auth = bearer(accessToken);
  startForms();
  $("meeting-new").addEventListener("submit", createMeeting);
  window.addEventListener("hashchange", route);
  pollList();
  route();
}
