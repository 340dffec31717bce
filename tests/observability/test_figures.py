"""The node's figures in ``/metrics`` and the alert samples: the machine's CPU and
memory, active users, the database's latency, and (PostgreSQL) its pool, exhausted
for real by holding every connection."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.errors import StoreUnavailable
from headwater.observability import Alert, AlertRule, ObservabilityModule
from headwater.observability._activity import ActiveUsers
from tests.http.support import make_settings
from tests.observability.support import RoutesModule, make_app, portal, quiet_module


def figure(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_metrics_show_the_machine_the_database_and_active_users(tmp_path: Path) -> None:
    module = quiet_module()
    app = make_app(tmp_path, module)
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/items/1", headers={"authorization": "Bearer alice"})
        client.get("/items/2")  # anonymous: not a user
        text = client.get("/metrics").text
        portal(client).call(module.evaluate_now)
        sample = module.last_sample
    assert figure(text, "headwater_active_users") == 1.0
    cpu = figure(text, "headwater_system_cpu_percent")
    memory = figure(text, "headwater_system_memory_percent")
    latency = figure(text, "headwater_db_latency_seconds")
    assert cpu is not None
    assert 0.0 <= cpu <= 100.0
    assert memory is not None
    assert 0.0 < memory < 100.0
    assert latency is not None
    assert 0.0 < latency < 2.0
    # SQLite has no pool to exhaust: no pool figures rather than made-up zeros.
    assert figure(text, "headwater_db_pool_in_use") is None
    assert sample["active_users"] == 1.0
    assert "system_memory_percent" in sample
    assert "db_latency_seconds" in sample


def test_active_users_forget_a_user_after_the_window() -> None:
    now = [0.0]
    users = ActiveUsers(window=300, clock=lambda: now[0])
    users.saw("alice")
    now[0] = 200
    users.saw("bob")
    users.saw("alice")
    assert users.count() == 2
    now[0] = 501  # both last seen at 200: past the window
    assert users.count() == 0
    users.saw("carol")
    assert users.count() == 1


def test_a_pool_exhaustion_shows_in_the_metrics_and_fires_its_alert(
    tmp_path: Path, postgres_url: str
) -> None:
    rule = AlertRule("db_pool_exhausted", "db_pool_waiting", 0.5, 0.25, for_samples=2)
    module = quiet_module(rules=[rule])
    module.collector.database.probe_timeout = 0.3
    # The node's own reads (head, projections, jobs) give up soon while the pool is held.
    settings = make_settings(
        tmp_path, database_url=postgres_url, auto_migrate=True, database_pool_timeout=0.5
    )
    app = create_app(settings, plugins=[module], apps=[RoutesModule()])
    with TestClient(app) as client:
        held, fired, text, resolved = portal(client).call(_exhaust, module)
        after = client.get("/metrics").text
    assert held >= 1
    assert [a.status for a in fired] == ["firing"]
    assert figure(text, "headwater_db_pool_in_use") == figure(text, "headwater_db_pool_max")
    waiting = figure(text, "headwater_db_pool_waiting")
    assert waiting is not None
    assert waiting >= 1
    # The probe could not get a connection: the bound itself, not a missing figure.
    assert figure(text, "headwater_db_latency_seconds") == pytest.approx(0.3)
    assert [a.status for a in resolved] == ["resolved"]
    assert figure(after, "headwater_db_pool_waiting") == 0.0
    acquire = figure(after, "headwater_db_pool_acquire_seconds")
    assert acquire is not None
    assert acquire >= 0.0


async def _exhaust(
    module: ObservabilityModule,
) -> tuple[int, list[Alert], str, list[Alert]]:
    runtime = module.runtime
    assert runtime is not None
    store = runtime.store
    size = int(store.link_stats()["pool_max"])  # type: ignore[attr-defined]
    release, all_held = asyncio.Event(), asyncio.Event()
    holding = 0

    async def hold() -> None:
        nonlocal holding
        async with store.transaction() as tx:
            await tx.fetchall("SELECT 1")
            holding += 1
            if holding == size:
                all_held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(size)]
    await all_held.wait()

    async def wait_in_line() -> None:
        # One more caller, queued for a connection, again whenever its wait times out.
        while not release.is_set():
            with contextlib.suppress(StoreUnavailable):
                await store.fetchall("SELECT 1")

    waiter = asyncio.create_task(wait_in_line())
    await asyncio.sleep(0.1)
    fired = [*await module.evaluate_now(), *await module.evaluate_now()]
    text = (await module.metrics.render()).decode()
    release.set()
    await asyncio.gather(*holders, waiter)
    resolved = await module.evaluate_now()
    return holding, fired, text, resolved
