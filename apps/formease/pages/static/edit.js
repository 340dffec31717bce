// The form editor for FormEase staff: the form's title, edited online or offline.
// Sign-in, refresh and the offline queue are headwater.js's. An edit is a command in
// the queue with the version it was based on (sent as `based_on_version`, and as
// If-Match by the queue), so an edit made without network is kept in IndexedDB, across
// reloads, and sent once when the network is back. If another admin changed the title
// meanwhile the API refuses with base, mine and theirs (409 merge_conflict); the page
// shows the three and lets the user keep theirs or send theirs again as a new edit.

const { Client, keepOffline } = await import(/** @type {HTMLLinkElement} */ (document.querySelector("link[rel=modulepreload]")).href);
const formId = new URLSearchParams(location.search).get("form") || "";
const path = `/formease/forms/${encodeURIComponent(formId)}`;
const client = new Client({ storageKey: "formease.editor", queue: `formease.editor:${formId}` });
const kept = `formease.editor.form:${formId}`;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const title = /** @type {HTMLInputElement} */ ($("title"));

/** The form as last seen from the server: the base of the next edit. */
let seen = JSON.parse(localStorage.getItem(kept) || "null");
/** @type {string | null} the title the user wanted when a conflict came back */
let mine = null;

function say(text) { $("saved").textContent = text; }

function adopt(form) {
  seen = { version: form.version, title: form.title };
  localStorage.setItem(kept, JSON.stringify(seen));
  $("heading").textContent = `Edit: ${form.title}`;
}

async function load() {
  try {
    const form = await client.api(path);
    adopt(form);
    title.value = form.title;
  } catch (error) {
    if (!seen) { say(error.status === 0 ? "No connection, and this form was never opened here." : error.message); return; }
    title.value = seen.title; // offline: the form as last seen
  }
  $("login").hidden = true;
  $("editor").hidden = false;
  // Kept by a service worker: a reload without network still opens the editor.
  keepOffline("/formease/sw.js").then((ok) => { document.body.dataset.offlineReady = String(ok); });
}

async function save(wanted) {
  const base = seen ? seen.version : null;
  const outcome = await client.send({
    path, method: "PATCH", body: { based_on_version: base, title: wanted }, base_version: base,
  });
  if (outcome.status === "queued") say("Saved on this device: it will be sent when the network is back.");
}

function settled(outcome) {
  if (outcome.status === "applied") {
    seen = { version: outcome.data.version, title: outcome.command.body.title };
    localStorage.setItem(kept, JSON.stringify(seen));
    $("heading").textContent = `Edit: ${seen.title}`;
    $("conflict").hidden = true;
    say(`Saved (version ${outcome.data.version}).`);
    return;
  }
  const error = outcome.error || {};
  if (outcome.status === "conflict" && error.code === "merge_conflict") {
    const d = error.details || {};
    mine = d.mine ? d.mine.title : outcome.command.body.title;
    $("c-base").textContent = d.base ? d.base.title : "";
    $("c-mine").textContent = mine;
    $("c-theirs").textContent = d.theirs ? d.theirs.title : "";
    $("conflict").hidden = false;
    say("Not saved: choose which title to keep.");
    return;
  }
  say(`Not saved: ${error.message || "the server refused the edit."}`);
}

client.addEventListener("outcome", (e) => settled(e.detail));
client.addEventListener("queue", (e) => { $("queue").textContent = e.detail ? `${e.detail} edit(s) waiting to be sent` : ""; });
client.addEventListener("signin-required", () => { $("editor").hidden = true; $("login").hidden = false; });

$("edit").addEventListener("submit", (event) => {
  event.preventDefault();
  save(title.value).catch((error) => say(error.message));
});
$("keep-mine").addEventListener("click", async () => {
  // Theirs is the new base: send mine again, based on it.
  await load();
  title.value = mine || title.value;
  $("conflict").hidden = true;
  await save(title.value);
});
$("keep-theirs").addEventListener("click", async () => {
  $("conflict").hidden = true;
  await load();
  say("Kept their title.");
});
$("signout").addEventListener("click", () => client.signOut());
$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(/** @type {HTMLFormElement} */ (event.target));
  try {
    await client.signIn(String(data.get("email")), String(data.get("password")));
    $("login-error").textContent = "";
    await load();
  } catch (error) {
    $("login-error").textContent = error.status === 401 ? "That email and password do not match." : error.message;
  }
});

if (await client.resume()) await load();
else $("login").hidden = false;
