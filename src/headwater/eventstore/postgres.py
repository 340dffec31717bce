"""The PostgreSQL event store: several app nodes, one log.

Appends go through one group-commit writer per store (``postgres_writer``) and
``hw_append_batch``, whose lock on the one-row ``hw_head`` table serialises
appending transactions across all nodes, so position order is commit order and a
reader never sees a gap (DESIGN.md §5.1; the reasoning is at the SQL). Reads use a
connection pool. A dedicated LISTEN connection turns other nodes' commits into
wake-ups; the store is always read for the truth.

Every connection sets ``search_path`` to the store's schema, so one database can
hold many stores (and every test gets its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, TypeVar

import orjson
import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from headwater.errors import InvalidInput, SchemaNotMigrated, StoreUnavailable
from headwater.eventstore.migrations import apply_migrations, event_store_migrations
from headwater.eventstore.postgres_appends import AppendRequest, to_json
from headwater.eventstore.postgres_writer import (
    DEFAULT_APPEND_TIMEOUT,
    Connection,
    GroupCommitWriter,
    execute_statements,
)
from headwater.eventstore.protocol import (
    Dialect,
    EventFilter,
    EventStore,
    Transaction,
    check_checkpoint_name,
)
from headwater.eventstore.records import (
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Snapshot,
    make_recorded_event,
)
from headwater.eventstore.sql import Statement, qmark_to_pyformat, stream_page_sql

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_EVENT_COLUMNS: Final = (
    "position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at"
)
_WRITER_IDLE_MS: Final = 30_000
_LISTEN_BACKOFF: Final = (0.1, 5.0)  # first and longest wait between reconnects

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
    """The :class:`Transaction` of one pooled connection inside ``BEGIN ... COMMIT``."""

    dialect: Dialect = "postgresql"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(qmark_to_pyformat(sql), tuple(params))
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._conn.cursor() as cursor:
            await cursor.executemany(qmark_to_pyformat(sql), [tuple(r) for r in rows])

    async def execute_script(self, sql: str) -> None:
        # Without parameters psycopg uses the simple query protocol, which runs
        # several statements, and leaves the text alone (no placeholders, no %).
        await self._conn.execute(sql.encode())

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self._conn.execute(qmark_to_pyformat(sql), tuple(params))
        return await cursor.fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = await self._conn.execute(qmark_to_pyformat(sql), tuple(params))
        return await cursor.fetchone()

    async def get_checkpoint(self, name: str) -> int | None:
        row = await self.fetchone(
            "SELECT position FROM hw_checkpoints WHERE name = ?", (check_checkpoint_name(name),)
        )
        return None if row is None else int(row[0])

    async def set_checkpoint(self, name: str, position: int) -> None:
        await self._conn.execute(_SET_CHECKPOINT, (check_checkpoint_name(name), position))


class PostgresEventStore(EventStore):
    dialect: Dialect = "postgresql"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "public",
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        append_timeout: float = DEFAULT_APPEND_TIMEOUT,
    ) -> None:
        super().__init__()
        if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
            raise InvalidInput(f"schema must be a plain SQL identifier, not {schema!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise InvalidInput(f"pool_size must be a positive integer, not {pool_size!r}")
        if (
            isinstance(append_timeout, bool)
            or not isinstance(append_timeout, int | float)
            or not 0 < append_timeout < float("inf")
        ):
            raise InvalidInput(f"append_timeout must be a positive number, not {append_timeout!r}")
        #: Seconds an append may wait for its group commit before it is reported
        #: indeterminate (AppendIndeterminate) and its connection discarded.
        self.append_timeout = float(append_timeout)
        self.schema = schema
        self._channel = notify_channel(schema)
        self._conninfo = conninfo
        self._kwargs = self._connection_options(conninfo, schema, connect_timeout)
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo,
            kwargs=self._kwargs,
            min_size=1,
            max_size=pool_size,
            open=False,
            configure=self._configure,
            timeout=connect_timeout,
            name=f"headwater-{schema}",
        )
        self._writer: GroupCommitWriter | None = None
        self._watchers = 0
        self._listen_task: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        schema: str = "public",
        migrate: bool = False,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        append_timeout: float = DEFAULT_APPEND_TIMEOUT,
    ) -> PostgresEventStore:
        """Connect, migrate (or check that the schema is migrated), start the writer."""
        store = cls(
            conninfo,
            schema=schema,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            append_timeout=append_timeout,
        )
        try:
            try:
                await store._pool.open(wait=True, timeout=connect_timeout)
            except (psycopg.Error, PoolTimeout) as exc:
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
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
    def _connection_options(conninfo: str, schema: str, connect_timeout: float) -> dict[str, Any]:
        try:
            given = conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"invalid PostgreSQL connection string: {exc}") from exc
        # search_path: the store's schema only; TimeZone: timestamptz arrive as UTC.
        options = f'-c search_path="{schema}" -c TimeZone=UTC'
        if given.get("options"):
            options = f"{given['options']} {options}"
        kwargs: dict[str, Any] = {"autocommit": True, "options": options}
        if "application_name" not in given:
            kwargs["application_name"] = "headwater"
        if "connect_timeout" not in given:
            # Without one, an unreachable server can hang a connect attempt for minutes.
            kwargs["connect_timeout"] = max(1, round(connect_timeout))
        return kwargs

    @staticmethod
    async def _configure(conn: Connection) -> None:
        conn.adapters.register_loader("jsonb", _OrjsonLoader)

    async def _connect(self, *settings: str) -> Connection:
        """A connection outside the pool (the writer's, the listener's)."""
        kwargs = dict(self._kwargs)
        if settings:
            kwargs["options"] += "".join(f" -c {setting}" for setting in settings)
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, **kwargs)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        await self._configure(conn)
        return conn

    async def _connect_writer(self) -> Connection:
        # The writer holds the hw_head lock, which every node's appends wait for. On its
        # slow path (handlers that cannot be prepared ahead) it sits idle in a transaction
        # while Python runs them; should this process freeze or its link go silent there,
        # the server ends the transaction and frees the lock.
        return await self._connect(f"idle_in_transaction_session_timeout={_WRITER_IDLE_MS}")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable("the event store is closed")

    async def _run(self, work: Callable[[Connection], Awaitable[T]], doing: str) -> T:
        """Run ``work`` on a pooled connection; driver errors become StoreUnavailable.

        Only for work that is safe to repeat: a connection that died while idle in
        the pool (a server restart, say) is noticed on first use, so that failure
        gets one retry after the pool has checked its other connections.
        """
        self._check_open()
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as conn:
                    return await work(conn)
            except (PoolTimeout, PoolClosed) as exc:
                raise StoreUnavailable(f"PostgreSQL {doing} failed: {exc}") from exc
            except psycopg.OperationalError as exc:
                if attempt == 2 or self._closed:
                    raise StoreUnavailable(f"PostgreSQL {doing} failed: {exc}") from exc
                log.info("PostgreSQL %s failed (%s); retrying once", doing, exc)
                await self._pool.check()
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

    # --- migrations -----------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations; returns their names. Safe on many nodes at once."""
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
        self._writer.submit(AppendRequest(stream_id, events, expected_version, tenant_id, future))
        return await future

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
        self._check_open()
        try:
            async with self._pool.connection() as conn, conn.transaction():
                yield _PgTransaction(conn)
        except (PoolTimeout, PoolClosed, psycopg.OperationalError) as exc:
            raise StoreUnavailable(f"PostgreSQL transaction failed: {exc}") from exc

    async def _commit(
        self, statements: list[Statement], checkpoint: tuple[str, int] | None
    ) -> None:
        self._check_open()
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await execute_statements(conn, statements)
                if checkpoint is not None:
                    await conn.execute(_SET_CHECKPOINT, checkpoint)
        except (PoolTimeout, PoolClosed, psycopg.OperationalError) as exc:
            raise StoreUnavailable(f"PostgreSQL commit failed: {exc}") from exc

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
        self, after: int, limit: int, event_filter: EventFilter
    ) -> list[RecordedEvent]:
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
            return []  # no type is allowed: nothing can match
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
        return [_decode(row) for row in await self._fetchall(query, params, "read")]

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
        if self._listen_task is None and not self._closed:
            self._listen_task = asyncio.create_task(self._listen(), name="headwater-pg-listen")

    def _stop_watching(self) -> None:
        self._watchers -= 1
        if self._watchers == 0 and self._listen_task is not None:
            self._listen_task.cancel()
            self._listen_task = None

    async def _listen(self) -> None:
        """LISTEN on the store's channel; every notification wakes the subscribers.

        A notification is only a hint, so nothing is lost while this is down: after
        every (re)connect the subscribers are woken once to re-read what they might
        have missed, and they poll slowly meanwhile anyway.
        """
        delay, longest = _LISTEN_BACKOFF
        while True:
            try:
                conn = await self._connect()
                try:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    delay = _LISTEN_BACKOFF[0]
                    self._notifier.notify()
                    async for _ in conn.notifies():
                        self._notifier.notify()
                finally:
                    await conn.close()
            except (psycopg.Error, StoreUnavailable) as exc:
                log.warning("PostgreSQL LISTEN connection lost (%s); reconnecting", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    # --- lifecycle ------------------------------------------------------------------

    async def close(self) -> None:
        """Finish the appends already queued, then close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if self._writer is not None:
                await self._writer.stop()
        finally:
            await self._pool.close()
            self._notifier.notify()
