// Citadel's pages: forms and buttons that act through the JSON API.
// Every change goes to /api/v1 with the session's anti-CSRF token, so the
// server decides it exactly as it decides an API call. Written by hand,
// no third-party code; loaded as a module (the CSP forbids inline script).

const messages = document.getElementById("messages")?.dataset ?? {};
// The interface's own words for refusals whose server text is generic.
const problems = document.getElementById("problems")?.dataset ?? {};
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** Calls the API; resolves to {ok, status, body} and never throws on 4xx. */
export async function api(method, url, body, headers = {}) {
  const init = { method, headers: { "x-csrf-token": csrf(), ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    if (body instanceof Blob) {
      init.body = body;
    } else {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    return { ok: false, status: 0, body: { detail: messages.networkError } };
  }
  const type = response.headers.get("content-type") ?? "";
  const parsed = type.includes("json") ? await response.json().catch(() => null) : null;
  return { ok: response.ok, status: response.status, body: parsed ?? {}, headers: response.headers };
}

/** A refusal in the reader's language where the interface has words for it. */
export function problemText(problem) {
  return problems[problem.code] ?? problem.detail ?? problem.title ?? String(problem.status ?? "");
}

/** Shows a problem next to the field it names, or at the top of the form. */
export function showProblem(form, problem) {
  clearProblems(form);
  const field = problem.field ? form.querySelector(`[data-error-for="${CSS.escape(problem.field)}"]`) : null;
  const target = field ?? form.querySelector(".form-error");
  if (target) {
    target.textContent = problemText(problem);
    target.hidden = false;
    const input = problem.field ? form.querySelector(`[name="${CSS.escape(problem.field)}"]`) : null;
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
  } else {
    window.alert(problemText(problem));
  }
}

function clearProblems(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((el) => { el.hidden = true; el.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

/** A form's inputs as the JSON body the API takes. */
function formBody(form) {
  const body = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (input.disabled || input.readOnly || input.hasAttribute("data-skip") || input.type === "file") continue;
    if (input.hasAttribute("data-if-changed") && input.value === input.defaultValue) continue;
    const value = inputValue(input);
    const empty = input.dataset.empty;
    if (value === undefined) continue;
    if ((value === "" || value === null) && empty === "omit") continue;
    // A knob cleared in an edit form is removed from the declaration.
    if (value === "" && empty === "null") {
      body[input.name] = null;
      continue;
    }
    if (value === false && empty === "omit-false") continue;
    body[input.name] = value;
  }
  return body;
}

function inputValue(input) {
  const kind = input.dataset.json;
  if (input.type === "checkbox") return input.checked;
  if (kind === "number") {
    // Text that is no number goes as typed, for the server to refuse by
    // name (NaN would go as null and clear the value).
    const text = input.value.trim();
    if (text === "") return null;
    return Number.isFinite(Number(text)) ? Number(text) : text;
  }
  if (kind === "choices") {
    const names = input.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
    return names.length ? names.map((name) => ({ name })) : null;
  }
  return input.value;
}

/** Whether an input still holds what the page was rendered with. */
function unchanged(input) {
  if (input.type === "checkbox") return input.checked === input.defaultChecked;
  if (input.tagName === "SELECT") return [...input.options].every((o) => o.selected === o.defaultSelected);
  return input.value === input.defaultValue;
}

/** A whole number as JSON can carry it: past 2^53 a JS number rounds, so
 * such values go as text, which the server reads exactly. */
export function wholeNumber(text) {
  return /^-?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

/** A record form's values by field, converted to what each type takes.
 * An edit sends only the fields the user changed. */
function recordBody(form) {
  const fields = {};
  const editing = form.dataset.method !== "POST";
  for (const input of form.querySelectorAll("[data-kind]")) {
    if (input.disabled || input.readOnly) continue;
    if (editing && unchanged(input)) continue;
    const kind = input.dataset.kind;
    let value;
    if (kind === "boolean") value = input.checked;
    else if (kind === "multi_select") value = [...input.selectedOptions].map((o) => o.value);
    else {
      const text = input.value.trim();
      if (text === "") value = null;
      else if (kind === "link" && input.dataset.multiple === "true") {
        value = text.split(/[,，\s]+/).filter(Boolean).map(wholeNumber);
      } else if (kind === "integer" || kind === "link" || kind === "auto_number") value = wholeNumber(text);
      else value = text;
    }
    // A new record leaves empty fields to their defaults.
    if (value === null && !editing) continue;
    fields[input.name] = value;
  }
  return { fields };
}

/** Goes to `target` if it is a page of this site, else to the start: a
 * second check behind the server's, against an open redirect. */
function goLocal(target) {
  const url = new URL(target, window.location.origin);
  window.location.assign(url.origin === window.location.origin ? url.pathname + url.search : "/");
}

/** After a success: reload, go somewhere (with {id} from the answer), or a named step. */
function then(spec, body, source) {
  if (!spec || spec === "reload") return window.location.reload();
  if (spec.startsWith("go:")) {
    goLocal(spec.slice(3).replace("{id}", encodeURIComponent(body.id ?? body.tenant?.slug ?? "")));
    return;
  }
  const step = afterSteps[spec];
  if (step) step(body, source);
}

const afterSteps = {
  "show-codes": (body) => {
    const list = document.querySelector("#recovery-list");
    const ol = list.querySelector("ol");
    ol.replaceChildren(...(body.recovery_codes ?? []).map((code) => {
      const li = document.createElement("li");
      li.className = "mono";
      li.textContent = code;
      return li;
    }));
    document.querySelector("#totp-enrolment")?.setAttribute("hidden", "");
    list.hidden = false;
  },
  "show-token": (body, form) => {
    const box = document.querySelector("#new-token-value");
    box.querySelector("code").textContent = body.secret ?? "";
    box.hidden = false;
    form.reset();
  },
  "show-tenant": (body, form) => {
    const box = document.querySelector("#new-tenant-result");
    box.querySelector("code").textContent = `${body.admin_login} / ${body.one_time_password}`;
    box.hidden = false;
    form.reset();
  },
};

/** Asks in a dialog; with `typed`, the user must type it to go on. */
export function ask(text, typed) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    const p = document.createElement("p");
    p.textContent = text;
    dialog.append(p);
    let input = null;
    if (typed) {
      input = document.createElement("input");
      input.autocomplete = "off";
      input.setAttribute("aria-label", text);
      dialog.append(input);
    }
    const row = document.createElement("div");
    row.className = "buttons";
    const yes = document.createElement("button");
    yes.className = "danger";
    yes.textContent = messages.confirm;
    yes.dataset.dialogConfirm = "";
    const no = document.createElement("button");
    no.textContent = messages.cancel;
    row.append(no, yes);
    dialog.append(row);
    if (input) {
      yes.disabled = true;
      input.addEventListener("input", () => { yes.disabled = input.value !== typed; });
    }
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    yes.addEventListener("click", () => close(input ? input.value : true));
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
    (input ?? yes).focus();
  });
}

async function confirmFor(el) {
  if (el.dataset.typedConfirm) {
    const typed = await ask(el.dataset.prompt ?? "", el.dataset.typedConfirm);
    return typed === false ? null : { confirm: typed };
  }
  if (el.dataset.confirm) return (await ask(el.dataset.confirm)) ? {} : null;
  return {};
}

function ifMatch(el) {
  return el.dataset.ifMatch ? { "if-match": `"${el.dataset.ifMatch}"` } : {};
}

async function submitApiForm(form) {
  const same = form.dataset.same?.split(":");
  if (same) {
    const [a, b] = same.map((n) => form.querySelector(`[name="${n}"]`)?.value);
    if (a !== b) return showProblem(form, { field: same[1], detail: messages.passwordsDiffer });
  }
  const confirmed = await confirmFor(form);
  if (confirmed === null) return;
  const body = form.hasAttribute("data-record") ? recordBody(form) : formBody(form);
  const button = form.querySelector('[type="submit"]');
  if (button) button.disabled = true;
  const result = await api(form.dataset.method, form.dataset.url, { ...body, ...confirmed }, ifMatch(form));
  if (button) button.disabled = false;
  if (!result.ok) return showProblem(form, { status: result.status, ...result.body });
  clearProblems(form);
  then(form.dataset.then, result.body, form);
}

async function clickApiButton(button) {
  const confirmed = await confirmFor(button);
  if (confirmed === null) return;
  const extra = button.dataset.body ? JSON.parse(button.dataset.body) : {};
  const body = { ...extra, ...confirmed };
  const hasBody = Object.keys(body).length > 0;
  button.disabled = true;
  const result = await api(button.dataset.method, button.dataset.url, hasBody ? body : undefined, ifMatch(button));
  button.disabled = false;
  if (!result.ok) {
    // Inside a form the message goes by its fields; elsewhere the page's
    // first message holder may be folded away, so it is said aloud.
    const form = button.closest("form");
    if (form?.querySelector(".form-error")) showProblem(form, result.body);
    else window.alert(problemText({ status: result.status, ...result.body }));
    return;
  }
  then(button.dataset.then, result.body, button);
}

/** Sign-in: the password first; a second step for the code if the account has one. */
async function signIn(form) {
  const body = formBody(form);
  if (!body.totp_code) delete body.totp_code;
  if (!body.recovery_code) delete body.recovery_code;
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  const result = await api("POST", "/api/v1/auth/login", body);
  button.disabled = false;
  if (result.ok) {
    goLocal(result.body.pending === "password_change" ? "/password" : form.dataset.next || "/apps");
    return;
  }
  if (result.body.code === "second_factor_required") {
    clearProblems(form);
    form.querySelector(".totp-step").hidden = false;
    form.querySelector('[name="totp_code"]').focus();
    return;
  }
  showProblem(form, result.body.code === "invalid_second_factor" ? { ...result.body, field: "totp_code" } : result.body);
}

async function beginTotp(button) {
  const result = await api("POST", "/api/v1/me/totp");
  if (!result.ok) return window.alert(problemText(result.body));
  const svg = new DOMParser().parseFromString(result.body.qr_svg, "image/svg+xml").documentElement;
  document.querySelector("#totp-qr").replaceChildren(document.importNode(svg, true));
  document.querySelector("#totp-secret").textContent = result.body.secret;
  document.querySelector("#totp-enrolment").hidden = false;
  button.hidden = true;
}

async function verifyChain(button) {
  const out = document.querySelector("#verify-result");
  out.hidden = false;
  out.className = "verify-result";
  out.textContent = out.dataset.running;
  button.disabled = true;
  const result = await api("POST", "/api/v1/audit/verify", {});
  button.disabled = false;
  const intact = result.ok && result.body.intact;
  out.classList.add(intact ? "ok" : "bad");
  out.textContent = intact
    ? `${out.dataset.intact} (${result.body.events})`
    : `${out.dataset.broken}: ${result.body.problem ?? result.body.detail ?? ""}`;
}

/** Moves a field up or down on the table's schema page. */
async function moveField(button) {
  const row = button.closest("tr");
  const rows = [...row.parentElement.children];
  const index = rows.indexOf(row);
  const other = button.dataset.move === "up" ? index - 1 : index + 1;
  if (other < 0 || other >= rows.length) return;
  const names = rows.map((r) => r.dataset.fieldName);
  [names[index], names[other]] = [names[other], names[index]];
  const table = row.closest("table").dataset.table;
  const result = await api("PUT", `/api/v1/tables/${table}/field-order`, { fields: names });
  if (result.ok) window.location.reload();
  else window.alert(problemText(result.body));
}

/** Shows only the options of a new field that fit its type. */
function showKindOptions(select) {
  const form = select.closest("form");
  for (const el of form.querySelectorAll("[data-for-kinds]")) {
    const fits = el.dataset.forKinds.split(" ").includes(select.value);
    el.hidden = !fits;
    const inputs = el.matches("input, select") ? [el] : el.querySelectorAll("input, select");
    inputs.forEach((input) => { input.disabled = !fits; });
  }
}

async function signOut(kind) {
  const url = kind === "operator" ? "/api/v1/platform/logout" : "/api/v1/auth/logout";
  const result = await api("POST", url);
  // Stay if the session may still be live (a 401 means it is over).
  if (!result.ok && result.status !== 401) return window.alert(problemText({ status: result.status, ...result.body }));
  window.location.assign(kind === "operator" ? "/platform/sign-in" : "/sign-in");
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.hasAttribute("data-sign-in")) {
    event.preventDefault();
    signIn(form);
  } else if (form.hasAttribute("data-api") && form.tagName === "FORM") {
    event.preventDefault();
    submitApiForm(form);
  } else if (form.hasAttribute("data-drop-empty")) {
    // A filter left blank is not sent: the server would refuse an empty time.
    for (const input of form.querySelectorAll("[name]")) if (input.value === "") input.disabled = true;
  }
});

document.addEventListener("click", (event) => {
  const el = event.target.closest("button, a");
  if (!el) return;
  if (el.tagName === "BUTTON" && el.hasAttribute("data-api") && !el.closest("form[data-api]")) {
    event.preventDefault();
    clickApiButton(el);
  } else if (el.dataset.lang) {
    document.cookie = `citadel_lang=${el.dataset.lang === "en" ? "en" : "zh-CN"}; path=/; max-age=31536000; samesite=strict; secure`;
    window.location.reload();
  } else if (el.dataset.signOut) {
    signOut(el.dataset.signOut);
  } else if (el.hasAttribute("data-begin-totp")) {
    beginTotp(el);
  } else if (el.hasAttribute("data-verify-chain")) {
    verifyChain(el);
  } else if (el.dataset.move) {
    moveField(el);
  }
});

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-kind-select]")) showKindOptions(event.target);
  if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
});

document.querySelectorAll("[data-kind-select]").forEach(showKindOptions);

// Times come from the server in UTC (RFC 3339); show them in the reader's
// zone and language, keeping the exact value as the tooltip.
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || "zh-CN", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
for (const el of document.querySelectorAll("time[datetime]")) {
  const at = new Date(el.dateTime);
  if (!Number.isNaN(at.getTime())) {
    el.title = el.dateTime;
    el.textContent = timeFormat.format(at);
  }
}
