"""Headwater's event store against the ``eventsourcing`` library and raw driver inserts.

Run: ``python benchmarks/eventstore.py [--quick] [--postgres-url URL]``. Progress goes
to stderr; the last line of stdout is one JSON object with every rate (events per
second: the median of a few timed repeats, after a warm-up) and the ratios
(Headwater / eventsourcing unless named otherwise), their targets and which are met.

Workloads, identical on every side: the same event count, the same ~100-byte payload
``{"n": i, "name": "..."}``, the same stream layout, in one process on one machine.
The sides take turns, repeat by repeat, so background load hits them all alike.

* ``concurrent_single``: 32 clients at once, each appending one event per append to
  its own stream, each append checking the stream's expected version.
* ``batch``: one client appending 100 events per append, each batch to a new stream.
* ``read_all``: every event of the batch store read back in order, decoded into objects.

What each side does inside the timed region:

* Headwater (async: 32 asyncio tasks): ``store.append(stream, [NewEvent(type, data)],
  expected_version=...)``: building the ``NewEvent`` (with its UUID), validation, JSON
  encoding, the expected-version check, insert, commit with fsync, and the returned
  version and positions. ``read_all``: ``async for e in store.read_all()``, yielding
  ``RecordedEvent`` objects with decoded ``data``/``metadata`` and ``recorded_at``.
* eventsourcing (sync: 32 threads, which is how the library is meant to be driven):
  ``EventStore.put()`` of ``DomainEvent`` objects through ``Application.events``:
  building the event (with its timestamp), the ``Mapper`` (topic + JSON transcoding),
  the application recorder's insert (its primary key on (originator_id, version) is
  its optimistic-concurrency check), commit with fsync, and the returned notification
  ids. That is the layer of ``store.append``; ``Application.save()`` would add
  aggregate bookkeeping that Headwater's call does not do, handicapping the baseline.
  ``read_all``: ``recorder.select_notifications()`` in pages of 1000 (Headwater's
  page size), each notification mapped back to its ``DomainEvent`` by the mapper.
  It is configured through ``Application(env=...)``, the library's documented path.
* raw drivers, the physical limit: ``sqlite3``/``psycopg`` inserting pre-built rows
  (encoded before the clock starts; no validation, no objects) into a table with
  Headwater's columns and indexes, ``executemany`` per transaction:
  ``raw_*_batch``: 100 rows per transaction (the ``batch_vs_raw`` denominator);
  ``raw_sqlite_single_commit``: one row per transaction on one connection (SQLite's
  single write lock makes that the ceiling of one commit per append);
  ``raw_sqlite_group_commit``: 32 rows, one per client stream, per transaction (the
  ceiling of any store that durably acknowledges 32 clients that each wait);
  ``raw_sqlite_batch_es_table``: eventsourcing's own rows into its own, lighter table;
  ``raw_postgres_concurrent_single``: 32 connections on 32 threads, one row per
  transaction, without the gap-free ordering both stores guarantee;
  ``raw_postgres_group_commit``: 32 rows, one per client stream, per transaction on
  one connection (the PostgreSQL ceiling of durably acknowledging 32 waiting clients).
* Headwater as apps run it (``headwater_app_*``): the same ``concurrent_single``
  workload through a store with what every app attaches: the security module's
  inline handler, the job queue (attached, with a trigger on another event type, so
  it looks at every event), and one inline projection that upserts a per-stream
  counter in the append's transaction (one read-model statement per append). Compared
  with the bare store (``app_vs_bare_store_*``) and, on PostgreSQL, with the raw
  32-row group commit (``app_concurrent_single_postgres_vs_raw_group_commit``).

Durability is checked at run time on each side's own connection and reported under
``settings``: SQLite in WAL mode with ``synchronous=FULL`` on every side
(eventsourcing turns WAL on and leaves ``synchronous`` at SQLite's compiled-in
default, which is FULL; the run refuses to compare if any side has less).
PostgreSQL: one server, its ``synchronous_commit`` (default: on) on every side.
eventsourcing gets its best configuration: its own psycopg pool sized for the 32
clients (``POSTGRES_POOL_SIZE=32``, filled before timing) and its server-side insert
function (``POSTGRES_ENABLE_DB_FUNCTIONS``), 2-3x faster here than its default path
(which takes a table lock per append; ``--es-postgres-default-path`` measures that).
Every side writes its own SQLite file in a temporary directory, or its own
PostgreSQL schema, created fresh and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeAlias, cast
from urllib.parse import unquote, urlsplit

import orjson
import psycopg
from _common import (
    Lineup,
    Results,
    Sample,
    contest,
    emit_summary,
    log,
    met,
    ratio,
    run_threads,
)
from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory

from headwater import NO_STREAM, EventStore, NewEvent, RecordedEvent, create_event_store
from headwater.eventstore.migrations import event_store_migrations
from headwater.jobs._sqlqueue import SqlJobQueue
from headwater.projections import INTEGER, TEXT, Column, Merge, Projection, Table, attach_inline
from headwater.projections._schema import migrate_projections
from headwater.security import _schema as security_schema

DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
CLIENTS: Final = 32
BATCH_SIZE: Final = 100
#: Headwater's read page size; eventsourcing reads its notifications in pages this big too.
READ_PAGE: Final = 1000
EVENT_TYPE: Final = "Happened"
#: Makes ``{"n": 12345, "name": "..."}`` about 100 bytes of JSON.
NAME: Final = "benchmark-payload-" + "x" * 64
SQLITE_FULL: Final = 2

EsApp: TypeAlias = Application[uuid.UUID]
#: A side's timed work, by two sizes: (clients, events each) or (batches, batch size).
Workload: TypeAlias = Callable[[int, int], Sample | Awaitable[Sample]]

TARGETS: Final = {
    "concurrent_single_sqlite": 10.0,
    "concurrent_single_postgres": 10.0,
    "batch_sqlite": 3.0,
    "read_all_sqlite": 2.0,
    "batch_vs_raw_sqlite": 0.5,
    "app_concurrent_single_postgres_vs_raw_group_commit": 0.7,
    "app_vs_bare_store_postgres": 0.9,
    "app_vs_bare_store_sqlite": 0.9,
}


@dataclass(frozen=True, slots=True)
class Sizes:
    events_per_client: int
    batches: int
    repeats: int
    clients: int = CLIENTS
    batch_size: int = BATCH_SIZE
    warmup_events_per_client: int = 5
    warmup_batches: int = 5


QUICK: Final = Sizes(events_per_client=40, batches=100, repeats=3)
FULL: Final = Sizes(events_per_client=300, batches=500, repeats=7)


def payload(n: int) -> dict[str, Any]:
    return {"n": n, "name": NAME}


@dataclass(frozen=True)
class Happened(DomainEvent):
    """The eventsourcing side's event: the same fields as Headwater's payload."""

    n: int
    name: str


def happened(stream: uuid.UUID, version: int) -> Happened:
    return Happened(
        originator_id=stream,
        originator_version=version,
        timestamp=Happened.create_timestamp(),
        n=version,
        name=NAME,
    )


# --- eventsourcing --------------------------------------------------------------------


def es_sqlite_app(path: Path) -> EsApp:
    return EsApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            # Only avoids spurious "database is locked" under 32 threads; never slows it.
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    )


def es_postgres_app(url: str, schema: str, *, db_functions: bool) -> EsApp:
    parts = urlsplit(url)
    app = EsApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": schema,
            # One pooled connection per client thread.
            "POSTGRES_POOL_SIZE": str(CLIENTS),
            "POSTGRES_MAX_OVERFLOW": "0",
            "POSTGRES_CONNECT_TIMEOUT": "30",
            # Its faster insert path: one round trip to a server-side function per
            # append, instead of a pipelined LOCK TABLE + NOTIFY + INSERT. Measured
            # 2-3x faster here; the baseline gets its best configuration.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "y" if db_functions else "n",
        }
    )
    # All 32 connections open before any timing, not trickling in during it.
    cast(PostgresFactory, app.factory).datastore.pool.wait(timeout=60)
    return app


def es_sqlite_synchronous(app: EsApp) -> int:
    with cast(SQLiteFactory, app.factory).datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])


def es_postgres_setting(app: EsApp, name: str) -> str:
    with cast(PostgresFactory, app.factory).datastore.get_connection() as conn:
        row = conn.execute(f"SHOW {name}").fetchone()
        return "?" if row is None else str(next(iter(row.values())))


def es_concurrent(app: EsApp, clients: int, per_client: int) -> Sample:
    streams = [uuid.uuid4() for _ in range(clients)]

    def client(index: int) -> None:
        for version in range(1, per_client + 1):
            app.events.put([happened(streams[index], version)])

    return clients * per_client, run_threads(clients, client)


def es_batch(app: EsApp, batches: int, size: int) -> Sample:
    started = time.perf_counter()
    for _ in range(batches):
        stream = uuid.uuid4()
        app.events.put([happened(stream, v) for v in range(1, size + 1)])
    return batches * size, time.perf_counter() - started


def es_read_all(app: EsApp) -> Sample:
    started = time.perf_counter()
    count = last = 0
    while True:
        page = app.recorder.select_notifications(
            start=last, limit=READ_PAGE, inclusive_of_start=False
        )
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        if len(page) < READ_PAGE:
            return count, time.perf_counter() - started
        last = page[-1].id


# --- raw drivers ----------------------------------------------------------------------

RAW_SQLITE_INSERT: Final = (
    "INSERT INTO hw_events (id, stream_id, version, type, data, metadata, tenant_id, "
    "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Headwater's PostgreSQL ``hw_events`` table and indexes; a sequence numbers the rows
#: instead of Headwater's ``hw_head`` row lock, which gives no gap-free order.
RAW_POSTGRES_DDL: Final = """
CREATE TABLE hw_events (
    position    BIGSERIAL   PRIMARY KEY,
    id          UUID        NOT NULL UNIQUE,
    stream_id   TEXT        NOT NULL,
    version     BIGINT      NOT NULL,
    type        TEXT        NOT NULL,
    data        JSONB       NOT NULL,
    metadata    JSONB       NOT NULL,
    tenant_id   TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE INDEX hw_events_by_type ON hw_events (type, position);
CREATE INDEX hw_events_by_tenant ON hw_events (tenant_id, position) WHERE tenant_id IS NOT NULL;
"""
#: The same rows as SQLite's; the server stamps ``recorded_at``, as Headwater's does.
RAW_POSTGRES_INSERT: Final = (
    "INSERT INTO hw_events (id, stream_id, version, type, data, metadata, tenant_id, "
    "recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
)

Row = tuple[str, str, int, str, str, str, None, int]
PgRow = tuple[str, str, int, str, str, str, None]


def raw_row(stream: str, version: int, now: int) -> Row:
    # The id comes from NewEvent's own default, so the rows are the ones Headwater
    # writes (a change to time-ordered ids, say, reaches the physical limit too).
    event = NewEvent(EVENT_TYPE, payload(version))
    data = orjson.dumps(event.data).decode()
    return (str(event.id), stream, version, event.type, data, "{}", None, now)


def raw_rows(streams: int, per_stream: int) -> list[list[Row]]:
    """Rows encoded ahead of time, one list per stream: the driver's limit, nothing else."""
    now = time.time_ns() // 1000
    result = []
    for _ in range(streams):
        stream = str(uuid.uuid4())
        result.append([raw_row(stream, v, now) for v in range(1, per_stream + 1)])
    return result


def pg_rows(streams: int, per_stream: int) -> list[list[PgRow]]:
    return [[row[:7] for row in rows] for rows in raw_rows(streams, per_stream)]


def raw_sqlite_connect(path: Path, *, schema: str | None = None) -> sqlite3.Connection:
    """Headwater's schema (or ``schema``), WAL, synchronous=FULL, like every SQLite side."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    scripts = [m.sql for m in event_store_migrations("sqlite")] if schema is None else [schema]
    for script in scripts:
        conn.executescript(script)
    return conn


def raw_sqlite_batches(conn: sqlite3.Connection, batches: int, size: int) -> Sample:
    """``batches`` transactions of ``size`` rows; size 1 is one commit per event."""
    streams = raw_rows(batches, size)
    started = time.perf_counter()
    for rows in streams:
        conn.execute("BEGIN")
        conn.executemany(RAW_SQLITE_INSERT, rows)
        conn.execute("COMMIT")
    return batches * size, time.perf_counter() - started


def raw_sqlite_single_commits(conn: sqlite3.Connection, clients: int, per_client: int) -> Sample:
    """As many events as the concurrent clients append, one row per transaction."""
    return raw_sqlite_batches(conn, clients * per_client, 1)


def raw_sqlite_group_commits(conn: sqlite3.Connection, clients: int, per_client: int) -> Sample:
    """One transaction holding one event of each client's stream: a perfect group commit.

    The ceiling for 32 clients that each wait for their append: no group can hold
    more than 32 appends, so no design that acknowledges durably can beat it.
    """
    streams = raw_rows(clients, per_client)
    groups = [[rows[v] for rows in streams] for v in range(per_client)]
    started = time.perf_counter()
    for rows in groups:
        conn.execute("BEGIN")
        conn.executemany(RAW_SQLITE_INSERT, rows)
        conn.execute("COMMIT")
    return clients * per_client, time.perf_counter() - started


#: eventsourcing's ``SQLiteApplicationRecorder`` table: one index on (stream, version),
#: where Headwater's has three (id, (stream, version), (type, position)) and a partial one.
ES_SQLITE_DDL: Final = (
    "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
    "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)


def es_mapper() -> Mapper[uuid.UUID]:
    """The mapper ``Application`` builds: JSON with its UUID, Decimal, datetime codings."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def raw_sqlite_es_batches(conn: sqlite3.Connection, batches: int, size: int) -> Sample:
    """eventsourcing's own rows, stored ahead of time, into its own table layout."""
    mapper = es_mapper()
    streams = []
    for _ in range(batches):
        stream = uuid.uuid4()
        stored = [mapper.to_stored_event(happened(stream, v)) for v in range(1, size + 1)]
        streams.append([(stream.hex, s.originator_version, s.topic, s.state) for s in stored])
    started = time.perf_counter()
    for rows in streams:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    return batches * size, time.perf_counter() - started


def pg_setting(conn: psycopg.Connection[Any], name: str) -> str:
    row = conn.execute(f"SHOW {name}").fetchone()
    return "?" if row is None else str(row[0])


def pg_connect(url: str, schema: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def raw_postgres_batches(conn: psycopg.Connection[Any], batches: int, size: int) -> Sample:
    streams = pg_rows(batches, size)
    started = time.perf_counter()
    for rows in streams:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(RAW_POSTGRES_INSERT, rows)
    return batches * size, time.perf_counter() - started


def raw_postgres_concurrent(
    conns: list[psycopg.Connection[Any]], clients: int, per_client: int
) -> Sample:
    """One connection per client thread, one row per transaction (autocommit)."""
    streams = pg_rows(clients, per_client)

    def client(index: int) -> None:
        with conns[index].cursor() as cursor:
            for row in streams[index]:
                cursor.execute(RAW_POSTGRES_INSERT, row)

    return clients * per_client, run_threads(clients, client)


def raw_postgres_group_commits(
    conn: psycopg.Connection[Any], clients: int, per_client: int
) -> Sample:
    """One transaction holding one row of each client's stream, durable: PostgreSQL's
    ceiling for 32 clients that each wait for their append (see the SQLite twin)."""
    streams = pg_rows(clients, per_client)
    groups = [[rows[v] for rows in streams] for v in range(per_client)]
    started = time.perf_counter()
    for rows in groups:
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(RAW_POSTGRES_INSERT, rows)
    return clients * per_client, time.perf_counter() - started


#: Schemas of runs that were killed before they could drop them are swept after this long.
STALE_SCHEMA_SECONDS: Final = 3600


@contextlib.contextmanager
def pg_schema(url: str, side: str) -> Iterator[str]:
    """A fresh, empty schema, dropped afterwards with everything in it."""
    name = f"bench_{side}_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except psycopg.Error as exc:  # the figures are still worth printing
            log(f"could not drop schema {name}: {exc}")


def sweep_stale_schemas(url: str) -> None:
    """Drop this benchmark's schemas left behind by runs killed over an hour ago."""
    cutoff = time.time() - STALE_SCHEMA_SECONDS
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ %s",
            (r"^bench_(es|hw|raw)_\d+_[0-9a-f]{6}$",),
        ).fetchall()
        for (name,) in rows:
            if int(name.split("_")[2]) < cutoff:
                log(f"dropping schema {name}, left behind by a killed run")
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


# --- Headwater ------------------------------------------------------------------------


async def hw_concurrent(store: EventStore, clients: int, per_client: int) -> Sample:
    async def client(stream: str) -> None:
        for version in range(per_client):
            await store.append(
                stream,
                [NewEvent(EVENT_TYPE, payload(version + 1))],
                expected_version=version or NO_STREAM,
            )

    streams = [str(uuid.uuid4()) for _ in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(client(stream) for stream in streams))
    return clients * per_client, time.perf_counter() - started


async def hw_batch(store: EventStore, batches: int, size: int) -> Sample:
    started = time.perf_counter()
    for _ in range(batches):
        events = [NewEvent(EVENT_TYPE, payload(v)) for v in range(1, size + 1)]
        await store.append(str(uuid.uuid4()), events, expected_version=NO_STREAM)
    return batches * size, time.perf_counter() - started


async def hw_read_all(store: EventStore) -> Sample:
    started = time.perf_counter()
    count = 0
    async for _event in store.read_all():
        count += 1
    return count, time.perf_counter() - started


async def hw_setting(store: EventStore, query: str) -> str:
    """A setting as seen by a connection the store writes with."""
    async with store.transaction() as tx:
        row = await tx.fetchone(query)
    return "?" if row is None else str(row[0])


@contextlib.asynccontextmanager
async def hw_open(url: str, **options: Any) -> AsyncIterator[EventStore]:
    store = await create_event_store(url, **options)
    try:
        yield store
    finally:
        await store.close()


#: The app configuration's inline projection: a counter per stream, one upsert per append.
APP_COUNTS: Final = Table(
    "bench_stream_counts",
    {"stream_id": TEXT, "events": Column(INTEGER, default=0)},
    primary_key="stream_id",
)
app_counts = Projection("bench_stream_counts", tables=[APP_COUNTS], mode="inline")


@app_counts.on(EVENT_TYPE)
def _count_event(event: RecordedEvent) -> Any:
    return APP_COUNTS.upsert(
        {"stream_id": event.stream_id, "events": 1}, merge={"events": Merge.ADD}
    )


@contextlib.asynccontextmanager
async def hw_app_open(url: str, **options: Any) -> AsyncIterator[EventStore]:
    """A store with what apps attach: security lookup, job queue, one inline projection."""
    async with hw_open(url, **options) as store:
        await security_schema.migrate(store)
        security_schema.attach(store)
        queue = SqlJobQueue(store)
        await queue.migrate()
        # Looks at every event, enqueues for none of the benchmark's.
        queue.enqueue_on("bench.welcome", "bench.send_welcome")
        queue.attach()
        await migrate_projections(store)
        await attach_inline(store, [app_counts])
        try:
            yield store
        finally:
            queue.detach()


# --- the workloads --------------------------------------------------------------------


def require_full(results: Results, side: str, synchronous: int) -> None:
    results.facts[f"{side}_sqlite_synchronous"] = synchronous
    if synchronous != SQLITE_FULL:
        raise RuntimeError(f"{side}'s SQLite connection has synchronous={synchronous}, not FULL")


class Bench:
    """One run. Each workload opens its sides (a side that fails to open drops out with
    its error), lines them up, lets them take turns, and closes them again."""

    def __init__(self, sizes: Sizes, results: Results, tmp: Path, stack: AsyncExitStack) -> None:
        self.sizes = sizes
        self.results = results
        self.tmp = tmp
        self.stack = stack

    async def contest(self, lineup: Lineup) -> None:
        await contest(self.results, lineup, self.sizes.repeats)

    # --- SQLite: 32 concurrent clients ---------------------------------------------

    async def sqlite_concurrent(self) -> None:
        log("SQLite: 32 clients appending one event at a time; raw one-row and 32-row commits")
        lineup = Lineup()
        with self.results.guard(name := "eventsourcing_sqlite_concurrent_single"):
            app = self.es_sqlite("es-concurrent.db")
            require_full(self.results, "eventsourcing", es_sqlite_synchronous(app))
            self.add_concurrent(lineup, name, partial(es_concurrent, app))
        with self.results.guard(name := "headwater_sqlite_concurrent_single"):
            store = await self.hw_sqlite("hw-concurrent.db")
            synchronous = int(await hw_setting(store, "PRAGMA synchronous"))
            require_full(self.results, "headwater", synchronous)
            self.add_concurrent(lineup, name, partial(hw_concurrent, store))
        with self.results.guard(name := "headwater_app_sqlite_concurrent_single"):
            path = self.tmp / "hw-app-concurrent.db"
            store = await self.stack.enter_async_context(hw_app_open(f"sqlite:///{path}"))
            self.add_concurrent(lineup, name, partial(hw_concurrent, store))
        with self.results.guard(name := "raw_sqlite_single_commit"):
            conn = self.raw_sqlite("raw-single.db")
            require_full(self.results, "raw", conn.execute("PRAGMA synchronous").fetchone()[0])
            self.add_concurrent(lineup, name, partial(raw_sqlite_single_commits, conn))
        with self.results.guard(name := "raw_sqlite_group_commit"):
            conn = self.raw_sqlite("raw-group.db")
            self.add_concurrent(lineup, name, partial(raw_sqlite_group_commits, conn))
        await self.contest(lineup)

    # --- SQLite: appends of 100, then read_all ---------------------------------------

    async def sqlite_batch_and_read(self) -> None:
        log("SQLite: appends of 100 events, then read_all of everything appended")
        appends, reads = Lineup(), Lineup()
        es = ("eventsourcing_sqlite_batch", "eventsourcing_sqlite_read_all")
        with self.results.guard(*es):
            app = self.es_sqlite("es-batch.db")
            self.add_batches(appends, es[0], partial(es_batch, app))
            reads.add(es[1], partial(es_read_all, app), partial(es_read_all, app))
        hw = ("headwater_sqlite_batch", "headwater_sqlite_read_all")
        with self.results.guard(*hw):
            store = await self.hw_sqlite("hw-batch.db")
            self.add_batches(appends, hw[0], partial(hw_batch, store))
            reads.add(hw[1], partial(hw_read_all, store), partial(hw_read_all, store))
        with self.results.guard(name := "raw_sqlite_batch"):
            conn = self.raw_sqlite("raw-batch.db")
            self.add_batches(appends, name, partial(raw_sqlite_batches, conn))
        with self.results.guard(name := "raw_sqlite_batch_es_table"):
            conn = self.raw_sqlite("raw-es.db", schema=ES_SQLITE_DDL)
            self.add_batches(appends, name, partial(raw_sqlite_es_batches, conn))
        await self.contest(appends)
        # Every side now holds the same events; its warm-up read also pages them in.
        await self.contest(reads)

    def es_sqlite(self, file: str) -> EsApp:
        app = es_sqlite_app(self.tmp / file)
        self.stack.callback(app.close)
        return app

    async def hw_sqlite(self, file: str) -> EventStore:
        return await self.stack.enter_async_context(hw_open(f"sqlite:///{self.tmp / file}"))

    def raw_sqlite(self, file: str, *, schema: str | None = None) -> sqlite3.Connection:
        conn = raw_sqlite_connect(self.tmp / file, schema=schema)
        self.stack.callback(conn.close)
        return conn

    # --- PostgreSQL: 32 concurrent clients, then appends of 100 ----------------------

    async def postgres(self, url: str, *, es_db_functions: bool) -> None:
        log("PostgreSQL: 32 clients appending one event at a time, then appends of 100")
        with self.results.guard("postgres_cleanup"):
            sweep_stale_schemas(url)
        single, batch = Lineup(), Lineup()
        facts = self.results.facts
        es = ("eventsourcing_postgres_concurrent_single", "eventsourcing_postgres_batch")
        with self.results.guard(*es):
            app = es_postgres_app(url, self.pg_schema(url, "es"), db_functions=es_db_functions)
            self.stack.callback(app.close)
            facts["eventsourcing_postgres_db_functions"] = es_db_functions
            facts["eventsourcing_postgres_synchronous_commit"] = es_postgres_setting(
                app, "synchronous_commit"
            )
            self.add_concurrent(single, es[0], partial(es_concurrent, app))
            self.add_batches(batch, es[1], partial(es_batch, app))
        hw = ("headwater_postgres_concurrent_single", "headwater_postgres_batch")
        with self.results.guard(*hw):
            store_url = f"{url}{'&' if '?' in url else '?'}schema={self.pg_schema(url, 'hw')}"
            store = await self.stack.enter_async_context(hw_open(store_url, migrate=True))
            facts["headwater_postgres_synchronous_commit"] = await hw_setting(
                store, "SHOW synchronous_commit"
            )
            self.add_concurrent(single, hw[0], partial(hw_concurrent, store))
            self.add_batches(batch, hw[1], partial(hw_batch, store))
        with self.results.guard(name := "headwater_app_postgres_concurrent_single"):
            app_url = f"{url}{'&' if '?' in url else '?'}schema={self.pg_schema(url, 'hw')}"
            store = await self.stack.enter_async_context(hw_app_open(app_url, migrate=True))
            self.add_concurrent(single, name, partial(hw_concurrent, store))
        raw = ("raw_postgres_concurrent_single", "raw_postgres_batch")
        with self.results.guard(*raw):
            schema = self.pg_schema(url, "raw")
            conn = self.stack.enter_context(pg_connect(url, schema))
            conn.execute(RAW_POSTGRES_DDL)
            facts["raw_postgres_synchronous_commit"] = pg_setting(conn, "synchronous_commit")
            conns = [self.stack.enter_context(pg_connect(url, schema)) for _ in range(CLIENTS)]
            self.add_concurrent(single, raw[0], partial(raw_postgres_concurrent, conns))
            self.add_batches(batch, raw[1], partial(raw_postgres_batches, conn))
        with self.results.guard(name := "raw_postgres_group_commit"):
            conn = self.stack.enter_context(pg_connect(url, self.pg_schema(url, "raw")))
            conn.execute(RAW_POSTGRES_DDL)
            self.add_concurrent(single, name, partial(raw_postgres_group_commits, conn))
        await self.contest(single)
        await self.contest(batch)

    def pg_schema(self, url: str, side: str) -> str:
        """A fresh schema, dropped once the side opened after it has closed (LIFO)."""
        return self.stack.enter_context(pg_schema(url, side))

    def add_concurrent(self, lineup: Lineup, name: str, work: Workload) -> None:
        """``work(clients, events_per_client)``, warmed up with a few events per client."""
        sizes = self.sizes
        lineup.add(
            name,
            lambda: work(sizes.clients, sizes.events_per_client),
            lambda: work(sizes.clients, sizes.warmup_events_per_client),
        )

    def add_batches(self, lineup: Lineup, name: str, work: Workload) -> None:
        """``work(batches, batch_size)``, warmed up with a few batches."""
        sizes = self.sizes
        lineup.add(
            name,
            lambda: work(sizes.batches, sizes.batch_size),
            lambda: work(sizes.warmup_batches, sizes.batch_size),
        )


# --- the summary ----------------------------------------------------------------------


def ratios(results: Results) -> dict[str, float | None]:
    """The ratios with targets: Headwater / eventsourcing, and Headwater / raw."""
    r = results.get
    return {
        "concurrent_single_sqlite": ratio(
            r("headwater_sqlite_concurrent_single"), r("eventsourcing_sqlite_concurrent_single")
        ),
        "concurrent_single_postgres": ratio(
            r("headwater_postgres_concurrent_single"), r("eventsourcing_postgres_concurrent_single")
        ),
        "batch_sqlite": ratio(r("headwater_sqlite_batch"), r("eventsourcing_sqlite_batch")),
        "read_all_sqlite": ratio(
            r("headwater_sqlite_read_all"), r("eventsourcing_sqlite_read_all")
        ),
        "batch_vs_raw_sqlite": ratio(r("headwater_sqlite_batch"), r("raw_sqlite_batch")),
        "app_concurrent_single_postgres_vs_raw_group_commit": ratio(
            r("headwater_app_postgres_concurrent_single"), r("raw_postgres_group_commit")
        ),
        "app_vs_bare_store_postgres": ratio(
            r("headwater_app_postgres_concurrent_single"),
            r("headwater_postgres_concurrent_single"),
        ),
        "app_vs_bare_store_sqlite": ratio(
            r("headwater_app_sqlite_concurrent_single"), r("headwater_sqlite_concurrent_single")
        ),
    }


def context_ratios(results: Results) -> dict[str, float | None]:
    """Without targets: how close each side comes to the physical limit, and PostgreSQL."""
    r = results.get
    return {
        "batch_postgres": ratio(r("headwater_postgres_batch"), r("eventsourcing_postgres_batch")),
        "concurrent_single_vs_raw_group_commit_sqlite": ratio(
            r("headwater_sqlite_concurrent_single"), r("raw_sqlite_group_commit")
        ),
        "raw_group_commit_vs_eventsourcing_concurrent_single_sqlite": ratio(
            r("raw_sqlite_group_commit"), r("eventsourcing_sqlite_concurrent_single")
        ),
        "eventsourcing_concurrent_single_vs_raw_single_commit_sqlite": ratio(
            r("eventsourcing_sqlite_concurrent_single"), r("raw_sqlite_single_commit")
        ),
        "eventsourcing_batch_vs_raw_sqlite": ratio(
            r("eventsourcing_sqlite_batch"), r("raw_sqlite_batch")
        ),
        "eventsourcing_batch_vs_raw_es_table_sqlite": ratio(
            r("eventsourcing_sqlite_batch"), r("raw_sqlite_batch_es_table")
        ),
        "concurrent_single_vs_raw_postgres": ratio(
            r("headwater_postgres_concurrent_single"), r("raw_postgres_concurrent_single")
        ),
        "batch_vs_raw_postgres": ratio(r("headwater_postgres_batch"), r("raw_postgres_batch")),
        "concurrent_single_vs_raw_group_commit_postgres": ratio(
            r("headwater_postgres_concurrent_single"), r("raw_postgres_group_commit")
        ),
    }


def summarize(results: Results, sizes: Sizes, quick: bool, seconds: float) -> dict[str, Any]:
    computed = ratios(results)
    return {
        "benchmark": "eventstore",
        "mode": "quick" if quick else "default",
        "sizes": asdict(sizes),
        **{f"{name}_eps": rate for name, rate in sorted(results.rates.items())},
        "ratios": computed,
        "targets": TARGETS,
        "met": met(computed, TARGETS),
        "context_ratios": context_ratios(results),
        "events_per_repeat": results.events,
        "samples_eps": results.samples,
        "settings": results.facts,
        "errors": results.errors,
        "seconds": round(seconds, 1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEADWATER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help=f"the PostgreSQL server (default {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument(
        "--es-postgres-default-path",
        action="store_true",
        help="run eventsourcing's default PostgreSQL insert path, not its faster DB function",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, sizes: Sizes, results: Results) -> None:
    # SIGTERM (a timeout, say) cancels the run, so schemas and files are still removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as tmp:
        async with AsyncExitStack() as stack:
            await Bench(sizes, results, Path(tmp), stack).sqlite_concurrent()
        async with AsyncExitStack() as stack:
            await Bench(sizes, results, Path(tmp), stack).sqlite_batch_and_read()
        async with AsyncExitStack() as stack:
            await Bench(sizes, results, Path(tmp), stack).postgres(
                args.postgres_url, es_db_functions=not args.es_postgres_default_path
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results = Results()
    started = time.perf_counter()
    status = 0
    try:
        asyncio.run(run(args, sizes, results))
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Stopped early: what was measured is still reported, the rest is missing.
        results.errors["run"] = "interrupted before the end"
        status = 1
    emit_summary(summarize(results, sizes, args.quick, time.perf_counter() - started))
    return status


if __name__ == "__main__":
    sys.exit(main())
