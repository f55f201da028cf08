// The sign-up form of the host site: the subdomain is checked as it is typed (after a short
// pause), and the answer (free, or why not, in the page's language) is read out beside the
// field. The server checks everything again when the form is sent; without script the form
// works the same, its errors shown beside the fields.

const input = document.getElementById("subdomain");
const output = document.getElementById("subdomain-check");
const PAUSE = 300; // milliseconds without typing before a check

let timer = null;
let asked = 0;

async function check() {
  const value = input.value.trim();
  const mine = ++asked;
  if (!value) {
    output.textContent = "";
    return;
  }
  let answer = null;
  try {
    const url = `${input.dataset.check}?subdomain=${encodeURIComponent(value)}`;
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    answer = await response.json();
  } catch {
    answer = null; // offline for a moment: the form's own check still answers
  }
  if (mine !== asked || !answer) return; // a later keystroke's answer wins
  output.textContent = answer.message || "";
  output.dataset.ok = answer.ok ? "1" : "";
  if (answer.ok) {
    input.removeAttribute("aria-invalid");
  } else {
    input.setAttribute("aria-invalid", "true");
  }
}

if (input && output) {
  const served = document.getElementById("subdomain-error"); // the server's answer to the last post
  input.addEventListener("input", () => {
    if (served) served.hidden = true; // the live answer replaces it
    clearTimeout(timer);
    timer = setTimeout(check, PAUSE);
  });
  if (input.value && !served) check();
}
