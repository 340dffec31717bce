"""The node's vital signs over the last minutes, one point per interval, for the charts.

Each point is computed from figures that already exist, never from a second set of
counters: the HTTP latency histogram of the observability module (requests, errors
and latency percentiles come from its deltas between two samples), and the app's one
``RuntimeCollector`` (``runtime.collector``, the one ``/metrics`` renders): the event
store's head (events per second), projection lag and queue depth. WebSocket
connections come from the realtime hub. Without the observability module there is no
collector and no histogram, and the points say so with zeros.

A point (all figures over the interval that ends at ``t``)::

    {"t": unix seconds, "requests_per_s", "error_rate" (5xx share), "p50_ms", "p95_ms",
     "events_per_s", "projection_lag" (largest, in events), "queue_depth" (jobs
     waiting or running), "connections", "cpu_percent" (whole machine),
     "memory_percent" (whole machine), "db_pool_in_use", "db_pool_waiting",
     "db_latency_ms", "active_users"}

The last six come from the collector's node figures (``collectors.FIGURES``) and
are null when their source is absent (no pool on SQLite, say). The same point goes
out in ``metrics.updated``; ``/admin/api/metrics/history`` has the last day.

Latency percentiles are read off the histogram's buckets (the bucket's upper bound,
like Prometheus' ``histogram_quantile`` without interpolation below it), so they are
as coarse as ``LATENCY_BUCKETS``: honest for a chart, not for an SLO report.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater.observability._collectors import Snapshot
from headwater.observability._metrics import Metrics
from headwater.runtime import Runtime

#: Job states that count as the queue's depth (work not yet finished).
_WAITING = ("scheduled", "queued", "failed", "running")


@dataclass
class _Totals:
    """Cumulative figures at one instant; a point is the difference of two."""

    at: float
    requests: float = 0.0
    errors: float = 0.0
    #: Cumulative count per bucket upper bound, over every route.
    buckets: dict[float, float] = field(default_factory=dict)
    head: int | None = None


def _http_totals(metrics: Metrics | None, at: float) -> _Totals:
    totals = _Totals(at)
    if metrics is None:
        return totals
    for family in metrics.http_duration.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                totals.requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    totals.errors += sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                totals.buckets[bound] = totals.buckets.get(bound, 0.0) + sample.value
    return totals


def _quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return None
    wanted = q * total
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= wanted:
            # The +Inf bucket has no upper bound: report the largest finite one.
            finite = bound if bound != float("inf") else max(b for b in bounds if b != bound)
            return round(finite * 1000.0, 3)
    return None


def _figures(figures: dict[str, float]) -> dict[str, float | None]:
    latency = figures.get("db_latency_seconds")
    return {
        "cpu_percent": figures.get("system_cpu_percent"),
        "memory_percent": figures.get("system_memory_percent"),
        "db_pool_in_use": figures.get("db_pool_in_use"),
        "db_pool_waiting": figures.get("db_pool_waiting"),
        "db_latency_ms": None if latency is None else round(latency * 1000.0, 3),
        "active_users": figures.get("active_users"),
    }


class NodeSeries:
    """Samples the node every ``interval`` seconds and keeps the last ``size`` points."""

    def __init__(
        self,
        runtime: Callable[[], Runtime | None],
        *,
        interval: float = 2.0,
        size: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval = interval
        self.points: deque[dict[str, Any]] = deque(maxlen=size)
        self._runtime = runtime
        self._clock = clock
        self._last: _Totals | None = None

    async def sample(self) -> dict[str, Any] | None:
        """Take one sample; returns the new point (None for the very first sample,
        which only sets the baseline the next one is measured against)."""
        runtime = self._runtime()
        if runtime is None:
            return None
        collector = runtime.collector
        snap = Snapshot() if collector is None else await collector.refresh()
        now = _http_totals(runtime.metrics, self._clock())
        now.head = snap.head_position
        last, self._last = self._last, now
        if last is None or now.at <= last.at:
            return None
        seconds = now.at - last.at
        requests = now.requests - last.requests
        # Both heads or no rate: a head missing from one sample (its read failed) would
        # otherwise count the whole log as this interval's events.
        events = now.head - last.head if now.head is not None and last.head is not None else 0
        hub = runtime.hub
        point = {
            "t": round(now.at, 3),
            "requests_per_s": round(requests / seconds, 3),
            "error_rate": round((now.errors - last.errors) / requests, 4) if requests else 0.0,
            "p50_ms": _quantile(last.buckets, now.buckets, 0.5),
            "p95_ms": _quantile(last.buckets, now.buckets, 0.95),
            "events_per_s": round(max(events, 0) / seconds, 3),
            "projection_lag": max(snap.projection_lag_events.values(), default=0.0),
            "queue_depth": sum(snap.job_depth.get(state, 0) for state in _WAITING),
            "connections": 0 if hub is None else len(hub.connections),
            **_figures(snap.figures),
        }
        self.points.append(point)
        return point

    def latest(self) -> dict[str, Any] | None:
        return self.points[-1] if self.points else None
