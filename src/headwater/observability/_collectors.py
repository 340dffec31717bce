"""Figures owned by other services, read when Prometheus scrapes (never copied as they change).

What is read, each only while the module that provides it runs:

- ``runtime.cache``: ``CacheStats.snapshot()`` counters (hits per level, misses...);
- ``runtime.limiter``: ``RateLimitStats`` (allowed, rejected, outage decisions);
- circuit breakers: of the cache's and rate limiter's Redis guards, and those in
  ``runtime.breakers``;
- the event store's head position, and (duck-typed, PostgreSQL) ``link_stats()``:
  pool connections, connections discarded, the LISTEN connection and its reconnects;
- ``runtime.projections``: lag in events and seconds per projection;
- ``runtime.jobs``: depth per job state;
- the node's figures (``FIGURES``): system CPU and memory, the database pool and a
  timed database probe, and the active users the module's middleware counts.

Async sources are read by ``refresh()`` just before a scrape renders (prometheus
collectors are synchronous); the synchronous ``collect()`` then reports that
snapshot. A source that fails is skipped and counted, never failing the scrape.

There is one collector per app, the observability module's (``runtime.collector``):
``/metrics`` renders it and the dashboard's series (``admin/series.py``) charts its
snapshot, so both show the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from headwater.observability._activity import ActiveUsers
from headwater.observability._database import DatabaseFigures
from headwater.observability._logging import get_logger
from headwater.observability._system import CpuMeter, memory_percent
from headwater.resilience._breaker import CircuitBreaker, CircuitState
from headwater.runtime import Runtime

if TYPE_CHECKING:
    from headwater.ratelimit._limiter import RateLimitStats

_log = get_logger("headwater.observability")


def find_breakers(runtime: Runtime) -> list[CircuitBreaker]:
    """The Redis guards' breakers of the cache and the rate limiter, and those that
    modules added to ``runtime.breakers``; each once."""
    candidates: list[object] = [*runtime.breakers]
    if runtime.cache is not None:
        candidates.append(getattr(runtime.cache.l2, "guard", None))
    if runtime.limiter is not None:
        candidates.append(getattr(runtime.limiter.storage, "guard", None))
    found: list[CircuitBreaker] = []
    for candidate in candidates:
        breaker = candidate if isinstance(candidate, CircuitBreaker) else None
        if breaker is None:
            breaker = getattr(candidate, "breaker", None)
        if isinstance(breaker, CircuitBreaker) and breaker not in found:
            found.append(breaker)
    return found


@dataclass
class Snapshot:
    head_position: int | None = None
    projection_lag_events: dict[str, float] = field(default_factory=dict)
    projection_lag_seconds: dict[str, float] = field(default_factory=dict)
    job_depth: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    #: The node's figures by ``FIGURES`` key; a key is absent when its source is.
    figures: dict[str, float] = field(default_factory=dict)


#: The node's figures: (sample key, metric, help). Alert rules watch the same keys.
FIGURES = (
    ("system_cpu_percent", "headwater_system_cpu_percent", "CPU in use, whole machine, percent."),
    (
        "system_memory_percent",
        "headwater_system_memory_percent",
        "Memory in use (not reclaimable), whole machine, percent.",
    ),
    ("db_pool_in_use", "headwater_db_pool_in_use", "Pooled database connections lent out."),
    ("db_pool_idle", "headwater_db_pool_idle", "Pooled database connections idle."),
    ("db_pool_max", "headwater_db_pool_max", "The most connections the pool opens."),
    ("db_pool_waiting", "headwater_db_pool_waiting", "Callers waiting for a connection."),
    (
        "db_pool_acquire_seconds",
        "headwater_db_pool_acquire_seconds",
        "Mean wait for a pooled connection since the previous read.",
    ),
    (
        "db_latency_seconds",
        "headwater_db_latency_seconds",
        "A timed SELECT 1 through the store, pool wait included.",
    ),
    ("active_users", "headwater_active_users", "Distinct signed-in users in the last window."),
)


class RuntimeCollector(Collector):
    def __init__(
        self,
        runtime: Callable[[], Runtime | None],
        *,
        active_users: ActiveUsers | None = None,
    ) -> None:
        self._runtime = runtime
        self.snapshot = Snapshot()
        self.active_users = active_users
        self.cpu = CpuMeter()
        self.database = DatabaseFigures()

    async def refresh(self) -> Snapshot:
        runtime = self._runtime()
        snap = Snapshot(errors=dict(self.snapshot.errors))
        if runtime is None:
            self.snapshot = snap
            return snap
        # First: the pool as it is now, before the reads below queue for connections
        # of their own (with the pool exhausted, each waits its full timeout).
        await self._figures(runtime, snap.figures, snap)
        try:
            snap.head_position = await runtime.store.head_position()
        except Exception:
            self._failed(snap, "eventstore")
        projections = runtime.projections
        if projections is not None:
            try:
                for status in await projections.status():
                    snap.projection_lag_events[status.name] = float(status.lag_events)
                    snap.projection_lag_seconds[status.name] = float(status.lag_seconds)
            except Exception:
                self._failed(snap, "projections")
        jobs = runtime.jobs
        if jobs is not None:
            try:
                snap.job_depth = {str(k): int(v) for k, v in (await jobs.depth()).items()}
            except Exception:
                self._failed(snap, "jobs")
        self.snapshot = snap
        return snap

    async def _figures(self, runtime: Runtime, out: dict[str, float], snap: Snapshot) -> None:
        cpu, memory = self.cpu.read(), memory_percent()
        if cpu is not None:
            out["system_cpu_percent"] = cpu
        if memory is not None:
            out["system_memory_percent"] = memory
        if self.active_users is not None:
            out["active_users"] = float(self.active_users.count())
        out.update(self.database.pool(runtime.store))
        try:
            out["db_latency_seconds"] = await self.database.latency(runtime.store)
        except Exception:
            self._failed(snap, "database_probe")

    @staticmethod
    def _failed(snap: Snapshot, source: str) -> None:
        snap.errors[source] = snap.errors.get(source, 0) + 1
        _log.warning("metrics.source_failed", source=source, exc_info=True)

    def describe(self) -> Iterable[Metric]:
        # Nothing up front: the families depend on which services are running.
        return ()

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime()
        snap = self.snapshot
        if snap.head_position is not None:
            head = GaugeMetricFamily(
                "headwater_eventstore_head_position", "Newest position in the event log."
            )
            head.add_metric([], snap.head_position)
            yield head
        if runtime is not None:
            link_stats = getattr(runtime.store, "link_stats", None)
            if callable(link_stats):
                yield from _database_link(link_stats())
            if runtime.cache is not None:
                yield _counters(
                    "headwater_cache_operations",
                    "Cache outcomes since start.",
                    "outcome",
                    runtime.cache.stats.snapshot(),
                )
            if runtime.limiter is not None:
                yield from _ratelimit(runtime.limiter.stats)
            yield from _breakers(find_breakers(runtime))
        if snap.projection_lag_events:
            lag = GaugeMetricFamily(
                "headwater_projection_lag_events",
                "Events a projection has yet to handle.",
                labels=["projection"],
            )
            age = GaugeMetricFamily(
                "headwater_projection_lag_seconds",
                "Age of the oldest event a projection has yet to handle.",
                labels=["projection"],
            )
            for name, value in snap.projection_lag_events.items():
                lag.add_metric([name], value)
                age.add_metric([name], snap.projection_lag_seconds.get(name, 0.0))
            yield lag
            yield age
        if snap.job_depth:
            depth = GaugeMetricFamily(
                "headwater_jobs", "Jobs in each state, across every node.", labels=["state"]
            )
            for state, count in sorted(snap.job_depth.items()):
                depth.add_metric([state], count)
            yield depth
        for key, name, documentation in FIGURES:
            if key in snap.figures:
                figure = GaugeMetricFamily(name, documentation)
                figure.add_metric([], snap.figures[key])
                yield figure
        errors = CounterMetricFamily(
            "headwater_metrics_source_errors",
            "Scrapes where a metrics source failed.",
            labels=["source"],
        )
        for source, count in snap.errors.items():
            errors.add_metric([source], count)
        yield errors


def _counters(name: str, documentation: str, label: str, counts: Mapping[str, float]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in counts.items():
        family.add_metric([value], count)
    return family


def _ratelimit(stats: RateLimitStats) -> Iterator[Metric]:
    yield _counters(
        "headwater_ratelimit_decisions",
        "Rate-limit decisions.",
        "decision",
        {
            "allowed": stats.allowed,
            "rejected": stats.rejected,
            "rejected_concurrency": stats.rejected_concurrency,
        },
    )
    yield _counters(
        "headwater_ratelimit_outage_decisions",
        "Checks decided by an outage policy while counters were unreachable.",
        "policy",
        {str(getattr(policy, "value", policy)): count for policy, count in stats.outage.items()},
    )


def _breakers(breakers: list[CircuitBreaker]) -> Iterator[Metric]:
    if not breakers:
        return
    state = GaugeMetricFamily(
        "headwater_circuit_state",
        "1 for the state each circuit breaker is in, 0 for the others.",
        labels=["name", "state"],
    )
    rejected = CounterMetricFamily(
        "headwater_circuit_rejected", "Calls refused by an open circuit.", labels=["name"]
    )
    seen: set[str] = set()
    for breaker in breakers:
        if breaker.name in seen:
            continue
        seen.add(breaker.name)
        for candidate in CircuitState:
            state.add_metric([breaker.name, candidate.value], float(breaker.state is candidate))
        rejected.add_metric([breaker.name], breaker.rejected)
    yield state
    yield rejected


#: The PostgreSQL link's figures: (``link_stats()`` key, metric, kind, help).
_LINK_FIGURES = (
    (
        "requests_waiting",
        "headwater_postgres_pool_waiting",
        "gauge",
        "Calls waiting for a pooled connection.",
    ),
    (
        "connections_discarded",
        "headwater_postgres_connections_discarded",
        "counter",
        "Pooled connections closed after a missed deadline, a link failure or a cancellation.",
    ),
    (
        "listen_connected",
        "headwater_postgres_listen_connected",
        "gauge",
        "1 while the LISTEN connection is up.",
    ),
    (
        "listen_reconnects",
        "headwater_postgres_listen_reconnects",
        "counter",
        "LISTEN connections lost (silent past the heartbeat, or failed) and replaced.",
    ),
    (
        "appends_in_flight",
        "headwater_postgres_appends_in_flight",
        "gauge",
        "Appends waiting for the group-commit writer.",
    ),
)


def _database_link(stats: dict[str, int]) -> Iterator[Metric]:
    """The node's PostgreSQL connections: read synchronously, no I/O."""
    pool = GaugeMetricFamily(
        "headwater_postgres_pool_connections",
        "Pooled PostgreSQL connections: open (in use or idle), and idle.",
        labels=["state"],
    )
    pool.add_metric(["open"], stats.get("pool_size", 0))
    pool.add_metric(["idle"], stats.get("pool_available", 0))
    yield pool
    for key, name, kind, documentation in _LINK_FIGURES:
        family: GaugeMetricFamily | CounterMetricFamily = (
            GaugeMetricFamily(name, documentation)
            if kind == "gauge"
            else CounterMetricFamily(name, documentation)
        )
        family.add_metric([], stats.get(key, 0))
        yield family
