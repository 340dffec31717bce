"""The disaster-recovery drill: prove, on a schedule, that the latest backup restores.

A drill verifies the whole target, restores the latest backup into a scratch
database (a temporary SQLite file unless ``scratch_url`` names another empty one),
rebuilds every projection there, and compares each read model's checksum with the
live node's at the same position. It measures the recovery time (restore plus
rebuilds) and the data loss a disaster at that moment would have caused (how far
the live log was ahead of the backup, in events and seconds), records the result as
an event on the live log, writes it to the target (so a dry run can estimate from
it), and raises an alert when anything failed.

"The live node's read model at the backup's position": when the live log has not
moved past that position, the live tables themselves are read, inside one
transaction with the head so both are one snapshot. When it has moved on, the live
tables are ahead of the backup and cannot be compared; the live log is then replayed
up to that position into a second scratch store and that is compared instead (the
result says which was used).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from headwater.backup._checksum import ReadModelChecksum, projection_checksum
from headwater.backup._loader import load_events
from headwater.backup._manifest import DRILL_KEY
from headwater.backup._segment import to_micros
from headwater.backup._target import BackupTarget
from headwater.backup._verify import verify_target
from headwater.backup.restore import plan_restore, restore
from headwater.errors import BackupError, HeadwaterError
from headwater.eventstore import EventStore, create_event_store
from headwater.eventstore._records import NewEvent
from headwater.observability._alerts import Alert, AlertSink
from headwater.projections import Projection, migrate_projections, rebuild
from headwater.projections._readmodels import table_exists

log = logging.getLogger(__name__)

BACKUP_STREAM: Final = "hw.backup"
DRILL_EVENT: Final = "backup.drill_completed"
ALERT_RULE: Final = "backup_drill_failed"


@dataclass(frozen=True, slots=True)
class ProjectionComparison:
    projection: str
    restored: str
    live: str
    rows: int
    #: "live tables" or "live log replay" (see the module docstring).
    method: Literal["live tables", "live log replay"]

    @property
    def equal(self) -> bool:
        return self.restored == self.live


@dataclass(frozen=True, slots=True)
class DrillResult:
    ok: bool
    started_at: str
    position: int
    events: int
    segments: int
    restore_seconds: float
    rebuild_seconds: float
    live_head: int
    data_loss_events: int
    data_loss_seconds: float
    comparisons: tuple[ProjectionComparison, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def recovery_seconds(self) -> float:
        return self.restore_seconds + self.rebuild_seconds

    @property
    def restore_events_per_second(self) -> float:
        return self.events / self.recovery_seconds if self.recovery_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["comparisons"] = [{**asdict(c), "equal": c.equal} for c in self.comparisons]
        data["recovery_seconds"] = self.recovery_seconds
        data["restore_events_per_second"] = self.restore_events_per_second
        return data


@contextlib.asynccontextmanager
async def scratch_store(url: str | None) -> AsyncIterator[EventStore]:
    """An empty store at ``url``, or in a temporary SQLite file removed afterwards."""
    if url is not None:
        store = await create_event_store(url, migrate=True)
        try:
            yield store
        finally:
            await store.close()
        return
    with tempfile.TemporaryDirectory(prefix="headwater-drill-") as directory:
        store = await create_event_store(
            f"sqlite:///{Path(directory) / 'scratch.db'}", migrate=True
        )
        try:
            yield store
        finally:
            await store.close()


class Drill:
    """Runs drills of ``target`` against the live ``store``; see the module docstring."""

    def __init__(
        self,
        store: EventStore,
        target: BackupTarget,
        projections: Sequence[Projection] = (),
        *,
        scratch_url: str | None = None,
        alert_sinks: Sequence[AlertSink] = (),
        record: bool = True,
    ) -> None:
        self.store = store
        self.target = target
        self.projections = tuple(projections)
        self.scratch_url = scratch_url
        self.alert_sinks = tuple(alert_sinks)
        self.record = record

    async def run(self) -> DrillResult:
        started_at = datetime.now(UTC).isoformat()
        live_head = await self.store.head_position()
        live_head_us = await self._time_of(live_head)
        problems: list[str] = []
        report = await verify_target(self.target)
        problems.extend(p.describe() for p in report.problems)
        position = events = segments = 0
        restore_seconds = rebuild_seconds = 0.0
        comparisons: list[ProjectionComparison] = []
        loss_events, loss_seconds = live_head, 0.0
        try:
            plan = await plan_restore(self.target)
            position, events, segments = plan.to_position, plan.events, plan.segments
            loss_events = max(0, live_head - position)
            if plan.to_time_us is not None and live_head_us is not None and loss_events:
                loss_seconds = max(0.0, (live_head_us - plan.to_time_us) / 1_000_000)
            async with scratch_store(self.scratch_url) as scratch:
                result = await restore(self.target, scratch, self.projections, plan=plan)
                restore_seconds, rebuild_seconds = result.load_seconds, result.rebuild_seconds
                restored = {
                    p.name: await projection_checksum(scratch.fetchall, p) for p in self.projections
                }
            comparisons = await self._compare(position, restored)
            problems.extend(
                f"read model {c.projection} differs from the live node's ({c.method})"
                for c in comparisons
                if not c.equal
            )
        except HeadwaterError as exc:
            problems.append(f"restore failed: {exc.message}")
        result_ = DrillResult(
            ok=not problems,
            started_at=started_at,
            position=position,
            events=events,
            segments=segments,
            restore_seconds=restore_seconds,
            rebuild_seconds=rebuild_seconds,
            live_head=live_head,
            data_loss_events=loss_events,
            data_loss_seconds=loss_seconds,
            comparisons=tuple(comparisons),
            problems=tuple(problems),
        )
        await self._publish(result_)
        return result_

    async def _time_of(self, position: int) -> int | None:
        if position == 0:
            return None
        events = [e async for e in self.store.read_all(after=position - 1, limit=1)]
        return to_micros(events[0].recorded_at) if events else None

    async def _compare(
        self, position: int, restored: dict[str, ReadModelChecksum]
    ) -> list[ProjectionComparison]:
        live = await self._live_tables(position)
        if live is None:
            live = await self._replay_live(position)
            method: Literal["live tables", "live log replay"] = "live log replay"
        else:
            method = "live tables"
        return [
            ProjectionComparison(
                p.name, restored[p.name].sha256, live[p.name].sha256, restored[p.name].rows, method
            )
            for p in self.projections
        ]

    async def _live_tables(self, position: int) -> dict[str, ReadModelChecksum] | None:
        """Checksums of the live tables if, in one snapshot, they are at ``position``."""
        async with self.store.transaction() as tx:
            if tx.dialect == "postgresql":
                # One snapshot for the head, the checkpoints and every table read below
                # (READ COMMITTED would give each statement its own). SQLite's
                # transaction holds the write lock, which is one snapshot already.
                await tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = await tx.fetchone("SELECT MAX(position) FROM hw_events")
            if row is None or (row[0] or 0) != position:
                return None
            sums: dict[str, ReadModelChecksum] = {}
            for projection in self.projections:
                # A node that never ran a projection has no tables for it to compare.
                names = ["hw_projections", *(t.name for t in projection.tables)]
                for name in names:
                    if not await table_exists(tx, tx.dialect, name):
                        return None
                if projection.mode == "async":
                    checkpoint = await tx.fetchone(
                        "SELECT position FROM hw_projections WHERE name = ?", (projection.name,)
                    )
                    if checkpoint is None or checkpoint[0] != position:
                        return None
                sums[projection.name] = await projection_checksum(tx.fetchall, projection)
            return sums

    async def _replay_live(self, position: int) -> dict[str, ReadModelChecksum]:
        async with scratch_store(None) as replica:
            after = 0
            while after < position:
                limit = min(5000, position - after)
                batch = [e async for e in self.store.read_all(after=after, limit=limit)]
                if not batch:
                    raise BackupError(f"the live log ends before position {position}")
                await load_events(replica, batch)
                after = batch[-1].position
            await migrate_projections(replica)
            for projection in self.projections:
                await rebuild(replica, projection)
            return {
                p.name: await projection_checksum(replica.fetchall, p) for p in self.projections
            }

    async def _publish(self, result: DrillResult) -> None:
        data = result.to_dict()
        try:
            await self.target.put(DRILL_KEY, orjson.dumps(data))
        except HeadwaterError as exc:
            log.warning("backup drill: could not write %s (%s)", DRILL_KEY, exc.message)
        if self.record:
            await self.store.append(BACKUP_STREAM, NewEvent(DRILL_EVENT, data))
        if not result.ok:
            alert = Alert(
                rule=ALERT_RULE,
                status="firing",
                metric="backup_drill_problems",
                value=float(len(result.problems)),
                threshold=0.0,
                severity="critical",
                summary="; ".join(result.problems)[:1000],
                at=datetime.now(UTC).isoformat(),
            )
            for sink in self.alert_sinks:
                try:
                    await sink.emit(alert)
                except Exception as exc:
                    log.warning("backup drill: an alert sink failed (%s)", exc)
