"""Headwater's write and read sides against the ``eventsourcing`` library.

Run: ``python benchmarks/cqrs.py [--quick] [--postgres-url URL]``. Progress goes to
stderr; the last line of stdout is one JSON object with every rate (the median of a
few timed repeats, after a warm-up), the ratios, their targets and which are met.

The same small aggregate on both sides: a counter created by one ``Created`` event
and moved by ``Incremented(by)`` events; 1,000 of them with 20 events each (one
``Created``, 19 ``Incremented``) make the log every workload reads.

* ``rehydrate`` (SQLite, one client, aggregates loaded one after the other):
  Headwater ``await Repository(store).load(Counter, id)`` (read the stream, decode
  and upcast each event into its pydantic class, apply it) against eventsourcing's
  ``app.repository.get(id)`` (select the stream, map each stored event back to its
  ``DomainEvent``, mutate). Neither side snapshots (20 events each) or caches.
* ``projection_catchup`` (SQLite and PostgreSQL): a fresh ``Projection`` whose handlers
  upsert one row per counter (``n`` added with ``Merge.ADD``) into a ``Table``,
  run by ``ProjectionRunner(store, projection).catch_up()`` over the whole log: read,
  decode, handle, write rows and checkpoint in one transaction per batch. Set-up of
  its tables (``prepare``) is outside the clock. It is set against the store's own
  decoded ``read_all`` of the same log, timed in turns with it (no eventsourcing side:
  the library has no SQL read-model runner).
* ``command_roundtrip`` (SQLite, 32 clients at once, each on its own counter created
  before the clock starts): Headwater ``CommandBus.send(Increment(...))`` from 32
  asyncio tasks (load, decide, save with the expected version, command id and
  metadata on the events) against eventsourcing's ``app.repository.get(id)`` ->
  ``counter.increment(1)`` -> ``app.save(counter)`` from 32 threads. The bus keeps
  its aggregate cache on (its default), so only each counter's first command loads it
  from the store; eventsourcing's repository has no such cache and reads each time.
* ``single_appends`` (SQLite, the same 32 clients, each on its own stream): Headwater's
  own ``store.append(stream, NewEvent(...), expected_version=n)``, one event per call,
  the write a command ends in. ``command_vs_append_ratio`` says how close a whole
  command (decide, idempotency metadata, append) comes to that bare append.

Durability is checked on each side's own connection: SQLite in WAL mode with
``synchronous=FULL`` (eventsourcing leaves SQLite's compiled-in default, FULL; the
run refuses to compare if any side has less); PostgreSQL's ``synchronous_commit``
is reported. Every side writes its own SQLite file in a temporary directory, or its
own PostgreSQL schema, created fresh and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from _common import Lineup, Results, Sample, contest, emit_summary, log, met, ratio, run_threads
from eventsourcing.domain import Aggregate as EsAggregate
from eventsourcing.domain import event

from eventstore import (
    DEFAULT_POSTGRES_URL,
    EsApp,
    es_sqlite_app,
    es_sqlite_synchronous,
    hw_open,
    hw_setting,
    pg_schema,
    require_full,
    sweep_stale_schemas,
)
from headwater.domain import (
    Aggregate,
    AggregateId,
    Command,
    CommandBus,
    CommandContext,
    Event,
    Repository,
    when,
)
from headwater.eventstore import NO_STREAM, EventStore, NewEvent, RecordedEvent, Statement
from headwater.projections import INTEGER, TEXT, Merge, Projection, ProjectionRunner, Table

CLIENTS: Final = 32
EVENTS_PER_AGGREGATE: Final = 20
#: Aggregates written per append round while building the log (untimed).
WRITE_CHUNK: Final = 50

TARGETS: Final = {
    "rehydrate_ratio": 5.0,
    "projection_vs_read_all": 0.3,
    "command_roundtrip_ratio": 10.0,
    "command_vs_append_ratio": 0.7,
}


@dataclass(frozen=True, slots=True)
class Sizes:
    aggregates: int
    commands_per_client: int
    repeats: int
    clients: int = CLIENTS
    events_per_aggregate: int = EVENTS_PER_AGGREGATE
    warmup_aggregates: int = 50
    warmup_commands_per_client: int = 2


QUICK: Final = Sizes(aggregates=1000, commands_per_client=10, repeats=3)
FULL: Final = Sizes(aggregates=1000, commands_per_client=40, repeats=7)


# --- the aggregate, Headwater side ------------------------------------------------------


class CounterId(AggregateId, prefix="counter"):
    pass


class CounterCreated(Event, type="bench.CounterCreated"):
    name: str


class Incremented(Event, type="bench.Incremented"):
    by: int


class Counter(Aggregate[CounterId], type_name="bench.Counter"):
    name: str = ""
    count: int = 0

    def increment(self, by: int) -> None:
        self.record(Incremented(by=by))

    @when(CounterCreated)
    def _created(self, event: CounterCreated) -> None:
        self.name = event.name

    @when(Incremented)
    def _incremented(self, event: Incremented) -> None:
        self.count += event.by


class Increment(Command[int], name="bench.Increment"):
    """Returns the counter's new count."""

    counter_id: CounterId
    by: int


def increment(command: Increment, counter: Counter) -> int:
    counter.increment(command.by)
    return counter.count


def new_counter(name: str, events: int) -> Counter:
    counter = Counter.blank(CounterId.new())
    counter.record(CounterCreated(name=name))
    for _ in range(events - 1):
        counter.increment(1)
    return counter


async def hw_write_counters(repo: Repository, count: int, events: int) -> list[CounterId]:
    """``count`` counters of ``events`` events each, appended up to 50 at a time."""
    ids: list[CounterId] = []
    for start in range(0, count, WRITE_CHUNK):
        chunk = [
            new_counter(f"c{n}", events) for n in range(start, min(count, start + WRITE_CHUNK))
        ]
        await asyncio.gather(*(repo.save(c) for c in chunk))
        ids.extend(c.id for c in chunk)
    return ids


# --- the aggregate, eventsourcing side --------------------------------------------------


class EsCounter(EsAggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.count += by


def es_write_counters(app: EsApp, count: int, events: int) -> list[uuid.UUID]:
    """``count`` counters of ``events`` events each, saved 50 to a transaction."""
    ids: list[uuid.UUID] = []
    for start in range(0, count, WRITE_CHUNK):
        chunk = []
        for n in range(start, min(count, start + WRITE_CHUNK)):
            counter = EsCounter(name=f"c{n}")
            for _ in range(events - 1):
                counter.increment(1)
            chunk.append(counter)
        app.save(*chunk)
        ids.extend(c.id for c in chunk)
    return ids


# --- rehydrate ---------------------------------------------------------------------------


async def hw_rehydrate(repo: Repository, ids: Sequence[CounterId], events: int) -> Sample:
    started = time.perf_counter()
    for counter_id in ids:
        counter = await repo.load(Counter, counter_id)
        assert counter.version == events
    return len(ids) * events, time.perf_counter() - started


def es_rehydrate(app: EsApp, ids: Sequence[uuid.UUID], events: int) -> Sample:
    started = time.perf_counter()
    get = app.repository.get
    for counter_id in ids:
        counter = get(counter_id)
        assert counter.version == events
    return len(ids) * events, time.perf_counter() - started


# --- command round trips ------------------------------------------------------------------


async def hw_commands(bus: CommandBus, clients: int, per_client: int) -> Sample:
    repo = bus.repository
    ids = await hw_write_counters(repo, clients, 1)  # untimed: one counter per client

    async def client(counter_id: CounterId) -> None:
        for _ in range(per_client):
            await bus.send(Increment(counter_id=counter_id, by=1), CommandContext(actor="bench"))

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in ids))
    elapsed = time.perf_counter() - started
    counts = [(await repo.load(Counter, i)).count for i in ids]
    assert counts == [per_client] * clients, counts
    return clients * per_client, elapsed


async def hw_appends(store: EventStore, clients: int, per_client: int) -> Sample:
    """Single-event appends with an expected version, as a command's write makes them."""
    streams = [f"bench-append-{uuid.uuid4()}" for _ in range(clients)]

    async def client(stream_id: str) -> None:
        for version in range(per_client):
            await store.append(
                stream_id,
                NewEvent(Incremented.event_type, {"by": 1}, {"schema_version": 1}),
                expected_version=version if version else NO_STREAM,
            )

    started = time.perf_counter()
    await asyncio.gather(*(client(s) for s in streams))
    elapsed = time.perf_counter() - started
    heads = [(await store.stream_version(s)) for s in streams]
    assert heads == [per_client] * clients, heads
    return clients * per_client, elapsed


def es_commands(app: EsApp, clients: int, per_client: int) -> Sample:
    ids = es_write_counters(app, clients, 1)  # untimed: one counter per client

    def client(index: int) -> None:
        for _ in range(per_client):
            counter = app.repository.get(ids[index])
            counter.increment(1)
            app.save(counter)

    elapsed = run_threads(clients, client)
    assert all(app.repository.get(i).count == per_client for i in ids)
    return clients * per_client, elapsed


# --- projection catch-up --------------------------------------------------------------------

_projections = itertools.count(1)


def counts_projection(side: str) -> tuple[Projection, Table]:
    """A fresh projection and table: each repeat catches up from zero over the log."""
    n = next(_projections)
    table = Table(f"rm_bench_counts_{side}_{n}", {"id": TEXT, "n": INTEGER}, primary_key="id")
    projection = Projection(f"bench_counts_{side}_{n}", tables=[table])

    def count(event: RecordedEvent) -> Sequence[Statement]:
        return [table.upsert({"id": event.stream_id, "n": 1}, merge={"n": Merge.ADD})]

    projection.on(CounterCreated.event_type)(count)
    projection.on(Incremented.event_type)(count)
    return projection, table


async def hw_catch_up(store: EventStore, side: str, expected: int) -> Sample:
    projection, table = counts_projection(side)
    runner = ProjectionRunner(store, projection)
    await runner.prepare()  # creates its tables: outside the clock
    started = time.perf_counter()
    handled = await runner.catch_up()
    elapsed = time.perf_counter() - started
    row = await store.fetchone(f"SELECT SUM(n) FROM {table.name}")
    assert handled == expected, handled
    assert row is not None, table.name
    assert row[0] == expected, row
    return handled, elapsed


async def hw_read_all(store: EventStore, expected: int) -> Sample:
    started = time.perf_counter()
    count = 0
    async for _event in store.read_all():
        count += 1
    elapsed = time.perf_counter() - started
    assert count == expected, count
    return count, elapsed


# --- the workloads --------------------------------------------------------------------------


class Bench:
    def __init__(self, sizes: Sizes, results: Results, tmp: Path, stack: AsyncExitStack) -> None:
        self.sizes = sizes
        self.results = results
        self.tmp = tmp
        self.stack = stack

    @property
    def log_events(self) -> int:
        return self.sizes.aggregates * self.sizes.events_per_aggregate

    async def contest(self, lineup: Lineup) -> None:
        await contest(self.results, lineup, self.sizes.repeats)

    def es_sqlite(self, file: str) -> EsApp:
        app = es_sqlite_app(self.tmp / file)
        self.stack.callback(app.close)
        require_full(self.results, "eventsourcing", es_sqlite_synchronous(app))
        return app

    async def hw_sqlite(self, file: str) -> EventStore:
        store = await self.stack.enter_async_context(hw_open(f"sqlite:///{self.tmp / file}"))
        require_full(self.results, "headwater", int(await hw_setting(store, "PRAGMA synchronous")))
        return store

    async def sqlite(self) -> None:
        s = self.sizes
        log(f"SQLite: writing {s.aggregates} counters x {s.events_per_aggregate} events per side")
        rehydrate, catch_up, commands = Lineup(), Lineup(), Lineup()
        events = s.events_per_aggregate
        with self.results.guard(name := "eventsourcing_sqlite_rehydrate"):
            app = self.es_sqlite("es-log.db")
            es_ids = es_write_counters(app, s.aggregates, events)
            rehydrate.add(
                name,
                partial(es_rehydrate, app, es_ids, events),
                partial(es_rehydrate, app, es_ids[: s.warmup_aggregates], events),
            )
        hw_names = ("headwater_sqlite_rehydrate", "headwater_sqlite_projection_catchup")
        with self.results.guard(*hw_names, "headwater_sqlite_read_all"):
            store = await self.hw_sqlite("hw-log.db")
            repo = Repository(store, snapshots=False)
            hw_ids = await hw_write_counters(repo, s.aggregates, events)
            rehydrate.add(
                hw_names[0],
                partial(hw_rehydrate, repo, hw_ids, events),
                partial(hw_rehydrate, repo, hw_ids[: s.warmup_aggregates], events),
            )
            catch_up.add(
                hw_names[1],
                partial(hw_catch_up, store, "sqlite", self.log_events),
                partial(hw_catch_up, store, "sqlite", self.log_events),
            )
            read = partial(hw_read_all, store, self.log_events)
            catch_up.add("headwater_sqlite_read_all", read, read)
        log("SQLite: rehydrating 1,000 counters of 20 events")
        await self.contest(rehydrate)
        log("SQLite: projection catch-up over the log, and read_all of the same log")
        await self.contest(catch_up)

        log(f"SQLite: {s.clients} clients sending load-decide-save commands")
        with self.results.guard(name := "eventsourcing_sqlite_commands"):
            app = self.es_sqlite("es-commands.db")
            commands.add(
                name,
                partial(es_commands, app, s.clients, s.commands_per_client),
                partial(es_commands, app, s.clients, s.warmup_commands_per_client),
            )
        with self.results.guard(
            name := "headwater_sqlite_commands", "headwater_sqlite_single_appends"
        ):
            store = await self.hw_sqlite("hw-commands.db")
            bus = CommandBus(Repository(store))
            bus.register(Increment, Counter, increment)
            commands.add(
                name,
                partial(hw_commands, bus, s.clients, s.commands_per_client),
                partial(hw_commands, bus, s.clients, s.warmup_commands_per_client),
            )
            commands.add(
                "headwater_sqlite_single_appends",
                partial(hw_appends, store, s.clients, s.commands_per_client),
                partial(hw_appends, store, s.clients, s.warmup_commands_per_client),
            )
        await self.contest(commands)

    async def postgres(self, url: str) -> None:
        s = self.sizes
        log("PostgreSQL: projection catch-up over the log, and read_all of the same log")
        with self.results.guard("postgres_cleanup"):
            sweep_stale_schemas(url)
        lineup = Lineup()
        names = ("headwater_postgres_projection_catchup", "headwater_postgres_read_all")
        with self.results.guard(*names):
            schema = self.stack.enter_context(pg_schema(url, "hw"))
            store_url = f"{url}{'&' if '?' in url else '?'}schema={schema}"
            store = await self.stack.enter_async_context(hw_open(store_url, migrate=True))
            self.results.facts["headwater_postgres_synchronous_commit"] = await hw_setting(
                store, "SHOW synchronous_commit"
            )
            await hw_write_counters(Repository(store), s.aggregates, s.events_per_aggregate)
            catch = partial(hw_catch_up, store, "pg", self.log_events)
            lineup.add(names[0], catch, catch)
            read = partial(hw_read_all, store, self.log_events)
            lineup.add(names[1], read, read)
        await self.contest(lineup)


# --- the summary ------------------------------------------------------------------------------


def ratios(results: Results) -> dict[str, float | None]:
    r = results.get
    return {
        "rehydrate_ratio": ratio(
            r("headwater_sqlite_rehydrate"), r("eventsourcing_sqlite_rehydrate")
        ),
        "projection_vs_read_all": ratio(
            r("headwater_sqlite_projection_catchup"), r("headwater_sqlite_read_all")
        ),
        "command_roundtrip_ratio": ratio(
            r("headwater_sqlite_commands"), r("eventsourcing_sqlite_commands")
        ),
        "command_vs_append_ratio": ratio(
            r("headwater_sqlite_commands"), r("headwater_sqlite_single_appends")
        ),
    }


def summarize(results: Results, sizes: Sizes, quick: bool, seconds: float) -> dict[str, Any]:
    computed = ratios(results)
    r = results.get
    return {
        "benchmark": "cqrs",
        "mode": "quick" if quick else "default",
        "sizes": asdict(sizes),
        **computed,
        "projection_catchup_eps_sqlite": r("headwater_sqlite_projection_catchup"),
        "projection_catchup_eps_postgres": r("headwater_postgres_projection_catchup"),
        "projection_vs_read_all_postgres": ratio(
            r("headwater_postgres_projection_catchup"), r("headwater_postgres_read_all")
        ),
        **{f"{name}_eps": rate for name, rate in sorted(results.rates.items())},
        "targets": TARGETS,
        "met": met(computed, TARGETS),
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
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, sizes: Sizes, results: Results) -> None:
    # SIGTERM (a timeout, say) cancels the run, so schemas and files are still removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as tmp:
        async with AsyncExitStack() as stack:
            await Bench(sizes, results, Path(tmp), stack).sqlite()
        async with AsyncExitStack() as stack:
            await Bench(sizes, results, Path(tmp), stack).postgres(args.postgres_url)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    results = Results()
    started = time.perf_counter()
    status = 0
    try:
        asyncio.run(run(args, sizes, results))
    except (asyncio.CancelledError, KeyboardInterrupt):
        results.errors["run"] = "interrupted before the end"
        status = 1
    emit_summary(summarize(results, sizes, args.quick, time.perf_counter() - started))
    return status


if __name__ == "__main__":
    sys.exit(main())
