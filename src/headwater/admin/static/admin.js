// Headwater's admin dashboard: plain JavaScript, no build step, same-origin only.
//
// Signs in, calls the API and follows the "admin" channel through headwater.js (the
// one browser client): the session is kept in localStorage and refreshed before its
// access token runs out, so a dashboard left open on a wall outlives any one
// credential and survives a reload; one WebSocket, resumed from the last position
// after a drop, reconnecting on one timer. Bearer tokens, not the cookie session: a
// cookie session ends when its cookie does, with no refresh, and header credentials
// need no CSRF token. Events fill the live feed and reload the panels that asked for
// them; the "metrics.updated" notices carry the node's latest figures, which move the
// charts.
"use strict";

(async () => {
  const $ = (sel) => document.querySelector(sel);
  const { Client } = await import(document.querySelector("link[rel=modulepreload]").href);
  const client = new Client({ storageKey: "headwater.admin", queue: "headwater.admin" });
  const state = {
    overview: null, position: null, unsubscribe: null,
    charts: {}, points: [], panels: {}, feedCount: 0, reloads: {}, liveFrom: 0,
  };
  const FEED_MAX = 200;
  const HISTORY = 500; // log positions replayed into the feed at sign-in
  const NODE_CHARTS = [
    { id: "requests", title: "Requests / s", series: [["requests_per_s", "req/s"]] },
    { id: "latency", title: "Latency, ms", series: [["p50_ms", "p50"], ["p95_ms", "p95"]] },
    { id: "errors", title: "Errors (5xx share)", series: [["error_rate", "5xx"]], percent: true },
    { id: "events", title: "Events / s", series: [["events_per_s", "events/s"]] },
    { id: "lag", title: "Projection lag, events", series: [["projection_lag", "lag"]] },
    { id: "queue", title: "Queue depth, jobs", series: [["queue_depth", "jobs"]] },
    { id: "connections", title: "Connections", series: [["connections", "sockets"]] },
  ];
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"];

  // --- HTTP ---------------------------------------------------------------------------

  /** The envelope (data, meta, pagination): panels read all three. */
  function api(method, url, body) {
    return client.api(url, { method, body, whole: true });
  }

  function notice(text) { $("#notice").textContent = text || ""; }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function when(value) {
    if (value === null || value === undefined || value === "") return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date) ? String(value) : date.toLocaleString();
  }

  // --- sign in and out ----------------------------------------------------------------

  function showSignIn(message) {
    $("#dashboard").hidden = true;
    $("#signout").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = message || "";
    closeSocket();
  }

  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await client.signIn(form.get("email"), form.get("password"));
      event.target.reset();
      await boot();
    } catch (error) {
      $("#signin-error").textContent = error.message;
    }
  });

  $("#signout").addEventListener("click", async () => {
    await client.signOut();
    showSignIn("Signed out.");
  });

  // A refresh the server refused (signed out elsewhere, revoked): ask, never loop.
  client.addEventListener("signin-required", (e) => {
    if (e.detail === "expired" && !$("#dashboard").hidden) showSignIn("Your session ended: sign in again.");
  });
  client.addEventListener("status", (e) => setLive(e.detail === "live" && state.unsubscribe !== null));

  async function boot() {
    let overview;
    try {
      overview = (await api("GET", "/admin/api/overview")).data;
    } catch (error) {
      if (error.status === 401 || error.status === 403) return showSignIn(
        error.status === 403 ? "This account may not use the dashboard: " + error.message : "");
      return showSignIn(error.message);
    }
    state.overview = overview;
    $("#signin").hidden = true;
    $("#dashboard").hidden = false;
    $("#signout").hidden = false;
    $("#who").textContent = (overview.email || overview.subject) + " · " + overview.roles.join(", ");
    $("#apps").textContent = overview.apps.map((a) => a.name).join(" · ");
    buildCharts();
    const series = (await api("GET", "/admin/api/series")).data;
    series.points.forEach(addPoint);
    await Promise.all([loadAlerts(), loadProjections(), loadJobs(), buildPanels()]);
    openSocket();
  }

  // --- node charts --------------------------------------------------------------------

  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const day = (t) => new Date(t * 1000).toLocaleDateString([], { month: "short", day: "numeric" });

  function chartOptions(width, series, scaleY, label) {
    return {
      width, height: 150, legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: scaleY } },
      series: [{ value: (u, t) => (t === null ? "--" : label(t)) },
        ...series.map(([, name], i) => ({
          // No gap-spanning: null is "nothing measured" (no requests, say), not a value.
          label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false,
        }))],
      // One line per tick label: uPlot's default two-line time labels crowd small charts.
      axes: [{ space: 70, values: (u, ticks) => ticks.map(label) }, { size: 50 }],
    };
  }

  function yRange(u, min, max) { return [0, Math.max(max || 0, 1) * 1.15]; }

  function buildCharts() {
    const box = $("#charts");
    box.replaceChildren();
    state.charts = {};
    for (const spec of NODE_CHARTS) {
      const value = el("div", { class: "value" }, "–");
      const plot = el("div", { class: "plot" });
      const card = el("div", { class: "card chart", id: "chart-" + spec.id, "data-points": "0" },
        el("div", { class: "title" }, spec.title), value, plot);
      box.append(card);
      const width = Math.max(card.clientWidth - 24, 260);
      const data = [[], ...spec.series.map(() => [])];
      const uplot = new uPlot(chartOptions(width, spec.series, yRange, clock), data, plot);
      state.charts[spec.id] = { spec, uplot, data, value, card };
    }
  }

  function addPoint(point) {
    const last = state.points[state.points.length - 1];
    if (last && point.t <= last.t) return; // a notice repeats the latest sample
    state.points.push(point);
    if (state.points.length > 300) state.points.shift();
    for (const chart of Object.values(state.charts)) {
      chart.data[0] = state.points.map((p) => p.t);
      chart.spec.series.forEach(([key], i) => {
        chart.data[i + 1] = state.points.map((p) => (p[key] === undefined ? null : p[key]));
      });
      chart.uplot.setData(chart.data);
      const [key] = chart.spec.series[chart.spec.series.length - 1];
      const current = point[key];
      chart.value.textContent = current === null || current === undefined ? "–"
        : chart.spec.percent ? (100 * current).toFixed(1) + " %" : String(+(+current).toFixed(2));
      chart.card.dataset.points = String(state.points.length);
      chart.card.dataset.last = current === null || current === undefined ? "" : String(current);
    }
  }

  // --- live feed over the WebSocket ----------------------------------------------------

  function openSocket() {
    closeSocket();
    // First subscription: the feed opens with what happened lately; after a drop,
    // headwater.js resumes after the last event shown, so nothing is missed or repeated.
    state.unsubscribe = client.subscribe("admin", onFrame, state.position !== null
      ? { fromPosition: state.position } : { history: HISTORY });
  }

  function closeSocket() {
    if (state.unsubscribe) state.unsubscribe();
    state.unsubscribe = null;
    setLive(false);
  }

  function setLive(on) {
    const badge = $("#live");
    badge.textContent = on ? "live" : "offline";
    badge.className = "badge " + (on ? "on" : "off");
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "subscribed":
        setLive(true);
        state.liveFrom = frame.position; // events up to here are history, already handled
        if (state.position === null) state.position = frame.position;
        break;
      case "event":
        state.position = Math.max(state.position || 0, frame.position);
        onEvent(frame.event);
        break;
      case "notice":
        if (frame.name === "metrics.updated") onMetrics(frame.data);
        else if (frame.name === "system.alert") addAlert(frame.data, true);
        break;
      case "error":
        notice("Live feed: " + frame.message);
        break;
      default:
        break;
    }
  }

  function onEvent(event) {
    const name = event.name || event.type;
    const live = event.position > state.liveFrom;
    const feed = $("#feed");
    const summary = JSON.stringify(event.data);
    const item = el("li", {
      class: live ? "fresh" : "", "data-name": name, "data-position": event.position,
      "data-stream": event.stream_id,
    },
      el("span", { class: "name" }, name),
      el("span", { class: "stream", title: summary }, event.stream_id + "  " + summary.slice(0, 160)),
      el("span", { class: "muted" }, when(event.recorded_at)));
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
    state.feedCount += 1;
    $("#feed-count").textContent = "latest " + feed.children.length + " of " + state.feedCount;
    if (!live) return; // the panels and alerts were loaded after it happened
    if (name === "system.alert") addAlert(event.data, true);
    for (const [id, panel] of Object.entries(state.panels)) {
      if (panel.spec.refresh_on.includes(name)) scheduleReload(id);
    }
  }

  function onMetrics(data) {
    if (data.node) addPoint(data.node);
    loadProjections();
    if (state.overview && state.overview.jobs_enabled) loadJobs();
  }

  // --- alerts ---------------------------------------------------------------------------

  async function loadAlerts() {
    // The newest page of the alert log (GET /admin/api/alerts is a paged list).
    const rows = (await api("GET", "/admin/api/alerts?limit=20")).data;
    const list = $("#alerts");
    list.replaceChildren();
    if (!rows.length) list.append(el("li", { class: "muted" }, "No alerts."));
    rows.slice().reverse().forEach((alert) => addAlert(alert, false));
  }

  function addAlert(alert, live) {
    const list = $("#alerts");
    if (list.firstChild && list.firstChild.classList.contains("muted")) list.replaceChildren();
    const item = el("li", { class: alert.status + (live ? " fresh" : ""), "data-rule": alert.rule },
      el("strong", {}, alert.status), el("span", {}, alert.summary || alert.rule),
      el("span", { class: "muted" }, when(alert.at)));
    list.prepend(item);
  }

  // --- projections and jobs ------------------------------------------------------------

  async function loadProjections() {
    let rows;
    try { rows = (await api("GET", "/admin/api/projections")).data; } catch (error) {
      return notice("Projections: " + error.message);
    }
    const canOperate = state.overview.can_operate;
    $("#projections tbody").replaceChildren(...rows.map((p) => {
      const rebuild = p.last_rebuild;
      const running = (rebuild && rebuild.state === "running") || p.state === "rebuilding";
      const button = el("button", {
        type: "button", "data-projection": p.name, disabled: canOperate && !running ? null : "",
        onclick: () => rebuildProjection(p.name),
      }, running ? "Rebuilding…" : "Rebuild");
      const progress = rebuild && rebuild.state === "running"
        ? rebuild.progress.join(" / ") : rebuild ? rebuild.state : "";
      return el("tr", { "data-projection": p.name },
        el("td", {}, p.name), el("td", {}, p.mode),
        el("td", { class: "state-" + p.state }, p.state + (p.needs_rebuild ? " (needs rebuild)" : "")),
        el("td", {}, p.position + " / " + p.head), el("td", {}, p.lag_events),
        el("td", {}, p.lag_seconds), el("td", { class: "rebuild-state" }, progress),
        el("td", {}, button));
    }));
  }

  async function rebuildProjection(name) {
    if (!confirm("Rebuild " + name + " from the log? Reads keep working meanwhile.")) return;
    try {
      await api("POST", "/admin/api/projections/" + encodeURIComponent(name) + "/rebuild");
      notice("");
    } catch (error) { notice("Rebuild " + name + ": " + error.message); }
    loadProjections();
  }

  // The jobs table pages like the apps' panels: a stack of cursors, the last the page shown.
  const jobPages = { cursors: [null] };

  async function loadJobs() {
    const wanted = $("#job-state").value;
    const url = new URL("/admin/api/jobs", location.origin);
    url.searchParams.set("limit", "50");
    url.searchParams.set("sort", $("#job-sort").value);
    if (wanted) url.searchParams.set("state", wanted);
    const cursor = jobPages.cursors[jobPages.cursors.length - 1];
    if (cursor) url.searchParams.set("cursor", cursor);
    let answer, depth;
    try {
      depth = (await api("GET", "/admin/api/jobs/depth")).data;
      if (!depth.enabled) {
        $("#job-depth").textContent = "(no job queue on this node)";
        $("#jobs tbody").replaceChildren();
        $("#job-pager").replaceChildren();
        return;
      }
      answer = await api("GET", url.pathname + url.search);
    } catch (error) { return notice("Jobs: " + error.message); }
    $("#job-depth").textContent = Object.entries(depth.depth).map(([k, v]) => k + " " + v).join(" · ");
    const canOperate = state.overview.can_operate;
    $("#jobs tbody").replaceChildren(...answer.data.map((job) => el("tr", { "data-job": job.id },
      el("td", {}, job.name), el("td", { class: "state-" + job.state }, job.state),
      el("td", {}, job.attempts + " / " + job.max_attempts), el("td", {}, job.last_error || ""),
      el("td", {}, when(job.updated_at)),
      el("td", {}, job.state === "dead" || job.state === "failed"
        ? el("button", { type: "button", disabled: canOperate ? null : "",
          onclick: () => retryJob(job.id) }, "Retry") : ""))));
    const pagination = answer.pagination;
    const number = jobPages.cursors.length;
    $("#job-pager").replaceChildren(
      el("button", { type: "button", "data-page": "previous", disabled: number > 1 ? null : "",
        onclick: () => { jobPages.cursors.pop(); loadJobs(); } }, "← Previous"),
      el("span", { class: "muted" }, "page " + number),
      el("button", { type: "button", "data-page": "next", disabled: pagination.hasNext ? null : "",
        onclick: () => { jobPages.cursors.push(pagination.cursor); loadJobs(); } }, "Next →"));
    $("#job-pager").dataset.page = String(number);
  }

  async function retryJob(id) {
    try { await api("POST", "/admin/api/jobs/" + encodeURIComponent(id) + "/retry"); notice(""); }
    catch (error) { notice("Retry: " + error.message); }
    loadJobs();
  }

  // A new filter or sort starts again from the first page (cursors belong to one of each).
  for (const id of ["#job-state", "#job-sort"]) {
    $(id).addEventListener("change", () => { jobPages.cursors = [null]; loadJobs(); });
  }

  // --- the apps' panels ------------------------------------------------------------------

  async function buildPanels() {
    const box = $("#panels");
    box.replaceChildren();
    state.panels = {};
    for (const spec of state.overview.panels) {
      const body = el("div", { class: "panel-body" });
      const meta = el("span", { class: "panel-meta" });
      const section = el("section", { id: "panel-" + spec.id, class: "panel", "data-kind": spec.kind },
        el("h2", {}, spec.title, meta), body);
      box.append(section);
      const query = {};
      for (const f of spec.filters) if (f.default) query[f.key] = f.default;
      const panel = { spec, body, meta, section, chart: null, query, cursors: [null] };
      if (spec.filters.length) section.insertBefore(filterBar(panel), body);
      state.panels[spec.id] = panel;
    }
    await Promise.all(Object.keys(state.panels).map(reloadPanel));
  }

  function scheduleReload(id) {
    // Bursts of events (an import, a load test) cost one reload per second per panel.
    if (state.reloads[id]) return;
    state.reloads[id] = setTimeout(() => { delete state.reloads[id]; reloadPanel(id); }, 300);
  }

  function filterBar(panel) {
    // Changing a filter starts again from the first page (cursors belong to one filter set).
    const changed = (key, value) => {
      if (value) panel.query[key] = value; else delete panel.query[key];
      panel.cursors = [null];
      reloadPanel(panel.spec.id);
    };
    let typing = null;
    const controls = panel.spec.filters.map((f) => {
      const choices = f.options.map((o) => el("option", { value: o, selected: o === f.default ? "" : null }, o));
      const control = f.options.length
        ? el("select", { "data-filter": f.key, onchange: (e) => changed(f.key, e.target.value) },
          ...(f.default ? [] : [el("option", { value: "" }, "any")]), ...choices)
        : el("input", { type: "search", "data-filter": f.key, placeholder: f.label,
          oninput: (e) => {
            clearTimeout(typing);
            typing = setTimeout(() => changed(f.key, e.target.value.trim()), 300);
          } });
      return el("label", {}, f.label + " ", control);
    });
    return el("div", { class: "filters" }, ...controls);
  }

  function sourceUrl(panel) {
    const url = new URL(panel.spec.source, location.origin);
    for (const [key, value] of Object.entries(panel.query)) url.searchParams.set(key, value);
    const cursor = panel.cursors[panel.cursors.length - 1];
    if (cursor) url.searchParams.set("cursor", cursor);
    return url.pathname + url.search;
  }

  async function reloadPanel(id) {
    const panel = state.panels[id];
    const seq = (panel.seq = (panel.seq || 0) + 1);
    let payload;
    try { payload = await api("GET", sourceUrl(panel)); } catch (error) {
      if (seq === panel.seq) panel.meta.textContent = "could not load: " + error.message;
      return;
    }
    if (seq !== panel.seq) return; // a newer load (other filters, another page) overtook it
    const fresh = payload.meta && payload.meta.freshness;
    panel.meta.textContent = fresh ? describeFreshness(fresh) : "";
    if (panel.spec.kind === "table") drawTable(panel, payload.data, payload.pagination);
    else if (panel.spec.kind === "chart") drawChart(panel, payload.data);
    else if (panel.spec.kind === "reviews") drawReviews(panel, payload.data);
    panel.section.dataset.loaded = String(Date.now());
    panel.section.dataset.source = sourceUrl(panel);
  }

  // The freshness a read model reports (``meta.freshness``): the log position it
  // reflects and how many handled events it still has to apply.
  function describeFreshness(fresh) {
    if (typeof fresh !== "object") return String(fresh);
    const lag = fresh.lag_events ? ", " + fresh.lag_events + " events behind" : "";
    return "fresh to " + fresh.position + lag;
  }

  function drawTable(panel, rows, pagination) {
    const columns = panel.spec.columns;
    const actions = panel.spec.actions || [];
    const table = el("table", {},
      el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c.label)),
        ...(actions.length ? [el("th", {}, "")] : []))),
      el("tbody", {}, ...rows.map((row) => el("tr", {},
        ...columns.map((c) => el("td", {}, /_at$/.test(c.key) ? when(row[c.key]) : row[c.key] ?? "")),
        ...(actions.length ? [el("td", { class: "actions" }, ...rowActions(panel, row))] : [])))));
    const page = panel.cursors.length;
    const pager = !pagination ? null : el("div", { class: "pager" },
      el("button", { type: "button", "data-page": "previous", disabled: page > 1 ? null : "",
        onclick: () => { panel.cursors.pop(); reloadPanel(panel.spec.id); } }, "← Previous"),
      el("span", { class: "muted" }, "page " + page),
      el("button", { type: "button", "data-page": "next", disabled: pagination.hasNext ? null : "",
        onclick: () => { panel.cursors.push(pagination.cursor); reloadPanel(panel.spec.id); } },
      "Next →"));
    panel.body.replaceChildren(table, ...(pager ? [pager] : []));
    panel.section.dataset.rows = String(rows.length);
    panel.section.dataset.page = String(page);
  }

  function drawChart(panel, data) {
    const spec = panel.spec;
    const rows = spec.rows ? data[spec.rows] : data;
    const xs = rows.map((row) => Date.parse(row[spec.x]) / 1000);
    const ys = spec.series.map((s) => rows.map((row) =>
      row[s.key] === null || row[s.key] === undefined ? null : row[s.key] / s.scale));
    if (!panel.chart) {
      const width = Math.max(panel.section.clientWidth - 24, 300);
      const series = spec.series.map((s) => [s.key, s.label]);
      panel.chart = new uPlot(chartOptions(width, series, yRange, day), [xs, ...ys], panel.body);
    } else {
      panel.chart.setData([xs, ...ys]);
    }
    const first = ys[0] || [];
    panel.section.dataset.total = String(first.reduce((sum, v) => sum + (v || 0), 0));
  }

  function drawReviews(panel, reviews) {
    panel.section.dataset.rows = String(reviews.length);
    if (!reviews.length) {
      panel.body.replaceChildren(el("p", { class: "muted" }, "Nothing to review."));
      return;
    }
    panel.body.replaceChildren(...reviews.map((review) => {
      const reason = el("input", { placeholder: "Reason for rejecting", "aria-label": "Reason" });
      const fields = review.fields.map((f) => el("div", {},
        el("strong", {}, f.path + " "), el("span", { class: "muted" }, "(" + f.strategy + ")"),
        el("pre", {}, "base:   " + JSON.stringify(f.base) + "\nmine:   " + JSON.stringify(f.mine)
          + "\ntheirs: " + JSON.stringify(f.theirs))));
      return el("div", { class: "review", "data-review": review.review_id },
        el("div", {}, el("strong", {}, review.aggregate_type + " " + review.aggregate_id),
          el("span", { class: "muted" }, "  by " + (review.actor || "?") + ", on version "
            + review.based_on_version + " (now " + review.current_version + ")")),
        ...fields,
        el("div", { class: "actions" },
          el("button", { type: "button", class: "primary", "data-action": "accept",
            onclick: () => decide(panel, panel.spec.accept, review.review_id) }, "Accept"),
          reason,
          el("button", { type: "button", "data-action": "reject",
            onclick: () => decide(panel, panel.spec.reject, review.review_id,
              { reason: reason.value || "rejected from the dashboard" }) }, "Reject")));
    }));
  }

  // A table's row buttons (``RowAction``): the row's values fill the URL's {key} parts.
  function rowActions(panel, row) {
    return panel.spec.actions
      .filter((a) => !a.only_if || String(row[a.only_if[0]]) === a.only_if[1])
      .map((a) => el("button", { type: "button", "data-action": a.label.toLowerCase(),
        onclick: async () => {
          const url = a.url.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(row[key]));
          try { await api(a.method, url); notice(""); } catch (error) { notice(a.label + ": " + error.message); }
          reloadPanel(panel.spec.id);
        } }, a.label));
  }

  async function decide(panel, template, reviewId, body) {
    try {
      await api("POST", template.replace("{review_id}", encodeURIComponent(reviewId)), body);
      notice("");
    } catch (error) { notice("Review " + reviewId + ": " + error.message); }
    reloadPanel(panel.spec.id);
  }

  // Charts size to their cards at build time; redraw them at the new width.
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const chart of Object.values(state.charts)) {
        chart.uplot.setSize({ width: Math.max(chart.card.clientWidth - 24, 260), height: 150 });
      }
    }, 200);
  });

  if (await client.resume()) await boot();
  else showSignIn("");
})();
