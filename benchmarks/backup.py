"""Backups: loss window (RPO), restore speed with rebuilds, and the cost of shipping.

    .venv/bin/python benchmarks/backup.py --quick      # under a minute
    .venv/bin/python benchmarks/backup.py              # larger logs, more repeats

Three measurements, all on one machine, SQLite WAL with ``synchronous=FULL``:

- ``rpo_seconds_p99``: a steady writer (paced appends) with the shipper on, to a
  directory target. For every acknowledged event, the time from its acknowledgement
  to the moment a manifest naming it was durably written; p50/p99/max of that. The
  baseline is Litestream's default sync interval, 1 s (its documented loss window).
- ``restore_seconds_per_million_events_{sqlite,postgres}``: a log of N deposits
  shipped, then restored into an empty store and both projections rebuilt; seconds
  per event scaled to a million (an extrapolation from N, said in ``settings``). The
  baseline is raw ``executemany`` of the same pre-encoded rows into SQLite (the
  physical limit of the load part alone).
- ``backup_overhead_ratio``: append throughput of 32 concurrent clients (one event
  per append) with the shipper on, divided by the same with it off, repeats taken in
  turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psycopg
from benchmarks._common import Lineup, Results, Sample, contest, emit_summary, log, ratio

from headwater.backup import (
    BackupTarget,
    DirectoryTarget,
    Manifest,
    Shipper,
    ShipperOptions,
    restore,
)
from headwater.backup._loader import sqlite_row
from headwater.backup._manifest import MANIFEST_KEY
from headwater.backup._segment import event_to_row
from headwater.eventstore import EventStore, NewEvent, create_event_store
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections import INTEGER, TEXT, Merge, Projection, Table

DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
CLIENTS: Final = 32
LITESTREAM_SYNC_INTERVAL: Final = 1.0

ACCOUNTS = Table(
    "bench_accounts",
    {"account": TEXT, "balance": INTEGER, "entries": INTEGER},
    primary_key="account",
)
TENANTS = Table("bench_tenants", {"tenant": TEXT, "deposits": INTEGER}, primary_key="tenant")
ledger = Projection("bench_ledger", tables=[ACCOUNTS])
by_tenant = Projection("bench_by_tenant", tables=[TENANTS])
PROJECTIONS = (ledger, by_tenant)


@ledger.on("deposit")
def _deposit(event: RecordedEvent) -> Statement:
    return ACCOUNTS.upsert(
        {"account": event.stream_id, "balance": event.data["amount"], "entries": 1},
        merge={"balance": Merge.ADD, "entries": Merge.ADD},
    )


@by_tenant.on("deposit")
def _tenant(event: RecordedEvent) -> Statement:
    return TENANTS.upsert(
        {"tenant": event.tenant_id or "-", "deposits": 1}, merge={"deposits": Merge.ADD}
    )


@dataclass(frozen=True, slots=True)
class Sizes:
    restore_events: int
    rpo_seconds: float
    rpo_rate: float
    overhead_events: int
    repeats: int


QUICK = Sizes(
    restore_events=40_000, rpo_seconds=6.0, rpo_rate=400.0, overhead_events=3_000, repeats=3
)
FULL = Sizes(
    restore_events=250_000, rpo_seconds=30.0, rpo_rate=1000.0, overhead_events=10_000, repeats=5
)


class ManifestClock(BackupTarget):
    """A directory target that notes when each manifest (and so each position) landed."""

    def __init__(self, inner: DirectoryTarget) -> None:
        self.inner = inner
        self.location = inner.location
        self.landed: list[tuple[float, int]] = []

    async def put(self, key: str, data: bytes) -> None:
        await self.inner.put(key, data)
        if key == MANIFEST_KEY:
            self.landed.append((time.time(), Manifest.decode(data).last_position))

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def list(self, prefix: str = "") -> list[str]:
        return await self.inner.list(prefix)


@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    name = f"bench_backup_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{url}?schema={name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextlib.asynccontextmanager
async def sqlite_store(directory: Path) -> AsyncIterator[EventStore]:
    store = await create_event_store(f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}")
    try:
        yield store
    finally:
        await store.close()


def deposit(i: int) -> tuple[str, NewEvent, str]:
    account = i % 5000
    return f"acct-{account}", NewEvent("deposit", {"amount": i % 97}), f"t-{account % 7}"


# --- RPO -------------------------------------------------------------------------------


async def measure_rpo(tmp: Path, sizes: Sizes, results: Results) -> None:
    async with sqlite_store(tmp) as store:
        target = ManifestClock(DirectoryTarget(tmp / "rpo-backups"))
        shipper = Shipper(store, target)  # the defaults: what a user gets
        await shipper.start()
        acks: list[tuple[int, float]] = []
        period = 1.0 / sizes.rpo_rate
        started = time.monotonic()
        i = 0
        try:
            while time.monotonic() - started < sizes.rpo_seconds:
                stream, event, tenant = deposit(i)
                result = await store.append(stream, event, tenant_id=tenant)
                acks.append((result.last_position, time.time()))
                i += 1
                # Paced: a steady writer, not a flood (the overhead test floods).
                delay = started + i * period - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await shipper.stop()
    landed = target.landed
    lags = []
    index = 0
    for position, acked in acks:
        while landed[index][1] < position:
            index += 1
        lags.append(max(0.0, landed[index][0] - acked))
    lags.sort()
    results.facts["rpo"] = {
        "events": len(acks),
        "write_rate_eps": round(len(acks) / sizes.rpo_seconds, 1),
        "p50": round(statistics.median(lags), 3),
        "p99": round(lags[int(len(lags) * 0.99) - 1], 3),
        "max": round(lags[-1], 3),
        "ship_interval": ShipperOptions().interval,
        "manifests_written": len(landed),
    }
    log(f"rpo: {results.facts['rpo']}")


# --- restore ---------------------------------------------------------------------------


async def build_log(tmp: Path, events: int) -> tuple[DirectoryTarget, list[RecordedEvent]]:
    target = DirectoryTarget(tmp / "restore-backups")
    async with sqlite_store(tmp) as store:
        # Appends of 100 events to one stream each: building the log is not what is timed.
        for start in range(0, events, 100):
            stream, _, tenant = deposit(start)
            batch = [deposit(i)[1] for i in range(start, min(start + 100, events))]
            await store.append(f"{stream}-{start}", batch, tenant_id=tenant)
        await Shipper(store, target).ship_once()
        recorded = [e async for e in store.read_all()]
    return target, recorded


async def measure_restore(
    tmp: Path, url: str | None, target: DirectoryTarget, name: str, results: Results
) -> None:
    with results.guard(name):
        if url is None:
            context: Any = sqlite_store(tmp)
        else:
            context = _pg_store(url)
        async with context as store:
            result = await restore(target, store, PROJECTIONS)
        per_million = result.seconds / result.events * 1_000_000
        results.facts[name] = {
            "events": result.events,
            "load_seconds": round(result.load_seconds, 2),
            "rebuild_seconds": round(result.rebuild_seconds, 2),
            "seconds_per_million_events": round(per_million, 1),
        }
        log(f"{name}: {results.facts[name]}")


@contextlib.asynccontextmanager
async def _pg_store(url: str) -> AsyncIterator[EventStore]:
    with pg_schema(url) as schema_url:
        store = await create_event_store(schema_url, migrate=True)
        try:
            yield store
        finally:
            await store.close()


def raw_sqlite_load(tmp: Path, events: list[RecordedEvent]) -> float:
    """The physical limit of the load: executemany of pre-encoded rows, one transaction
    per 5000 rows, same table layout and durability as the store's."""
    rows = [sqlite_row(event_to_row(e)) for e in events]
    path = tmp / f"raw-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE hw_events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        "stream_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT "
        "NULL, metadata TEXT NOT NULL, tenant_id TEXT, recorded_at INTEGER NOT NULL, "
        "UNIQUE (stream_id, version))"
    )
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO hw_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[start : start + 5000]
        )
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


# --- overhead ---------------------------------------------------------------------------


async def append_round(store: EventStore, count: int, offset: list[int]) -> Sample:
    base = offset[0]
    offset[0] += count
    per_client = count // CLIENTS

    async def client(c: int) -> None:
        for k in range(per_client):
            i = base + c * per_client + k
            await store.append(f"o-{i}", NewEvent("deposit", {"amount": i % 97}))

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    return per_client * CLIENTS, time.perf_counter() - started


async def measure_overhead(tmp: Path, sizes: Sizes, results: Results) -> None:
    async with sqlite_store(tmp) as plain, sqlite_store(tmp) as shipped:
        shipper = Shipper(shipped, DirectoryTarget(tmp / "overhead-backups"))
        await shipper.start()
        try:
            lineup = Lineup()
            offsets = {"off": [0], "on": [0]}

            async def off() -> Sample:
                return await append_round(plain, sizes.overhead_events, offsets["off"])

            async def on() -> Sample:
                return await append_round(shipped, sizes.overhead_events, offsets["on"])

            lineup.add("appends_shipping_off_sqlite", off, off)
            lineup.add("appends_shipping_on_sqlite", on, on)
            await contest(results, lineup, sizes.repeats)
        finally:
            await shipper.stop()


async def run(args: argparse.Namespace, sizes: Sizes, results: Results) -> None:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-backup-") as name:
        tmp = Path(name)
        with results.guard("rpo"):
            await measure_rpo(tmp, sizes, results)
        with results.guard("restore_sqlite", "restore_postgres", "raw_sqlite_load"):
            target, recorded = await build_log(tmp, sizes.restore_events)
            log(f"restore: a log of {len(recorded)} events in {target.location}")
            await measure_restore(tmp, None, target, "restore_sqlite", results)
            await measure_restore(tmp, args.postgres_url, target, "restore_postgres", results)
            seconds = raw_sqlite_load(tmp, recorded)
            results.facts["raw_sqlite_load"] = {
                "events": len(recorded),
                "seconds_per_million_events": round(seconds / len(recorded) * 1_000_000, 1),
            }
        await measure_overhead(tmp, sizes, results)


def summarize(results: Results, sizes: Sizes, quick: bool, seconds: float) -> dict[str, Any]:
    facts = results.facts
    rpo = facts.get("rpo", {})

    def per_million(name: str) -> float | None:
        value = facts.get(name, {}).get("seconds_per_million_events")
        return float(value) if value is not None else None

    overhead = ratio(
        results.get("appends_shipping_on_sqlite"), results.get("appends_shipping_off_sqlite")
    )
    restore_sqlite = per_million("restore_sqlite")
    restore_postgres = per_million("restore_postgres")
    return {
        "rpo_seconds_p99": rpo.get("p99"),
        "restore_seconds_per_million_events": {
            "sqlite": restore_sqlite,
            "postgres": restore_postgres,
        },
        "backup_overhead_ratio": overhead,
        "baselines": {
            "litestream_default_rpo_seconds": LITESTREAM_SYNC_INTERVAL,
            "raw_sqlite_load_seconds_per_million_events": per_million("raw_sqlite_load"),
        },
        "targets": {
            "rpo_seconds_p99": 1.0,
            "restore_seconds_per_million_events": 60.0,
            "backup_overhead_ratio": 0.9,
        },
        "met": {
            "rpo_seconds_p99": rpo.get("p99") is not None and rpo["p99"] <= 1.0,
            "restore_sqlite": restore_sqlite is not None and restore_sqlite <= 60.0,
            "restore_postgres": restore_postgres is not None and restore_postgres <= 60.0,
            "backup_overhead_ratio": overhead is not None and overhead >= 0.9,
        },
        "rpo": rpo,
        "restore": {k: facts.get(k) for k in ("restore_sqlite", "restore_postgres")},
        "rates": results.rates,
        "samples": results.samples,
        "settings": {
            "quick": quick,
            "restore_events": sizes.restore_events,
            "restore_figures": f"extrapolated linearly from {sizes.restore_events} events",
            "projections_rebuilt": [p.name for p in PROJECTIONS],
            "overhead_clients": CLIENTS,
            "overhead_events_per_repeat": sizes.overhead_events,
            "repeats": sizes.repeats,
            "sqlite": "WAL, synchronous=FULL",
            "target": "local directory (fsync per object)",
        },
        "errors": results.errors,
        "seconds": round(seconds, 1),
    }


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
