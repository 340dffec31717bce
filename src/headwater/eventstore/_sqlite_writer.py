"""The single writer thread of a SQLite event store, and its group commit.

SQLite allows one writer at a time per database file, and every commit costs an
fsync (``synchronous=FULL``). So all writes of a store go through one thread that
takes whatever has queued up while the previous commit was syncing and commits it
as one transaction: many appends, one fsync. A conflict is found before an append
writes anything, so it fails alone; an inline handler that fails rolls the group
back, which is then redone with a savepoint per append, so it fails alone too.

The stdlib ``sqlite3`` module is used directly (DESIGN.md §3): async wrappers such
as aiosqlite add a thread hop per statement and hang at interpreter exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InlineHandlerFailed,
    StoreUnavailable,
    TenantMismatch,
)
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import InlineHandler, collecting_after_commit
from headwater.eventstore._records import (
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    RecordedEvent,
    StreamState,
    make_recorded_event,
)
from headwater.eventstore._sql import Statement

#: Upper bound on appends per group commit, so one transaction stays short.
MAX_GROUP = 1000

INSERT_EVENT = (
    "INSERT INTO hw_events (position, id, stream_id, version, type, data, metadata, "
    "tenant_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class EncodedEvent:
    id: uuid.UUID
    type: str
    data: str
    metadata: str


@dataclass(slots=True)
class AppendJob:
    stream_id: str
    events: list[EncodedEvent]
    expected: ExpectedVersion
    tenant_id: str | None
    future: asyncio.Future[AppendResult]
    #: What its inline handlers asked to run once it has committed (after_commit).
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@dataclass(slots=True)
class CallJob:
    """Run ``fn(conn)``; with ``write`` in its own IMMEDIATE transaction."""

    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    write: bool = True


@dataclass(slots=True)
class SessionJob:
    """An interactive transaction: the thread serves ``commands`` until commit or rollback."""

    started: asyncio.Future[None]
    #: Set by the async side once the block has exited (committed or rolled back).
    finished: bool = False
    commands: queue.SimpleQueue[tuple[Any, asyncio.Future[Any]]] = field(
        default_factory=queue.SimpleQueue
    )


COMMIT = "commit"
ROLLBACK = "rollback"
_STOP = object()

Job = AppendJob | CallJob | SessionJob


def execute_statements(conn: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    for statement in statements:
        if statement.many:
            conn.executemany(statement.sql, statement.params)
        else:
            conn.execute(statement.sql, statement.params)


def decode_row(row: Sequence[Any]) -> RecordedEvent:
    """(position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at)."""
    return make_recorded_event(
        uuid.UUID(row[1]),
        row[2],
        row[3],
        row[0],
        row[4],
        codec.loads(row[5]),
        codec.loads_metadata(row[6]),
        row[7],
        codec.micros_to_datetime(row[8]),
    )


def recorded_events(job: AppendJob, rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
    """The rows just inserted for ``job``, as a reader will decode them: decode_row's
    result, from the ids and time the writer holds already (no parsing them back)."""
    recorded_at = codec.micros_to_datetime(rows[0][8])
    return [
        make_recorded_event(
            event.id,
            job.stream_id,
            row[3],
            row[0],
            event.type,
            codec.loads(event.data),
            codec.loads_metadata(event.metadata),
            job.tenant_id,
            recorded_at,
        )
        for event, row in zip(job.events, rows, strict=True)
    ]


class Writer:
    """Owns the write connection and the thread that uses it."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        inline_handlers: list[InlineHandler],
        on_commit: Callable[[], None],
    ) -> None:
        self._conn = connection
        self._loop = loop
        self._inline_handlers = inline_handlers
        self._on_commit = on_commit
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="headwater-sqlite-writer", daemon=True
        )
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        """Finish every job queued so far, then close the connection and end the thread."""
        self._jobs.put(_STOP)

    def join(self) -> None:
        self._thread.join()

    # --- the thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = [self._jobs.get()]
                while len(batch) < MAX_GROUP:
                    try:
                        batch.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                if self._run_batch(batch):
                    return
        finally:
            self._conn.close()

    def _run_batch(self, batch: list[Any]) -> bool:
        """Run jobs in arrival order, grouping consecutive appends. True when told to stop."""
        appends: list[AppendJob] = []
        for job in batch:
            if isinstance(job, AppendJob):
                appends.append(job)
                continue
            if appends:
                self._group_commit(appends)
                appends = []
            if job is _STOP:
                return True
            if isinstance(job, CallJob):
                self._call(job)
            elif isinstance(job, SessionJob):
                self._session(job)
        if appends:
            self._group_commit(appends)
        return False

    def _resolve(
        self, outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]
    ) -> None:
        def settle() -> None:
            for future, value, error in outcomes:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)

        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(settle)

    def _group_commit(self, jobs: list[AppendJob]) -> None:
        # With inline handlers, first without a savepoint per append (their sub-journal
        # is most of an append's cost): a handler that fails rolls the group back, and
        # only then is it redone with savepoints, so that it fails alone.
        if self._inline_handlers and not self._try_group(jobs, savepoints=False):
            return
        self._try_group(jobs, savepoints=bool(self._inline_handlers))

    def _try_group(self, jobs: list[AppendJob], *, savepoints: bool) -> bool:
        """Commit the group; True when it must be redone with a savepoint per append."""
        conn = self._conn
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        wrote = False
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = StoreUnavailable(f"could not start a write transaction: {exc}")
            self._resolve([(job.future, None, error) for job in jobs])
            return False
        try:
            # Under the write lock, the newest position cannot move under us, even if
            # other processes write the same file.
            head = conn.execute("SELECT COALESCE(MAX(position), 0) FROM hw_events").fetchone()[0]
            now = codec.now_micros()
            committed: list[AppendJob] = []
            for job in jobs:
                job.after_commit = []  # a redo runs the handlers again
                try:
                    result, head, inserted = self._append_one(conn, job, head, now, savepoints)
                    wrote = wrote or inserted
                    outcomes.append((job.future, result, None))
                    if inserted:
                        committed.append(job)
                except (GroupAborted, _RedoWithSavepoints):
                    raise
                except Exception as exc:  # only this append fails: it wrote nothing
                    outcomes.append((job.future, None, exc))
            conn.execute("COMMIT")
        except _RedoWithSavepoints:
            conn.execute("ROLLBACK")
            return True
        except (sqlite3.Error, GroupAborted) as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            cause = exc.__cause__ if isinstance(exc, GroupAborted) else exc
            error = StoreUnavailable(f"group commit failed: {cause}")
            self._resolve([(job.future, None, error) for job in jobs])
            return False
        # Acknowledge only after COMMIT returned: with synchronous=FULL the WAL is
        # fsynced by then, so an acknowledged append survives a crash.
        self._resolve(outcomes)
        if wrote:
            self._notify()
        for job in committed:
            for callback in job.after_commit:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody to call
                    self._loop.call_soon_threadsafe(callback)
        return False

    def _notify(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._on_commit)

    def _append_one(
        self, conn: sqlite3.Connection, job: AppendJob, head: int, now: int, savepoints: bool
    ) -> tuple[AppendResult, int, bool]:
        ids = [str(e.id) for e in job.events]
        # One probe for all ids, so that afterwards the insert cannot hit a constraint:
        # ids are new, and versions are computed under the write lock. Earlier appends
        # of this same group are visible to the probe.
        if conn.execute(
            f"SELECT 1 FROM hw_events WHERE id IN ({','.join('?' * len(ids))}) LIMIT 1", ids
        ).fetchone():
            return replay_append(conn, job), head, False
        last = conn.execute(
            "SELECT version, tenant_id FROM hw_events WHERE stream_id = ? "
            "ORDER BY version DESC LIMIT 1",
            (job.stream_id,),
        ).fetchone()
        current = None if last is None else int(last[0])
        # Tenant first: a version mismatch would tell another tenant this stream's version.
        if last is not None and last[1] != job.tenant_id:
            raise TenantMismatch(job.stream_id)
        check_expected(job.stream_id, job.expected, current)
        base = current or 0
        rows = [
            (
                head + i,
                ids[i - 1],
                job.stream_id,
                base + i,
                e.type,
                e.data,
                e.metadata,
                job.tenant_id,
                now,
            )
            for i, e in enumerate(job.events, start=1)
        ]
        if self._inline_handlers and savepoints:
            self._insert_with_handlers(conn, job, rows)
        elif self._inline_handlers:
            try:
                conn.executemany(INSERT_EVENT, rows)
                recorded = recorded_events(job, rows)
                with collecting_after_commit(job.after_commit):
                    for handler in self._inline_handlers:
                        execute_statements(conn, handler(recorded))
            except Exception as exc:
                raise _RedoWithSavepoints from exc
        else:
            # No savepoint: a savepoint makes SQLite keep a sub-journal of every page it
            # touches, a large share of an append's cost. Nothing here can fail for this
            # append alone; a driver error means the transaction itself is in trouble.
            try:
                conn.executemany(INSERT_EVENT, rows)
            except sqlite3.Error as exc:
                raise GroupAborted(exc) from exc
        positions = tuple(row[0] for row in rows)
        return AppendResult(job.stream_id, base + len(rows), positions), head + len(rows), True

    def _insert_with_handlers(
        self, conn: sqlite3.Connection, job: AppendJob, rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert and run inline handlers under a savepoint: a handler may fail alone."""
        conn.execute("SAVEPOINT hw_append")
        try:
            conn.executemany(INSERT_EVENT, rows)
            recorded = recorded_events(job, rows)
            with collecting_after_commit(job.after_commit):
                for handler in self._inline_handlers:
                    execute_statements(conn, handler(recorded))
        except BaseException as exc:
            conn.execute("ROLLBACK TO hw_append")
            conn.execute("RELEASE hw_append")
            if isinstance(exc, sqlite3.IntegrityError):
                raise InlineHandlerFailed(str(exc)) from exc
            raise
        conn.execute("RELEASE hw_append")

    def _call(self, job: CallJob) -> None:
        conn = self._conn
        try:
            if job.write:
                conn.execute("BEGIN IMMEDIATE")
            try:
                value = job.fn(conn)
                if job.write:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            self._resolve([(job.future, None, translate(exc))])
            return
        self._resolve([(job.future, value, None)])
        if job.write:
            self._notify()

    def _session(self, job: SessionJob) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._resolve([(job.started, None, translate(exc))])
            return
        self._resolve([(job.started, None, None)])
        while True:
            command, future = job.commands.get()
            if command in (COMMIT, ROLLBACK):
                try:
                    conn.execute(command.upper())
                except sqlite3.Error as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    self._resolve([(future, None, translate(exc))])
                else:
                    self._resolve([(future, None, None)])
                    if command == COMMIT:
                        self._notify()
                return
            try:
                value = command(conn)
            except Exception as exc:
                self._resolve([(future, None, translate(exc))])
            else:
                self._resolve([(future, value, None)])


class GroupAborted(Exception):
    """A driver error in the middle of a group: the whole group rolls back and fails."""


class _RedoWithSavepoints(Exception):
    """An inline handler failed in a group run without savepoints: roll back, redo."""


def translate(exc: Exception) -> Exception:
    """Driver errors become Headwater errors at this boundary; ours pass through."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StoreUnavailable(f"the database is locked: {exc}")
    return exc


def check_expected(stream_id: str, expected: ExpectedVersion, current: int | None) -> None:
    if isinstance(expected, StreamState):
        if expected is NO_STREAM and current is not None:
            raise ConcurrencyError(stream_id, expected, current)
        if expected is STREAM_EXISTS and current is None:
            raise ConcurrencyError(stream_id, expected, current)
        return
    if (current or 0) != expected:
        raise ConcurrencyError(stream_id, expected, current)


def replay_append(conn: sqlite3.Connection, job: AppendJob) -> AppendResult:
    """Some of the events' ids are stored already: the same append again is a no-op
    returning the original result; anything else is a ``DuplicateEventId``."""
    ids = [str(e.id) for e in job.events]
    stored = {
        row[0]: row
        for row in conn.execute(
            f"SELECT id, stream_id, version, position, type, data FROM hw_events "
            f"WHERE id IN ({','.join('?' * len(ids))})",
            ids,
        )
    }
    first = stored.get(ids[0])
    for offset, event in enumerate(job.events):
        row = stored.get(str(event.id))
        if row is None or first is None:
            taken = next(r for r in stored.values())
            reason = (
                "stored in another stream" if taken[1] != job.stream_id else "the append differs"
            )
            raise DuplicateEventId(taken[0], job.stream_id, reason)
        if row[1] != job.stream_id:
            raise DuplicateEventId(str(event.id), job.stream_id, "stored in another stream")
        if row[2] != first[2] + offset or row[4] != event.type:
            raise DuplicateEventId(str(event.id), job.stream_id, "stored with other content")
        if codec.loads(row[5]) != codec.loads(event.data):
            raise DuplicateEventId(str(event.id), job.stream_id, "stored with other data")
    positions = tuple(stored[i][3] for i in ids)
    assert first is not None
    return AppendResult(job.stream_id, first[2] + len(ids) - 1, positions)
