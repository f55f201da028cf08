// The office shell's terminal (#terminal, in the identity card): who is signed in, and the
// commands typed at its prompt.
import { api, signOut } from "./oidc.js";
import { t } from "./messages.js";

const output = document.getElementById("terminal-output");
const input = document.getElementById("terminal-input");

function print(line) {
  output.textContent += `${line}\n`;
  output.scrollTop = output.scrollHeight;
}

function authLine(me) {
  const method = me.auth.method ? t(`method_${me.auth.method}`) : me.auth.amr.join(", ");
  const detail = [me.auth.passkey, me.auth.authenticator].filter((x, i, all) => x && all.indexOf(x) === i);
  return detail.length ? `${method} (${detail.join(", ")})` : method;
}

function whoami(me) {
  print(`codeb> ${t("welcome", { name: me.nickname || me.display_name })}`);
  print(`codeb> ${t("tenant")} = ${me.tenant.host}`);
  print(`codeb> ${t("auth")} = ${authLine(me)}`);
  print(`codeb> ${t("roles")} = ${me.roles.join(", ")}`);
  print(`codeb> ${t("sip")} = ${me.sip}`);
  print(`codeb> ${t("ext")} = ${me.ext ?? t("no_ext")}`);
  print(`codeb> ${t("ready")}`);
}

function commands(me) {
  const list = {
    "?": [t("cmd_help"), () => {
      print(t("help_title"));
      Object.entries(list).forEach(([name, [text]]) => print(`  ${name.padEnd(8)} ${text}`));
    }],
    whoami: [t("cmd_whoami"), () => whoami(me)],
    phone: [t("cmd_phone"), () => print(t("phone_info", { ext: me.ext ?? t("no_ext"), sip: me.sip }))],
    account: [t("cmd_account"), () => window.location.assign("/account")],
    help: [t("cmd_help_page"), () => window.location.assign("/help")],
    lang: [t("cmd_lang", { languages: me.languages.join(", ") }), null],
    clear: [t("cmd_clear"), () => { output.textContent = ""; }],
    signout: [t("cmd_signout"), signOut],
  };
  if (me.roles.includes("admin") && document.getElementById("tile-admin")) {
    list.admin = [t("cmd_admin"), () => window.location.assign("/admin.html")];
  }
  return list;
}

async function changeLanguage(token, lang) {
  const response = await api(token, "PATCH", { language: lang });
  if (!response.ok) { print(t("lang_unknown")); return; }
  print(t("lang_done"));
  window.location.reload();
}

// Who is signed in (`me`, from /api/me), then the prompt answers commands.
export function startTerminal(me, token) {
  whoami(me);
  const list = commands(me);
  document.getElementById("terminal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const [name, ...args] = input.value.trim().split(/\s+/);
    input.value = "";
    if (!name) return;
    print(`codeb> ${name} ${args.join(" ")}`.trimEnd());
    if (name === "lang") { changeLanguage(token, args[0]); return; }
    const command = list[name.toLowerCase()];
    if (command) command[1](); else print(t("unknown", { command: name }));
  });
}
