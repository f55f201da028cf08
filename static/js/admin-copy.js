// Copy buttons beside client ids, secrets and endpoint URLs (templates/admin/_copy.html).
// Without script the buttons stay hidden and the text stays selectable; with it, a click puts
// the text on the clipboard and says "Copied" in the status beside it, for everyone.
const COPIED_FOR_MS = 4000;

function copyButton(button) {
  const target = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  let timer;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
    } catch {
      // Refused (no permission, not a secure context): select the text so Ctrl+C works.
      window.getSelection().selectAllChildren(target);
      return;
    }
    status.textContent = button.dataset.copied;
    button.classList.add("copied");
    clearTimeout(timer);
    timer = setTimeout(() => {
      status.textContent = "";
      button.classList.remove("copied");
    }, COPIED_FOR_MS);
  });
}

document.querySelectorAll("button[data-copy]").forEach(copyButton);
