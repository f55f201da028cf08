// The office shell's service worker. It caches only the shell and static files, and
// shows the offline page when the network is gone. It never caches what is personal
// or secret: tokens, the API, the authorization and token endpoints, sign-in pages.
// It also shows the Web Push notifications the server sends (codeb.notify.push: a
// message in a channel, a call into a meeting) and opens their page when clicked.
const CACHE = "codeb-shell-v8";
const SHELL = [
  "/office.html",
  "/offline.html",
  "/manifest.webmanifest",
  "/static/codeb.css",
  "/static/favicon.svg",
  // office.js and every module it imports, transitively (a module missing here breaks the shell offline).
  "/static/js/office.js",
  "/static/js/office/messages.js",
  "/static/js/office/leaving.js",
  "/static/js/office/oidc.js",
  "/static/js/office/terminal.js",
  "/static/js/office/apps.js",
  "/static/js/office/menu.js",
  "/static/js/office/cards.js",
  "/static/js/office/channels.js",
  "/static/js/office/invites.js",
  "/static/js/office/meetings.js",
  "/static/js/office/notifications.js",
  "/static/js/office/phone.js",
  "/static/js/lib/base64url.js",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
];
const CACHEABLE = (url) => url.pathname.startsWith("/static/")
  || url.pathname === "/office.html" || url.pathname === "/offline.html"
  || url.pathname === "/manifest.webmanifest";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (CACHEABLE(url) && url.search === "") {
    // Network first, so a new release shows at once; the cache answers offline.
    event.respondWith(fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    }).catch(() => caches.match(request).then((hit) => hit || caches.match("/offline.html"))));
    return;
  }
  if (request.mode === "navigate") {
    // Any other page: straight from the network, never stored; offline page when it fails.
    event.respondWith(fetch(request).catch(() => caches.match("/offline.html")));
  }
  // Everything else (API, tokens, sign-in) goes to the network untouched.
});

// A same-site path only: a notification never opens another site.
function pageOf(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.includes("\\")
    ? url : "/office.html";
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  const title = typeof data.title === "string" && data.title ? data.title : self.location.host;
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    icon: "/static/icons/icon-192.png",
    data: { url: pageOf(data.url) },
  };
  if (typeof data.tag === "string" && data.tag) {
    options.tag = data.tag; // a newer message of the same conversation replaces the older one
    options.renotify = true;
  }
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(pageOf(event.notification.data && event.notification.data.url), self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const open = windows.find((client) => new URL(client.url).pathname === target.pathname);
    if (!open) return self.clients.openWindow(target.href);
    // A window not controlled by this worker cannot be navigated by it: a new one opens then.
    return open.focus().then((client) => (client || open).navigate(target.href))
      .catch(() => self.clients.openWindow(target.href));
  }));
});
