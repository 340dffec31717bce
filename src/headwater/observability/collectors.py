"""Figures owned by other services, read when Prometheus scrapes (never copied as they change).

What is read, each only when its service is present in ``runtime.services``:

- ``cache``: ``CacheStats.snapshot()`` counters (hits per level, misses, refreshes...);
- ``ratelimit``: ``RateLimitStats`` (allowed, rejected, outage decisions);
- circuit breakers: of the cache's and rate limiter's Redis guards, of the outbound
  webhook transport, and of any service with a ``breakers()`` method;
- the event store's head position, and (duck-typed, PostgreSQL) ``link_stats()``:
  pool connections, connections discarded, the LISTEN connection and its reconnects;
- ``projections`` (duck-typed): ``await status()`` giving objects with ``name``,
  ``lag_events`` and ``lag_seconds``;
- ``jobs`` (duck-typed): ``await depth()`` giving ``{state: count}``.

Async sources are read by ``refresh()`` just before a scrape renders (prometheus
collectors are synchronous); the synchronous ``collect()`` then reports that
snapshot. A source that fails is skipped and counted, never failing the scrape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from headwater.observability.logging import get_logger
from headwater.resilience.breaker import CircuitBreaker, CircuitState
from headwater.runtime import Runtime

_log = get_logger("headwater.observability")


def find_breakers(services: dict[str, Any]) -> list[CircuitBreaker]:
    """Every circuit breaker reachable from the runtime's services, by duck typing."""
    found: list[CircuitBreaker] = []
    candidates: list[Any] = []
    cache = services.get("cache")
    if cache is not None:
        candidates.append(getattr(getattr(cache, "l2", None), "guard", None))
    limiter = services.get("ratelimit")
    if limiter is not None:
        candidates.append(getattr(getattr(limiter, "storage", None), "guard", None))
    for service in services.values():
        breakers = getattr(service, "breakers", None)
        if callable(breakers):
            with contextlib.suppress(Exception):
                candidates.extend(breakers())
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


class RuntimeCollector(Collector):
    def __init__(
        self,
        runtime: Callable[[], Runtime | None],
        extra_breakers: Callable[[], Iterable[CircuitBreaker]] = lambda: (),
    ) -> None:
        self._runtime = runtime
        self._extra_breakers = extra_breakers
        self.snapshot = Snapshot()

    async def refresh(self) -> Snapshot:
        runtime = self._runtime()
        snap = Snapshot(errors=dict(self.snapshot.errors))
        if runtime is None:
            self.snapshot = snap
            return snap
        try:
            snap.head_position = await runtime.store.head_position()
        except Exception:
            self._failed(snap, "eventstore")
        projections = runtime.services.get("projections")
        if projections is not None and hasattr(projections, "status"):
            try:
                for status in await projections.status():
                    snap.projection_lag_events[status.name] = float(status.lag_events)
                    snap.projection_lag_seconds[status.name] = float(status.lag_seconds)
            except Exception:
                self._failed(snap, "projections")
        jobs = runtime.services.get("jobs")
        if jobs is not None and hasattr(jobs, "depth"):
            try:
                snap.job_depth = {str(k): int(v) for k, v in (await jobs.depth()).items()}
            except Exception:
                self._failed(snap, "jobs")
        self.snapshot = snap
        return snap

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
            yield from self._cache(runtime.services.get("cache"))
            yield from self._ratelimit(runtime.services.get("ratelimit"))
            breakers = [*find_breakers(runtime.services), *self._extra_breakers()]
            yield from _breakers(breakers)
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
        errors = CounterMetricFamily(
            "headwater_metrics_source_errors",
            "Scrapes where a metrics source failed.",
            labels=["source"],
        )
        for source, count in snap.errors.items():
            errors.add_metric([source], count)
        yield errors

    @staticmethod
    def _cache(cache: Any) -> Iterator[Metric]:
        stats = getattr(cache, "stats", None)
        if stats is None or not hasattr(stats, "snapshot"):
            return
        family = CounterMetricFamily(
            "headwater_cache_operations", "Cache outcomes since start.", labels=["outcome"]
        )
        for outcome, count in stats.snapshot().items():
            family.add_metric([outcome], count)
        yield family

    @staticmethod
    def _ratelimit(limiter: Any) -> Iterator[Metric]:
        stats = getattr(limiter, "stats", None)
        if stats is None:
            return
        decisions = CounterMetricFamily(
            "headwater_ratelimit_decisions", "Rate-limit decisions.", labels=["decision"]
        )
        decisions.add_metric(["allowed"], stats.allowed)
        decisions.add_metric(["rejected"], stats.rejected)
        decisions.add_metric(["rejected_concurrency"], stats.rejected_concurrency)
        yield decisions
        outage = CounterMetricFamily(
            "headwater_ratelimit_outage_decisions",
            "Checks decided by an outage policy while counters were unreachable.",
            labels=["policy"],
        )
        for policy, count in getattr(stats, "outage", {}).items():
            outage.add_metric([str(getattr(policy, "value", policy))], count)
        yield outage


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
    waiting = GaugeMetricFamily(
        "headwater_postgres_pool_waiting", "Calls waiting for a pooled connection."
    )
    waiting.add_metric([], stats.get("requests_waiting", 0))
    yield waiting
    discarded = CounterMetricFamily(
        "headwater_postgres_connections_discarded",
        "Pooled connections closed after a missed deadline, a link failure or a cancellation.",
    )
    discarded.add_metric([], stats.get("connections_discarded", 0))
    yield discarded
    listening = GaugeMetricFamily(
        "headwater_postgres_listen_connected", "1 while the LISTEN connection is up."
    )
    listening.add_metric([], stats.get("listen_connected", 0))
    yield listening
    reconnects = CounterMetricFamily(
        "headwater_postgres_listen_reconnects",
        "LISTEN connections lost (silent past the heartbeat, or failed) and replaced.",
    )
    reconnects.add_metric([], stats.get("listen_reconnects", 0))
    yield reconnects
    appends = GaugeMetricFamily(
        "headwater_postgres_appends_in_flight", "Appends waiting for the group-commit writer."
    )
    appends.add_metric([], stats.get("appends_in_flight", 0))
    yield appends
