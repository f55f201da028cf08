// The header's account menu (#office-menu, a <details>): the person's initials and name,
// Account, Administration for admins, and Sign out (the shell's own OpenID logout).
import { signOut } from "./oidc.js";

const menu = document.getElementById("office-menu");

export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((word) => [...word][0].toUpperCase()).join("") || "?";
}

export function startMenu(me) {
  document.getElementById("office-avatar").textContent = initials(me.display_name);
  document.getElementById("office-name").textContent = me.display_name;
  const admin = document.getElementById("office-menu-admin");
  if (admin && me.roles.includes("admin")) admin.hidden = false;
  document.getElementById("office-signout").addEventListener("click", signOut);
  // Escape closes the open menu and gives the focus back to its button.
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.hidden = false;
}
