// The pages' JSON calls to the app: a same-origin POST that sends the page's CSRF
// token (<meta name="csrf-token">) as X-CSRF-Token. It answers { ok, data }; data is
// {} when the answer is not JSON.

export async function postJSON(url, body) {
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, data };
}
