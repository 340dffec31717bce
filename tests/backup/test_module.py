"""``BackupModule`` in a served node: it ships while the node runs, its jobs run on the
durable queue's schedule, and ``/admin`` shows the last backup and the last drill."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.backup import DirectoryTarget, ShipperOptions, load_manifest
from headwater.backup._module import STATUS_ROUTE, BackupModule
from headwater.backup._schedule import (
    BASE_JOB,
    DRILL_JOB,
    RETENTION_JOB,
    BackupSchedule,
    declare_schedule,
)
from headwater.eventstore import NewEvent
from headwater.http._security import SecurityModule
from headwater.jobs import JobsModule
from headwater.runtime import Runtime
from tests.backup._ledger import PROJECTIONS
from tests.security.support import app_settings, create_tenant, root_headers, security_config


def test_the_schedule_registers_three_jobs_on_every() -> None:
    jobs = JobsModule()

    async def handler(job: Any) -> None: ...

    schedule = BackupSchedule(drill_every=timedelta(hours=12), base_every=None)
    declare_schedule(jobs, schedule, dict.fromkeys((DRILL_JOB, BASE_JOB, RETENTION_JOB), handler))
    assert set(jobs.registry.names) >= {DRILL_JOB, BASE_JOB, RETENTION_JOB}
    assert {(p.name, p.every) for p in jobs.periodic} == {
        (DRILL_JOB, timedelta(hours=12)),
        (RETENTION_JOB, timedelta(hours=6)),
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, BackupModule]]:
    settings = app_settings(f"sqlite:///{tmp_path / 'node.db'}", tmp_path)
    backup = BackupModule(
        DirectoryTarget(tmp_path / "backups"),
        projections=lambda: PROJECTIONS,
        options=ShipperOptions(interval=0.05),
        schedule=BackupSchedule(drill_every=None, base_every=None, retention_every=None),
    )
    app = create_app(settings, plugins=[SecurityModule(security_config())], apps=[backup])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, backup


def test_admin_shows_the_last_backup_and_drill_to_platform_admins_only(
    served: tuple[TestClient, BackupModule],
) -> None:
    client, backup = served
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    root = root_headers(client)
    tenant = create_tenant(client, root, "Alpha")
    assert client.get(STATUS_ROUTE).status_code == 401
    assert client.get(STATUS_ROUTE, headers=tenant.admin(client)).status_code == 403

    async def write_and_drill() -> int:
        result = await runtime.store.append(
            "acct-1", NewEvent("deposit", {"amount": 5, "note": "x"})
        )
        assert backup.shipper is not None
        await backup.shipper.wait_shipped(result.last_position)
        queue = runtime.require_jobs()
        await queue.enqueue(DRILL_JOB)
        return result.last_position

    position = client.portal.call(write_and_drill)  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while True:
        rows = client.get(STATUS_ROUTE, headers=root).json()["data"]
        if rows[1]["status"] != "none yet" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    backup_row, drill_row = rows
    assert backup_row["item"] == "last backup"
    assert backup_row["position"] >= position
    assert drill_row["status"] == "passed", drill_row
    assert "recovery" in drill_row["figures"]
    overview = client.get("/admin/api/overview", headers=root).json()["data"]
    assert any(panel["source"] == STATUS_ROUTE for panel in overview["panels"])
    target = client.portal.call(load_manifest, backup.target)  # type: ignore[union-attr]
    assert target.last_position >= position
