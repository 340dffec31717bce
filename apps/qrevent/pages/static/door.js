// The door: scans with the camera where the browser has BarcodeDetector, or takes a
// typed code. Every scan gets its scan_id here, so a retry can never admit twice;
// scans that cannot be sent wait in localStorage and go up as one offline batch.
"use strict";
(() => {
  const eventId = qe.param("event");
  const device = localStorage.getItem("qe.device") || `door-${crypto.randomUUID().slice(0, 8)}`;
  localStorage.setItem("qe.device", device);
  const queueKey = `qe.queue.${eventId}`;
  let lastScan = null;
  let busy = false;

  const queued = () => JSON.parse(localStorage.getItem(queueKey) || "[]");
  const setQueue = (items) => {
    localStorage.setItem(queueKey, JSON.stringify(items));
    qe.text("queue", items.length ? `${items.length} scan(s) waiting to upload` : "");
  };

  function show(result) {
    const box = document.getElementById("result");
    box.className = `result ${result.decision}`;
    const words = { admitted: "Welcome in", exited: "See you soon", duplicate: "Already inside — alert raised", refused: "Refused" };
    box.textContent = `${words[result.decision]}${result.reason ? ` (${result.reason})` : ""}` +
      (result.guest_ids.length > 1 ? ` · ${result.guest_ids.length} guests` : "");
  }

  async function counts() {
    const c = await qe.api(`/api/events/${eventId}/counts`);
    qe.text("counts", `Checked in ${c.checked_in} · inside now ${c.inside} · alerts ${c.alerts}`);
  }

  async function flush() {
    const items = queued();
    if (!items.length) return;
    await qe.api(`/api/events/${eventId}/scans/batch`, { method: "POST", body: { scans: items } });
    setQueue([]);
  }

  async function scan(code) {
    const item = {
      scan_id: `${device}:${crypto.randomUUID()}`,
      code: code.trim(),
      gate: document.getElementById("gate").value,
      device,
      scanned_at: new Date().toISOString(),
    };
    try {
      await flush();
      const result = await qe.api(`/api/events/${eventId}/scans`, { method: "POST", body: item });
      lastScan = result.decision === "admitted" || result.decision === "exited" ? item.scan_id : null;
      document.getElementById("undo").hidden = !lastScan;
      show(result);
      await counts();
    } catch (error) {
      if (error.code === "network" || error.status >= 500) {
        setQueue([...queued(), item]);
        qe.text("result", "Offline: scan kept, it will be sent");
      } else {
        qe.text("result", error.message);
      }
    }
  }

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
    } catch (error) {
      qe.text("result", "Camera unavailable: type the code instead");
    }
  }

  async function open() {
    document.getElementById("login").hidden = true;
    const event = await qe.api(`/api/events/${eventId}`);
    qe.text("event", `${event.name} — ${event.status}`);
    document.getElementById("gate").replaceChildren(...event.gates.map((g) => new Option(g, g)));
    document.getElementById("door").hidden = false;
    setQueue(queued());
    await counts();
    camera();
  }

  document.getElementById("typed").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("code");
    await scan(input.value);
    input.value = "";
    input.focus();
  });
  document.getElementById("undo").addEventListener("click", async () => {
    if (!lastScan) return;
    try {
      await qe.api(`/api/events/${eventId}/scans/${encodeURIComponent(lastScan)}/undo`, { method: "POST" });
      qe.text("result", "Scan undone");
      lastScan = null;
      document.getElementById("undo").hidden = true;
      await counts();
    } catch (error) {
      qe.text("result", error.message);
    }
  });
  const form = document.getElementById("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await qe.signIn(form); await open(); } catch (error) { qe.text("result", error.message); }
  });
  if (sessionStorage.getItem("qe.token")) open().catch(() => {});
  window.addEventListener("online", () => flush().catch(() => {}));
})();
