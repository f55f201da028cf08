// The office shell's service worker. It caches only the shell and static files, and
// shows the offline page when the network is gone. It never caches what is personal
// or secret: tokens, the API, the authorization and token endpoints, sign-in pages.
const CACHE = "codeb-shell-v3";
const SHELL = [
  "/office.html",
  "/offline.html",
  "/manifest.webmanifest",
  "/static/codeb.css",
  "/static/favicon.svg",
  // office.js and every module it imports, transitively (a module missing here breaks the shell offline).
  "/static/js/office.js",
  "/static/js/office/messages.js",
  "/static/js/office/oidc.js",
  "/static/js/office/terminal.js",
  "/static/js/office/apps.js",
  "/static/js/office/menu.js",
  "/static/js/office/cards.js",
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
