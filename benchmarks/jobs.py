"""Job throughput: Headwater's queue and workers against a raw SQL queue loop.

Run: ``python benchmarks/jobs.py [--quick] [--postgres-url URL]``. Progress goes to
stderr; the last line of stdout is one JSON object with every rate (jobs per second:
the median of a few timed repeats, after a warm-up), the ratios and the settings.

Workloads, on SQLite (a WAL file, ``synchronous=FULL``) and PostgreSQL (the server's
``synchronous_commit``), each side in its own fresh file or schema:

* ``jobs`` (the headline, ``jobs_per_second_<db>``): N jobs are waiting (enqueued
  before the clock starts); the clock runs until all of them have been claimed, run
  and recorded as succeeded. Headwater: one ``Worker`` (64 concurrent runs, claims of
  up to 64) with a no-op handler: claim under a lease, one asyncio task per job,
  outcomes group-committed, drained when a claim finds nothing due. The raw baseline,
  the physical limit: one driver connection looping ``UPDATE ... RETURNING`` claims of
  64 rows (with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and one ``UPDATE`` marking
  them succeeded, each its own transaction, on the same table and indexes. Ratio:
  Headwater / raw.
* ``enqueue``: 32 concurrent clients calling ``queue.enqueue(...)`` (validation, JSON,
  dedupe-aware insert, one transaction each). Raw: single-row ``INSERT`` transactions,
  one connection on SQLite (one writer), on PostgreSQL 10 threads with their own
  connections (the Headwater store's pool size: the same concurrency at the server).
* ``enqueue_with_events`` (no baseline): 32 concurrent ``store.append`` calls whose
  inline trigger enqueues a job in the append's own transaction (group-committed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psycopg
from _common import Lineup, Results, Sample, contest, emit_summary, log, ratio, run_threads

from headwater.eventstore import EventStore, NewEvent, create_event_store
from headwater.eventstore.migrations import load_migrations
from headwater.jobs import Job, JobRegistry, SqlJobQueue, Worker, WorkerOptions

DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
CLIENTS: Final = 32
#: The raw PostgreSQL enqueue side's connections: the Headwater store's pool size, so
#: both sides hit the server with the same concurrency (and the server has room).
PG_CONNECTIONS: Final = 10
BATCH: Final = 64
OPTIONS: Final = WorkerOptions(concurrency=BATCH, claim_batch=BATCH, lease=60.0, poll_interval=0.05)
PAYLOAD: Final = {"user": "u-1", "template": "welcome", "locale": "fr"}


@dataclass(frozen=True, slots=True)
class Sizes:
    jobs: int
    enqueues_per_client: int
    repeats: int


QUICK: Final = Sizes(jobs=3000, enqueues_per_client=15, repeats=3)
FULL: Final = Sizes(jobs=20000, enqueues_per_client=60, repeats=5)


# --- Headwater ------------------------------------------------------------------------


async def noop(job: Job) -> None:
    return None


class HeadwaterSide:
    def __init__(self, store: EventStore, sizes: Sizes) -> None:
        self.store = store
        self.sizes = sizes
        self.queue = SqlJobQueue(store)
        self.registry = JobRegistry()
        self.registry.register("send", noop)

    async def prepare(self) -> None:
        await self.queue.migrate()
        self.queue.enqueue_on("UserRegistered", "welcome", payload=lambda e: dict(e.data))
        self.queue.attach()

    async def clear(self) -> None:
        async with self.store.transaction() as tx:
            await tx.execute("DELETE FROM hw_jobs")

    async def jobs(self) -> Sample:
        await self.queue.enqueue_many("send", [PAYLOAD] * self.sizes.jobs)
        worker = Worker(self.queue, self.registry, OPTIONS)
        started = time.perf_counter()
        await worker.start()
        await worker.drain()
        elapsed = time.perf_counter() - started
        await worker.stop()
        depth = await self.queue.depth()
        assert depth["succeeded"] == self.sizes.jobs, depth
        await self.clear()
        return self.sizes.jobs, elapsed

    async def enqueue(self) -> Sample:
        async def client() -> None:
            for _ in range(self.sizes.enqueues_per_client):
                await self.queue.enqueue("send", PAYLOAD)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
        await self.clear()
        return CLIENTS * self.sizes.enqueues_per_client, elapsed

    async def enqueue_with_events(self) -> Sample:
        async def client(index: int) -> None:
            for n in range(self.sizes.enqueues_per_client):
                stream = f"user-{uuid.uuid4().hex}"
                await self.store.append(stream, NewEvent("UserRegistered", {"n": n, "c": index}))

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - started
        count = CLIENTS * self.sizes.enqueues_per_client
        assert (await self.queue.depth())["queued"] == count
        await self.clear()
        return count, elapsed


# --- raw drivers: the physical limit --------------------------------------------------

RAW_INSERT: Final = (
    "INSERT INTO hw_jobs (id, name, payload, state, priority, run_at, attempts, "
    "max_attempts, backoff, created_at, updated_at) "
    "VALUES (?, 'send', ?, 'queued', 0, ?, 0, 3, '{}', ?, ?)"
)


def raw_claim(lock: str) -> str:
    return (
        "WITH picked AS (SELECT seq FROM hw_jobs WHERE state IN ('queued', 'scheduled', "
        "'failed') AND run_at <= ? ORDER BY priority DESC, run_at, seq LIMIT ?" + lock + ") "
        "UPDATE hw_jobs SET state = 'running', attempts = attempts + 1, lease_owner = 'raw', "
        "lease_expires_at = ?, started_at = ?, updated_at = ? FROM picked "
        "WHERE hw_jobs.seq = picked.seq RETURNING id, attempts"
    )


def raw_done(count: int) -> str:
    pairs = ", ".join(["(?, ?)"] * count)
    return (
        "UPDATE hw_jobs SET state = 'succeeded', finished_at = ?, updated_at = ? "
        f"WHERE state = 'running' AND (id, attempts) IN (VALUES {pairs})"
    )


def now_micros() -> int:
    return time.time_ns() // 1000


def raw_rows(count: int) -> list[tuple[Any, ...]]:
    payload = '{"user":"u-1","template":"welcome","locale":"fr"}'
    now = now_micros()
    return [(str(uuid.uuid4()), payload, now, now, now) for _ in range(count)]


class RawSqlite:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        for migration in load_migrations("headwater.jobs.migrations", "jobs", "sqlite"):
            self.conn.executescript(migration.sql)

    def jobs(self, count: int) -> Sample:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(RAW_INSERT, raw_rows(count))
        self.conn.execute("COMMIT")
        claim = raw_claim("")
        started = time.perf_counter()
        while True:
            now = now_micros()
            self.conn.execute("BEGIN IMMEDIATE")
            rows = self.conn.execute(claim, (now, BATCH, now + 60_000_000, now, now)).fetchall()
            self.conn.execute("COMMIT")
            if not rows:
                break
            now = now_micros()
            self.conn.execute("BEGIN IMMEDIATE")
            flat = [value for row in rows for value in row]
            self.conn.execute(raw_done(len(rows)), (now, now, *flat))
            self.conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        self.conn.execute("DELETE FROM hw_jobs")
        return count, elapsed

    def enqueue(self, count: int) -> Sample:
        rows = raw_rows(count)
        started = time.perf_counter()
        for row in rows:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(RAW_INSERT, row)
            self.conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        self.conn.execute("DELETE FROM hw_jobs")
        return count, elapsed


def pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class RawPostgres:
    def __init__(self, url: str, schema: str) -> None:
        self.url, self.schema = url, schema
        self.conn = self.connect()
        for migration in load_migrations("headwater.jobs.migrations", "jobs", "postgresql"):
            self.conn.execute(migration.sql.encode())
        self.conns = [self.connect() for _ in range(PG_CONNECTIONS)]

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=True)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def close(self) -> None:
        for conn in [self.conn, *self.conns]:
            conn.close()

    def jobs(self, count: int) -> Sample:
        with self.conn.transaction(), self.conn.cursor() as cursor:
            cursor.executemany(pg(RAW_INSERT), raw_rows(count))
        claim = pg(raw_claim(" FOR UPDATE SKIP LOCKED"))
        started = time.perf_counter()
        while True:
            now = now_micros()
            rows = self.conn.execute(claim, (now, BATCH, now + 60_000_000, now, now)).fetchall()
            if not rows:
                break
            now = now_micros()
            flat = [value for row in rows for value in row]
            self.conn.execute(pg(raw_done(len(rows))), (now, now, *flat))
        elapsed = time.perf_counter() - started
        self.conn.execute("DELETE FROM hw_jobs")
        return count, elapsed

    def enqueue(self, count: int) -> Sample:
        per_thread = count // PG_CONNECTIONS
        streams = [raw_rows(per_thread) for _ in range(PG_CONNECTIONS)]

        def client(index: int) -> None:
            for row in streams[index]:
                self.conns[index].execute(pg(RAW_INSERT), row)

        elapsed = run_threads(PG_CONNECTIONS, client)
        self.conn.execute("DELETE FROM hw_jobs")
        return PG_CONNECTIONS * per_thread, elapsed


@contextlib.contextmanager
def pg_schema(url: str, side: str) -> Iterator[str]:
    name = f"bench_jobs_{side}_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


# --- the run --------------------------------------------------------------------------


async def bench(
    store: EventStore, raw: RawSqlite | RawPostgres, db: str, sizes: Sizes, results: Results
) -> None:
    side = HeadwaterSide(store, sizes)
    await side.prepare()
    per_client = sizes.enqueues_per_client
    small = Sizes(jobs=min(sizes.jobs, 500), enqueues_per_client=2, repeats=1)
    warm = HeadwaterSide(store, small)
    warm.queue, warm.registry = side.queue, side.registry
    enqueue_count = CLIENTS * per_client

    jobs = Lineup()
    jobs.add(f"headwater_jobs_{db}", side.jobs, warm.jobs)
    jobs.add(f"raw_jobs_{db}", lambda: raw.jobs(sizes.jobs), lambda: raw.jobs(small.jobs))
    log(f"{db}: jobs, {sizes.jobs} per repeat")
    await contest(results, jobs, sizes.repeats)

    enqueue = Lineup()
    enqueue.add(f"headwater_enqueue_{db}", side.enqueue, warm.enqueue)
    enqueue.add(f"raw_enqueue_{db}", lambda: raw.enqueue(enqueue_count))
    enqueue.add(f"headwater_enqueue_with_events_{db}", side.enqueue_with_events)
    log(f"{db}: enqueue, {enqueue_count} per repeat")
    await contest(results, enqueue, sizes.repeats)


async def run(args: argparse.Namespace, sizes: Sizes, results: Results) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="headwater-bench-jobs-") as tmp,
        results.guard("headwater_jobs_sqlite", "raw_jobs_sqlite"),
    ):
        store = await create_event_store(f"sqlite:///{Path(tmp) / 'hw.db'}")
        raw_sqlite = RawSqlite(Path(tmp) / "raw.db")
        try:
            await bench(store, raw_sqlite, "sqlite", sizes, results)
        finally:
            await store.close()
            raw_sqlite.conn.close()
    with results.guard("headwater_jobs_postgres", "raw_jobs_postgres"):
        url = args.postgres_url
        with pg_schema(url, "hw") as hw_schema, pg_schema(url, "raw") as raw_schema:
            store = await create_event_store(f"{url}?schema={hw_schema}", migrate=True)
            raw_pg = RawPostgres(url, raw_schema)
            try:
                await bench(store, raw_pg, "postgres", sizes, results)
            finally:
                await store.close()
                raw_pg.close()


def summarize(results: Results, sizes: Sizes, quick: bool, seconds: float) -> dict[str, Any]:
    rates = results.rates
    summary: dict[str, Any] = {
        "jobs_per_second_sqlite": rates.get("headwater_jobs_sqlite"),
        "jobs_per_second_postgres": rates.get("headwater_jobs_postgres"),
        "rates": rates,
        "ratios": {
            f"{what}_vs_raw_{db}": ratio(
                rates.get(f"headwater_{what}_{db}"), rates.get(f"raw_{what}_{db}")
            )
            for what in ("jobs", "enqueue")
            for db in ("sqlite", "postgres")
        },
        "settings": {
            "quick": quick,
            "jobs_per_repeat": sizes.jobs,
            "enqueue_clients": CLIENTS,
            "enqueues_per_repeat": CLIENTS * sizes.enqueues_per_client,
            "worker_concurrency": OPTIONS.concurrency,
            "claim_batch": BATCH,
            "repeats": sizes.repeats,
            "sqlite": "WAL, synchronous=FULL",
        },
        "samples": results.samples,
        "errors": results.errors,
        "seconds": round(seconds, 1),
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEADWATER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results = Results()
    started = time.perf_counter()
    asyncio.run(run(args, sizes, results))
    emit_summary(summarize(results, sizes, args.quick, time.perf_counter() - started))
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
