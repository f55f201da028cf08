// The Apps card: the tenant's registered clients that have a home URL (/api/apps, with the
// shell's token), each a tile with the app's logo or its initial letter.
import { api } from "./oidc.js";
import { t } from "./messages.js";

const list = document.getElementById("apps-list");
const empty = document.getElementById("apps-empty");
const config = document.getElementById("main").dataset;

// A logo the page may show: the page's img-src allows only this origin and data: images.
function usableLogo(logo) {
  if (typeof logo !== "string" || !logo) return null;
  if (/^data:image\//.test(logo)) return logo;
  try {
    return new URL(logo, window.location.origin).origin === window.location.origin ? logo : null;
  } catch {
    return null;
  }
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function tile(app) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.className = "tile app-tile";
  link.href = app.url;
  const logo = usableLogo(app.logo);
  let mark;
  if (logo) {
    mark = document.createElement("img");
    mark.src = logo;
    mark.alt = "";
    mark.className = "app-logo";
  } else {
    mark = document.createElement("span");
    mark.className = "app-initial";
    mark.textContent = (app.name.trim()[0] || "?").toUpperCase();
  }
  mark.setAttribute("aria-hidden", "true");
  const title = document.createElement("span");
  title.className = "tile-title";
  title.textContent = app.name;
  const body = document.createElement("span");
  body.className = "tile-body wrap-anywhere";
  body.textContent = hostOf(app.url);
  link.append(mark, title, body);
  item.append(link);
  return item;
}

// Only https URLs reach here (the client form refuses others); checked again, so a tile never runs script.
const safe = (app) => app && typeof app.name === "string" && typeof app.url === "string" && /^https:\/\//.test(app.url);

export async function loadApps(token) {
  const response = await api(token, "GET", undefined, config.apps);
  if (!response.ok) {
    empty.textContent = t("apps_failed");
    empty.hidden = false;
    return;
  }
  const apps = ((await response.json()).apps || []).filter(safe);
  list.replaceChildren(...apps.map(tile));
  empty.hidden = apps.length > 0;
}
