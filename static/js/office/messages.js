// The office shell's words: its message catalogue (the page's #office-messages, in the
// page's language) and its status line (#office-status).

const status = document.getElementById("office-status");
const messages = JSON.parse(document.getElementById("office-messages").textContent);

export const say = (text) => { status.textContent = text; };
export const t = (key, values = {}) => (messages[key] || key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
