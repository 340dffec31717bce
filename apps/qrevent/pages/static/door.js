// The door: a scanner device signed in once for the whole event (headwater.js keeps
// the session fresh and across reloads). Every scan gets its scan_id here and goes
// through the client's offline queue, so a scan made without network is kept in
// IndexedDB and sent, in order, when the network is back; a retry never admits twice.
const { Client, keepOffline } = await qe.headwater();
const eventId = qe.param("event");
const device = localStorage.getItem("qe.device") || `door-${crypto.randomUUID().slice(0, 8)}`;
localStorage.setItem("qe.device", device);
const client = new Client({ storageKey: "qrevent.door", queue: `qrevent.door.${eventId}` });
const eventKey = `qe.event.${eventId}`;
let lastScan = null;
let busy = false;

/** A verdict in words, coloured green, orange or red. */
function show(result) {
  const who = result.name ? `${result.name}${result.party_size > 1 ? ` (party of ${result.party_size})` : ""}` : "";
  const [colour, words] = {
    admitted: ["green", `Welcome in${who ? `, ${who}` : ""}`],
    exited: ["green", `See you soon${who ? `, ${who}` : ""}`],
    duplicate: ["orange", `${who || "This guest"} is already inside. Check the person: an alert was raised.`],
    refused: ["red", `Refused: ${qe.refusals[result.reason] || "this code cannot be used here."}`],
  }[result.decision];
  const box = document.getElementById("result");
  box.className = `result ${colour}`;
  box.dataset.decision = result.decision;
  box.textContent = result.decision === "admitted" && result.guest_ids.length && result.guest_ids.length < result.party_size
    ? `${words} · ${result.guest_ids.length} of ${result.party_size} checked in` : words;
}

function say(colour, words) {
  const box = document.getElementById("result");
  box.className = `result ${colour}`;
  delete box.dataset.decision;
  box.textContent = words;
}

async function counts() {
  const c = await client.api(`/api/events/${eventId}/counts`);
  qe.text("counts", `Checked in ${c.checked_in} · inside now ${c.inside} · alerts ${c.alerts}`);
}

async function scan(code) {
  const item = {
    scan_id: `${device}:${crypto.randomUUID()}`,
    code: code.trim(),
    gate: document.getElementById("gate").value,
    device,
    scanned_at: new Date().toISOString(),
  };
  const outcome = await client.send({ path: `/api/events/${eventId}/scans`, body: item, idempotency_key: item.scan_id });
  if (outcome.status === "queued") {
    say("pending", "No network: the scan is saved and will be sent when the network is back.");
  }
  // Answered now or later, every outcome is shown by the "outcome" listener below.
}

function report(outcome) {
  if (outcome.status === "applied") {
    const result = outcome.data;
    lastScan = result.decision === "admitted" || result.decision === "exited" ? result.scan_id : null;
    document.getElementById("undo").hidden = !lastScan;
    show(result);
    counts().catch(() => {});
  } else {
    say("red", qe.say(outcome.error));
  }
}

// Each answer as it comes: a scan now, or an offline scan replayed (newest shown last).
client.addEventListener("outcome", (e) => report(e.detail));
client.addEventListener("queue", (e) => {
  qe.text("queue", e.detail ? `${e.detail} scan(s) waiting to upload` : "");
});
addEventListener("offline", () => qe.text("connection", "Offline: scans are kept on this device."));
addEventListener("online", () => qe.text("connection", ""));

async function camera() {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  try {
    const detector = new BarcodeDetector({ formats: ["qr_code"] });
    const video = document.getElementById("camera");
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.hidden = false;
    await video.play();
    const tick = async () => {
      if (!busy) {
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) {
          busy = true;
          await scan(codes[0].rawValue);
          setTimeout(() => { busy = false; }, 1500);
        }
      }
      requestAnimationFrame(tick);
    };
    tick();
  } catch {
    say("orange", "The camera is not available: type the code instead.");
  }
}

async function open() {
  qe.signedIn(true);
  let event;
  try {
    event = await client.api(`/api/events/${eventId}`);
    localStorage.setItem(eventKey, JSON.stringify(event));
  } catch (error) {
    // Reloaded without network: the event as last seen is enough to keep scanning.
    event = JSON.parse(localStorage.getItem(eventKey) || "null");
    if (!event) { say("red", qe.say(error)); return; }
  }
  qe.text("event", event.name);
  document.getElementById("gate").replaceChildren(...event.gates.map((g) => new Option(g, g)));
  document.getElementById("door").hidden = false;
  counts().catch(() => {});
  camera();
  // Kept by a service worker: a reload without network still opens the door.
  keepOffline("/qrevent/sw.js").then((kept) => { document.body.dataset.offlineReady = String(kept); });
}

document.getElementById("typed").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("code");
  const code = input.value;
  input.value = "";
  input.focus();
  await scan(code);
});
document.getElementById("undo").addEventListener("click", async () => {
  if (!lastScan) return;
  try {
    await client.api(`/api/events/${eventId}/scans/${encodeURIComponent(lastScan)}/undo?device=${device}`, { method: "POST" });
    say("green", "The last scan was undone.");
    lastScan = null;
    document.getElementById("undo").hidden = true;
    await counts();
  } catch (error) {
    say("red", qe.say(error));
  }
});
client.addEventListener("signin-required", () => { document.getElementById("door").hidden = true; });
qe.wireSignIn(client, open);
if (await client.resume()) await open();
