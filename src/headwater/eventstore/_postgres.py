"""The PostgreSQL event store: several app nodes, one log.

Appends go through one group-commit writer per store (``postgres_writer``) and
``hw_append_batch``, whose lock on the one-row ``hw_head`` table serialises
appending transactions across all nodes, so position order is commit order and a
reader never sees a gap (DESIGN.md §5.1; the reasoning is at the SQL). Reads use a
connection pool. A dedicated LISTEN connection (``postgres_listener``) turns other
nodes' commits into wake-ups; the store is always read for the truth.

Every call has a deadline (``PostgresTimeouts``; how connections are made and
discarded is in ``postgres_connections``), so a dead link fails calls in seconds
with :class:`StoreUnavailable` instead of hanging them.

Every connection sets ``search_path`` to the store's schema, so one database can
hold many stores (and every test gets its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict

from headwater.errors import CallTimeout, InvalidInput, SchemaNotMigrated, StoreUnavailable
from headwater.eventstore._deadline import bounded
from headwater.eventstore._postgres_appends import AppendRequest, to_json
from headwater.eventstore._postgres_connections import (
    POOL_ERRORS,
    Connection,
    ConnectionPool,
    connection_options,
    discard,
)
from headwater.eventstore._postgres_listener import Listener
from headwater.eventstore._postgres_writer import GroupCommitWriter, execute_statements
from headwater.eventstore._protocol import (
    Dialect,
    EventFilter,
    EventStore,
    Transaction,
    check_checkpoint_name,
)
from headwater.eventstore._records import (
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Snapshot,
    make_recorded_event,
)
from headwater.eventstore._sql import Statement, qmark_to_pyformat, stream_page_sql
from headwater.eventstore._timeouts import PostgresTimeouts
from headwater.eventstore.migrations import apply_migrations, event_store_migrations

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_EVENT_COLUMNS: Final = (
    "position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at"
)
_WRITER_IDLE_MS: Final = 30_000

#: The deadline of statements run in this context, when not the store's query
#: timeout: migrations set their own, longer one.
_STATEMENT_SECONDS: ContextVar[float | None] = ContextVar(
    "headwater_pg_statement_seconds", default=None
)

_SET_CHECKPOINT: Final = (
    "INSERT INTO hw_checkpoints (name, position, updated_at) VALUES (%s, %s, now()) "
    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, "
    "updated_at = EXCLUDED.updated_at"
)


class _OrjsonLoader(Loader):
    """jsonb -> Python with orjson, registered per connection (never globally)."""

    def load(self, data: Buffer) -> Any:
        return orjson.loads(data)


def notify_channel(schema: str) -> str:
    """The NOTIFY channel of the store in ``schema`` (channel names stop at 63 bytes)."""
    channel = f"hw_events_{schema}"
    if len(channel) <= 63:
        return channel
    return "hw_events_" + hashlib.sha256(schema.encode()).hexdigest()[:40]


def _decode(row: Sequence[Any]) -> RecordedEvent:
    """A row of ``_EVENT_COLUMNS``; jsonb arrives decoded by :class:`_OrjsonLoader`."""
    return make_recorded_event(
        row[1], row[2], row[3], row[0], row[4], row[5], row[6], row[7], row[8]
    )


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class _PgTransaction:
    """The :class:`Transaction` of one pooled connection inside ``BEGIN ... COMMIT``.

    Every statement has the deadline ``seconds``: a transaction may run as long as
    its caller likes, but never wait on the network longer than that at a time.
    """

    dialect: Dialect = "postgresql"

    def __init__(self, conn: Connection, seconds: float) -> None:
        self._conn = conn
        self._seconds = seconds

    async def _bounded(self, work: Awaitable[T]) -> T:
        return await bounded(work, self._seconds, "PostgreSQL statement")

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._bounded(self._conn.execute(qmark_to_pyformat(sql), tuple(params)))
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async def run() -> None:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(qmark_to_pyformat(sql), [tuple(r) for r in rows])

        await self._bounded(run())

    async def execute_script(self, sql: str) -> None:
        # Without parameters psycopg uses the simple query protocol, which runs
        # several statements, and leaves the text alone (no placeholders, no %).
        await self._bounded(self._conn.execute(sql.encode()))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            cursor = await self._conn.execute(qmark_to_pyformat(sql), tuple(params))
            return await cursor.fetchall()

        return await self._bounded(run())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async def run() -> tuple[Any, ...] | None:
            cursor = await self._conn.execute(qmark_to_pyformat(sql), tuple(params))
            return await cursor.fetchone()

        return await self._bounded(run())

    async def get_checkpoint(self, name: str) -> int | None:
        row = await self.fetchone(
            "SELECT position FROM hw_checkpoints WHERE name = ?", (check_checkpoint_name(name),)
        )
        return None if row is None else int(row[0])

    async def set_checkpoint(self, name: str, position: int) -> None:
        await self._bounded(
            self._conn.execute(_SET_CHECKPOINT, (check_checkpoint_name(name), position))
        )


class PostgresEventStore(EventStore):
    dialect: Dialect = "postgresql"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "public",
        pool_size: int = 20,
        pool_min_size: int = 1,
        timeouts: PostgresTimeouts | None = None,
        append_timeout: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
            raise InvalidInput(f"schema must be a plain SQL identifier, not {schema!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise InvalidInput(f"pool_size must be a positive integer, not {pool_size!r}")
        if (
            isinstance(pool_min_size, bool)
            or not isinstance(pool_min_size, int)
            or not 0 <= pool_min_size <= pool_size
        ):
            raise InvalidInput(f"pool_min_size must be from 0 to pool_size, not {pool_min_size!r}")
        self.schema = schema
        timeouts = timeouts or PostgresTimeouts()
        if append_timeout is not None:
            try:
                timeouts = dataclasses.replace(timeouts, append=append_timeout)
            except InvalidInput:
                raise InvalidInput(
                    f"append_timeout must be a positive number, not {append_timeout!r}"
                ) from None
        self.timeouts = timeouts
        #: Seconds an append may wait for its group commit before it is reported
        #: indeterminate (AppendIndeterminate) and its connection discarded.
        self.append_timeout = timeouts.append
        self._channel = notify_channel(schema)
        self._conninfo = conninfo
        self._kwargs = connection_options(conninfo, schema, self.timeouts)
        self._application_name = str(
            self._kwargs.get("application_name")
            or conninfo_to_dict(conninfo).get("application_name", "headwater")
        )
        self._pool = ConnectionPool(
            conninfo,
            self._kwargs,
            size=pool_size,
            min_size=pool_min_size,
            timeouts=self.timeouts,
            name=f"headwater-{schema}",
            configure=self._configure,
        )
        self._writer: GroupCommitWriter | None = None
        self._watchers = 0
        self._listener = Listener(
            self._connect_listener,
            self._channel,
            self._notifier.notify,
            heartbeat=self.timeouts.listen_heartbeat,
            timeout=self.timeouts.query,
        )
        #: Appends waiting for the writer, each with the time it was submitted: one
        #: past its due time means the writer cannot commit (see check_writable).
        self._appends_in_flight: dict[object, tuple[float, AppendRequest]] = {}
        self._closed = False

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        schema: str = "public",
        migrate: bool = False,
        pool_size: int = 20,
        pool_min_size: int = 1,
        timeouts: PostgresTimeouts | None = None,
        append_timeout: float | None = None,
    ) -> PostgresEventStore:
        """Connect, migrate (or check that the schema is migrated), start the writer."""
        store = cls(
            conninfo,
            schema=schema,
            pool_size=pool_size,
            pool_min_size=pool_min_size,
            timeouts=timeouts,
            append_timeout=append_timeout,
        )
        try:
            await store._pool.open()
            if migrate:
                store.applied_migrations = await store.migrate()
            else:
                await store._require_schema()
            store._writer = GroupCommitWriter(
                store._connect_writer,
                store._channel,
                store._inline_handlers,
                store._notifier.notify,
                append_timeout=store.append_timeout,
            )
        except BaseException:
            await store.close()
            raise
        return store

    # --- connections ----------------------------------------------------------------

    @staticmethod
    async def _configure(conn: Connection) -> None:
        conn.adapters.register_loader("jsonb", _OrjsonLoader)

    async def _connect(self, *settings: str, role: str | None = None) -> Connection:
        """A connection outside the pool (the writer's, the listener's).

        ``role`` is appended to its ``application_name``, so an operator (or a test)
        can tell the writer and the LISTEN connection apart in ``pg_stat_activity``.
        """
        kwargs = dict(self._kwargs)
        if role is not None:
            kwargs["application_name"] = f"{self._application_name}-{role}"
        if settings:
            kwargs["options"] += "".join(f" -c {setting}" for setting in settings)
        try:
            conn = await bounded(
                psycopg.AsyncConnection.connect(self._conninfo, **kwargs),
                self.timeouts.connect,
                "PostgreSQL connect",
                abandon=discard,
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        await self._configure(conn)
        return conn

    async def _connect_writer(self) -> Connection:
        # The writer holds the hw_head lock, which every node's appends wait for. On its
        # slow path (handlers that cannot be prepared ahead) it sits idle in a transaction
        # while Python runs them; should this process freeze or its link go silent there,
        # the server ends the transaction and frees the lock.
        return await self._connect(
            f"idle_in_transaction_session_timeout={_WRITER_IDLE_MS}", role="writer"
        )

    async def _connect_listener(self) -> Connection:
        return await self._connect(role="listen")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("the event store is closed")

    def _statement_seconds(self) -> float:
        override = _STATEMENT_SECONDS.get()
        return self.timeouts.query if override is None else override

    async def _run(self, work: Callable[[Connection], Awaitable[T]], doing: str) -> T:
        """Run ``work`` on a pooled connection within the query deadline (the wait for
        the connection included); driver errors become StoreUnavailable.

        Only for work that is safe to repeat: a connection that died while idle in
        the pool (a server restart, say) is noticed on first use, so that failure
        gets one retry, with every other idle connection checked before its next use.
        """
        self._check_open()
        seconds = self._statement_seconds()
        return await bounded(self._attempts(work, doing), seconds, f"PostgreSQL {doing}")

    async def _attempts(self, work: Callable[[Connection], Awaitable[T]], doing: str) -> T:
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as conn:
                    return await work(conn)
            except POOL_ERRORS as exc:
                raise StoreUnavailable(f"PostgreSQL {doing} failed: {exc}") from exc
            except psycopg.OperationalError as exc:
                self._pool.suspect_all()
                if attempt == 2 or self._closed:
                    raise StoreUnavailable(f"PostgreSQL {doing} failed: {exc}") from exc
                log.info("PostgreSQL %s failed (%s); retrying once", doing, exc)
            except psycopg.DataError as exc:
                raise InvalidInput(f"PostgreSQL refused the {doing}: {exc}") from exc
            except psycopg.Error as exc:
                raise StoreUnavailable(f"PostgreSQL {doing} failed: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetchall(self, query: str, params: Sequence[Any], doing: str) -> list[Any]:
        async def fetch(conn: Connection) -> list[Any]:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

        return await self._run(fetch, doing)

    def link_stats(self) -> dict[str, int]:
        """Figures about this node's connections, for the metrics."""
        return {
            **self._pool.stats(),
            "listen_connected": int(self._listener.connected),
            "listen_reconnects": self._listener.reconnects,
            "appends_in_flight": len(self._appends_in_flight),
        }

    async def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` unless an append could commit now.

        Two signs: no append has waited for the writer longer than its deadline, and
        a real write transaction commits through this node's link (it takes a
        transaction id and flushes its commit record, so it also fails on a standby
        and waits for synchronous replicas, as an append would). It takes no lock
        that appends take.
        """
        self._check_open()
        if self._writer is None:
            raise StoreUnavailable("the event store's writer is not running")
        # Past its own due time, not a fixed one: a bulk load's group commit is due later.
        now = time.monotonic()
        overdue = [since for since, r in self._appends_in_flight.values() if r.due < now]
        if overdue:
            waited = now - min(overdue)
            raise StoreUnavailable(
                f"an append has waited {waited:.1f}s for the writer: it cannot commit"
            )

        async def probe(conn: Connection) -> None:
            await conn.execute("BEGIN")
            await conn.execute("SELECT pg_current_xact_id()")
            await conn.execute("COMMIT")

        await self._run(probe, "write probe")

    # --- migrations -----------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations; returns their names. Safe on many nodes at once."""
        token = _STATEMENT_SECONDS.set(self.timeouts.migration)
        try:
            return await self._migrate()
        finally:
            _STATEMENT_SECONDS.reset(token)

    async def _migrate(self) -> list[str]:
        try:
            async with self.transaction() as tx:
                await tx.execute_script(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
            pass  # another node created it at the same moment: IF NOT EXISTS is not atomic
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot create schema {self.schema!r}: {exc}") from exc
        try:
            # Serialised across nodes by apply_migrations' advisory lock.
            return await apply_migrations(self, event_store_migrations("postgresql"))
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL migration failed: {exc}") from exc

    async def _require_schema(self) -> None:
        latest = event_store_migrations("postgresql")[-1].version

        async def current(conn: Connection) -> int:
            cursor = await conn.execute("SELECT to_regclass('hw_migrations') IS NOT NULL")
            exists = await cursor.fetchone()
            if exists is None or not exists[0]:
                return 0
            cursor = await conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM hw_migrations WHERE component = %s",
                ("eventstore",),
            )
            row = await cursor.fetchone()
            return 0 if row is None else int(row[0])

        version = await self._run(current, "schema check")
        if version < latest:
            raise SchemaNotMigrated(
                f"the event store in schema {self.schema!r} is at migration {version}, "
                f"this code needs {latest}: run `headwater migrate`"
            )

    # --- writing --------------------------------------------------------------------

    async def _append(
        self,
        stream_id: str,
        events: list[NewEvent],
        expected_version: ExpectedVersion,
        tenant_id: str | None,
    ) -> AppendResult:
        self._check_open()
        if self._writer is None:  # pragma: no cover - open() starts it
            raise StoreUnavailable("the event store is not open")
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        request = AppendRequest(stream_id, events, expected_version, tenant_id, future)
        self._writer.submit(request)
        token = object()
        self._appends_in_flight[token] = (time.monotonic(), request)
        try:
            # The writer has its own deadline per group commit; this one guarantees that
            # a caller never waits forever, even on a writer that is itself stuck. It
            # is the append's due time (which the writer may push back, see
            # AppendRequest.due), plus a moment for the writer to answer first.
            while not future.done():
                patience = request.due + 1.0 - time.monotonic()
                if patience <= 0:
                    break
                await asyncio.wait((future,), timeout=patience)
        finally:
            del self._appends_in_flight[token]
        if not future.done():
            future.cancel()  # if still queued, the writer skips it
            raise StoreUnavailable(
                "the append did not complete in time; it may or may not have been "
                "written: retry it with the same event ids (appends are idempotent)"
            )
        return future.result()

    async def _save_snapshot(self, snapshot: Snapshot) -> None:
        params = (snapshot.stream_id, snapshot.version, snapshot.schema, to_json(snapshot.state))

        async def save(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO hw_snapshots (stream_id, version, schema, state, recorded_at) "
                "VALUES (%s, %s, %s, %s::jsonb, now()) ON CONFLICT (stream_id, version) "
                "DO UPDATE SET schema = EXCLUDED.schema, state = EXCLUDED.state, "
                "recorded_at = EXCLUDED.recorded_at",
                params,
            )

        await self._run(save, "snapshot save")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._transaction() as conn:
            yield _PgTransaction(conn, self._statement_seconds())

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        """``BEGIN`` ... ``COMMIT`` on a pooled connection, each step bounded.

        Not psycopg's ``conn.transaction()``: its exit commits or rolls back with no
        deadline. A transaction that fails on its own (a constraint, say) is rolled
        back and its connection kept; one that failed on the link, missed a deadline
        or was cancelled is left open, so the pool closes its connection and the
        server rolls it back.
        """
        self._check_open()
        seconds = self._statement_seconds()
        try:
            async with self._pool.connection(min(seconds, self.timeouts.pool)) as conn:
                await bounded(conn.execute("BEGIN"), seconds, "PostgreSQL BEGIN")
                try:
                    yield conn
                except Exception as exc:
                    if not isinstance(exc, CallTimeout | psycopg.OperationalError):
                        with contextlib.suppress(psycopg.Error, StoreUnavailable):
                            await bounded(conn.execute("ROLLBACK"), seconds, "PostgreSQL ROLLBACK")
                    raise
                await bounded(conn.execute("COMMIT"), seconds, "PostgreSQL COMMIT")
        except POOL_ERRORS as exc:
            raise StoreUnavailable(f"PostgreSQL transaction failed: {exc}") from exc
        except psycopg.OperationalError as exc:
            self._pool.suspect_all()
            raise StoreUnavailable(f"PostgreSQL transaction failed: {exc}") from exc

    async def _commit(
        self, statements: list[Statement], checkpoint: tuple[str, int] | None
    ) -> None:
        async def run(conn: Connection) -> None:
            await execute_statements(conn, statements)
            if checkpoint is not None:
                await conn.execute(_SET_CHECKPOINT, checkpoint)

        async with self._transaction() as conn:
            await bounded(run(conn), self._statement_seconds(), "PostgreSQL commit")

    # --- reading --------------------------------------------------------------------
    # Every read is one statement with one snapshot. hw_append_batch's lock makes
    # every snapshot a gap-free prefix of the log, so no read needs more than that.

    async def _read_stream_page(
        self,
        stream_id: str,
        from_version: int | None,
        backwards: bool,
        limit: int,
        tenant_id: str | None,
    ) -> list[RecordedEvent]:
        sql, rest = stream_page_sql(_EVENT_COLUMNS, from_version, backwards, tenant_id)
        query = qmark_to_pyformat(sql)
        params: list[Any] = [stream_id, *rest, limit]
        return [_decode(row) for row in await self._fetchall(query, params, "stream read")]

    async def _read_all_page(
        self, after: int, limit: int, event_filter: EventFilter, anchored: bool = False
    ) -> list[RecordedEvent]:
        query, params = self._page_query(after, limit, event_filter)
        if anchored:
            # The reader's last event, in the same statement and snapshot as the page:
            # the protocol's rewind check (a promoted standby may have lost it).
            query = (
                f"SELECT * FROM (({query}) UNION ALL (SELECT {_EVENT_COLUMNS} FROM hw_events "
                "WHERE position = %s)) AS anchored ORDER BY position"
            )
            params.append(after)
        return [_decode(row) for row in await self._fetchall(query, params, "read")]

    @staticmethod
    def _page_query(after: int, limit: int, event_filter: EventFilter) -> tuple[str, list[Any]]:
        rest = ""
        rest_params: list[Any] = []
        if event_filter.stream_prefix is not None:
            rest += " AND stream_id LIKE %s ESCAPE '\\'"
            rest_params.append(_like_prefix(event_filter.stream_prefix))
        if event_filter.tenant_id is not None:
            rest += " AND tenant_id = %s"
            rest_params.append(event_filter.tenant_id)
        types = event_filter.types
        if types is not None and not types:
            # No type is allowed: nothing can match (the query still finds the anchor).
            return f"SELECT {_EVENT_COLUMNS} FROM hw_events WHERE FALSE", []
        if types is None:
            query = f"SELECT {_EVENT_COLUMNS} FROM hw_events WHERE position > %s{rest}"
            params: list[Any] = [after, *rest_params]
        else:
            # One ordered index scan per type on (type, position), merged: "type = ANY"
            # made PostgreSQL collect and sort every remaining match for each page, so a
            # catch-up got slower the longer its backlog.
            parts = [
                f"(SELECT {_EVENT_COLUMNS} FROM hw_events WHERE type = %s AND position > %s"
                f"{rest} ORDER BY position LIMIT %s)"
                for _ in types
            ]
            query = f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS page"
            params = [v for t in types for v in (t, after, *rest_params, limit)]
        query += " ORDER BY position LIMIT %s"
        params.append(limit)
        return query, params

    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        rows = await self._fetchall(qmark_to_pyformat(sql), params, "query")
        return [tuple(row) for row in rows]

    async def _read_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM hw_events WHERE id = %s", (event_id,), "event read"
        )
        return _decode(rows[0]) if rows else None

    async def _head_position(self) -> int:
        rows = await self._fetchall("SELECT position FROM hw_head", (), "head read")
        return int(rows[0][0]) if rows else 0

    async def log_identity(self) -> str | None:
        # The timeline of the WAL being written (on a primary, pg_walfile_name's first 8
        # hex digits): it changes the moment a standby is promoted, where
        # pg_control_checkpoint() only shows it after the next checkpoint. A standby
        # cannot name a WAL file, so it reports its last checkpoint's timeline.
        rows = await self._fetchall(
            "SELECT s.system_identifier, CASE WHEN pg_is_in_recovery() "
            "THEN (SELECT timeline_id FROM pg_control_checkpoint()) "
            "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int "
            "END FROM pg_control_system() AS s",
            (),
            "log identity read",
        )
        system, timeline = rows[0]
        return f"{system}/{timeline}"

    async def _last_event(self) -> RecordedEvent | None:
        rows = await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM hw_events ORDER BY position DESC LIMIT 1",
            (),
            "head read",
        )
        return _decode(rows[0]) if rows else None

    async def _stream_version(self, stream_id: str, tenant_id: str | None) -> int | None:
        rows = await self._fetchall(
            "SELECT version, tenant_id FROM hw_events WHERE stream_id = %s "
            "ORDER BY version DESC LIMIT 1",
            (stream_id,),
            "stream version read",
        )
        if not rows or (tenant_id is not None and rows[0][1] != tenant_id):
            return None
        return int(rows[0][0])

    async def _load_snapshot(self, stream_id: str, at_or_below: int | None) -> Snapshot | None:
        query = "SELECT version, schema, state, recorded_at FROM hw_snapshots WHERE stream_id = %s"
        params: list[Any] = [stream_id]
        if at_or_below is not None:
            query += " AND version <= %s"
            params.append(at_or_below)
        query += " ORDER BY version DESC LIMIT 1"
        rows = await self._fetchall(query, params, "snapshot read")
        if not rows:
            return None
        version, schema, state, recorded_at = rows[0]
        return Snapshot(stream_id, int(version), state, schema, recorded_at)

    async def get_checkpoint(self, name: str) -> int | None:
        rows = await self._fetchall(
            "SELECT position FROM hw_checkpoints WHERE name = %s",
            (check_checkpoint_name(name),),
            "checkpoint read",
        )
        return int(rows[0][0]) if rows else None

    # --- wake-ups from other nodes --------------------------------------------------

    async def _start_watching(self) -> None:
        self._watchers += 1
        if not self._closed:
            self._listener.start()

    def _stop_watching(self) -> None:
        self._watchers -= 1
        if self._watchers == 0:
            self._listener.stop_soon()

    # --- lifecycle ------------------------------------------------------------------

    async def close(self) -> None:
        """Finish the appends already queued (for up to ``timeouts.close``), then
        close every connection. Idempotent, and bounded however dead the link is."""
        if self._closed:
            return
        self._closed = True
        await self._listener.stop()
        try:
            if self._writer is not None:
                try:
                    await bounded(self._writer.stop(), self.timeouts.close, "PostgreSQL writer")
                except CallTimeout:
                    log.warning(
                        "the PostgreSQL writer did not finish within %ss of closing; "
                        "its unfinished appends were abandoned (outcome unknown)",
                        self.timeouts.close,
                    )
        finally:
            await self._pool.close()
            self._notifier.notify()
