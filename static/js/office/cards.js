// The shell's collapsible cards: a disclosure button (aria-expanded, aria-controls) whose
// open or closed state is remembered in localStorage, per card. Nothing personal is kept.
const KEY = "codeb.office.collapsed"; // a JSON list of the ids of collapsed panels

function collapsed() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

function remember(id, open) {
  const list = collapsed().filter((other) => other !== id);
  if (!open) list.push(id);
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    // storage full or refused: the card still opens and closes, it is just not remembered
  }
}

function show(button, panel, open) {
  button.setAttribute("aria-expanded", String(open));
  panel.hidden = !open;
}

export function startDisclosures() {
  const closed = collapsed();
  for (const button of document.querySelectorAll("#office-cards button.disclosure[aria-controls]")) {
    const panel = document.getElementById(button.getAttribute("aria-controls"));
    if (!panel) continue;
    show(button, panel, !closed.includes(panel.id));
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      show(button, panel, open);
      remember(panel.id, open);
    });
  }
}
