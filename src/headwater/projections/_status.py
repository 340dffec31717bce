"""What each projection is doing: position, lag (events and seconds), state, errors, poison.

Read from the database, so it shows runners in every process and node, and
projections that stopped or crashed (their heartbeat ages out).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import EventStore
from headwater.projections._checkpoints import ProjectionRecord, load_all
from headwater.projections._projection import Projection
from headwater.projections.rebuild import STALE_REBUILD_SECONDS

#: A runner whose heartbeat is older than this is reported stopped (it died).
STALE_AFTER_SECONDS: Final = 15.0


class ProjectionState(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    REBUILDING = "rebuilding"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    mode: str
    state: ProjectionState
    #: The checkpoint: the read model reflects every handled event up to here.
    position: int
    #: The newest position in the log.
    head: int
    #: Handled events after the checkpoint (all events, when the handled types are
    #: unknown because the projection was not passed in).
    lag_events: int
    #: Age of the oldest event not yet in the read model; 0 when caught up.
    lag_seconds: float
    last_error: str | None
    last_error_at: datetime | None
    poison_count: int
    #: (position reached, position to reach) while rebuilding.
    rebuild_progress: tuple[int, int] | None
    #: The declaration changed since the tables were built (known projections only).
    needs_rebuild: bool


def _state(record: ProjectionRecord, now: int) -> ProjectionState:
    if record.rebuild_heartbeat_at is not None and (
        now - record.rebuild_heartbeat_at < STALE_REBUILD_SECONDS * 1_000_000
    ):
        return ProjectionState.REBUILDING
    if record.mode == "inline":
        # Runs inside appends: there is no process of its own that could be stopped.
        return ProjectionState.RUNNING
    alive = record.heartbeat_at is not None and (
        now - record.heartbeat_at < STALE_AFTER_SECONDS * 1_000_000
    )
    if record.state == "failed" and alive:
        return ProjectionState.FAILED
    if record.state == "running" and alive:
        return ProjectionState.RUNNING
    return ProjectionState.STOPPED


async def projection_status(
    store: EventStore, projections: Sequence[Projection] = ()
) -> list[ProjectionStatus]:
    """Status of every registered projection, by name. Pass the app's projections for
    exact lag (counted over the types each one handles) and ``needs_rebuild``."""
    known = {p.name: p for p in projections}
    records = await load_all(store)
    head = await store.head_position()
    now = codec.now_micros()
    poison = dict(
        await store.fetchall(
            "SELECT projection, COUNT(*) FROM hw_poison_events GROUP BY projection"
        )
    )
    out = []
    for record in records:
        projection = known.get(record.name)
        if record.mode == "inline":
            # Inline rows are written with their events: never behind.
            lag_events, lag_seconds, position = 0, 0.0, head
        else:
            position = record.position
            lag_events, lag_seconds = await _lag(store, projection, position, head, now)
        rebuilding = record.rebuild_heartbeat_at is not None
        out.append(
            ProjectionStatus(
                name=record.name,
                mode=record.mode,
                state=_state(record, now),
                position=position,
                head=head,
                lag_events=lag_events,
                lag_seconds=lag_seconds,
                last_error=record.last_error,
                last_error_at=None
                if record.last_error_at is None
                else codec.micros_to_datetime(record.last_error_at),
                poison_count=int(poison.get(record.name, 0)),
                rebuild_progress=(record.rebuild_position or 0, record.rebuild_target or 0)
                if rebuilding
                else None,
                needs_rebuild=projection is not None
                and projection.fingerprint() != record.fingerprint,
            )
        )
    return out


async def _lag(
    store: EventStore, projection: Projection | None, position: int, head: int, now: int
) -> tuple[int, float]:
    if position >= head:
        return 0, 0.0
    types = None if projection is None else projection.event_types
    if types == ():
        return 0, 0.0
    oldest = None
    async for event in store.read_all(after=position, types=types, limit=1):
        oldest = event
    if oldest is None:
        return 0, 0.0
    if types is None:
        count = head - position
    else:
        # Counted on the log's (type, position) index. hw_events(position, type) is
        # the same on both backends; the store has no counting API yet.
        marks = ", ".join("?" * len(types))
        row = await store.fetchone(
            f"SELECT COUNT(*) FROM hw_events WHERE position > ? AND type IN ({marks})",
            (position, *types),
        )
        count = 0 if row is None else int(row[0])
    age = (now - int(oldest.recorded_at.timestamp() * 1_000_000)) / 1_000_000
    return count, max(0.0, age)
