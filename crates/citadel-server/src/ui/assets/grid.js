// The grid page: inline edits through PATCH with If-Match, the filter
// builder, showing and hiding columns, saving the current filter as a
// view, and the import page's check-then-import.

import { api, problemText, wholeNumber } from "./app.js";

const messages = document.getElementById("messages")?.dataset ?? {};
const grid = document.querySelector("#grid");

/** Puts an editor in a cell; Enter saves (PATCH at the row's version), Esc restores. */
function edit(cell) {
  if (cell.querySelector("input, select") || cell.dataset.saving) return;
  const row = cell.closest("tr");
  const type = cell.dataset.type;
  const before = cell.innerHTML;
  const old = cell.textContent.trim();
  let input;
  if (type === "single_select") {
    input = document.createElement("select");
    for (const name of ["", ...(cell.dataset.choices ?? "").split("\u001f")]) {
      const option = new Option(name, name, false, name === old);
      input.append(option);
    }
  } else if (type === "boolean") {
    input = document.createElement("select");
    input.append(new Option("✓", "true", false, old === "✓"), new Option("✗", "false", false, old !== "✓"));
  } else {
    input = document.createElement("input");
    input.value = old;
    if (type === "date") input.type = "date";
  }
  input.className = "cell-editor";
  input.setAttribute("aria-label", cell.dataset.edit);
  cell.replaceChildren(input);
  cell.classList.add("editing");
  input.focus();
  const restore = () => { cell.innerHTML = before; cell.classList.remove("editing", "invalid"); cell.removeAttribute("title"); };
  const save = async () => {
    if (cell.dataset.saving) return;
    const text = input.value.trim();
    let value = text === "" ? null : text;
    if (type === "boolean") value = text === "true";
    else if (type === "integer" || type === "link") value = wholeNumber(text);
    // Nothing changed: nothing to send (an empty cell stays empty).
    const before = type === "boolean" ? old === "✓" : old === "" ? null : old;
    if (value === before || (value !== null && String(value) === old)) return restore();
    const table = grid.dataset.table;
    cell.dataset.saving = "1";
    const result = await api("PATCH", `/api/v1/tables/${table}/records/${row.dataset.record}`,
      { fields: { [cell.dataset.edit]: value } }, { "if-match": `"${row.dataset.version}"` });
    delete cell.dataset.saving;
    if (!result.ok) {
      cell.classList.add("invalid");
      cell.title = problemText(result.body);
      let note = cell.querySelector(".cell-error");
      if (!note) { note = document.createElement("div"); note.className = "cell-error"; cell.append(note); }
      note.textContent = problemText({ status: result.status, ...result.body });
      input.focus();
      return;
    }
    row.dataset.version = result.body.version;
    const shown = result.body.fields?.[cell.dataset.edit];
    cell.classList.remove("editing", "invalid");
    cell.removeAttribute("title");
    cell.textContent = shown === null || shown === undefined ? "" : type === "boolean" ? (shown ? "✓" : "✗") : Array.isArray(shown) ? shown.join(", ") : String(shown);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); save(); }
    if (event.key === "Escape") { event.preventDefault(); restore(); cell.focus(); }
  });
}

if (grid) {
  grid.addEventListener("dblclick", (event) => {
    const cell = event.target.closest("td[data-edit]");
    if (cell) edit(cell);
  });
  grid.addEventListener("keydown", (event) => {
    const cell = event.target.closest("td[data-edit]");
    if (cell && event.target === cell && event.key === "Enter") { event.preventDefault(); edit(cell); }
  });
}

// Columns shown and hidden, remembered per table in this browser.
const columnsKey = grid ? `citadel.columns.${grid.dataset.table}` : null;
function applyColumns(hidden) {
  for (const toggle of document.querySelectorAll("[data-column-toggle]")) {
    const index = toggle.dataset.columnToggle;
    const off = hidden.includes(index);
    toggle.checked = !off;
    document.querySelectorAll(`[data-col="${index}"]`).forEach((el) => el.classList.toggle("col-hidden", off));
  }
}
if (columnsKey) {
  let hidden = [];
  try { hidden = JSON.parse(localStorage.getItem(columnsKey) ?? "[]"); } catch { hidden = []; }
  applyColumns(hidden);
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-column-toggle]")) return;
    const off = [...document.querySelectorAll("[data-column-toggle]")].filter((t) => !t.checked).map((t) => t.dataset.columnToggle);
    localStorage.setItem(columnsKey, JSON.stringify(off));
    applyColumns(off);
  });
}

// The filter builder writes conditions of the filter language into the filter box.
const builder = document.querySelector("[data-filter-builder]");
if (builder) {
  builder.hidden = false;
  const quote = (text) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'").replaceAll("\t", "\\t")}'`;
  // A bare name must read as a name (not a number or a keyword); any
  // other goes in backquotes, a backquote in it doubled.
  const keywords = new Set(["and", "or", "not", "in", "is", "empty", "between", "contains", "starts", "with", "true", "false"]);
  const name = (text) => (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(text) && !keywords.has(text.toLowerCase())
    ? text : `\`${text.replaceAll("`", "``")}\``);
  builder.querySelector("[data-filter-add]").addEventListener("click", () => {
    const field = builder.querySelector("[data-filter-field]");
    const op = builder.querySelector("[data-filter-op]").value;
    const raw = builder.querySelector("[data-filter-value]").value.trim();
    const type = field.selectedOptions[0]?.dataset.type ?? "text";
    const numeric = ["integer", "decimal", "currency", "percent", "auto_number"].includes(type);
    let condition = `${name(field.value)} ${op}`;
    if (!op.startsWith("is ")) {
      const literal = numeric && /^-?\d+(\.\d+)?$/.test(raw) ? raw : type === "boolean" && /^(true|false)$/.test(raw) ? raw : quote(raw);
      condition += ` ${literal}`;
    }
    const box = document.querySelector("#filter-text");
    // `and` binds tighter than `or`: what is there already is kept whole.
    const current = box.value.trim();
    box.value = current ? `(${current}) and ${condition}` : condition;
    builder.querySelector("[data-filter-value]").value = "";
    box.focus();
  });
}

// Saving what the grid shows as a view: personal, or shared with every
// reader of the table by whoever manages its schema.
document.querySelector("[data-save-view]")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const form = button.closest("form");
  const chosen = await askView(button.hasAttribute("data-may-share"));
  if (!chosen) return;
  const filter = form.querySelector('[name="filter"]').value.trim();
  const sort = form.querySelector('[name="sort"]').value.trim();
  const result = await api("POST", `/api/v1/tables/${button.dataset.table}/views`, {
    name: chosen.name, shared: chosen.shared, filter: filter || null, sort: sort || null,
  });
  if (!result.ok) return window.alert(problemText(result.body));
  window.location.assign(`/tables/${button.dataset.table}?view=${encodeURIComponent(result.body.id)}`);
});

/** Asks for the view's name (and whether to share it); null if cancelled. */
function askView(mayShare) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    const label = document.createElement("label");
    label.textContent = messages.viewName;
    const input = document.createElement("input");
    input.id = "view-name";
    input.maxLength = 64;
    label.append(input);
    dialog.append(label);
    let shared = null;
    if (mayShare) {
      const check = document.createElement("label");
      check.className = "check";
      shared = document.createElement("input");
      shared.type = "checkbox";
      shared.id = "view-shared";
      check.append(shared, ` ${messages.shareView}`);
      dialog.append(check);
    }
    const row = document.createElement("div");
    row.className = "buttons";
    const no = document.createElement("button");
    no.textContent = messages.cancel;
    const ok = document.createElement("button");
    ok.className = "primary";
    ok.textContent = messages.confirm;
    ok.id = "view-name-ok";
    row.append(no, ok);
    dialog.append(row);
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    ok.addEventListener("click", () => {
      const name = input.value.trim();
      if (name) close({ name, shared: shared?.checked ?? false });
      else input.focus();
    });
    no.addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", () => close(null));
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

// Import: check the whole file (dry run), show a preview and each row's errors, then import.
const importForm = document.querySelector("#import");
if (importForm) {
  const file = () => importForm.querySelector('[name="file"]').files[0];
  const format = (f) => (f.name.toLowerCase().endsWith(".xlsx") ? "xlsx" : "csv");
  const text = document.querySelector("#import-messages").dataset;
  const commit = importForm.querySelector('[data-step="commit"]');
  const formError = importForm.querySelector(".form-error");
  const fail = (detail) => { formError.textContent = detail; formError.hidden = false; };
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const chosen = file();
    if (!chosen) return fail(messages.required);
    if (format(chosen) === "csv") preview(await chosen.text());
    const url = `/api/v1/tables/${importForm.dataset.table}/import?dry_run=true&format=${format(chosen)}`;
    const result = await api("POST", url, chosen, { "content-type": format(chosen) === "csv" ? "text/csv" : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
    if (!result.ok) return fail(problemText({ status: result.status, ...result.body }));
    report(result.body);
    commit.hidden = result.body.error_count > 0 || result.body.valid_rows === 0;
  });
  commit.addEventListener("click", async () => {
    const chosen = file();
    const url = `/api/v1/tables/${importForm.dataset.table}/import?format=${format(chosen)}`;
    commit.disabled = true;
    const result = await api("POST", url, chosen, { "content-type": format(chosen) === "csv" ? "text/csv" : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
    commit.disabled = false;
    if (!result.ok) return fail(problemText({ status: result.status, ...result.body }));
    document.querySelector("#import-summary").textContent = text.done.replace("{n}", result.body.imported);
    commit.hidden = true;
    const back = document.createElement("a");
    back.className = "button primary";
    back.id = "import-back";
    back.href = `/tables/${importForm.dataset.table}`;
    back.textContent = "→";
    document.querySelector("#import-summary").append(" ", back);
  });

  function report(body) {
    document.querySelector("#import-report").hidden = false;
    document.querySelector("#import-summary").textContent = text.summary
      .replace("{rows}", body.rows).replace("{valid}", body.valid_rows).replace("{errors}", body.error_count);
    const tbody = document.querySelector("#import-errors tbody");
    tbody.replaceChildren(...body.errors.map((e) => {
      const tr = document.createElement("tr");
      for (const value of [e.row, e.column ?? e.field ?? "", e.reason]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.append(td);
      }
      return tr;
    }));
  }

  function preview(csv) {
    const rows = parseCsv(csv).slice(0, 11);
    const table = document.querySelector("#preview-table");
    table.replaceChildren(...rows.map((cells, i) => {
      const tr = document.createElement("tr");
      for (const cell of cells) {
        const td = document.createElement(i === 0 ? "th" : "td");
        td.textContent = cell;
        tr.append(td);
      }
      return tr;
    }));
    document.querySelector("#import-preview").hidden = rows.length === 0;
  }
}

/** RFC 4180 CSV, enough for a preview (the server parses the file for real). */
function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length && rows.length < 11; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows.map((r, i) => (i === 0 ? r.map((h) => h.replace(/^\uFEFF/, "")) : r));
}
