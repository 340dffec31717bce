"""The ``hw_projections`` row of each projection: checkpoint, state, poison parking.

The checkpoint lives here rather than in the store's ``hw_checkpoints`` because it
must be compare-and-set inside the same transaction as the read-model rows (see
``migrations/*/0001_projections.sql`` for the ``fence`` column that makes that work
inside a plain statement batch).
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass
from typing import Any, Final, Literal

from headwater.errors import InvalidReadModel
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import EventStore, Transaction
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._projection import Projection
from headwater.projections._readmodels import table_exists
from headwater.projections._schema import migrate_projections

StoredState = Literal["running", "stopped", "failed"]

#: Longest error text stored; enough for a message and the innermost frames.
MAX_ERROR_LENGTH: Final = 4000

_COLUMNS: Final = (
    "name, mode, position, generation, fingerprint, state, last_error, last_error_at, "
    "heartbeat_at, rebuild_heartbeat_at, rebuild_position, rebuild_target, updated_at"
)


@dataclass(frozen=True, slots=True)
class ProjectionRecord:
    """One ``hw_projections`` row. Times are microseconds since the epoch, UTC."""

    name: str
    mode: str
    position: int
    generation: int
    fingerprint: str
    state: str
    last_error: str | None
    last_error_at: int | None
    heartbeat_at: int | None
    rebuild_heartbeat_at: int | None
    rebuild_position: int | None
    rebuild_target: int | None
    updated_at: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ProjectionRecord:
        return cls(*row)


def describe_error(exc: BaseException) -> str:
    """``Type: message`` plus the innermost frame, short enough to store and show."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno} in {last.name})"
    return text[:MAX_ERROR_LENGTH]


async def load_record(tx: Transaction, name: str) -> ProjectionRecord | None:
    row = await tx.fetchone(f"SELECT {_COLUMNS} FROM hw_projections WHERE name = ?", (name,))
    return None if row is None else ProjectionRecord.from_row(row)


async def load_all(store: EventStore) -> list[ProjectionRecord]:
    await migrate_projections(store)
    rows = await store.fetchall(f"SELECT {_COLUMNS} FROM hw_projections ORDER BY name")
    return [ProjectionRecord.from_row(row) for row in rows]


async def read_record(store: EventStore, name: str) -> ProjectionRecord | None:
    """The committed row, read on a reader connection (no write lock taken)."""
    row = await store.fetchone(f"SELECT {_COLUMNS} FROM hw_projections WHERE name = ?", (name,))
    return None if row is None else ProjectionRecord.from_row(row)


def _registration_lock(name: str) -> int:
    digest = hashlib.sha256(f"headwater.projection.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def register(store: EventStore, projection: Projection) -> ProjectionRecord:
    """Make sure the projection has its row and its tables; return the row.

    On first sight the tables are created and the row inserted in one transaction,
    so a crash never leaves tables without a checkpoint (or the reverse). A row whose
    fingerprint differs from the projection's means the declaration changed: the
    caller rebuilds (the rebuild is the read model's migration).
    """
    await migrate_projections(store)
    async with store.transaction() as tx:
        if store.dialect == "postgresql":
            # Two nodes starting together must not both create the tables.
            await tx.execute(
                "SELECT pg_advisory_xact_lock(?)", (_registration_lock(projection.name),)
            )
        record = await load_record(tx, projection.name)
        if record is not None:
            if record.mode != projection.mode:
                raise InvalidReadModel(
                    f"projection {projection.name!r} is stored as {record.mode!r}; it cannot "
                    f"become {projection.mode!r} without a new name"
                )
            return record
        for table in projection.tables:
            if await table_exists(tx, store.dialect, table.name):
                raise InvalidReadModel(
                    f"table {table.name!r} exists but belongs to no projection: "
                    "drop it or pick another table name"
                )
            for sql in table.create_sql(store.dialect):
                await tx.execute(sql)
        now = codec.now_micros()
        await tx.execute(
            "INSERT INTO hw_projections (name, mode, position, fingerprint, state, updated_at) "
            "VALUES (?, ?, 0, ?, 'stopped', ?)",
            (projection.name, projection.mode, projection.fingerprint(), now),
        )
        created = await load_record(tx, projection.name)
    assert created is not None
    return created


def advance(name: str, expected: int, position: int) -> Statement:
    """Move the checkpoint from ``expected`` to ``position``, or fail the transaction.

    It goes first in every runner commit: on PostgreSQL its row lock then orders
    competing writers (another runner instance, a rebuild's swap) before either has
    touched a read-model row, so they queue instead of deadlocking.
    """
    now = codec.now_micros()
    return Statement(
        "UPDATE hw_projections SET fence = CASE WHEN position = ? THEN 0 ELSE 1 END, "
        "position = ?, state = 'running', heartbeat_at = ?, updated_at = ? WHERE name = ?",
        (expected, position, now, now, name),
    )


def park(name: str, event: RecordedEvent, error: str, attempts: int) -> Statement:
    """Record a poison event; a rebuild that meets it again overwrites the row."""
    return Statement(
        "INSERT INTO hw_poison_events (projection, position, event_id, stream_id, event_type, "
        "error, attempts, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (projection, position) DO UPDATE SET error = excluded.error, "
        "attempts = excluded.attempts, parked_at = excluded.parked_at",
        (
            name,
            event.position,
            str(event.id),
            event.stream_id,
            event.type,
            error[:MAX_ERROR_LENGTH],
            attempts,
            codec.now_micros(),
        ),
    )


def error_note(name: str, error: str) -> Statement:
    """Remember the last error without changing the state (a parked event, say)."""
    return Statement(
        "UPDATE hw_projections SET last_error = ?, last_error_at = ?, updated_at = ? "
        "WHERE name = ?",
        (error[:MAX_ERROR_LENGTH], codec.now_micros(), codec.now_micros(), name),
    )


async def set_state(
    store: EventStore, name: str, state: StoredState, *, error: str | None = None
) -> None:
    now = codec.now_micros()
    statements = [
        Statement(
            "UPDATE hw_projections SET state = ?, heartbeat_at = ?, updated_at = ? WHERE name = ?",
            (state, now if state != "stopped" else None, now, name),
        )
    ]
    if error is not None:
        statements.append(error_note(name, error))
    await store.commit(statements)


async def heartbeat(store: EventStore, name: str) -> None:
    now = codec.now_micros()
    await store.commit(
        [
            Statement(
                "UPDATE hw_projections SET heartbeat_at = ?, updated_at = ? WHERE name = ?",
                (now, now, name),
            )
        ]
    )


async def poison_events(store: EventStore, name: str) -> list[dict[str, Any]]:
    """The parked events of a projection, oldest first."""
    rows = await store.fetchall(
        "SELECT position, event_id, stream_id, event_type, error, attempts, parked_at "
        "FROM hw_poison_events WHERE projection = ? ORDER BY position",
        (name,),
    )
    keys = ("position", "event_id", "stream_id", "event_type", "error", "attempts", "parked_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
