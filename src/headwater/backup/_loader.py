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

from headwater.backup._segment import Row, event_to_row
from headwater.errors import RestoreRefused
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent

_COLUMNS: Final = "position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at"
_INSERT_SQLITE: Final = f"INSERT INTO hw_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
# One statement per batch, each column an array: a row-by-row executemany was 3x
# slower (a bind and execute per row). The casts turn the SQLite encoding into
# PostgreSQL's types; microseconds are added as integers, so no time loses precision.
_INSERT_POSTGRES: Final = (
    f"INSERT INTO hw_events ({_COLUMNS}) "
    "SELECT p, i::uuid, s, v, t, d::jsonb, m::jsonb, tn, "
    "TIMESTAMPTZ 'epoch' + r * INTERVAL '1 microsecond' "
    "FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], "
    "?::text[], ?::text[], ?::bigint[]) AS u(p, i, s, v, t, d, m, tn, r)"
)


async def require_empty(store: EventStore) -> None:
    head = await store.head_position()
    if head:
        raise RestoreRefused(
            f"the destination store is not empty (its log ends at position {head}); "
            "restore into an empty database"
        )


def sqlite_row(row: Row) -> tuple[Any, ...]:
    """A segment row as SQLite stores it (ids as text, JSON as text, times in µs)."""
    return (
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        codec.dumps(row[5]),
        codec.dumps_metadata(row[6]),
        row[7],
        row[8],
    )


async def load_rows(store: EventStore, rows: Sequence[Row]) -> None:
    """Insert one batch of consecutive events after the store's head, in one transaction.

    The caller loads batches in position order into an empty store; the head row
    moves with each batch in the same transaction, so a restore that stops half-way
    leaves a store that is a consistent prefix of the log (and refuses a second
    restore into it, since it is no longer empty).
    """
    if not rows:
        return
    encoded = [sqlite_row(row) for row in rows]
    async with store.transaction() as tx:
        if store.dialect == "postgresql":
            columns = [list(column) for column in zip(*encoded, strict=True)]
            await tx.execute(_INSERT_POSTGRES, columns)
            await tx.execute("UPDATE hw_head SET position = ?", (rows[-1][0],))
        else:
            await tx.executemany(_INSERT_SQLITE, encoded)


async def load_events(store: EventStore, events: Sequence[RecordedEvent]) -> None:
    """:func:`load_rows` for events read from another store."""
    await load_rows(store, [event_to_row(e) for e in events])
