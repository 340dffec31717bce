// offline.js: the service worker that lets a page be reloaded without network. Plain
// JS, no build step. An app serves a one-line shim at its own path (its scope), e.g.
// /qrevent/sw.js: `importScripts("/_headwater/offline.<hash>.js")`; a page registers
// it with headwater.js's `keepOffline(url)`, which also tells it what to keep.
//
// What it keeps, and why no more:
// - the page itself (the HTML, by path: the query names e.g. the event and is kept
//   in the key) and the assets it names. Assets are fingerprinted, so a kept copy is
//   never wrong; pages are fetched from the network first and the cache is only the
//   fallback, so an online reload always gets today's page.
// - never an API answer: data comes from the API with the caller's credential, and
//   a stale answer served as fresh would lie (a door showing yesterday's counts). The
//   pages keep what they need offline themselves (headwater.js's IndexedDB queue,
//   the event as last seen), and commands made offline are replayed by the queue.
"use strict";

const CACHE = "headwater.pages.v1";

self.addEventListener("install", () => { self.skipWaiting(); });
self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });

// The page lists what it needs (itself and its assets): cached while online.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  const same = data.urls.filter((url) => new URL(url, self.location.href).origin === self.location.origin);
  event.waitUntil(caches.open(CACHE).then(async (cache) => {
    for (const url of same) {
      // One by one: a single failed asset must not drop the others (addAll would).
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (response.ok) await cache.put(url, response);
      } catch { /* offline while keeping: the next load tries again */ }
    }
    event.source?.postMessage({ type: "kept", urls: same });
  }));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
    return;
  }
  if (url.pathname.startsWith("/_headwater/") || url.pathname.includes("/static/")) {
    event.respondWith(asset(request));
  }
  // Anything else (the API): the network's answer or the network's failure.
});

/** Network first: today's page when online, the kept copy when not. */
async function page(request) {
  const url = new URL(request.url);
  url.hash = "";
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(url.href, response.clone());
    }
    return response;
  } catch (error) {
    const cache = await caches.open(CACHE);
    const kept = (await cache.match(url.href)) || (await cache.match(url.href, { ignoreSearch: true }));
    if (kept) return kept;
    throw error;
  }
}

/** Cache first: a fingerprinted name's bytes never change. */
async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request.url);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request.url, response.clone());
  return response;
}
