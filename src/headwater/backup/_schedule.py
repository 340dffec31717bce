"""Backups run by the durable job queue: drills, base backups and retention on ``every``.

The queue gives what a cron line would not: one run per period across all nodes,
retries with backoff, and a dead-letter state the dashboard shows. Every handler is
idempotent, as the queue requires: a drill or a base taken twice is merely redundant,
and retention applied twice deletes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from headwater.backup._base import create_base
from headwater.backup._drill import Drill, DrillResult
from headwater.backup._retention import RetentionRules, apply_retention
from headwater.backup._shipper import Shipper
from headwater.jobs import Job, JobsModule
from headwater.jobs._registry import HandlerFn
from headwater.observability._alerts import AlertSink
from headwater.projections import Projection

log = logging.getLogger(__name__)

DRILL_JOB: Final = "backup.drill"
BASE_JOB: Final = "backup.base"
RETENTION_JOB: Final = "backup.retention"


@dataclass(frozen=True, slots=True)
class BackupSchedule:
    """How often each job runs (None: never)."""

    drill_every: timedelta | None = timedelta(days=1)
    base_every: timedelta | None = timedelta(days=1)
    retention_every: timedelta | None = timedelta(hours=6)
    retention: RetentionRules = field(default_factory=RetentionRules)


def declare_schedule(
    jobs: JobsModule, schedule: BackupSchedule, handlers: Mapping[str, HandlerFn]
) -> None:
    """Register the three handlers and their ``every`` schedules with the node's queue."""
    for name, every in (
        (DRILL_JOB, schedule.drill_every),
        (BASE_JOB, schedule.base_every),
        (RETENTION_JOB, schedule.retention_every),
    ):
        # A drill of a large log takes minutes: far above the default job timeout.
        jobs.handler(name, timeout=3600.0)(handlers[name])
        if every is not None:
            jobs.every(name, every)


class BackupJobs:
    """The handlers; ``shipper`` is the running node's (it owns the log's manifest)."""

    def __init__(
        self,
        shipper: Shipper,
        projections: Callable[[], Sequence[Projection]],
        *,
        schedule: BackupSchedule | None = None,
        scratch_url: str | None = None,
        alert_sinks: Sequence[AlertSink] = (),
    ) -> None:
        self.shipper = shipper
        self.projections = projections
        self.schedule = schedule or BackupSchedule()
        self.scratch_url = scratch_url
        self.alert_sinks = tuple(alert_sinks)
        self.last_drill: DrillResult | None = None

    def handlers(self) -> dict[str, HandlerFn]:
        return {DRILL_JOB: self.drill, BASE_JOB: self.base, RETENTION_JOB: self.retention}

    async def drill(self, job: Job) -> None:
        drill = Drill(
            self.shipper.store,
            self.shipper.target,
            self.projections(),
            scratch_url=self.scratch_url,
            alert_sinks=self.alert_sinks,
        )
        self.last_drill = await drill.run()
        # A failed drill is reported (event and alert), not retried: running it
        # again at once would only repeat the finding.
        log.info("backup drill: ok=%s position=%s", self.last_drill.ok, self.last_drill.position)

    async def base(self, job: Job) -> None:
        await self.shipper.ship_once()
        info = await create_base(self.shipper.store, self.shipper.target)
        log.info("backup: base %s at position %s", info.id, info.position)

    async def retention(self, job: Job) -> None:
        result = await apply_retention(self.shipper, self.schedule.retention)
        log.info(
            "backup retention: kept %d bases, dropped %d bases and %d log segments",
            len(result.plan.keep),
            len(result.plan.drop),
            len(result.dropped_segments),
        )
