// The EU Wallet's present page: polls this browser's transaction until a wallet's answer has
// arrived (a wallet on another device, from the QR code) and then completes the sign-in in this
// session; where the browser has the Digital Credentials API, offers it first and posts the
// wallet's encrypted answer itself (codeb.signin.wallet).

const root = document.getElementById("wallet-present");
const form = document.getElementById("wallet-complete");
const FINAL = new Set(["failed", "expired"]);

function show(state, message) {
  for (const line of root.querySelectorAll("#wallet-states [data-state]")) {
    line.hidden = line.dataset.state !== state;
  }
  if (state === "failed" && message) {
    const text = root.querySelector(`template[data-message="${message}"]`);
    if (text) document.getElementById("wallet-failure").textContent = text.content.textContent;
  }
}

function countdown(deadline) {
  const out = document.getElementById("wallet-countdown");
  const tick = () => {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      show("expired");
      return;
    }
    out.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    setTimeout(tick, 1000);
  };
  tick();
}

function poll(deadline) {
  const interval = Math.max(1, Number(root.dataset.interval) || 2) * 1000;
  let stopped = false;
  const step = async () => {
    if (stopped) return;
    if (Date.now() > deadline) {
      show("expired");
      return;
    }
    let answer = null;
    try {
      const response = await fetch(root.dataset.status, { credentials: "same-origin", cache: "no-cache" });
      answer = response.ok ? await response.json() : null;
    } catch {
      answer = null; // offline for a moment: the next tick asks again
    }
    if (answer && answer.state === "arrived") {
      show("arrived");
      form.requestSubmit();
      return;
    }
    if (answer && FINAL.has(answer.state)) {
      show(answer.state, answer.message);
      return;
    }
    if (answer && (answer.state === "opened" || answer.state === "redirected")) show(answer.state);
    setTimeout(step, interval);
  };
  setTimeout(step, interval);
  return () => { stopped = true; };
}

function digitalCredentials(stopPolling) {
  const request = root.dataset.dcRequest;
  if (!request || typeof window.DigitalCredential === "undefined" || !navigator.credentials) return;
  const box = document.getElementById("wallet-dc");
  box.hidden = false;
  document.getElementById("wallet-dc-button").addEventListener("click", async () => {
    let credential;
    try {
      credential = await navigator.credentials.get({
        mediation: "required",
        digital: { requests: [{ protocol: "openid4vp-v1-signed", data: { request } }] },
      });
    } catch {
      return; // cancelled, or no wallet answered: the link and the QR code still work
    }
    if (!credential || !credential.data) return;
    stopPolling();
    const field = document.getElementById("wallet-dc-response");
    field.disabled = false;
    field.value = typeof credential.data === "string" ? credential.data : JSON.stringify(credential.data);
    form.requestSubmit();
  });
}

if (root) {
  const deadline = Date.now() + Number(root.dataset.remaining) * 1000;
  countdown(deadline);
  digitalCredentials(poll(deadline));
}
