// The tenant administration pages: what app.js's generic forms cannot
// do. Forms whose empty fields mean `null` (clearing a department), the
// one-time passwords shown once, and the permission group editor, which
// sends the whole group (members and grants built from the matrix) with
// PUT, exactly as the API takes it. Every change is an API call.

import { api, ask, problemText, showProblem } from "./app.js";

function clearProblems(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((el) => { el.hidden = true; el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** A form's inputs as JSON: an empty `data-empty="null"` field clears, an empty `data-empty="omit"` one is left out. */
function formBody(form) {
  const body = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (input.disabled || input.hasAttribute("data-skip")) continue;
    let value = input.type === "checkbox" ? input.checked : input.value.trim();
    // A number that does not parse goes as typed: the API's refusal names the field.
    if (input.dataset.json === "number" && value !== "" && Number.isFinite(Number(value))) value = Number(value);
    if (value === "") {
      if (input.dataset.empty === "omit") continue;
      if (input.dataset.empty === "null") value = null;
    }
    body[input.name] = value;
  }
  return body;
}

/** Hides an earlier "saved" while the form is sent again. */
function unflashSaved(form) {
  const note = form.querySelector(".saved");
  if (note) note.hidden = true;
}

function flashSaved(form) {
  const note = form.querySelector(".saved");
  if (!note) return;
  note.hidden = false;
  clearTimeout(note.timer);
  note.timer = setTimeout(() => { note.hidden = true; }, 4000);
}

/** What happens after a success: `reload`, `saved`, or `show-password`. */
function then(spec, body, source) {
  if (!spec || spec === "reload") return window.location.reload();
  if (spec === "saved") return flashSaved(source);
  if (spec === "show-password") {
    const box = document.querySelector(source.dataset.show);
    if (!box) return;
    const login = box.querySelector("[data-login]");
    if (login) login.textContent = body.user?.login ?? "";
    box.querySelector("[data-password]").textContent = body.one_time_password ?? "";
    box.hidden = false;
    if (source.tagName === "FORM") source.reset();
  }
}

async function confirmed(el) {
  return !el.dataset.confirm || (await ask(el.dataset.confirm));
}

async function submitAdminForm(form) {
  unflashSaved(form);
  if (!(await confirmed(form))) return;
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  const result = await api(form.dataset.method, form.dataset.url, formBody(form));
  if (button) button.disabled = false;
  if (!result.ok) return showProblem(form, { status: result.status, ...result.body });
  clearProblems(form);
  then(form.dataset.then, result.body, form);
}

async function clickAdminButton(button) {
  if (!(await confirmed(button))) return;
  button.disabled = true;
  const result = await api(button.dataset.method, button.dataset.url);
  button.disabled = false;
  const form = button.closest("form");
  if (!result.ok) {
    if (form) showProblem(form, { status: result.status, ...result.body });
    else window.alert(problemText({ status: result.status, ...result.body }));
    return;
  }
  if (form) clearProblems(form);
  then(button.dataset.then, result.body, button);
}

// The permission group editor.

const selectorFor = (attribute, value) => `[${attribute}="${CSS.escape(value)}"]`;

function ticked(form, selector) {
  return [...form.querySelectorAll(selector)].filter((box) => box.checked).map((box) => box.dataset.op);
}

function distinct(form, attribute) {
  return new Set([...form.querySelectorAll(`[${attribute}]`)].map((el) => el.getAttribute(attribute)));
}

/** One table's entry: its operations, field rules and row scopes; keeps rules of fields no longer shown. */
function tableRules(form, id, before) {
  const operations = ticked(form, selectorFor("data-table", id));
  const fields = { ...(before?.fields ?? {}) };
  for (const select of form.querySelectorAll(selectorFor("data-field-of", id))) {
    delete fields[select.dataset.field];
    if (select.value !== "read_write") fields[select.dataset.field] = select.value;
  }
  const rows = {};
  for (const select of form.querySelectorAll(`${selectorFor("data-scope-of", id)}[data-scope-op]`)) {
    const op = select.dataset.scopeOp;
    if (select.value === "filter") {
      const text = form.querySelector(`${selectorFor("data-scope-of", id)}${selectorFor("data-scope-filter", op)}`);
      rows[op] = { filter: text?.value.trim() ?? "" };
    } else if (select.value !== "all") {
      rows[op] = select.value;
    }
  }
  const any = operations.length || Object.keys(fields).length || Object.keys(rows).length;
  return any ? { operations, fields, rows } : null;
}

/**
 * The group as PUT takes it. Apps and tables the editor does not show (in
 * the recycle bin, or gone) keep what they had rather than being dropped.
 */
function groupBody(form) {
  let original = {};
  try { original = JSON.parse(form.dataset.grants || "{}"); } catch { original = {}; }
  const grants = { all_apps: ticked(form, "[data-all-apps]"), apps: { ...(original.apps ?? {}) }, tables: { ...(original.tables ?? {}) } };
  for (const id of distinct(form, "data-app")) {
    delete grants.apps[id];
    const ops = ticked(form, selectorFor("data-app", id));
    if (ops.length) grants.apps[id] = ops;
  }
  for (const id of distinct(form, "data-table")) {
    const rules = tableRules(form, id, grants.tables[id]);
    delete grants.tables[id];
    if (rules) grants.tables[id] = rules;
  }
  const members = [];
  for (const box of form.querySelectorAll("[data-member-user]")) {
    if (box.checked) members.push({ user: box.dataset.memberUser });
  }
  for (const box of form.querySelectorAll("[data-member-department]")) {
    if (!box.checked) continue;
    const id = box.dataset.memberDepartment;
    const sub = form.querySelector(selectorFor("data-include-sub", id))?.checked ?? false;
    members.push({ department: { id, include_subdepartments: sub } });
  }
  const description = form.querySelector('[name="description"]').value.trim();
  return {
    name: form.querySelector('[name="name"]').value.trim(),
    description: description === "" ? null : description,
    members,
    grants,
    version: Number(form.dataset.version),
  };
}

async function saveGroup(form) {
  unflashSaved(form);
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  const result = await api("PUT", form.dataset.url, groupBody(form));
  button.disabled = false;
  if (!result.ok) return showProblem(form, { status: result.status, ...result.body });
  clearProblems(form);
  // The next save is based on this version; a change made elsewhere
  // meanwhile is then refused (409) instead of overwritten.
  form.dataset.version = String(result.body.version);
  form.dataset.grants = JSON.stringify(result.body.grants ?? {});
  flashSaved(form);
}

function operationNames() {
  const names = {};
  document.querySelectorAll("#operation-names [data-op]").forEach((li) => { names[li.dataset.op] = li.textContent; });
  return names;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function previewGroup(form, button) {
  button.disabled = true;
  const result = await api("POST", `${form.dataset.url}/preview`, groupBody(form));
  button.disabled = false;
  if (!result.ok) return showProblem(form, { status: result.status, ...result.body });
  clearProblems(form);
  const section = document.querySelector("#group-preview");
  const changes = result.body.changes ?? [];
  const ops = operationNames();
  const named = (list) => (list ?? []).map((op) => ops[op] ?? op).join(", ");
  const labels = section.dataset;
  const rows = changes.map((change) => {
    const fieldNotes = [
      [labels.fieldsHidden, change.fields_hidden],
      [labels.fieldsShown, change.fields_shown],
      [labels.fieldsReadOnly, change.fields_read_only],
      [labels.fieldsWritable, change.fields_writable],
    ].filter(([, list]) => list?.length).map(([label, list]) => `${label}: ${list.join(", ")}`).join("; ");
    const before = change.readable_rows_before ?? "—";
    const after = change.readable_rows_after ?? "—";
    const tr = document.createElement("tr");
    tr.append(cell(change.login), cell(change.table_name), cell(named(change.gained), "gained"),
      cell(named(change.lost), "lost"), cell(fieldNotes, "small"), cell(`${before} → ${after}`, "nowrap"));
    return tr;
  });
  section.querySelector("tbody").replaceChildren(...rows);
  section.querySelector("[data-preview-none]").hidden = changes.length > 0;
  section.querySelector("[data-preview-table]").hidden = changes.length === 0;
  section.hidden = false;
  section.scrollIntoView({ block: "start" });
}

/** Marks the cells whose operation a broader row (the app's, or all apps) already grants. */
function markGrantedAbove(form) {
  const all = new Set(ticked(form, "[data-all-apps]"));
  const byApp = {};
  for (const box of form.querySelectorAll("[data-app]")) {
    box.closest("td").classList.toggle("above", all.has(box.dataset.op));
    if (box.checked) (byApp[box.dataset.app] ??= new Set()).add(box.dataset.op);
  }
  for (const box of form.querySelectorAll("[data-table]")) {
    const above = all.has(box.dataset.op) || byApp[box.dataset.inApp]?.has(box.dataset.op);
    box.closest("td").classList.toggle("above", Boolean(above));
  }
}

function showScopeFilter(select) {
  const scope = select.closest(".scope-row");
  const input = scope?.querySelector("[data-scope-filter]");
  if (!input) return;
  input.hidden = select.value !== "filter";
  if (!input.hidden) input.focus();
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.hasAttribute("data-admin-form")) {
    event.preventDefault();
    submitAdminForm(form);
  } else if (form.hasAttribute("data-group-editor")) {
    event.preventDefault();
    saveGroup(form);
  }
});

document.addEventListener("click", (event) => {
  const el = event.target.closest("button, a");
  if (!el) return;
  if (el.hasAttribute("data-admin-api")) {
    event.preventDefault();
    clickAdminButton(el);
  } else if (el.hasAttribute("data-group-preview")) {
    event.preventDefault();
    previewGroup(el.closest("form"), el);
  } else if (el.dataset.openRules) {
    const details = document.getElementById(`rules-${el.dataset.openRules}`);
    if (details) details.open = true;
  }
});

document.addEventListener("change", (event) => {
  const el = event.target;
  const form = el.closest("[data-group-editor]");
  if (!form) return;
  if (el.matches("[data-all-apps], [data-app]")) markGrantedAbove(form);
  if (el.matches("[data-scope-op]")) showScopeFilter(el);
  if (el.matches("[data-field]")) el.className = `rule-${el.value}`;
  // A department's sub-departments count only with the department itself.
  if (el.matches("[data-include-sub]") && el.checked) {
    const department = form.querySelector(selectorFor("data-member-department", el.dataset.includeSub));
    if (department) department.checked = true;
  }
  if (el.matches("[data-member-department]") && !el.checked) {
    const sub = form.querySelector(selectorFor("data-include-sub", el.dataset.memberDepartment));
    if (sub) sub.checked = false;
  }
});

document.addEventListener("input", (event) => {
  const el = event.target;
  if (!el.matches("[data-filter-list]")) return;
  const wanted = el.value.trim().toLowerCase();
  document.querySelectorAll(`${el.dataset.filterList} li[data-text]`).forEach((li) => {
    li.hidden = wanted !== "" && !li.dataset.text.toLowerCase().includes(wanted);
  });
});

/** A link to a table's rules (`#rules-<id>`) opens them, on arrival or later. */
function openLinkedRules() {
  let anchor = "";
  try {
    anchor = decodeURIComponent(window.location.hash.slice(1));
  } catch {
    anchor = "";
  }
  const target = anchor && document.getElementById(anchor);
  if (target?.tagName === "DETAILS") target.open = true;
}

window.addEventListener("hashchange", openLinkedRules);
openLinkedRules();
