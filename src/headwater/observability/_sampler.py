"""One sample of the node's health, the input of the alert rules.

Keys (a key is absent when its source is not running, so its rules stay put):

- ``http_error_rate``: share of 5xx among requests since the previous sample;
- ``http_p95_seconds``: 95th percentile latency of those requests;
- ``cpu_percent``: this process's CPU time over wall time since the previous sample
  (100 = one core busy);
- ``memory_percent``: resident memory over the machine's physical memory;
- ``projection_lag_events``: the largest lag among projections;
- ``dead_jobs``: jobs in the dead-letter state;
- ``http_route_p95_seconds{route="..."}``, ``http_route_error_rate{route="..."}``:
  per route template (``RouteFigures``), for per-route rules;
- the collector's node figures (``collectors.FIGURES``): ``system_cpu_percent``,
  ``system_memory_percent``, ``db_pool_*``, ``db_latency_seconds``, ``active_users``.

The process's own CPU and memory come from ``/proc`` and ``os.times``; the whole
machine's from ``_system`` (psutil when installed).
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable

from headwater.observability._collectors import RuntimeCollector
from headwater.observability._metrics import RecentRequests
from headwater.observability._route_figures import RouteFigures

#: Fewer requests than this in an interval say nothing about error rate or latency.
MIN_REQUESTS = 5


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (what an operator computes by hand from a list)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        # Peak rather than current, in kilobytes on Linux: better than nothing.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def physical_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return None


class SystemSampler:
    def __init__(
        self,
        recent: RecentRequests,
        collector: RuntimeCollector | None = None,
        *,
        routes: RouteFigures | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recent = recent
        self.collector = collector
        self.routes = routes
        self._clock = clock
        self._last_wall = clock()
        self._last_cpu = self._cpu()

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system

    async def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        durations, statuses = self.recent.drain()
        if len(durations) >= MIN_REQUESTS:
            out["http_error_rate"] = sum(s >= 500 for s in statuses) / len(statuses)
            out["http_p95_seconds"] = percentile(durations, 0.95)
        now, cpu = self._clock(), self._cpu()
        if now > self._last_wall:
            out["cpu_percent"] = 100.0 * (cpu - self._last_cpu) / (now - self._last_wall)
        self._last_wall, self._last_cpu = now, cpu
        total = physical_bytes()
        if total:
            out["memory_percent"] = 100.0 * resident_bytes() / total
        if self.routes is not None:
            out.update(self.routes.read())
        if self.collector is not None:
            snap = await self.collector.refresh()
            out.update(snap.figures)
            if snap.projection_lag_events:
                out["projection_lag_events"] = max(snap.projection_lag_events.values())
            if "dead" in snap.job_depth:
                out["dead_jobs"] = float(snap.job_depth["dead"])
        return out
