"""The group-commit writer of a PostgreSQL event store.

Every append of a store goes into one queue. One task takes whatever has queued up
while the previous commit was in flight and hands it to ``hw_append_batch`` (see
``migrations/postgresql/0001_initial.sql``) as one JSON document: one statement, one
round trip, one commit and one WAL flush for the whole group, while each append
still succeeds or fails on its own.

Inline handlers need to run SQL between an append's insert and the commit, so with
handlers each append runs under its own savepoint instead (the slow path). The
slow path is also the fallback when the one-statement batch fails as a whole, for
example because one append's data is something PostgreSQL refuses to store: the
batch is redone append by append so that only the culprit fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import orjson
import psycopg
from psycopg.rows import TupleRow

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InlineHandlerFailed,
    InvalidEventData,
    StoreUnavailable,
    TenantMismatch,
)
from headwater.eventstore import codec
from headwater.eventstore.protocol import InlineHandler
from headwater.eventstore.records import (
    ANY,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
)
from headwater.eventstore.sql import Statement, qmark_to_pyformat

log = logging.getLogger(__name__)

Connection: TypeAlias = psycopg.AsyncConnection[TupleRow]

#: Bounds on one group commit, so one transaction (and the hw_head lock it holds)
#: stays short however deep the queue gets. A larger single append goes alone.
MAX_BATCH_APPENDS: Final = 1000
MAX_BATCH_EVENTS: Final = 5000

_APPEND_BATCH: Final = "SELECT * FROM hw_append_batch(%s::jsonb, %s)"


def _json_default(value: object) -> object:
    # Event data is any Mapping (checked by records.check_json_object); orjson
    # serialises only dicts natively.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: object) -> str:
    try:
        return orjson.dumps(value, default=_json_default).decode()
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise InvalidEventData(f"event cannot be encoded as JSON: {exc}") from exc


@dataclass(slots=True)
class AppendRequest:
    stream_id: str
    events: list[NewEvent]
    expected: ExpectedVersion
    tenant_id: str | None
    future: asyncio.Future[AppendResult]
    #: This append as one element of hw_append_batch's JSON array, encoded by the
    #: caller's task so the writer only concatenates.
    payload: str = ""

    def __post_init__(self) -> None:
        expected: int | None
        if self.expected is ANY:
            expected = None
        elif self.expected is STREAM_EXISTS:
            expected = -1
        else:  # NO_STREAM and 0 mean the same: no events yet
            expected = self.expected if isinstance(self.expected, int) else 0
        self.payload = to_json(
            {
                "s": self.stream_id,
                "t": self.tenant_id,
                "e": expected,
                "ev": [
                    {"id": e.id, "type": e.type, "data": e.data, "m": e.metadata or {}}
                    for e in self.events
                ],
            }
        )


Outcome: TypeAlias = AppendResult | BaseException


def outcome_of(request: AppendRequest, row: Sequence[Any]) -> Outcome:
    """Turn one result row of hw_append_batch into a result or the error to raise."""
    _index, status, version, first, positions, event_id, _recorded = row
    if status == "ok":
        return AppendResult(
            request.stream_id, version, tuple(range(first, first + len(request.events)))
        )
    if status == "replay":
        return AppendResult(request.stream_id, version, tuple(positions))
    if status == "conflict":
        return ConcurrencyError(request.stream_id, request.expected, version)
    if status == "tenant":
        return TenantMismatch(request.stream_id)
    if status == "id_elsewhere":
        return DuplicateEventId(str(event_id), request.stream_id, "stored in another stream")
    if status == "id_taken":
        return DuplicateEventId(str(event_id), request.stream_id, "stored by another append")
    if status == "id_differs":
        return DuplicateEventId(str(event_id), request.stream_id, "stored with other content")
    return StoreUnavailable(f"hw_append_batch returned an unknown outcome {status!r}")


def recorded_events(request: AppendRequest, row: Sequence[Any]) -> list[RecordedEvent]:
    """The events of a successful append, as a reader will see them later."""
    _index, _status, version, first_position, _positions, _event_id, recorded_at = row
    first_version = version - len(request.events) + 1
    return [
        RecordedEvent(
            id=event.id,
            stream_id=request.stream_id,
            version=first_version + offset,
            position=first_position + offset,
            type=event.type,
            # Through JSON, so handlers see exactly what a reader would decode.
            data=codec.loads(to_json(event.data)),
            metadata=codec.loads(to_json(event.metadata or {})),
            tenant_id=request.tenant_id,
            recorded_at=recorded_at,
        )
        for offset, event in enumerate(request.events)
    ]


async def execute_statements(conn: Connection, statements: Sequence[Statement]) -> None:
    for statement in statements:
        query = qmark_to_pyformat(statement.sql)
        if statement.many:
            async with conn.cursor() as cursor:
                await cursor.executemany(query, list(statement.params))
        else:
            await conn.execute(query, tuple(statement.params))


def _unavailable(exc: Exception) -> StoreUnavailable:
    error = StoreUnavailable(f"PostgreSQL append failed: {exc}")
    error.__cause__ = exc
    return error


def is_disconnect(exc: BaseException, conn: Connection | None) -> bool:
    """Whether the error means the connection itself failed, rather than one statement."""
    return isinstance(exc, psycopg.OperationalError) or (conn is not None and conn.broken)


class GroupCommitWriter:
    """Owns the write connection and the task that group-commits through it."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Connection]],
        channel: str,
        inline_handlers: list[InlineHandler],
        on_commit: Callable[[], None],
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._inline_handlers = inline_handlers
        self._on_commit = on_commit
        self._pending: deque[AppendRequest] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._taken: list[AppendRequest] = []  # off the queue, not answered yet
        self._conn: Connection | None = None
        self._task = asyncio.create_task(self._run(), name="headwater-postgres-writer")

    def submit(self, request: AppendRequest) -> None:
        if self._stopping or self._task.done():
            raise StoreUnavailable("the event store's writer has stopped")
        self._pending.append(request)
        self._wakeup.set()

    async def stop(self) -> None:
        """Finish every append queued so far, then close the write connection."""
        self._stopping = True
        self._wakeup.set()
        try:
            await self._task
        finally:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None

    # --- the writer task ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._serve()
        finally:
            # Normally nothing is left; after an unexpected error, nobody may wait forever.
            for request in [*self._taken, *self._pending]:
                if not request.future.done():
                    request.future.set_exception(StoreUnavailable("the writer stopped"))
            self._pending.clear()

    async def _serve(self) -> None:
        pending = self._pending
        while True:
            if not pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            # Everything that queued up while the previous commit was in flight.
            batch = self._taken = [pending.popleft()]
            events = len(batch[0].events)
            while (
                pending
                and len(batch) < MAX_BATCH_APPENDS
                and events + len(pending[0].events) <= MAX_BATCH_EVENTS
            ):
                batch.append(pending.popleft())
                events += len(batch[-1].events)
            await self._commit_batch(batch)
            self._taken = []

    async def _commit_batch(self, batch: list[AppendRequest]) -> None:
        # A caller that was cancelled while queued gets nothing written.
        live = [request for request in batch if not request.future.done()]
        if not live:
            return
        outcomes: list[Outcome]
        try:
            outcomes = await self._write(live)
        except Exception as exc:
            if is_disconnect(exc, self._conn):
                await self._drop_connection()
            # Also when the connection failed during COMMIT: the outcome is unknown
            # then, and a retry with the same event ids is safe (idempotent).
            outcomes = [_unavailable(exc) for _ in live]
        wrote = False
        for request, outcome in zip(live, outcomes, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
                wrote = True
        if wrote:
            self._on_commit()

    async def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:  # pragma: no cover - closing a dead connection
                log.debug("closing a broken write connection failed", exc_info=True)

    async def _write(self, batch: list[AppendRequest]) -> list[Outcome]:
        conn = await self._connection()
        if self._inline_handlers:
            return await self._write_one_by_one(conn, batch)
        document = "[" + ",".join(request.payload for request in batch) + "]"
        try:
            # Autocommit: this single statement is its whole transaction, and
            # execute() returns once PostgreSQL has committed it (WAL flushed).
            cursor = await conn.execute(_APPEND_BATCH, (document, self._channel))
            rows = await cursor.fetchall()
        except psycopg.Error as exc:
            if is_disconnect(exc, conn):
                raise
            log.info("group commit failed as a whole (%s); retrying append by append", exc)
            return await self._write_one_by_one(conn, batch)
        return [outcome_of(request, row) for request, row in zip(batch, rows, strict=True)]

    async def _write_one_by_one(
        self, conn: Connection, batch: list[AppendRequest]
    ) -> list[Outcome]:
        """One transaction, one savepoint per append, inline handlers inside it."""
        outcomes: list[Outcome] = []
        async with conn.transaction():
            # Taken at the top level, so the lock (see hw_append_batch) is held until
            # COMMIT even when a savepoint that also locked it is rolled back.
            await conn.execute("SELECT position FROM hw_head FOR UPDATE")
            for request in batch:
                try:
                    async with conn.transaction():
                        outcomes.append(await self._append_one(conn, request))
                except Exception as exc:
                    if is_disconnect(exc, conn):
                        raise
                    outcomes.append(exc)
        return outcomes

    async def _append_one(self, conn: Connection, request: AppendRequest) -> AppendResult:
        try:
            cursor = await conn.execute(_APPEND_BATCH, (f"[{request.payload}]", self._channel))
            row = await cursor.fetchone()
        except psycopg.DataError as exc:
            # What PostgreSQL cannot store, e.g. "\u0000" in a JSON string.
            reason = exc.diag.message_primary or str(exc)
            raise InvalidEventData(f"PostgreSQL cannot store this event: {reason}") from exc
        if row is None:  # pragma: no cover - the function returns a row per append
            raise StoreUnavailable("hw_append_batch returned no row")
        outcome = outcome_of(request, row)
        if isinstance(outcome, BaseException):
            raise outcome  # nothing was written; the savepoint is rolled back anyway
        if row[1] == "ok":
            events = recorded_events(request, row)
            for handler in list(self._inline_handlers):
                try:
                    await execute_statements(conn, handler(events))
                except psycopg.errors.IntegrityError as exc:
                    raise InlineHandlerFailed(exc.diag.message_primary or str(exc)) from exc
        return outcome
