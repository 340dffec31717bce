// The chat page. Sign-in and token refresh are headwater.js's; a reply is read from
// its event stream (fetch with the bearer token, since EventSource cannot send one),
// resumed after the last seq shown: after a dropped connection, and after a reload
// (the transcript says how far each reply is; the stream continues from there).
const { Client, ApiError } = await import(document.querySelector("link[rel=modulepreload]").href);
const client = new Client({ storageKey: "assistant.session", queue: "assistant" });
const $ = (id) => document.getElementById(id);
let threadId = new URLSearchParams(location.hash.slice(1)).get("thread");
/** reply_id -> AbortController of the stream following it */
const following = new Map();

function say(error) {
  if (error instanceof ApiError) {
    if (error.code === "budget_exhausted") return `Budget spent: it resets ${new Date(error.details.resets_at).toLocaleString()}.`;
    if (error.status === 422) return "That message cannot be sent (1 to 10,000 characters).";
    return error.message;
  }
  return "Something went wrong.";
}

function signedIn(yes) { $("login").hidden = yes; $("app").hidden = !yes; }

function bubble(role, text, replyId) {
  const li = document.createElement("li");
  li.className = role;
  li.textContent = text;
  if (replyId) { li.dataset.reply = replyId; li.dataset.seq = "0"; }
  $("messages").append(li);
  return li;
}

function busy(replyId) {
  $("stop").hidden = !replyId;
  $("stop").dataset.reply = replyId || "";
  $("send").disabled = Boolean(replyId);
}

/** Follows a reply's events after li.dataset.seq until it ends; reconnects on drops. */
async function follow(replyId, li) {
  following.get(replyId)?.abort();
  const control = new AbortController();
  following.set(replyId, control);
  busy(replyId);
  li.dataset.status = li.dataset.status || "requested";
  while (!control.signal.aborted) {
    try {
      const response = await fetch(`/assistant/replies/${replyId}/events?after=${li.dataset.seq}`, {
        headers: { authorization: `Bearer ${await client.token()}` }, signal: control.signal });
      if (!response.ok) throw new ApiError(response.status, "http_error", response.statusText);
      $("status").textContent = "";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) apply(li, JSON.parse(data));
        }
      }
      if (["completed", "failed", "cancelled"].includes(li.dataset.status)) break;
    } catch (error) {
      if (control.signal.aborted) return;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        $("status").textContent = say(error);
        break;
      }
    }
    $("status").textContent = "Reconnecting…";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  following.delete(replyId);
  busy(null);
  loadBudget();
}

/** One reply event: seq only ever grows by one, so a repeat or a gap cannot be shown. */
function apply(li, event) {
  if (event.seq <= Number(li.dataset.seq)) return;
  li.dataset.seq = String(event.seq);
  if (event.kind === "chunk") li.textContent += event.text;
  else if (event.kind === "started") li.dataset.status = "streaming";
  else li.dataset.status = event.kind;
  if (event.kind === "failed") li.textContent += "\n[The reply failed. Try again.]";
  if (event.kind === "cancelled") li.textContent += " [stopped]";
}

async function openThread(id) {
  for (const control of following.values()) control.abort();
  following.clear();
  busy(null);
  threadId = id;
  history.replaceState(null, "", id ? `#thread=${id}` : location.pathname);
  $("messages").replaceChildren();
  $("title").textContent = "New chat";
  markCurrent();
  if (!id) return;
  const thread = await client.api(`/assistant/threads/${id}`);
  $("title").textContent = thread.title;
  for (const message of thread.messages) {
    if (message.reply_id) {
      const li = bubble("assistant", message.content, message.reply_id);
      li.dataset.seq = String(message.seq);
      li.dataset.status = message.status;
      if (!["completed", "failed", "cancelled"].includes(message.status)) follow(message.reply_id, li);
    } else {
      bubble(message.role, message.content);
    }
  }
}

function markCurrent() {
  for (const button of $("threads").querySelectorAll("button")) {
    button.setAttribute("aria-current", String(button.dataset.thread === threadId));
  }
}

async function loadThreads() {
  const threads = await client.api("/assistant/threads");
  $("threads").replaceChildren(...threads.map((t) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.thread = t.thread_id;
    button.textContent = t.title;
    button.addEventListener("click", () => openThread(t.thread_id));
    li.append(button);
    return li;
  }));
  markCurrent();
}

async function loadBudget() {
  const b = await client.api("/assistant/budget").catch(() => null);
  if (b) $("budget").textContent = `Tokens this month: ${b.user.used} of ${b.user.budget}`;
}

/** The Builder panel: the user's generate-app jobs, polled while any is unfinished. */
let buildsTimer = null;
function buildLine(b) {
  const { step, done, total } = b.progress;
  if (b.status === "completed") return `${b.app}: completed (attempt ${b.attempts} of 3)`;
  if (b.status === "failed") return `${b.app}: failed after ${b.attempts} attempts: ${b.error}`;
  if (b.status === "queued") return `${b.app}: queued`;
  const retry = b.status === "retrying" ? `, retrying after: ${b.error}` : "";
  return `${b.app}: ${step || b.status} (${done} of ${total}, attempt ${b.attempts} of 3${retry})`;
}
async function loadBuilds() {
  clearTimeout(buildsTimer);
  const listed = await client.api("/assistant/builds").catch(() => null);
  if (!listed) { buildsTimer = setTimeout(loadBuilds, 5000); return; }
  $("builds").replaceChildren(...listed.builds.map((b) => {
    const li = document.createElement("li");
    li.dataset.build = b.build_id;
    li.dataset.status = b.status;
    li.textContent = buildLine(b);
    return li;
  }));
  $("builds-empty").hidden = listed.builds.length > 0;
  const live = listed.builds.some((b) => !["completed", "failed"].includes(b.status));
  buildsTimer = setTimeout(loadBuilds, live ? 1000 : 10000);
}

/** Suggested prompts as chips (apps.assistant.suggestions); none when it is not served. */
async function loadSuggestions() {
  const found = await client.api("/assistant/suggestions?k=5").catch(() => null);
  const prompts = found ? found.prompts : [];
  $("suggestions").replaceChildren(...prompts.map((p) => {
    const li = document.createElement("li");
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.textContent = p.prompt;
    chip.title = p.reason;
    chip.addEventListener("click", () => { $("input").value = p.prompt; $("compose").requestSubmit(); });
    li.append(chip);
    return li;
  }));
  $("suggestions").hidden = prompts.length === 0;
  $("suggestions").dataset.loaded = "true";
}

$("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = $("input").value.trim();
  if (!content) return;
  $("status").textContent = "";
  const messages = [{ role: "user", content }];
  try {
    let reply;
    if (!threadId) {
      const made = await client.api("/assistant/threads", { method: "POST", body: { title: content.slice(0, 60), messages } });
      threadId = made.thread_id;
      history.replaceState(null, "", `#thread=${threadId}`);
      $("title").textContent = made.title;
      reply = made.reply;
      loadThreads();
    } else {
      reply = (await client.api(`/assistant/threads/${threadId}/messages`, { method: "POST", body: { messages } })).reply;
    }
    $("input").value = "";
    bubble("user", content);
    follow(reply.reply_id, bubble("assistant", "", reply.reply_id));
    loadSuggestions();
  } catch (error) {
    $("status").textContent = say(error);
  }
});

$("stop").addEventListener("click", async () => {
  const replyId = $("stop").dataset.reply;
  if (replyId) await client.api(`/assistant/replies/${replyId}/cancel`, { method: "POST" }).catch(() => {});
});
$("new").addEventListener("click", () => openThread(null));
$("signout").addEventListener("click", async () => { clearTimeout(buildsTimer); await client.signOut(); signedIn(false); });
$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData($("login"));
  try {
    await client.signIn(data.get("email"), data.get("password"));
    $("login").reset();
    await start();
  } catch (error) {
    $("login-error").textContent = say(error);
  }
});

async function start() {
  signedIn(true);
  await loadThreads();
  await openThread(threadId);
  loadBudget();
  loadBuilds();
  loadSuggestions();
}

if (await client.resume()) await start();
else signedIn(false);
