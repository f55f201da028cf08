// The progress page of a sign-up: polls the request's status every few seconds and shows each
// step's state as it changes; once the Python steps are done it shows "Open your admin console",
// and when nothing more will change it stops. Without script the page reloads itself.

const root = document.getElementById("progress");
const interval = Math.max(1, Number(root?.dataset.interval) || 2) * 1000;

function show(progress) {
  document.getElementById("progress-message").textContent = progress.message;
  for (const step of progress.steps) {
    const cell = root.querySelector(`[data-step="${step.name}"]`);
    if (!cell) continue;
    const badge = cell.querySelector(".badge");
    badge.className = `badge ${step.badge}`;
    badge.dataset.state = step.state;
    badge.textContent = step.status;
    const error = cell.querySelector(".step-error");
    error.textContent = step.error || "";
    error.hidden = !step.error;
  }
  document.getElementById("progress-failed").hidden = !progress.failed;
  document.getElementById("handoff-form").hidden = !progress.ready;
  root.dataset.state = progress.state;
}

async function poll() {
  let progress = null;
  try {
    const response = await fetch(root.dataset.status, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 404) return; // this browser no longer holds the request: nothing to follow
    progress = response.ok ? await response.json() : null;
  } catch {
    progress = null; // offline for a moment: the next tick tries again
  }
  if (progress) {
    show(progress);
    if (progress.final) return;
  }
  setTimeout(poll, interval);
}

if (root && !root.dataset.final) setTimeout(poll, interval);
