"""headwater.js's own rules, in Chromium against a real server: one reconnect timer
with backoff and a ceiling, the offline queue replayed in order with conflicts handed
back, and a stop (no more attempts) on a 401 a refresh cannot cure."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from headwater.http import CLIENT_ASSETS
from headwater.testing._server import serve
from tests.security.support import ROOT_EMAIL, ROOT_PASSWORD

pytestmark = pytest.mark.slow

REPO = str(Path(__file__).resolve().parents[2])
ENV = {
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}
#: The core and the security module (the tests' accounts); nothing else.
APPS = ["tests.http.routes.serve_app:module"]

#: Loads the client into the page as window.hw, counting WebSocket attempts; with
#: window.broken set, each attempt goes to a path no socket answers.
LOAD = """async ([url, email, password]) => {
  window.attempts = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url) {
      super(window.broken ? url.replace("/realtime/ws", "/no-socket-here") : url);
      window.attempts.push(performance.now());
    }
  };
  const { Client } = await import(url);
  const client = new Client({ storageKey: "t", queue: "t", backoffBase: 200, backoffMax: 1000 });
  window.events = [];
  for (const name of ["signin-required", "outcome", "status"]) {
    client.addEventListener(name, (e) => window.events.push([name, e.detail]));
  }
  await client.signIn(email, password);
  window.hw = client;
}"""


@pytest.fixture
def page(tmp_path: Path, chromium: str) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'client.db'}"
    with (
        serve(url, workdir=tmp_path, apps=APPS, env=ENV) as server,
        playwright.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/healthz")
            page.evaluate(LOAD, [CLIENT_ASSETS.url("headwater.js"), ROOT_EMAIL, ROOT_PASSWORD])
            yield page
        finally:
            browser.close()


def test_reconnects_on_one_timer_with_growing_delays_up_to_a_ceiling(page: Any) -> None:
    page.evaluate(
        "() => { window.broken = true; hw.subscribe('tenant', () => {});"
        " hw.subscribe('admin', () => {}); }"
    )
    page.wait_for_timeout(6000)
    attempts: list[float] = page.evaluate("() => window.attempts")
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Two channels, one socket: never two attempts at once (stacked timers would be).
    assert all(gap >= 90 for gap in gaps), gaps
    # 100-200 ms, 200-400, 400-800, then 500-1000 (the ceiling) each: about 7-12 in 6 s.
    assert 5 <= len(attempts) <= 14, gaps
    assert max(gaps) <= 1000 + 250, gaps  # the ceiling holds (plus a connect's time)
    assert gaps[0] < gaps[-1], gaps


def test_the_queue_replays_in_order_and_hands_a_conflict_back(page: Any) -> None:
    seen: list[tuple[str, str | None, str | None]] = []

    def answer(route: Any) -> None:
        request = route.request
        if page.evaluate("() => window.down === true"):
            route.abort()
            return
        body = request.post_data_json
        headers = request.headers
        seen.append((body["n"], headers.get("idempotency-key"), headers.get("if-match")))
        if body["n"] == "b":
            details = {"base": {"title": "A"}, "mine": {"title": "B"}, "theirs": {"title": "C"}}
            error = {"code": "merge_conflict", "message": "conflict", "details": details}
            route.fulfill(status=409, json={"error": error})
        else:
            route.fulfill(status=200, json={"data": {"ok": body["n"]}})

    page.route("**/api/things", answer)
    outcomes = page.evaluate(
        """async () => {
      window.down = true;
      const sent = [];
      for (const [n, v] of [["a", null], ["b", 4], ["c", null]]) {
        sent.push(await hw.send({ path: "/api/things", body: { n }, idempotency_key: `k-${n}`,
          base_version: v }));
      }
      window.down = false;
      window.events = [];
      await hw.flush();
      return { sent: sent.map((o) => o.status), left: (await hw.queue.all()).length,
        outcomes: events.filter(([n]) => n === "outcome").map(([, o]) =>
          [o.status, o.command.body.n, o.error ? o.error.details : null]) };
    }"""
    )
    assert outcomes["sent"] == ["queued", "queued", "queued"]
    assert outcomes["left"] == 0
    assert seen == [("a", "k-a", None), ("b", "k-b", '"4"'), ("c", "k-c", None)]
    details = {"base": {"title": "A"}, "mine": {"title": "B"}, "theirs": {"title": "C"}}
    assert outcomes["outcomes"] == [
        ["applied", "a", None],
        ["conflict", "b", details],
        ["applied", "c", None],
    ]


def test_a_refused_refresh_stops_everything_and_asks_to_sign_in(page: Any) -> None:
    page.evaluate(
        """async () => {
      hw.subscribe("tenant", () => {});
      // The session ends elsewhere; then the access token runs out here.
      const s = hw.session;
      await fetch("/auth/logout", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refresh_token }) });
      localStorage.setItem("t", JSON.stringify({ ...s, expires_at: Date.now() - 1000 }));
      await hw.refresh();
    }"""
    )
    page.wait_for_timeout(300)
    before = page.evaluate("() => window.attempts.length")
    page.wait_for_timeout(3000)
    assert page.evaluate("() => window.attempts.length") == before  # no more hammering
    events = page.evaluate("() => window.events.map(([n, d]) => [n, d])")
    assert ["signin-required", "expired"] in events
    assert page.evaluate("() => localStorage.getItem('t')") is None
