"""The SQLite event store: the embedded default.

Writes go through one writer thread that group-commits (see ``sqlite_writer``);
reads use their own connections on worker threads, so a long read never delays
an append. WAL mode lets readers and the writer proceed together, and
``synchronous=FULL`` makes every acknowledged append durable.

An in-memory database (``:memory:``) exists only on one connection, so there the
writer thread serves reads too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from headwater.errors import InvalidInput, SchemaNotMigrated, StoreUnavailable
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import (
    Dialect,
    EventFilter,
    EventStore,
    check_checkpoint_name,
)
from headwater.eventstore._records import (
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Snapshot,
)
from headwater.eventstore._sql import Statement, stream_page_sql
from headwater.eventstore._sqlite_writer import (
    COMMIT,
    ROLLBACK,
    AppendJob,
    CallJob,
    EncodedEvent,
    SessionJob,
    Writer,
    decode_row,
    execute_statements,
)
from headwater.eventstore.migrations import CREATE_MIGRATIONS_TABLE, event_store_migrations

T = TypeVar("T")

EVENT_COLUMNS = "position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at"
#: Reads expected to return at most this many rows run on the event loop's own
#: connection instead of a worker thread: a WAL reader never waits for the writer,
#: so such a read takes tens of microseconds, several times less than the thread
#: hop would. Larger pages still go to a worker thread so the loop never stalls.
INLINE_ROWS = 64
#: How often a subscribed store looks for commits made by *other processes*.
#: Commits in this process wake subscribers at once.
CROSS_PROCESS_POLL_SECONDS = 0.05

# The transaction this task is inside, per store: appending from inside it would
# wait for the writer thread that the transaction itself occupies.
# Tasks started inside the block inherit this marker, so it names the session, and
# only a session that is still open refuses them.
_open_transaction: contextvars.ContextVar[tuple[SqliteEventStore, SessionJob] | None] = (
    contextvars.ContextVar("headwater_sqlite_transaction", default=None)
)


def _connect(path: str, *, readonly: bool, busy_timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,
        timeout=busy_timeout,
        uri=path.startswith("file:"),
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    # FULL: the WAL is fsynced at every commit, so an acknowledged append survives
    # power loss, not only a process crash.
    conn.execute("PRAGMA synchronous = FULL")
    # Temporary b-trees (sorts, IN lists) need not touch the disk.
    conn.execute("PRAGMA temp_store = MEMORY")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def split_script(script: str) -> list[str]:
    """Split a script into statements, so it can run inside one transaction.

    (``executescript`` would COMMIT first, and a crash could leave half a migration.)
    Pieces are joined at each ``;`` until SQLite says the statement is complete, so
    semicolons inside strings or trigger bodies do not split a statement.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statement = _strip_comments(buffer)
            if statement.rstrip(";").strip():
                statements.append(statement)
            buffer = ""
    rest = _strip_comments(buffer[:-1])
    if rest.strip():
        if not sqlite3.complete_statement(rest + ";"):
            raise ValueError(f"incomplete SQL statement at the end of a script: {rest!r}")
        statements.append(rest)
    return statements


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return "\n".join(lines).strip()


def _migrate(conn: sqlite3.Connection) -> list[str]:
    applied: list[str] = []
    for migration in event_store_migrations("sqlite"):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(CREATE_MIGRATIONS_TABLE)
            done = conn.execute(
                "SELECT 1 FROM hw_migrations WHERE component = ? AND version = ?",
                (migration.component, migration.version),
            ).fetchone()
            if not done:
                for statement in split_script(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO hw_migrations (component, version, name, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        migration.component,
                        migration.version,
                        migration.name,
                        datetime.now(UTC).isoformat(),
                    ),
                )
                applied.append(f"{migration.component}/{migration.version:04d}_{migration.name}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied


def _require_schema(conn: sqlite3.Connection) -> None:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hw_events'"
    ).fetchone()
    if row is None:
        raise SchemaNotMigrated("the event store has no schema yet: run `headwater migrate`")


class _SqliteTransaction:
    """The :class:`Transaction` of an interactive session on the writer thread."""

    dialect: Dialect = "sqlite"

    def __init__(self, store: SqliteEventStore, session: SessionJob) -> None:
        self._store = store
        self._session = session

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        future: asyncio.Future[T] = self._store._loop.create_future()
        self._session.commands.put((fn, future))
        return await future

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._run(lambda conn: conn.execute(sql, params).rowcount)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        materialized = list(rows)
        await self._run(lambda conn: conn.executemany(sql, materialized))

    async def execute_script(self, sql: str) -> None:
        statements = split_script(sql)

        def run(conn: sqlite3.Connection) -> None:
            for statement in statements:
                conn.execute(statement)

        await self._run(run)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._run(lambda conn: [tuple(r) for r in conn.execute(sql, params)])

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        def one(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else tuple(row)

        return await self._run(one)

    async def get_checkpoint(self, name: str) -> int | None:
        row = await self.fetchone(
            "SELECT position FROM hw_checkpoints WHERE name = ?", (check_checkpoint_name(name),)
        )
        return None if row is None else int(row[0])

    async def set_checkpoint(self, name: str, position: int) -> None:
        await self._run(lambda conn: _set_checkpoint(conn, name, position))


def _set_checkpoint(conn: sqlite3.Connection, name: str, position: int) -> None:
    conn.execute(
        "INSERT INTO hw_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
        "updated_at = excluded.updated_at",
        (check_checkpoint_name(name), position, codec.now_micros()),
    )


class SqliteEventStore(EventStore):
    dialect: Dialect = "sqlite"

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        super().__init__()
        self.path = path
        self._memory = path == ":memory:" or "mode=memory" in path
        self._busy_timeout = busy_timeout
        self._loop = asyncio.get_running_loop()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._loop_reader: sqlite3.Connection | None = None
        self._watchers = 0
        self._watch_task: asyncio.Task[None] | None = None
        self._closed = False
        self._writer: Writer | None = None

    @classmethod
    async def open(
        cls, path: str, *, migrate: bool = True, busy_timeout: float = 30.0
    ) -> SqliteEventStore:
        store = cls(path, busy_timeout=busy_timeout)
        if not store._memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)

        def connect_and_prepare() -> sqlite3.Connection:
            conn = _connect(path, readonly=False, busy_timeout=busy_timeout)
            try:
                if migrate:
                    store.applied_migrations = _migrate(conn)
                else:
                    _require_schema(conn)
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            conn = await asyncio.to_thread(connect_and_prepare)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {path!r}: {exc}") from exc
        store._writer = Writer(conn, store._loop, store._inline_handlers, store._notifier.notify)
        return store

    # --- plumbing -------------------------------------------------------------------

    @property
    def _active_writer(self) -> Writer:
        if self._writer is None or self._closed:
            raise StoreUnavailable("the event store is closed")
        return self._writer

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, transactional: bool = True
    ) -> T:
        self._check_not_in_transaction()
        future: asyncio.Future[T] = self._loop.create_future()
        self._active_writer.submit(CallJob(fn, future, write=transactional))
        return await future

    def _inside_open_transaction(self) -> bool:
        marker = _open_transaction.get()
        return marker is not None and marker[0] is self and not marker[1].finished

    def _check_not_in_transaction(self) -> None:
        if self._inside_open_transaction():
            raise InvalidInput(
                "this task is inside store.transaction(): finish it before writing through "
                "the store (SQLite has one writer, which the transaction holds)"
            )

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._memory:
            if self._inside_open_transaction():
                raise InvalidInput("read through the transaction object inside store.transaction()")
            future: asyncio.Future[T] = self._loop.create_future()
            self._active_writer.submit(CallJob(fn, future, write=False))
            return await future
        if self._closed:
            raise StoreUnavailable("the event store is closed")
        return await asyncio.to_thread(self._with_reader, fn)

    async def _read_small(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read of at most ``INLINE_ROWS`` rows, on the loop's own connection."""
        if self._memory:
            return await self._read(fn)
        if self._closed:
            raise StoreUnavailable("the event store is closed")
        if self._loop_reader is None:
            self._loop_reader = _connect(self.path, readonly=True, busy_timeout=self._busy_timeout)
        try:
            return fn(self._loop_reader)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc

    def _with_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = _connect(self.path, readonly=True, busy_timeout=self._busy_timeout)
        try:
            return fn(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"read failed: {exc}") from exc
        finally:
            self._readers.put(conn)

    # --- writing --------------------------------------------------------------------

    async def _append(
        self,
        stream_id: str,
        events: list[NewEvent],
        expected_version: ExpectedVersion,
        tenant_id: str | None,
    ) -> AppendResult:
        self._check_not_in_transaction()
        encoded = [
            EncodedEvent(e.id, e.type, codec.dumps(e.data), codec.dumps_metadata(e.metadata))
            for e in events
        ]
        future: asyncio.Future[AppendResult] = self._loop.create_future()
        self._active_writer.submit(
            AppendJob(stream_id, encoded, expected_version, tenant_id, future)
        )
        return await future

    async def _save_snapshot(self, snapshot: Snapshot) -> None:
        row = (
            snapshot.stream_id,
            snapshot.version,
            snapshot.schema,
            codec.dumps(snapshot.state),
            codec.now_micros(),
        )
        await self._write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO hw_snapshots (stream_id, version, schema, state, "
                "recorded_at) VALUES (?, ?, ?, ?, ?)",
                row,
            )
        )

    async def _commit(
        self, statements: list[Statement], checkpoint: tuple[str, int] | None
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            execute_statements(conn, statements)
            if checkpoint is not None:
                _set_checkpoint(conn, *checkpoint)

        await self._write(run)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTransaction]:
        self._check_not_in_transaction()
        session = SessionJob(self._loop.create_future())
        self._active_writer.submit(session)
        try:
            await session.started
        except BaseException:
            # Cancelled (or failed) before the block began: the writer thread may still
            # open the session, and would then wait inside it forever. Queued
            # synchronously, the rollback reaches it whatever happens to this task.
            session.finished = True
            session.commands.put((ROLLBACK, self._loop.create_future()))
            raise
        token = _open_transaction.set((self, session))
        try:
            yield _SqliteTransaction(self, session)
        except BaseException:
            # Queued synchronously, so the writer rolls back even if we are cancelled.
            done: asyncio.Future[None] = self._loop.create_future()
            session.commands.put((ROLLBACK, done))
            with contextlib.suppress(Exception):
                await asyncio.shield(done)
            raise
        else:
            done = self._loop.create_future()
            session.commands.put((COMMIT, done))
            await done
        finally:
            session.finished = True
            _open_transaction.reset(token)

    # --- reading --------------------------------------------------------------------

    async def _read_stream_page(
        self,
        stream_id: str,
        from_version: int | None,
        backwards: bool,
        limit: int,
        tenant_id: str | None,
    ) -> list[RecordedEvent]:
        sql, rest = stream_page_sql(EVENT_COLUMNS, from_version, backwards, tenant_id)
        params: list[Any] = [stream_id, *rest]
        # Most streams are short (aggregates, with snapshots): read the first rows inline
        # and go to a worker thread only for the rest of a long stream.
        head = min(limit, INLINE_ROWS)
        first = await self._read_small(
            lambda conn: [decode_row(r) for r in conn.execute(sql, [*params, head])]
        )
        if len(first) < head or limit == head:
            return first
        step = -1 if backwards else 1
        rest = (
            await self._read_stream_page(
                stream_id, first[-1].version + step, backwards, limit - head, tenant_id
            )
            if first[-1].version + step >= 1
            else []
        )
        return first + rest

    async def _read_all_page(
        self, after: int, limit: int, event_filter: EventFilter, anchored: bool = False
    ) -> list[RecordedEvent]:
        sql = f"SELECT {EVENT_COLUMNS} FROM hw_events WHERE position > ?"
        params: list[Any] = [after]
        if event_filter.types is not None:
            sql += f" AND type IN ({','.join('?' * len(event_filter.types))})"
            params.extend(event_filter.types)
        if event_filter.stream_prefix is not None:
            # substr compares literally, where LIKE would treat % and _ as wildcards.
            sql += " AND substr(stream_id, 1, ?) = ?"
            params.extend([len(event_filter.stream_prefix), event_filter.stream_prefix])
        if event_filter.tenant_id is not None:
            sql += " AND tenant_id = ?"
            params.append(event_filter.tenant_id)
        sql += " ORDER BY position LIMIT ?"
        params.append(limit)
        if anchored:
            # The reader's last event, in the same statement and snapshot as the page:
            # the protocol's rewind check (a restored older file may not have it).
            sql = (
                f"SELECT * FROM (SELECT * FROM ({sql}) UNION ALL "
                f"SELECT {EVENT_COLUMNS} FROM hw_events WHERE position = ?) ORDER BY position"
            )
            params.append(after)
        return await self._read(lambda conn: [decode_row(r) for r in conn.execute(sql, params)])

    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._read(lambda conn: [tuple(r) for r in conn.execute(sql, params)])

    async def _read_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        def one(conn: sqlite3.Connection) -> RecordedEvent | None:
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM hw_events WHERE id = ?", (str(event_id),)
            ).fetchone()
            return None if row is None else decode_row(row)

        return await self._read_small(one)

    async def _head_position(self) -> int:
        return await self._read_small(
            lambda conn: int(
                conn.execute("SELECT COALESCE(MAX(position), 0) FROM hw_events").fetchone()[0]
            )
        )

    async def _last_event(self) -> RecordedEvent | None:
        def last(conn: sqlite3.Connection) -> RecordedEvent | None:
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM hw_events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            return None if row is None else decode_row(row)

        return await self._read_small(last)

    async def _stream_version(self, stream_id: str, tenant_id: str | None) -> int | None:
        def version(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT version, tenant_id FROM hw_events WHERE stream_id = ? "
                "ORDER BY version DESC LIMIT 1",
                (stream_id,),
            ).fetchone()
            if row is None or (tenant_id is not None and row[1] != tenant_id):
                return None
            return int(row[0])

        return await self._read_small(version)

    async def _load_snapshot(self, stream_id: str, at_or_below: int | None) -> Snapshot | None:
        sql = "SELECT version, schema, state, recorded_at FROM hw_snapshots WHERE stream_id = ?"
        params: list[Any] = [stream_id]
        if at_or_below is not None:
            sql += " AND version <= ?"
            params.append(at_or_below)
        sql += " ORDER BY version DESC LIMIT 1"

        def load(conn: sqlite3.Connection) -> Snapshot | None:
            row = conn.execute(sql, params).fetchone()
            if row is None:
                return None
            return Snapshot(
                stream_id, row[0], codec.loads(row[2]), row[1], codec.micros_to_datetime(row[3])
            )

        return await self._read_small(load)

    async def get_checkpoint(self, name: str) -> int | None:
        name = check_checkpoint_name(name)

        def load(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT position FROM hw_checkpoints WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._read_small(load)

    # --- wake-ups from other processes ----------------------------------------------

    async def _start_watching(self) -> None:
        self._watchers += 1
        if self._memory or self._watch_task is not None:
            return
        self._watch_task = asyncio.create_task(self._watch_other_processes())

    def _stop_watching(self) -> None:
        self._watchers -= 1
        if self._watchers == 0 and self._watch_task is not None:
            self._watch_task.cancel()
            self._watch_task = None

    async def _watch_other_processes(self) -> None:
        """Wake subscribers when another process commits to the same file.

        ``PRAGMA data_version`` changes when any other connection commits; one cheap
        check per interval for the whole store, however many subscribers it has.

        It runs on the loop's thread: the pragma reads a counter, taking no lock and
        waiting for nothing. That also keeps the connection on one thread: closing it
        while a worker thread was still running the pragma crashed the interpreter.
        """
        conn = _connect(self.path, readonly=True, busy_timeout=self._busy_timeout)
        try:
            last = None
            while True:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                # Also wake once after the first read: a commit that landed before the
                # watcher started would otherwise wait for the fallback poll.
                if version != last:
                    self._notifier.notify()
                last = version
                await asyncio.sleep(CROSS_PROCESS_POLL_SECONDS)
        finally:
            conn.close()

    # --- lifecycle ------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        if self._writer is not None:
            self._writer.stop()
            await asyncio.to_thread(self._writer.join)
        while True:
            try:
                self._readers.get_nowait().close()
            except queue.Empty:
                break
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        self._notifier.notify()
