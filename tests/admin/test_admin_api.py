"""The dashboard's node views over HTTP and the admin feed, on every backend: who may
read and operate, rebuilds, jobs of one tenant, the node's figures, and alerts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from headwater.admin import AdminModule
from headwater.admin._routes import ASSETS
from headwater.app import create_app
from headwater.eventstore import NewEvent, RecordedEvent, Statement
from headwater.http._security import SecurityModule
from headwater.jobs import Job, JobsModule
from headwater.modules import Module
from headwater.observability import ObservabilityModule
from headwater.projections import INTEGER, TEXT, Merge, Projection, Table
from headwater.runtime import Runtime
from tests.security.support import (
    ROOT_EMAIL,
    ROOT_PASSWORD,
    Tenant,
    app_settings,
    bearer,
    create_tenant,
    login,
    root_headers,
    security_config,
)

COUNTS = Table("rm_admin_counts", {"kind": TEXT, "n": INTEGER}, primary_key="kind")
counts = Projection("admin_counts", tables=[COUNTS])


@counts.on("Counted")
def _count(event: RecordedEvent) -> Sequence[Statement]:
    return [COUNTS.upsert({"kind": event.data["kind"], "n": 1}, merge={"n": Merge.ADD})]


class CountingApp(Module):
    name = "counting"

    async def start(self, runtime: Runtime) -> None:
        await runtime.require_projections().add(counts)


jobs = JobsModule()
runs: dict[str, int] = {}


@jobs.handler("flaky")
async def flaky(job: Job) -> None:
    runs[job.id] = runs.get(job.id, 0) + 1
    if runs[job.id] == 1:
        raise RuntimeError("the first run always fails")


@dataclass
class Node:
    client: TestClient
    a: Tenant
    b: Tenant
    admin: AdminModule
    observability: ObservabilityModule

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime


@pytest.fixture
def node(store_url: str, tmp_path: Path) -> Iterator[Node]:
    settings = app_settings(store_url, tmp_path)
    apps = [jobs, CountingApp()]
    # Samples only when a test asks (the loop's one sample is at start-up).
    admin = AdminModule(apps, interval=3600)
    observability = ObservabilityModule(log_level=None)
    plugins = [observability, SecurityModule(security_config()), admin]
    app = create_app(settings, plugins=plugins, apps=apps)
    with TestClient(app, raise_server_exceptions=False) as client:
        root = root_headers(client)
        yield Node(
            client,
            create_tenant(client, root, "Alpha"),
            create_tenant(client, root, "Beta"),
            admin,
            observability,
        )


def data(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def wait_until(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_the_page_and_its_vendored_assets_are_served_from_this_origin(node: Node) -> None:
    page = node.client.get("/admin")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    names = ("admin.js", "admin.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css")
    for name in names:
        url = ASSETS.url(name)
        assert re.fullmatch(r"/admin/assets/[\w/.]+\.[0-9a-f]{8}\.(js|css)", url), url
        assert f'"{url}"' in page.text, name
        served = node.client.get(url)
        assert served.status_code == 200, name
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert (
            node.client.get(url, headers={"if-none-match": served.headers["etag"]}).status_code
            == 304
        )
    assert "http" not in node.client.get(ASSETS.url("admin.js")).text.split("//")[0]
    assert code(node.client.get("/admin/assets/admin.js"), 404) == "not_found"  # unfingerprinted
    assert code(node.client.get("/admin/assets/..%2Froutes.py"), 404) == "not_found"
    assert code(node.client.get("/admin/assets/secret.key"), 404) == "not_found"


def test_the_dashboard_needs_a_tenant_admin_like_the_admin_feed(node: Node) -> None:
    client, a = node.client, node.a
    assert code(client.get("/admin/api/overview"), 401) == "unauthorized"
    for role in (a.user(client), a.staff(client)):
        assert code(client.get("/admin/api/overview", headers=role), 403) == "forbidden"
        assert code(client.post("/admin/api/projections/admin_counts/rebuild", headers=role), 403)
    admin = a.admin(client)
    overview = data(client.get("/admin/api/overview", headers=admin))
    assert overview["tenant_id"] == a.id
    assert overview["can_operate"] is True
    assert {"counting", "jobs"} <= {app["name"] for app in overview["apps"]}
    missing = client.post("/admin/api/projections/nothing/rebuild", headers=admin)
    assert code(missing, 404) == "unknown_projection"


def test_a_rebuild_from_the_dashboard_swaps_in_tables_built_from_the_log(node: Node) -> None:
    client, runtime = node.client, node.runtime
    admin = node.a.admin(client)

    async def append_and_catch_up() -> None:
        for kind in ("a", "b", "a"):
            await runtime.store.append(f"c-{kind}", [NewEvent("Counted", {"kind": kind})])
        await runtime.require_projections().catch_up()

    client.portal.call(append_and_catch_up)
    started = data(client.post("/admin/api/projections/admin_counts/rebuild", headers=admin), 202)
    assert started["state"] == "running"

    def finished() -> dict[str, Any] | None:
        listed = data(client.get("/admin/api/projections", headers=admin))
        view = next(p for p in listed if p["name"] == "admin_counts")
        rebuild = view["last_rebuild"]
        return view if rebuild and rebuild["state"] != "running" else None

    view = wait_until(finished)
    assert view is not None, "the rebuild did not finish"
    assert view["last_rebuild"]["state"] == "done", view
    assert view["last_rebuild"]["events"] == 3
    assert view["lag_events"] == 0

    async def read() -> list[tuple[Any, ...]]:
        return await runtime.store.fetchall("SELECT kind, n FROM rm_admin_counts ORDER BY kind")

    assert client.portal.call(read) == [("a", 2), ("b", 1)]


def test_a_dead_job_is_listed_for_its_own_tenant_only_and_retried(node: Node) -> None:
    client, runtime, a, b = node.client, node.runtime, node.a, node.b

    async def enqueue() -> str:
        queue = runtime.require_jobs()
        return str(await queue.enqueue("flaky", {}, attempts=1, tenant_id=a.id))

    job_id = client.portal.call(enqueue)
    admin_a = a.admin(client)

    def dead() -> list[dict[str, Any]]:
        listed = data(client.get("/admin/api/jobs?state=dead", headers=admin_a))
        return [job for job in listed if job["id"] == job_id]

    found = wait_until(dead)
    assert found, "the job never died"
    assert found[0]["last_error"]
    assert "payload" not in found[0]
    assert data(client.get("/admin/api/jobs?state=dead", headers=b.admin(client))) == []
    # Another tenant's admin cannot retry it, nor learn that it exists.
    assert code(client.post(f"/admin/api/jobs/{job_id}/retry", headers=b.admin(client)), 404)
    assert code(client.post(f"/admin/api/jobs/{job_id}/retry", headers=a.staff(client)), 403)
    retried = data(client.post(f"/admin/api/jobs/{job_id}/retry", headers=admin_a))
    assert retried["state"] == "queued"

    def succeeded() -> bool:
        listed = data(client.get("/admin/api/jobs?state=succeeded", headers=admin_a))
        return any(job["id"] == job_id for job in listed)

    assert wait_until(succeeded)
    again = client.post(f"/admin/api/jobs/{job_id}/retry", headers=admin_a)
    assert code(again, 409) == "illegal_job_transition"
    assert code(client.get("/admin/api/jobs?state=nonsense", headers=admin_a), 422)


def test_the_node_series_follows_requests_and_appends(node: Node) -> None:
    client, runtime = node.client, node.runtime
    staff = node.a.admin(client)
    series = node.admin.series

    async def sample_after_work() -> dict[str, Any]:
        await series.sample()  # a fresh baseline
        for n in range(5):
            await runtime.store.append(f"c-{n}", [NewEvent("Counted", {"kind": "x"})])
        return {}

    client.portal.call(sample_after_work)
    for _ in range(10):
        client.get("/admin/api/series", headers=staff)
    point = client.portal.call(series.sample)
    assert point is not None
    assert point["requests_per_s"] > 0
    assert point["events_per_s"] > 0
    assert point["p95_ms"] is not None
    assert point["p95_ms"] >= point["p50_ms"] > 0
    assert point["error_rate"] == 0.0
    points = data(client.get("/admin/api/series", headers=staff))["points"]
    assert points[-1] == point


def test_alerts_and_figures_reach_a_tenant_admin_feed(node: Node) -> None:
    client, runtime, a = node.client, node.runtime, node.a
    token = login(client, a.admin_email)["access_token"]
    with client.websocket_connect("/realtime/ws", headers=bearer(token)) as socket:
        assert socket.receive_json()["type"] == "welcome"
        socket.send_json({"type": "subscribe", "channel": "admin"})
        assert socket.receive_json()["type"] == "subscribed"

        async def fire() -> None:
            await node.admin.series.sample()
            runtime.require_hub().sweeper.publish_metrics()
            await node.observability.evaluator.evaluate({"dead_jobs": 3.0})

        client.portal.call(fire)
        by_name: dict[str, Any] = {}
        # The sweeper's own periodic notices and heartbeats may come in between.
        for _ in range(20):
            frame = socket.receive_json()
            if frame["type"] == "notice" and (
                frame["name"] != "metrics.updated" or "node" in frame["data"]
            ):
                by_name.setdefault(frame["name"], frame["data"])
            if {"metrics.updated", "system.alert"} <= set(by_name):
                break
    assert set(by_name["metrics.updated"]["node"]) >= {"requests_per_s", "queue_depth"}
    assert by_name["system.alert"]["rule"] == "dead_jobs"
    assert by_name["system.alert"]["status"] == "firing"
    firing = data(client.get("/admin/api/alerts/firing", headers=a.admin(client)))
    assert [alert["rule"] for alert in firing] == ["dead_jobs"]
    alerts = data(client.get("/admin/api/alerts", headers=a.admin(client)))
    assert alerts[0]["status"] == "firing"


def test_the_platform_admin_sees_and_retries_every_tenants_jobs(node: Node) -> None:
    client, runtime, a, b = node.client, node.runtime, node.a, node.b

    async def enqueue(tenant: str) -> str:
        queue = runtime.require_jobs()
        return str(await queue.enqueue("flaky", {}, attempts=1, tenant_id=tenant))

    mine, theirs = client.portal.call(enqueue, a.id), client.portal.call(enqueue, b.id)
    root = bearer(login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"])
    assert data(client.get("/admin/api/overview", headers=root))["tenant_id"] is None

    def both_dead() -> bool:
        listed = data(client.get("/admin/api/jobs?state=dead", headers=root))
        return {mine, theirs} <= {job["id"] for job in listed}

    assert wait_until(both_dead)
    assert data(client.post(f"/admin/api/jobs/{theirs}/retry", headers=root))["state"] == "queued"
    # A tenant admin still sees its own tenant's only.
    own = data(client.get("/admin/api/jobs?state=dead", headers=a.admin(client)))
    assert {job["id"] for job in own} == {mine}


def _walk(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of ``url``, two rows at a time."""
    path, _, query = url.partition("?")
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        # httpx drops a URL's own query when given params: pass them all as params.
        params = {**dict(parse_qsl(query)), "limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows += body["data"]
        cursor = body["pagination"]["cursor"]
        assert body["pagination"]["hasNext"] is (cursor is not None)
        if cursor is None:
            return rows
    raise AssertionError(f"{url} never ended")


def test_jobs_page_by_each_sort_within_the_callers_tenant(node: Node) -> None:
    client, runtime, a, b = node.client, node.runtime, node.a, node.b
    later = time.time() + 3600

    async def enqueue(tenant: str, n: int) -> list[str]:
        queue, when = runtime.require_jobs(), datetime.fromtimestamp(later, UTC)
        return [str(await queue.enqueue("idle", run_at=when, tenant_id=tenant)) for _ in range(n)]

    ours, theirs = client.portal.call(enqueue, a.id, 5), client.portal.call(enqueue, b.id, 2)
    admin_a = a.admin(client)
    newest = _walk(client, "/admin/api/jobs", admin_a)
    assert [job["id"] for job in newest] == ours[::-1]
    oldest = _walk(client, "/admin/api/jobs?sort=created&order=asc", admin_a)
    assert [job["id"] for job in oldest] == ours
    for sort in ("updated", "attempts"):
        for order in ("asc", "desc"):
            walked = _walk(client, f"/admin/api/jobs?sort={sort}&order={order}", admin_a)
            assert sorted(job["id"] for job in walked) == sorted(ours), (sort, order)
    scheduled = _walk(client, "/admin/api/jobs?state=scheduled", admin_a)
    assert {job["id"] for job in scheduled} == set(ours)
    assert not set(theirs) & {job["id"] for job in newest}

    first = client.get("/admin/api/jobs?limit=2&total=true", headers=admin_a).json()
    assert (first["pagination"]["total"], first["pagination"]["totalExact"]) == (5, True)
    # A cursor is bound to its tenant, filter and sort.
    cursor = first["pagination"]["cursor"]
    for elsewhere, headers in [
        ("/admin/api/jobs", b.admin(client)),
        ("/admin/api/jobs?state=dead", admin_a),
        ("/admin/api/jobs?sort=attempts", admin_a),
    ]:
        answer = client.get(
            f"{elsewhere}{'&' if '?' in elsewhere else '?'}cursor={cursor}", headers=headers
        )
        assert code(answer, 400) == "invalid_cursor", elsewhere
    assert code(client.get("/admin/api/jobs?sort=payload", headers=admin_a), 400) == (
        "unsupported_sort"
    )
    depth = data(client.get("/admin/api/jobs/depth", headers=admin_a))
    assert depth["enabled"] is True
    assert depth["depth"]["scheduled"] >= 7


def test_the_alert_log_pages_newest_first(node: Node) -> None:
    client = node.client

    async def raise_alerts() -> None:
        for n in range(5):
            await node.observability.send_alert("warning", f"alert {n}")

    client.portal.call(raise_alerts)
    admin = node.a.admin(client)
    newest = _walk(client, "/admin/api/alerts", admin)
    assert [alert["summary"] for alert in newest] == [f"alert {n}" for n in range(4, -1, -1)]
    positions = [alert["position"] for alert in newest]
    assert positions == sorted(positions, reverse=True)
    oldest = _walk(client, "/admin/api/alerts?order=asc", admin)
    assert oldest == newest[::-1]
    counted = client.get("/admin/api/alerts?total=true&limit=1", headers=admin).json()
    assert counted["pagination"]["total"] == 5
    assert code(client.get("/admin/api/alerts?sort=rule", headers=admin), 400) == (
        "unsupported_sort"
    )
    assert data(client.get("/admin/api/alerts/firing", headers=admin)) == []
