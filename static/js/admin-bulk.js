// The user list's "select all" checkbox: shown only with script (without it, each row's
// checkbox still works and the bulk form posts them). It ticks or clears the rows of this page.
const all = document.getElementById("select-all");
const rows = () => [...document.querySelectorAll('#user-table tbody input[name="login"]')];

function reflect() {
  const picked = rows().filter((box) => box.checked).length;
  all.checked = picked > 0 && picked === rows().length;
  all.indeterminate = picked > 0 && picked < rows().length;
}

if (all && rows().length) {
  all.hidden = false;
  all.addEventListener("change", () => {
    rows().forEach((box) => { box.checked = all.checked; });
  });
  rows().forEach((box) => box.addEventListener("change", reflect));
}
