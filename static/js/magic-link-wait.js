// The waiting "check your inbox" tab: polls this browser's own pending sign-in every few
// seconds until the link's five minutes are over, and goes on by itself once the person
// approved it on the device where they opened the link (or signed in in another tab).
// "Resend" stays disabled, with a visible countdown, until the server would accept it;
// without script the page still works (the server refuses an early resend itself).

const root = document.getElementById("magic-waiting");
const resend = document.getElementById("resend");
const countdown = document.getElementById("resend-countdown");
const FINAL = new Set(["refused", "locked", "expired", "signed_in"]);

function show(state, reason) {
  const key = state === "refused" ? `refused-${reason || "number"}` : state;
  for (const line of root.querySelectorAll("#waiting-states [data-state]")) {
    line.hidden = line.dataset.state !== key;
  }
  root.dataset.state = state;
}

function minutesAndSeconds(seconds) {
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return `${m}:${s}`;
}

function startCountdown() {
  if (!resend || !resend.dataset.wait) return;
  const until = Date.now() + Number(resend.dataset.wait) * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      resend.disabled = false;
      countdown.textContent = "";
      return;
    }
    resend.disabled = true;
    countdown.textContent = resend.dataset.msgWait.replace("{time}", minutesAndSeconds(left));
    setTimeout(tick, 1000);
  };
  tick();
}

function startPolling() {
  if (!root) return;
  const interval = Math.max(1, Number(root.dataset.interval) || 3) * 1000;
  const deadline = Date.now() + Number(root.dataset.remaining) * 1000;
  const form = document.getElementById("pending-continue");
  const poll = async () => {
    if (Date.now() > deadline) {
      show("expired");
      return;
    }
    let answer;
    try {
      // `no-cache`: the browser revalidates with If-None-Match; an unchanged state is a 304.
      const response = await fetch(root.dataset.status, { credentials: "same-origin", cache: "no-cache" });
      answer = response.ok ? await response.json() : null;
    } catch {
      answer = null; // offline for a moment: try again at the next tick
    }
    if (answer && answer.state === "approved") {
      show("approved");
      form.requestSubmit();
      return;
    }
    if (answer && FINAL.has(answer.state)) {
      show(answer.state, answer.reason);
      return;
    }
    setTimeout(poll, interval);
  };
  if (root.dataset.state === "approved") {
    form.requestSubmit();
  } else if (root.dataset.state === "waiting") {
    setTimeout(poll, interval);
  }
}

startCountdown();
startPolling();
