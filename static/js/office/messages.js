// The office shell's words: its message catalogue (the page's #office-messages, in the
// page's language), its status line (#office-status: announced to screen readers, while the
// skeleton shows the same to the eye) and its failure alert (#office-failed).

const status = document.getElementById("office-status");
const failure = document.getElementById("office-failed");
const skeleton = document.getElementById("office-skeleton");
const cards = document.getElementById("office-cards");
const messages = JSON.parse(document.getElementById("office-messages").textContent);

const plurals = new Intl.PluralRules(document.documentElement.lang);
const numbers = new Intl.NumberFormat(document.documentElement.lang);

// A plural message comes as its CLDR forms ({one, other, ...}): the form for `values.count`.
function textOf(key, values) {
  const message = messages[key] || key;
  if (typeof message === "string") return message;
  return message[plurals.select(values.count)] || message.other;
}

export const t = (key, values = {}) => textOf(key, values).replace(/\{(\w+)\}/g, (_, name) => {
  const value = values[name];
  return typeof value === "number" ? numbers.format(value) : value ?? "";
});

function announce(text) {
  status.hidden = false;
  status.textContent = text;
}

// Signing in or renewing: the skeleton in place of the cards, and the status announced.
export function loading(text) {
  announce(text);
  cards.hidden = true;
  skeleton.hidden = false;
}

// Ready: the cards in place of the skeleton.
export function ready(text) {
  announce(text);
  skeleton.hidden = true;
  cards.hidden = false;
}

// Something went wrong: said visibly, and the skeleton goes.
export function fail(text) {
  announce("");
  skeleton.hidden = true;
  document.getElementById("office-failed-text").textContent = text;
  failure.hidden = false;
}
