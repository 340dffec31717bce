"""Rebuild a projection from the log into fresh tables, then swap them in atomically.

While the rebuild runs, the old tables keep serving reads (and keep being updated by
the projection's runner or inline handler). The swap is one transaction that renames
the old tables out of the way, the fresh ones into their names, and sets the
checkpoint to the position the fresh tables reflect, so a reader sees either the old
tables or the new ones, never an empty or half-built table, and never an error.

Async projections: a runner that is still following the old tables finds the
checkpoint moved under it (its compare-and-set fails) and resumes from the new one.

Inline projections: appends keep writing the old tables through the inline handler
until the swap. The swap therefore first pauses appends (see ``_pause_appends``),
then checks that no handled event committed after the position the fresh tables
reached. If one did, it lets go, catches up, and tries again.

A declaration that changed (new columns, new handled types, a bumped version) is
migrated the same way: the fresh tables have the new shape.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from headwater.errors import RebuildInProgress, StoreUnavailable
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import EventStore, Transaction
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._applier import Applier, RetryPolicy, apply_backlog
from headwater.projections._checkpoints import park, register
from headwater.projections._columns import quote
from headwater.projections._projection import Projection
from headwater.projections._readmodels import table_exists

log = logging.getLogger(__name__)

#: ``progress(position reached, position to reach)``; the target grows while the
#: rebuild chases events appended during it.
ProgressCallback = Callable[[int, int], None]

#: A rebuild that has not reported for this long is taken to have died.
STALE_REBUILD_SECONDS: Final = 60.0
#: How long a rebuild keeps trying to swap while handled events keep arriving. Each
#: failed attempt catches up and then backs off, so a busy moment passes instead of
#: a fixed number of attempts running out within it.
SWAP_PATIENCE_SECONDS: Final = 120.0
SWAP_BACKOFF_SECONDS: Final = (0.005, 0.5)


@dataclass(frozen=True, slots=True)
class RebuildResult:
    name: str
    position: int
    events: int
    parked: int
    generation: int
    seconds: float


class SwapHook(Protocol):
    """Something to switch on atomically with the swap (an inline handler), or back off."""

    def attach(self) -> None: ...

    def detach(self) -> None: ...


class _Swapped(Exception):
    """Internal: an inline swap found new events and rolled back to catch up first."""


@dataclass(slots=True)
class _ShadowSink:
    """Commits into the fresh tables; remembers poison to publish at the swap."""

    store: EventStore
    name: str
    token: str
    position: int = 0
    parked: list[Statement] = field(default_factory=list)

    def _progress(self, position: int) -> Statement:
        # Fails the commit (see ``fence`` in the migration) once another rebuild has
        # taken over a claim that looked abandoned: only one rebuild writes at a time.
        return Statement(
            "UPDATE hw_projections SET fence = CASE WHEN rebuild_token = ? THEN 0 ELSE 1 END, "
            "rebuild_position = ?, rebuild_heartbeat_at = ? WHERE name = ?",
            (self.token, position, codec.now_micros(), self.name),
        )

    async def commit(self, statements: list[Statement], position: int) -> None:
        await self.store.commit([*statements, self._progress(position)])
        self.position = position

    async def park(self, event: RecordedEvent, error: str, attempts: int) -> None:
        await self.commit([], event.position)
        self.parked.append(park(self.name, event, error, attempts))

    async def probe(self) -> None:
        await self.store.commit([self._progress(self.position)])


async def rebuild(
    store: EventStore,
    projection: Projection,
    *,
    progress: ProgressCallback | None = None,
    batch_size: int = 1000,
    retry: RetryPolicy | None = None,
    on_swap: SwapHook | None = None,
) -> RebuildResult:
    """Rebuild ``projection`` from position 0 and swap the result in.

    ``on_swap.attach()`` runs inside the swap transaction, just before it commits.
    """
    started = time.monotonic()
    record = await register(store, projection)
    generation = record.generation + 1
    shadows = {t.name: f"{t.name}__g{generation}" for t in projection.tables}
    target = await store.head_position()
    token = uuid.uuid4().hex
    await _claim(store, projection.name, target, token)
    sink = _ShadowSink(store, projection.name, token)
    applier = Applier(projection, sink, retry or RetryPolicy(), targets=shadows)
    events = 0
    try:
        await _create_shadows(store, projection, shadows)
        if progress is not None:
            progress(0, target)
        events += await _chase(store, applier, batch_size, target, progress)
        deadline = time.monotonic() + SWAP_PATIENCE_SECONDS
        pause, longest = SWAP_BACKOFF_SECONDS
        while True:
            try:
                await _swap(store, projection, sink, generation, shadows, on_swap)
                break
            except _Swapped:
                if time.monotonic() > deadline:  # pragma: no cover - needs endless appends
                    raise StoreUnavailable(
                        f"could not swap {projection.name!r}: handled events kept arriving "
                        f"for {SWAP_PATIENCE_SECONDS:g}s; retry when appends are quieter"
                    ) from None
                events += await _chase(store, applier, batch_size, 0, progress)
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)
    except BaseException:
        await _abandon(store, projection.name, shadows, token)
        raise
    await _drop_retired(store, projection, generation)
    return RebuildResult(
        projection.name,
        sink.position,
        events,
        len(sink.parked),
        generation,
        time.monotonic() - started,
    )


async def _claim(store: EventStore, name: str, target: int, token: str) -> None:
    now = codec.now_micros()
    stale = now - int(STALE_REBUILD_SECONDS * 1_000_000)
    async with store.transaction() as tx:
        claimed = await tx.execute(
            "UPDATE hw_projections SET rebuild_token = ?, rebuild_heartbeat_at = ?, "
            "rebuild_position = 0, rebuild_target = ? WHERE name = ? "
            "AND (rebuild_heartbeat_at IS NULL OR rebuild_heartbeat_at < ?)",
            (token, now, target, name, stale),
        )
    if claimed != 1:
        raise RebuildInProgress(name)


async def _create_shadows(
    store: EventStore, projection: Projection, shadows: dict[str, str]
) -> None:
    async with store.transaction() as tx:
        for table in projection.tables:
            # Left over by a rebuild that died before its swap.
            await tx.execute(f"DROP TABLE IF EXISTS {quote(shadows[table.name])}")
            for sql in table.create_sql(store.dialect, shadows[table.name]):
                await tx.execute(sql)


async def _chase(
    store: EventStore,
    applier: Applier,
    batch_size: int,
    target: int,
    progress: ProgressCallback | None,
) -> int:
    """Apply handled events after the fresh tables' position, up to the log's end."""
    sink = applier.sink

    def report() -> None:
        if progress is not None:
            progress(sink.position, max(target, sink.position))

    count = await apply_backlog(store, applier, batch_size, report)
    if progress is not None:
        done = max(target, sink.position)
        progress(done, done)
    return count


async def _swap(
    store: EventStore,
    projection: Projection,
    sink: _ShadowSink,
    generation: int,
    shadows: dict[str, str],
    on_swap: SwapHook | None,
) -> None:
    attached = False
    try:
        async with store.transaction() as tx:
            # The projection row first, like every runner commit: on PostgreSQL its row
            # lock queues a concurrent runner batch behind us (or us behind it) before
            # either touches a table, so the two cannot deadlock.
            owned = await tx.execute(
                "UPDATE hw_projections SET position = ?, generation = ?, fingerprint = ?, "
                "rebuild_token = NULL, rebuild_heartbeat_at = NULL, rebuild_position = NULL, "
                "rebuild_target = NULL, updated_at = ? WHERE name = ? AND rebuild_token = ?",
                (
                    sink.position,
                    generation,
                    projection.fingerprint(),
                    codec.now_micros(),
                    projection.name,
                    sink.token,
                ),
            )
            if owned != 1:
                raise RebuildInProgress(projection.name)  # another rebuild took over
            if projection.mode == "inline":
                await _pause_appends(tx, store)
                if await _handled_after(tx, projection, sink.position):
                    raise _Swapped
            for table in projection.tables:
                if await table_exists(tx, store.dialect, table.name):
                    retired = quote(f"{table.name}__old{generation}")
                    await tx.execute(f"ALTER TABLE {quote(table.name)} RENAME TO {retired}")
                await tx.execute(
                    f"ALTER TABLE {quote(shadows[table.name])} RENAME TO {quote(table.name)}"
                )
            # Poison is per built table: the fresh tables come with their own list.
            await tx.execute(
                "DELETE FROM hw_poison_events WHERE projection = ?", (projection.name,)
            )
            for statement in sink.parked:
                await tx.execute(statement.sql, statement.params)
            if on_swap is not None:
                # Last thing before COMMIT, with appends still paused: every append
                # that waited for us runs with the hook's effect (an inline handler).
                on_swap.attach()
                attached = True
    except BaseException:
        if attached and on_swap is not None:
            on_swap.detach()
        raise


async def _pause_appends(tx: Transaction, store: EventStore) -> None:
    """Hold off every append until the swap commits.

    Inline handlers write the live tables from inside appends, and an append made by
    a process that has not attached the handler yet writes nothing there at all: only
    with all appends paused is "no handled event after our position" a fact.
    SQLite: this transaction holds the database's only write lock already.
    PostgreSQL: appends serialise on the ``hw_head`` row lock (see the event store's
    migration); holding it pauses them on every node for the few statements left.
    Bumping ``handlers_epoch`` (which takes that lock) sends back every append whose
    handlers' statements were prepared before this swap attached the new handler.
    """
    if store.dialect == "postgresql":
        await tx.execute("UPDATE hw_head SET handlers_epoch = handlers_epoch + 1")


async def _handled_after(tx: Transaction, projection: Projection, position: int) -> bool:
    # Read inside the swap transaction, with appends to these tables held off: every
    # committed event is visible to this statement (PostgreSQL appends commit in
    # position order under the store's append lock; SQLite has one writer).
    types = projection.event_types
    if not types:
        return False
    marks = ", ".join("?" * len(types))
    row = await tx.fetchone(
        f"SELECT 1 FROM hw_events WHERE position > ? AND type IN ({marks}) LIMIT 1",
        (position, *types),
    )
    return row is not None


async def _abandon(store: EventStore, name: str, shadows: dict[str, str], token: str) -> None:
    """Release the claim and drop the fresh tables of a failed rebuild (best effort),
    unless another rebuild has taken over: the tables are then its tables."""
    try:
        async with store.transaction() as tx:
            released = await tx.execute(
                "UPDATE hw_projections SET rebuild_token = NULL, rebuild_heartbeat_at = NULL, "
                "rebuild_position = NULL, rebuild_target = NULL "
                "WHERE name = ? AND rebuild_token = ?",
                (name, token),
            )
            if released == 1:
                for shadow in shadows.values():
                    await tx.execute(f"DROP TABLE IF EXISTS {quote(shadow)}")
    except Exception:  # the store may be what failed; a stale claim expires anyway
        log.warning("could not clean up after the failed rebuild of %s", name, exc_info=True)


async def _drop_retired(store: EventStore, projection: Projection, generation: int) -> None:
    """Drop the swapped-out tables, after the swap, so the swap itself stays short."""
    async with store.transaction() as tx:
        for table in projection.tables:
            await tx.execute(f"DROP TABLE IF EXISTS {quote(f'{table.name}__old{generation}')}")
