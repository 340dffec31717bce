"""``BackupModule``: shipping, scheduled jobs and the ``/admin`` panel, for ``headwater serve``.

The only module of the package that knows the web layer: one GET route and one
panel declaration. Add it to a deployment like an app, on ONE node (the manifest
has one writer)::

    # myproject/backup.py
    backup = BackupModule(open_target("s3://backups/prod"), projections=lambda: PROJECTIONS)

    headwater serve --app apps.qrevent:module --app myproject.backup:backup
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from fastapi import APIRouter

from headwater.admin._panels import Column, Panel
from headwater.backup._drill import BACKUP_STREAM, DRILL_EVENT
from headwater.backup._schedule import (
    BASE_JOB,
    DRILL_JOB,
    RETENTION_JOB,
    BackupJobs,
    BackupSchedule,
    declare_schedule,
)
from headwater.backup._shipper import Shipper, ShipperOptions
from headwater.backup._target import BackupTarget
from headwater.errors import StoreUnavailable
from headwater.http._deps import AUTH_ERRORS, PlatformAdmin
from headwater.http._responses import Envelope, ok
from headwater.identity._principal import Role
from headwater.jobs import Job, JobsModule
from headwater.jobs._registry import HandlerFn
from headwater.modules import Module
from headwater.observability._alerts import AlertSink, StreamAlertSink
from headwater.projections import Projection
from headwater.runtime import Runtime

STATUS_ROUTE = "/admin/api/backup"


def _when(micros: int | None) -> str | None:
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat()


class BackupModule(Module):
    name: ClassVar[str] = "backup"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        target: BackupTarget,
        *,
        projections: Callable[[], Sequence[Projection]] = tuple,
        options: ShipperOptions | None = None,
        schedule: BackupSchedule | None = None,
        scratch_url: str | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        self.target = target
        self.projections = projections
        self.options = options
        self.schedule = schedule
        self.scratch_url = scratch_url
        self.alert_sinks = tuple(alert_sinks)
        self.shipper: Shipper | None = None
        self.jobs: BackupJobs | None = None

    def declare_jobs(self, jobs: JobsModule) -> None:
        # Jobs are declared before ``start`` opens the shipper: each handler finds the
        # started BackupJobs when it runs.
        declare_schedule(
            jobs,
            self.schedule or BackupSchedule(),
            {name: self._deferred(name) for name in (DRILL_JOB, BASE_JOB, RETENTION_JOB)},
        )

    def _deferred(self, name: str) -> HandlerFn:
        async def run(job: Job) -> None:
            if self.jobs is None:
                raise StoreUnavailable("the backup module is not started on this node")
            await self.jobs.handlers()[name](job)

        return run

    async def start(self, runtime: Runtime) -> None:
        self.shipper = Shipper(runtime.store, self.target, self.options)
        await self.shipper.start()
        self.jobs = BackupJobs(
            self.shipper,
            self.projections,
            schedule=self.schedule,
            scratch_url=self.scratch_url,
            alert_sinks=(StreamAlertSink(runtime.store), *self.alert_sinks),
        )

    async def stop(self, runtime: Runtime) -> None:
        if self.shipper is not None:
            await self.shipper.stop()
        await self.target.close()
        self.shipper = self.jobs = None

    # --- /admin ------------------------------------------------------------------------

    def admin_panels(self) -> Sequence[Panel]:
        return (
            Panel(
                "backup",
                "Backups and recovery drills",
                "table",
                STATUS_ROUTE,
                columns=(
                    Column("item", "What"),
                    Column("status", "Status"),
                    Column("position", "Position"),
                    Column("at", "When"),
                    Column("figures", "Figures"),
                ),
                refresh_on=(DRILL_EVENT,),
                role=Role.PLATFORM_ADMIN,
            ),
        )

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["backup"], responses=AUTH_ERRORS)

        @router.get(STATUS_ROUTE)
        async def backup_status(principal: PlatformAdmin) -> Envelope[list[dict[str, Any]]]:
            """The last ship and the last drill, with their figures."""
            return ok(await self.status_rows())

        return (router,)

    async def status_rows(self) -> list[dict[str, Any]]:
        shipper = self.shipper
        if shipper is None:
            raise StoreUnavailable("the backup module is not started on this node")
        head = await shipper.store.head_position()
        status = shipper.status()
        manifest = shipper.manifest
        rows: list[dict[str, Any]] = [
            {
                "item": "last backup",
                "status": "failing" if status.last_error else "shipping",
                "position": status.shipped_position,
                "at": _when(manifest.last_us),
                "figures": f"{head - status.shipped_position} events behind the log, "
                f"{len(manifest.segments)} segments"
                + (f"; last error: {status.last_error}" if status.last_error else ""),
            }
        ]
        drills = [
            e
            async for e in shipper.store.read_stream(BACKUP_STREAM, backwards=True, limit=50)
            if e.type == DRILL_EVENT
        ]
        if drills:
            drill = drills[0].data
            rows.append(
                {
                    "item": "last drill",
                    "status": "passed" if drill.get("ok") else "FAILED",
                    "position": drill.get("position"),
                    "at": drill.get("started_at"),
                    "figures": f"recovery {drill.get('recovery_seconds', 0):.1f}s, "
                    f"data loss {drill.get('data_loss_events')} events / "
                    f"{drill.get('data_loss_seconds', 0):.2f}s"
                    + (f"; {'; '.join(drill.get('problems', []))}" if not drill.get("ok") else ""),
                }
            )
        else:
            rows.append(
                {
                    "item": "last drill",
                    "status": "none yet",
                    "position": None,
                    "at": None,
                    "figures": "",
                }
            )
        return rows
