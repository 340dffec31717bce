"""Writes restored events into an empty store, verbatim: same positions, ids and times.

``EventStore.append`` cannot do this: it numbers positions and stamps
``recorded_at`` itself, and a point-in-time restore must give back exactly what was
recorded. So the loader inserts rows through the store's public ``transaction()``,
in the event log's own table layout (``hw_events``; on PostgreSQL also the one-row
``hw_head`` that appends number from). That layout is the store's migration
``0001_initial`` on both backends; a change there must be mirrored here, and the
restore tests (which compare every field after a round trip) would fail until it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from headwater.backup.errors import RestoreRefused
from headwater.backup.segment import to_micros
from headwater.eventstore import codec
from headwater.eventstore.protocol import EventStore
from headwater.eventstore.records import RecordedEvent

_COLUMNS: Final = "position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at"
_INSERT_SQLITE: Final = f"INSERT INTO hw_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_POSTGRES: Final = (
    f"INSERT INTO hw_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?)"
)


async def require_empty(store: EventStore) -> None:
    head = await store.head_position()
    if head:
        raise RestoreRefused(
            f"the destination store is not empty (its log ends at position {head}); "
            "restore into an empty database"
        )


def _sqlite_row(event: RecordedEvent) -> tuple[Any, ...]:
    return (
        event.position,
        str(event.id),
        event.stream_id,
        event.version,
        event.type,
        codec.dumps(event.data),
        codec.dumps_metadata(event.metadata),
        event.tenant_id,
        to_micros(event.recorded_at),
    )


def _postgres_row(event: RecordedEvent) -> tuple[Any, ...]:
    return (
        event.position,
        event.id,
        event.stream_id,
        event.version,
        event.type,
        codec.dumps(event.data),
        codec.dumps_metadata(event.metadata),
        event.tenant_id,
        event.recorded_at,
    )


async def load_events(store: EventStore, events: Sequence[RecordedEvent]) -> None:
    """Insert one batch of consecutive events after the store's head, in one transaction.

    The caller loads batches in position order into an empty store; the head row
    moves with each batch in the same transaction, so a restore that stops half-way
    leaves a store that is a consistent prefix of the log (and refuses a second
    restore into it, since it is no longer empty).
    """
    if not events:
        return
    async with store.transaction() as tx:
        if store.dialect == "postgresql":
            await tx.executemany(_INSERT_POSTGRES, [_postgres_row(e) for e in events])
            await tx.execute("UPDATE hw_head SET position = ?", (events[-1].position,))
        else:
            await tx.executemany(_INSERT_SQLITE, [_sqlite_row(e) for e in events])
