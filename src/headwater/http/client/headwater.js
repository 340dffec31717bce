// headwater.js: the one browser client for Headwater's pages. A plain ES module
// (no build step): sign-in kept fresh, one WebSocket with resume, and an offline
// queue of commands in IndexedDB. Served fingerprinted at /_headwater/.
//
// Where the session lives: localStorage, not sessionStorage. A door scanner or a
// venue screen is a device signed in once for a whole event; it must survive a
// reload, a closed tab and a restarted browser. sessionStorage would lose it with
// the tab. Both are readable by any script of this origin, so the protection is the
// same strict CSP (script-src 'self'); what is stored is only as good as its short
// access token and its single-use refresh token. Since tabs share localStorage, a
// refresh runs under a Web Lock and re-reads the store first: two tabs never spend
// the same refresh token (a spent token coming back revokes the whole session).
"use strict";

/**
 * @typedef {object} Session
 * @property {string} access_token
 * @property {string} refresh_token
 * @property {number} expires_at   epoch milliseconds, by this browser's clock
 * @property {number} lifetime     the access token's life in milliseconds
 * @property {object} [account]
 */

/**
 * @typedef {object} Command
 * @property {string} path                 e.g. "/api/events/e1/scans"
 * @property {string} [method]             "POST" unless said
 * @property {unknown} [body]
 * @property {string} [idempotency_key]    sent as Idempotency-Key; generated if absent
 * @property {number | null} [base_version] the version the command was based on (If-Match)
 * @property {unknown} [label]             anything the page wants back with the outcome
 * @property {Record<string, string>} [headers] sent as they are (e.g. a respondent's session)
 * @property {boolean} [anonymous]         sent without a sign-in: the page's own credential
 *                                         travels in headers (an invitation, a form link)
 */

/**
 * @typedef {object} Outcome
 * @property {"applied" | "queued" | "conflict" | "rejected"} status
 * @property {unknown} [data]     the answer's data (applied)
 * @property {ApiError} [error]   why not (conflict, rejected)
 * @property {Command & {id: number}} command
 */

/** An answer that was not 2xx, or a request that never got one (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, any>} [details]
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** No answer came (offline, server down, or a 5xx a retry may cure). */
  get transient() { return this.status === 0 || this.status >= 500 || this.status === 429; }
}

const DB_NAME = "headwater";
const STORE = "commands";

/** Commands waiting for the server, in IndexedDB so they outlive a reload. */
export class OfflineQueue {
  /** @param {string} name  one queue per page kind, e.g. "qrevent.door" */
  constructor(name) {
    this.name = name;
    /** @type {Promise<IDBDatabase> | null} */
    this._db = null;
  }

  /** @returns {Promise<IDBDatabase>} */
  db() {
    this._db ??= new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => {
        const store = open.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        store.createIndex("queue", "queue");
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    return this._db;
  }

  /**
   * @template T
   * @param {IDBTransactionMode} mode
   * @param {(store: IDBObjectStore) => IDBRequest<T>} act
   * @returns {Promise<T>}
   */
  async _run(mode, act) {
    const db = await this.db();
    return new Promise((resolve, reject) => {
      const request = act(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  /** @param {Command} command @returns {Promise<number>} its id: the order it replays in */
  async add(command) {
    return /** @type {number} */ (await this._run("readwrite", (s) => s.add({ ...command, queue: this.name })));
  }

  /** @returns {Promise<Array<Command & {id: number}>>} oldest first (ids only grow) */
  async all() {
    const found = await this._run("readonly", (s) => s.index("queue").getAll(this.name));
    return found.sort((a, b) => a.id - b.id);
  }

  /** @param {number} id */
  async remove(id) { await this._run("readwrite", (s) => s.delete(id)); }
}

/**
 * The page's connection to Headwater. Events (listen with addEventListener):
 * - "signin-required": no usable session (never had one, signed out: detail
 *   "signed-out", or a 401 the refresh could not cure: detail "expired"); the socket
 *   and the queue stop until signIn() succeeds.
 * - "session": signed in or refreshed (detail: the account).
 * - "status": detail "connecting" | "live" | "reconnecting" | "offline" | "stopped".
 * - "queue": detail the number of commands waiting.
 * - "outcome": detail an Outcome, for each queued command the server answered.
 */
export class Client extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.storageKey]  where the session is kept in localStorage
   * @param {string} [options.queue]       the offline queue's name
   * @param {number} [options.refreshAt]   refresh when this share of the life has passed
   * @param {number} [options.backoffBase] ms: the first reconnect delay
   * @param {number} [options.backoffMax]  ms: the ceiling
   */
  constructor({ storageKey = "headwater.session", queue = "default", refreshAt = 0.7,
    backoffBase = 500, backoffMax = 30000 } = {}) {
    super();
    this.storageKey = storageKey;
    this.queue = new OfflineQueue(queue);
    this.refreshAt = refreshAt;
    this.backoffBase = backoffBase;
    this.backoffMax = backoffMax;
    /** @type {Map<string, {position: number | null, handler: (frame: any) => void, history?: number}>} */
    this.channels = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    /** @type {ReturnType<typeof setTimeout> | null} the ONE reconnect timer */
    this.reconnectTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.refreshTimer = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.pingTimer = null;
    /** @type {Promise<Session | null> | null} */
    this.refreshing = null;
    /** @type {Promise<void> | null} */
    this.flushing = null;
    /** @type {ReturnType<typeof setTimeout> | null} retries a flush the network stopped */
    this.flushTimer = null;
    /** @type {Promise<void> | null} */
    this.flushAgain = null;
    this.welcomed = false;
    addEventListener("online", () => this._online());
    addEventListener("offline", () => this._status("offline"));
    // Another tab refreshed or signed out: take its session, keep one refresh timer.
    addEventListener("storage", (e) => { if (e.key === this.storageKey) this._schedule(this.session); });
  }

  /** @returns {Session | null} */
  get session() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "null"); } catch { return null; }
  }

  /** @param {Session | null} value */
  _store(value) {
    if (value) localStorage.setItem(this.storageKey, JSON.stringify(value));
    else localStorage.removeItem(this.storageKey);
  }

  /**
   * On page load: a stored session is used if it can be (an expired or nearly
   * expired access token is refreshed first, never sent). False: sign in is needed.
   * @returns {Promise<boolean>}
   */
  async resume() {
    const session = this.session;
    if (!session) { this._signinRequired(); return false; }
    try {
      await this.token();
    } catch (error) {
      if (error instanceof ApiError && !error.transient) return false;
      // Offline at load: keep the session; the queue and socket wait for the network.
    }
    if (!this.session) return false;
    this._started();
    return true;
  }

  /**
   * For pages whose credential is not a sign-in (a guest's invitation, a form's public
   * link): the offline queue replays on reconnect and "online", with no session.
   */
  startAnonymous() { this._started(); }

  /** @param {string} email @param {string} password */
  async signIn(email, password) {
    const data = await this._fetch("/auth/login", { method: "POST", body: { email, password } });
    this._adopt(data);
    this._started();
    return data.account;
  }

  /**
   * Signs in at another route that answers as /auth/login does (e.g. a venue screen's
   * display link); refreshed through /auth/refresh like any session.
   * @param {string} path @param {unknown} body
   */
  async signInWith(path, body) {
    const data = await this._fetch(path, { method: "POST", body });
    this._adopt(data);
    this._started();
    return data.account;
  }

  /** Ends the session on the server (best effort) and here; the queue is kept. */
  async signOut() {
    const session = this.session;
    this._stop();
    this._store(null);
    if (session) {
      await this._fetch("/auth/logout", { method: "POST", body: { refresh_token: session.refresh_token } })
        .catch(() => {});
    }
    this._signinRequired("signed-out");
  }

  /** A valid access token, refreshed first when it is expired or nearly so. */
  async token() {
    const session = this.session;
    if (!session) throw new ApiError(401, "unauthenticated", "sign in first");
    if (Date.now() < this._due(session)) return session.access_token;
    const fresh = await this.refresh();
    if (!fresh) throw new ApiError(401, "unauthenticated", "sign in again");
    return fresh.access_token;
  }

  /** @param {Session} s */
  _due(s) { return s.expires_at - s.lifetime * (1 - this.refreshAt); }

  /**
   * Spends the refresh token, once across tabs. Null: it was refused (signed out).
   * @returns {Promise<Session | null>}
   */
  refresh() {
    this.refreshing ??= this._locked(async () => {
      const seen = this.session;
      if (!seen) return null;
      if (Date.now() < this._due(seen)) return seen; // another tab did it meanwhile
      try {
        const data = await this._fetch("/auth/refresh", { method: "POST", body: { refresh_token: seen.refresh_token } });
        return this._adopt(data);
      } catch (error) {
        if (error instanceof ApiError && !error.transient) {
          this._store(null);
          this._stop();
          this._signinRequired();
          return null;
        }
        this._schedule(seen, 2000 + Math.random() * 1000); // offline: try again soon
        throw error;
      }
    }).finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** @template T @param {() => Promise<T>} work @returns {Promise<T>} */
  _locked(work) {
    return navigator.locks ? navigator.locks.request(`${this.storageKey}.refresh`, work) : work();
  }

  /** @param {any} data the login or refresh answer @returns {Session} */
  _adopt(data) {
    const lifetime = data.expires_in * 1000;
    const session = { access_token: data.access_token, refresh_token: data.refresh_token,
      expires_at: Date.now() + lifetime, lifetime, account: data.account };
    this._store(session);
    this._schedule(session);
    this._reauth(session.access_token);
    this.dispatchEvent(new CustomEvent("session", { detail: data.account }));
    return session;
  }

  /** @param {Session | null} session @param {number} [delay] */
  _schedule(session, delay) {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (!session) return;
    const wait = delay ?? Math.max(0, this._due(session) - Date.now());
    this.refreshTimer = setTimeout(() => { this.refresh().catch(() => {}); }, wait);
  }

  /**
   * A request with the session's token; a 401 is refreshed once and retried.
   * @param {string} path
   * @param {{method?: string, body?: unknown, headers?: Record<string, string>, anonymous?: boolean,
   *   whole?: boolean}} [options]  whole: the envelope (data, meta, pagination), not only its data
   */
  async api(path, options = {}) {
    if (options.anonymous) return this._fetch(path, options);
    const send = async () => this._fetch(path, { ...options,
      headers: { ...options.headers, authorization: `Bearer ${await this.token()}` } });
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      // Revoked or expired early (clock skew): one refresh, one retry, never a loop.
      const fresh = await this.refresh();
      if (!fresh) throw error;
      return send();
    }
  }

  /** @param {string} path @param {{method?: string, body?: unknown, headers?: Record<string, string>, whole?: boolean}} options */
  async _fetch(path, { method = "GET", body, headers = {}, whole = false } = {}) {
    const all = { ...headers };
    if (body !== undefined) all["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "no connection to the server");
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      const e = payload.error || {};
      throw new ApiError(response.status, e.code || "http_error", e.message || response.statusText, e.details);
    }
    return whole ? payload : payload.data;
  }

  // ---- commands: sent now when possible, else kept in IndexedDB and replayed in order

  /**
   * Queues the command and sends every waiting one, in order.
   * @param {Command} command
   * @returns {Promise<Outcome>}  "queued" when it could not be sent yet
   */
  async send(command) {
    const entry = { method: "POST", base_version: null, ...command,
      idempotency_key: command.idempotency_key || crypto.randomUUID() };
    const id = await this.queue.add(entry);
    /** @type {Outcome | undefined} */
    let mine;
    const listen = (/** @type {any} */ e) => { if (e.detail.command.id === id) mine = e.detail; };
    this.addEventListener("outcome", listen);
    try { await this.flush(); } finally { this.removeEventListener("outcome", listen); }
    return mine ?? { status: "queued", command: { ...entry, id } };
  }

  /** Sends waiting commands oldest first; stops at the first that cannot be sent. */
  flush() {
    if (this.flushing) {
      // A pass is running and may have read the queue before the newest command:
      // one more pass after it, shared by every caller meanwhile.
      this.flushAgain ??= this.flushing.catch(() => {}).then(() => { this.flushAgain = null; return this.flush(); });
      return this.flushAgain;
    }
    this.flushing = this._flush().finally(() => { this.flushing = null; });
    return this.flushing;
  }

  async _flush() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    for (const command of await this.queue.all()) {
      const headers = /** @type {Record<string, string>} */ ({ ...command.headers, "idempotency-key": command.idempotency_key });
      if (command.base_version != null) headers["if-match"] = `"${command.base_version}"`;
      /** @type {Outcome} */
      let outcome;
      try {
        const data = await this.api(command.path, { method: command.method, body: command.body, headers,
          anonymous: command.anonymous });
        outcome = { status: "applied", data, command };
      } catch (error) {
        if (!(error instanceof ApiError) || error.status === 401) break;
        if (error.transient) {
          // One timer, like the socket's: the "online" event or a welcome may come first.
          if (!this.stopped) this.flushTimer = setTimeout(() => { this.flush().catch(() => {}); }, 3000 + Math.random() * 2000);
          break;
        }
        // Kept in order: a later command may depend on this one, so the page decides.
        outcome = { status: error.status === 409 ? "conflict" : "rejected", error, command };
      }
      await this.queue.remove(command.id);
      this.dispatchEvent(new CustomEvent("outcome", { detail: outcome }));
    }
    this.dispatchEvent(new CustomEvent("queue", { detail: (await this.queue.all()).length }));
  }

  // ---- the socket: one connection, resumed from the last position, one timer

  /**
   * Follows a channel. Event frames carry positions; after a reconnect the channel
   * is subscribed again from the last one seen, so nothing is missed or repeated.
   * @param {string} channel
   * @param {(frame: any) => void} handler
   * @param {{fromPosition?: number, history?: number}} [options]  history: with no
   *   position yet, start this many log positions before the head (a feed's recent past)
   * @returns {() => void} unsubscribes
   */
  subscribe(channel, handler, { fromPosition, history } = {}) {
    this.channels.set(channel, { position: fromPosition ?? null, handler, history });
    this._send({ type: "subscribe", channel, ...(fromPosition != null ? { from_position: fromPosition } : {}) });
    if (!this.stopped && !this.socket) this._connect();
    return () => {
      this.channels.delete(channel);
      this._send({ type: "unsubscribe", channel });
    };
  }

  _started() {
    this.stopped = false;
    this._schedule(this.session);
    if (this.channels.size && !this.socket) this._connect();
    this.flush().catch(() => {});
  }

  _stop() {
    this.stopped = true;
    this._schedule(null);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this._status("stopped");
  }

  /** @param {unknown} message */
  _send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.welcomed) {
      this.socket.send(JSON.stringify(message));
    }
  }

  /** @param {string} token */
  _reauth(token) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "auth", token }));
  }

  async _connect() {
    if (this.stopped || this.socket || this.reconnectTimer) return;
    this._status(this.attempt ? "reconnecting" : "connecting");
    let token;
    try {
      token = await this.token();
    } catch (error) {
      if (error instanceof ApiError && !error.transient) return; // signin-required was sent
      this._retry();
      return;
    }
    if (this.stopped || this.socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/realtime/ws`);
    this.socket = socket;
    this.welcomed = false;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token })));
    socket.addEventListener("message", (m) => this._frame(JSON.parse(m.data)));
    socket.addEventListener("close", (e) => this._closed(socket, e));
  }

  /** @param {any} frame */
  _frame(frame) {
    if (frame.type === "welcome") {
      this.welcomed = true;
      this.attempt = 0; // a connection that got this far resets the backoff
      if (this.pingTimer) clearInterval(this.pingTimer);
      const every = Math.max(1, (frame.idle_timeout || 30) / 3) * 1000;
      this.pingTimer = setInterval(() => this._send({ type: "ping" }), every);
      for (const [channel, held] of this.channels) {
        if (held.position == null && held.history && typeof frame.position === "number") {
          held.position = Math.max(0, frame.position - held.history);
        }
        this._send({ type: "subscribe", channel, ...(held.position != null ? { from_position: held.position } : {}) });
      }
      this._status("live");
      this.flush().catch(() => {});
      return;
    }
    const held = frame.channel ? this.channels.get(frame.channel) : undefined;
    if (!held) return;
    if (frame.type === "event" && typeof frame.position === "number") held.position = frame.position;
    held.handler(frame);
  }

  /** @param {WebSocket} socket @param {CloseEvent} event */
  async _closed(socket, event) {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.socket !== socket) return; // closed on purpose (signOut)
    this.socket = null;
    if (this.stopped) return;
    if (event.code === 4008) {
      // Resync: positions above P name other events now; resume every channel from P.
      const from = JSON.parse(event.reason || "{}").resync_from;
      for (const held of this.channels.values()) if (held.position != null && from != null) held.position = Math.min(held.position, from);
    }
    if (event.code === 4001) {
      // The credential ran out under the socket: refresh once; a refusal stops here.
      const fresh = await this.refresh().catch(() => undefined);
      if (fresh === null) return;
    }
    this._retry();
  }

  /** Schedules the next attempt on the one timer: full jitter, a ceiling. */
  _retry() {
    if (this.stopped || this.reconnectTimer) return;
    const ceiling = Math.min(this.backoffMax, this.backoffBase * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this._status(navigator.onLine ? "reconnecting" : "offline");
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this._connect(); }, delay);
  }

  _online() {
    if (this.stopped) return;
    this.attempt = 0;
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null; }
    if (this.channels.size && !this.socket) this._connect();
    if (this.session && Date.now() >= this._due(this.session)) this.refresh().catch(() => {});
    this.flush().catch(() => {});
  }

  /** @param {string} value */
  _status(value) { this.dispatchEvent(new CustomEvent("status", { detail: value })); }

  /** @param {"signed-out" | "expired"} [reason] */
  _signinRequired(reason = "expired") { this.dispatchEvent(new CustomEvent("signin-required", { detail: reason })); }
}

/**
 * Lets this page be reloaded without network: registers the app's service worker
 * (a shim at the app's path that loads /_headwater/offline.js) and asks it to keep
 * this page and every script, module and stylesheet it names. Resolves once they are
 * kept (or at once where service workers are unavailable, e.g. a plain-http host
 * other than localhost). Commands made offline are not the worker's business: the
 * offline queue keeps and replays them.
 * @param {string} workerUrl  e.g. "/qrevent/sw.js"; its folder is the worker's scope
 * @returns {Promise<boolean>} whether the page is kept
 */
export async function keepOffline(workerUrl) {
  if (!("serviceWorker" in navigator)) return false;
  try {
    await navigator.serviceWorker.register(workerUrl);
    const ready = await navigator.serviceWorker.ready;
    const urls = [location.pathname + location.search];
    for (const node of document.querySelectorAll("script[src], link[href]")) {
      const rel = node.getAttribute("rel");
      if (node.tagName === "LINK" && !["stylesheet", "modulepreload", "icon"].includes(rel || "")) continue;
      urls.push(/** @type {HTMLScriptElement | HTMLLinkElement} */ (node).getAttribute(node.tagName === "LINK" ? "href" : "src") || "");
    }
    const worker = ready.active;
    if (!worker) return false;
    return await new Promise((resolve) => {
      const channel = (/** @type {MessageEvent} */ e) => {
        if (e.data && e.data.type === "kept") {
          navigator.serviceWorker.removeEventListener("message", channel);
          resolve(true);
        }
      };
      navigator.serviceWorker.addEventListener("message", channel);
      worker.postMessage({ type: "keep", urls: urls.filter(Boolean) });
    });
  } catch {
    return false;
  }
}
