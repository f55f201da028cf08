// Notifications on this device (Web Push): after the person agrees, the shell's service
// worker subscribes at the browser's push service with the tenant's VAPID key, and the
// subscription goes to /api/push/subscriptions; "Turn off" unsubscribes and tells the server.
// A subscription found at start is handed over again, so the server knows it belongs to the
// person signed in now. The service worker (/sw.js) shows what arrives and opens its page.
import { base64urlToBuffer } from "../lib/base64url.js";
import { request } from "./leaving.js";
import { t } from "./messages.js";

const $ = (id) => document.getElementById(id);
let token = null;

// What the server refused, in the person's language; anything else (the browser's push
// service unreachable, say) is shown as the shell's own "could not be turned on".
class Refused extends Error {}

function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

async function call(url, method, body) {
  const response = await request(url, {
    method,
    headers: { Authorization: `Bearer ${token.access_token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Refused(data.message || t("notify_failed"));
  return data;
}

function show(subscribed, text) {
  const button = $("channel-notify-toggle");
  button.hidden = false;
  button.textContent = subscribed ? t("notify_off") : t("notify_on");
  button.dataset.subscribed = subscribed ? "1" : "";
  $("channel-notify-state").textContent = text || (subscribed ? t("notify_enabled") : "");
}

async function current() {
  const registration = await navigator.serviceWorker.ready;
  return { registration, subscription: await registration.pushManager.getSubscription() };
}

async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    show(false, t("notify_denied"));
    return;
  }
  const { key } = await call("/api/push", "GET");
  const { registration } = await current();
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: base64urlToBuffer(key),
  });
  await call("/api/push/subscriptions", "POST", { subscription: subscription.toJSON() });
  show(true);
}

async function turnOff() {
  const { subscription } = await current();
  if (subscription) {
    const endpoint = subscription.endpoint;
    await subscription.unsubscribe();
    await call("/api/push/subscriptions", "DELETE", { endpoint });
  }
  show(false);
}

export async function startNotifications(accessToken) {
  token = accessToken;
  const box = $("channel-notify");
  if (!box) return;
  box.hidden = false;
  if (!supported()) {
    $("channel-notify-toggle").hidden = true;
    $("channel-notify-state").textContent = t("notify_unsupported");
    return;
  }
  $("channel-notify-toggle").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await (button.dataset.subscribed ? turnOff() : turnOn());
    } catch (error) {
      show(Boolean(button.dataset.subscribed), error instanceof Refused ? error.message : t("notify_failed"));
    } finally {
      button.disabled = false;
    }
  });
  try {
    const { subscription } = await current();
    if (subscription && Notification.permission === "granted") {
      await call("/api/push/subscriptions", "POST", { subscription: subscription.toJSON() });
      show(true);
    } else {
      show(false, Notification.permission === "denied" ? t("notify_denied") : "");
    }
  } catch (error) {
    show(false, error instanceof Refused ? error.message : t("notify_failed"));
  }
}
