// The respondent's page: renders a published form from its definition, checks the
// answers as the API does (apps/formease/domain/fields.py), and submits them without
// an account, through headwater.js. The public link's token is the URL's fragment.
//
// What survives a reload, kept in localStorage per link: the open session (so the
// completion clock, which the server keeps from open to submit, runs on) and the
// answers typed so far. localStorage, not sessionStorage: a phone that closed the tab
// or restarted the browser mid-form still finds its answers. Sending goes through
// headwater.js's offline queue with an idempotency key: a respondent who presses Send
// without a network sees it sent once the network is back, even after a reload.

const { Client, keepOffline } = await import(/** @type {HTMLLinkElement} */ (document.querySelector("link[rel=modulepreload]")).href);
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const link = decodeURIComponent(location.hash.slice(1));
const api = `/formease/public/${encodeURIComponent(link)}`;
const stored = `formease.respond:${link}`;
const client = new Client({ storageKey: "formease.respond.session", queue: `formease.respond:${link}` });
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @typedef {{type: string, label: string, order?: number, required?: boolean,
 *   min_length?: number|null, max_length?: number|null, pattern?: string|null,
 *   minimum?: number|null, maximum?: number|null, options?: string[],
 *   show_if?: {field: string, equals: unknown}|null}} Spec */

/** @type {{session: string, title: string, fields: Record<string, Spec>,
 *   draft?: Record<string, unknown>, sending?: boolean} | null} */
let opened = null;
/** @type {Array<[string, Spec]>} */
let specs = [];
const reported = new Set();

function say(text) {
  $("status").textContent = text;
}

function keep() {
  if (opened) localStorage.setItem(stored, JSON.stringify(opened));
}

/** A sentence for an answer the API refused, by status. */
function refusal(error) {
  if (error.status === 0) return "No connection. Your answers are kept: they will be sent when you are back online.";
  if (error.status === 404) return "This link no longer works. Ask whoever sent it for a new one.";
  if (error.status === 429) return "Too many attempts from here. Please try again in a few seconds.";
  if (error.status === 403) return "This form is not taking answers right now.";
  if (error.status === 409) return "These answers were already sent.";
  return error.message || "Something went wrong. Please try again.";
}

/** @param {string} path @param {unknown} body */
function call(path, body) {
  const headers = opened ? { "x-form-session": opened.session } : {};
  return client.api(`${api}${path}`, { method: "POST", body, headers, anonymous: true });
}

function ordered(fields) {
  return Object.entries(fields).sort(
    ([ka, a], [kb, b]) => (a.order || 0) - (b.order || 0) || (ka < kb ? -1 : ka > kb ? 1 : 0),
  );
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  if (text) node.textContent = text;
  return node;
}

function choices(key, type, options) {
  return options.map(([value, label]) => {
    const row = element("label", { class: "choice" });
    const input = element("input", { type, name: key, value: JSON.stringify(value) });
    row.append(input, document.createTextNode(label));
    return row;
  });
}

function renderField(key, spec) {
  const grouped = ["choice", "multichoice", "boolean", "rating"].includes(spec.type);
  const box = element(grouped ? "fieldset" : "div", { class: "field", "data-key": key });
  const id = `f-${key}`;
  const title = element(grouped ? "legend" : "label", grouped ? {} : { for: id }, spec.label);
  if (spec.required) title.classList.add("required");
  box.append(title);
  if (spec.type === "choice") box.append(...choices(key, "radio", spec.options.map((o) => [o, o])));
  else if (spec.type === "multichoice") box.append(...choices(key, "checkbox", spec.options.map((o) => [o, o])));
  else if (spec.type === "boolean") box.append(...choices(key, "radio", [[true, "Yes"], [false, "No"]]));
  else if (spec.type === "rating") {
    const low = spec.minimum ?? 1;
    const high = spec.maximum ?? 5;
    const steps = [];
    for (let n = low; n <= high; n += 1) steps.push([n, String(n)]);
    box.append(...choices(key, "radio", steps));
  } else {
    const type = { email: "email", number: "number", date: "date" }[spec.type] || "text";
    box.append(element("input", {
      id, name: key, type, inputmode: type === "number" ? "decimal" : null, step: type === "number" ? "any" : null,
      maxlength: spec.max_length, minlength: spec.min_length,
      autocomplete: type === "email" ? "email" : "off",
    }));
  }
  box.append(element("p", { class: "error", hidden: true }));
  return box;
}

/** The answer a field holds now, typed as the API wants it; undefined when unanswered. */
function valueOf(key, spec) {
  const box = /** @type {HTMLElement} */ (document.querySelector(`[data-key="${key}"]`));
  if (spec.type === "multichoice") {
    const picked = [...box.querySelectorAll("input:checked")].map((i) => JSON.parse(i.value));
    return picked.length ? picked : undefined;
  }
  if (["choice", "boolean", "rating"].includes(spec.type)) {
    const picked = box.querySelector("input:checked");
    return picked ? JSON.parse(picked.value) : undefined;
  }
  const raw = /** @type {HTMLInputElement} */ (box.querySelector("input")).value;
  if (raw === "") return undefined;
  if (spec.type === "number") return Number.isNaN(Number(raw)) ? raw : Number(raw);
  return raw;
}

/** Which fields are shown for these answers: branching, as the API computes it. */
function visible(answers) {
  const shown = [];
  for (const [key, spec] of specs) {
    const rule = spec.show_if;
    if (!rule || (shown.includes(rule.field) && answers[rule.field] === rule.equals)) shown.push(key);
  }
  return shown;
}

/** The API's check of one answer (fields.py, _check): a sentence, or null. */
function problem(spec, value) {
  if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) {
    return spec.required ? "Please answer this." : null;
  }
  if (spec.type === "text" || spec.type === "email") {
    if (spec.type === "email" && !EMAIL.test(value)) return "Please enter an email address.";
    if (spec.min_length != null && value.length < spec.min_length) return `At least ${spec.min_length} characters, please.`;
    if (spec.max_length != null && value.length > spec.max_length) return `At most ${spec.max_length} characters, please.`;
    if (spec.pattern) {
      let pattern = null;
      try { pattern = new RegExp(`^(?:${spec.pattern})$`, "u"); } catch { pattern = null; }
      if (pattern && !pattern.test(value)) return "This does not have the expected form.";
    }
    return null;
  }
  if (spec.type === "number" || spec.type === "rating") {
    if (typeof value !== "number") return "Please enter a number.";
    const low = spec.minimum ?? (spec.type === "rating" ? 1 : null);
    const high = spec.maximum ?? (spec.type === "rating" ? 5 : null);
    if ((low !== null && value < low) || (high !== null && value > high)) {
      return `Between ${low ?? "any"} and ${high ?? "any"}, please.`;
    }
    return null;
  }
  if (spec.type === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return "Please enter a date.";
  return null;
}

function answers() {
  const all = {};
  for (const [key, spec] of specs) {
    const value = valueOf(key, spec);
    if (value !== undefined) all[key] = value;
  }
  const shown = visible(all);
  const sent = {};
  for (const key of shown) if (key in all) sent[key] = all[key];
  return { shown, sent };
}

function showError(key, text) {
  const box = /** @type {HTMLElement} */ (document.querySelector(`[data-key="${key}"]`));
  const note = /** @type {HTMLElement} */ (box.querySelector(".error"));
  note.textContent = text || "";
  note.hidden = !text;
  box.classList.toggle("invalid", Boolean(text));
}

/** Puts answers kept from before a reload back into the inputs. */
function restore(draft) {
  for (const [key, value] of Object.entries(draft || {})) {
    const box = document.querySelector(`[data-key="${key}"]`);
    if (!box) continue;
    const picked = Array.isArray(value) ? value.map((v) => JSON.stringify(v)) : [JSON.stringify(value)];
    const text = box.querySelector("input:not([type=radio]):not([type=checkbox])");
    if (text) text.value = String(value);
    else for (const input of box.querySelectorAll("input")) input.checked = picked.includes(input.value);
  }
}

function refresh() {
  const { shown, sent } = answers();
  if (opened) {
    const all = {};
    for (const [key, spec] of specs) {
      const value = valueOf(key, spec);
      if (value !== undefined) all[key] = value;
    }
    opened.draft = all;
    keep();
  }
  for (const [key, spec] of specs) {
    const box = /** @type {HTMLElement} */ (document.querySelector(`[data-key="${key}"]`));
    box.hidden = !shown.includes(key);
    // A corrected answer loses its note at once; new notes wait for Send.
    if (box.classList.contains("invalid") && !problem(spec, sent[key])) showError(key, null);
  }
  if (!document.querySelector(".field.invalid") && /another look/.test($("status").textContent)) say("");
  const fresh = shown.filter((key) => !reported.has(key));
  if (fresh.length && opened) {
    fresh.forEach((key) => reported.add(key));
    // Drop-off statistics only: a lost report must not stop the respondent.
    call("/views", { fields: fresh }).catch(() => {});
  }
}

async function open() {
  const kept = localStorage.getItem(stored);
  if (kept) {
    opened = JSON.parse(kept);
    return true;
  }
  try {
    const data = await call("/open", {});
    opened = { session: data.session, title: data.title, fields: data.fields, draft: {} };
  } catch (error) {
    $("title").textContent = "This form cannot be opened";
    say(error.status === 0 ? "No connection. Reload the page when you are back online." : refusal(error));
    return false;
  }
  keep();
  return true;
}

function done() {
  localStorage.removeItem(stored);
  opened = null;
  $("form").hidden = true;
  $("done").hidden = false;
  say("");
}

/** What the server said about a sent form (now, or replayed after being offline). */
function settled(outcome) {
  const button = /** @type {HTMLButtonElement} */ ($("send"));
  button.disabled = false;
  if (outcome.status === "applied" || outcome.status === "conflict") {
    done(); // a conflict is "sent already": the first submission stands
    return;
  }
  if (outcome.status === "queued") {
    say("No connection. Your answers are kept: they will be sent when you are back online.");
    return;
  }
  if (opened) { opened.sending = false; keep(); }
  const error = outcome.error;
  const fields = error && error.details && error.details.fields;
  if (error && error.status === 400 && fields && typeof fields === "object") {
    for (const [key, text] of Object.entries(fields)) if (document.querySelector(`[data-key="${key}"]`)) showError(key, String(text));
    say("Some answers need another look.");
  } else {
    say(refusal(error || {}));
  }
}

// A submission queued while offline (maybe before a reload) answers here when replayed.
client.addEventListener("outcome", (e) => settled(e.detail));

async function submit(event) {
  event.preventDefault();
  const { shown, sent } = answers();
  let bad = 0;
  for (const [key, spec] of specs) {
    const text = shown.includes(key) ? problem(spec, sent[key]) : null;
    showError(key, text);
    if (text) bad += 1;
  }
  if (bad) {
    say(bad === 1 ? "One answer needs another look." : `${bad} answers need another look.`);
    return;
  }
  const button = /** @type {HTMLButtonElement} */ ($("send"));
  button.disabled = true;
  say("");
  opened.sending = true;
  keep();
  const outcome = await client.send({
    path: `${api}/submissions`, body: { answers: sent }, anonymous: true,
    headers: { "x-form-session": opened.session },
  });
  if (outcome.status === "queued") settled(outcome); // the others came as "outcome" events
}

async function start() {
  if (!link) {
    $("title").textContent = "This link is incomplete";
    say("Open the whole link you were sent.");
    return;
  }
  let ready = false;
  try {
    ready = await open();
  } catch {
    $("title").textContent = "This form cannot be opened";
    say("No connection. Reload the page when you are back online.");
  }
  if (!ready || !opened) return;
  document.title = opened.title;
  $("title").textContent = opened.title;
  specs = ordered(opened.fields);
  $("fields").replaceChildren(...specs.map(([key, spec]) => renderField(key, spec)));
  const form = $("form");
  form.hidden = false;
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", submit);
  restore(opened.draft);
  refresh();
  if (opened.sending) say("No connection. Your answers are kept: they will be sent when you are back online.");
  client.startAnonymous(); // replays a Send made offline, before a reload, once online
  // Kept by a service worker: a reload without network still opens the form.
  keepOffline("/formease/sw.js").then((kept) => { document.body.dataset.offlineReady = String(kept); });
}

start();
