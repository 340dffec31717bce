"""Per-route p95 latency and error rate over the last interval, for per-route rules.

Read off the latency histogram the middleware already keeps (labels: route template,
method, status, tier), as the difference of its cumulative buckets between two
reads, rather than from a second record of every request. The p95 is the upper bound
of the bucket the 95th percentile falls in (``LATENCY_BUCKETS``), like Prometheus'
``histogram_quantile`` without interpolation: coarse, but it cannot understate.
A route with fewer than ``MIN_REQUESTS`` requests in the interval has no figure, so
one slow request on a quiet route does not fire, and its rule stays put.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.observability._alerts import labelled
from headwater.observability._metrics import Metrics

MIN_REQUESTS = 5


@dataclass
class _Route:
    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)


def _totals(metrics: Metrics) -> dict[str, _Route]:
    routes: dict[str, _Route] = {}
    for family in metrics.http_duration.collect():
        for sample in family.samples:
            route = routes.setdefault(sample.labels.get("route", ""), _Route())
            if sample.name.endswith("_count"):
                route.requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    route.errors += sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                route.buckets[bound] = route.buckets.get(bound, 0.0) + sample.value
    return routes


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    wanted = q * counts[-1]
    finite = [b for b in bounds if b != float("inf")]
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= wanted:
            # The +Inf bucket has no upper bound: report the largest finite one.
            return bound if bound != float("inf") else max(finite, default=0.0)
    return max(finite, default=0.0)


class RouteFigures:
    def __init__(self, metrics: Metrics, min_requests: int = MIN_REQUESTS) -> None:
        self.metrics = metrics
        self.min_requests = min_requests
        self._last = _totals(metrics)

    def read(self) -> dict[str, float]:
        """``http_route_p95_seconds{route="..."}`` and ``http_route_error_rate{...}``
        for each route with enough requests since the previous read."""
        now = _totals(self.metrics)
        last, self._last = self._last, now
        out: dict[str, float] = {}
        for route, totals in now.items():
            before = last.get(route, _Route())
            requests = totals.requests - before.requests
            if requests < self.min_requests:
                continue
            out[labelled("http_route_p95_seconds", route)] = bucket_quantile(
                before.buckets, totals.buckets, 0.95
            )
            out[labelled("http_route_error_rate", route)] = (
                totals.errors - before.errors
            ) / requests
        return out
