"""The node's Prometheus metrics, in a registry of its own, and the ``/metrics`` route.

Each app gets its own ``CollectorRegistry`` rather than prometheus-client's global
default, so several apps in one process (tests, an embedding host) never collide
on metric names, and a scrape shows one app's figures only.

Figures that live elsewhere (cache counters, circuit states, the event-store head)
are not copied into metrics as they change: ``collectors.RuntimeCollector`` reads
them when scraped, so there is a single source of truth per figure.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from headwater.observability._timing import Timings

#: Seconds; from a cached read (~1 ms) to a slow export (10 s).
LATENCY_BUCKETS: Sequence[float] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


#: Seconds a job's handler runs: a quick email to a long export.
JOB_BUCKETS: Sequence[float] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
)  # fmt: skip
#: Attempts a run was (1 for a first try); the queue allows up to 1000.
ATTEMPT_BUCKETS: Sequence[float] = (1, 2, 3, 5, 8, 13, 21, 50, 100)

#: Seconds a stream stays open: an export's few seconds to an SSE tab open all day.
STREAM_BUCKETS: Sequence[float] = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


@dataclass
class RecentRequests:
    """A bounded window of recent requests, for alert rules (p95, error rate).

    Histograms answer "since start-up"; alerts need "lately", so the middleware
    also keeps the last ``size`` durations and statuses here.
    """

    size: int = 2048
    durations: deque[float] = field(default_factory=deque)
    statuses: deque[int] = field(default_factory=deque)

    def add(self, seconds: float, status: int) -> None:
        self.durations.append(seconds)
        self.statuses.append(status)
        while len(self.durations) > self.size:
            self.durations.popleft()
            self.statuses.popleft()

    def drain(self) -> tuple[list[float], list[int]]:
        """The window's contents, emptying it (each alert sample sees new requests)."""
        durations, statuses = list(self.durations), list(self.statuses)
        self.durations.clear()
        self.statuses.clear()
        return durations, statuses


class Metrics:
    """Every metric the observability layer records itself, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_duration = Histogram(
            "headwater_http_request_duration_seconds",
            "HTTP request latency, by route template, method, status and rate-limit tier.",
            ["route", "method", "status", "tier"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_progress = Gauge(
            "headwater_http_requests_in_progress",
            "HTTP requests being served now.",
            ["method"],
            registry=r,
        )
        self.http_response_bytes = Counter(
            "headwater_http_response_bytes",
            "Response body bytes sent (before compression).",
            ["route"],
            registry=r,
        )
        # Streams (SSE, exports) are not requests of a few seconds: in the latency
        # histogram an idle node's open SSE tabs would read as a 2.5 s p95.
        self.http_streams = Counter(
            "headwater_http_streams",
            "Streamed responses (SSE, exports), by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_stream_first_byte = Histogram(
            "headwater_http_stream_first_byte_seconds",
            "Time from a streamed response's request to its first body bytes.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_stream_duration = Histogram(
            "headwater_http_stream_duration_seconds",
            "How long streamed responses stayed open.",
            ["route"],
            buckets=STREAM_BUCKETS,
            registry=r,
        )
        self.alerts = Counter(
            "headwater_alerts",
            "Alert transitions, by rule and status (firing, resolved).",
            ["rule", "status"],
            registry=r,
        )
        self.alert_active = Gauge(
            "headwater_alert_active", "1 while an alert rule is firing.", ["rule"], registry=r
        )
        self.webhook_failures = Counter(
            "headwater_alert_webhook_failures",
            "Alert webhook deliveries that failed after retries.",
            ["url"],
            registry=r,
        )
        # Jobs: what this node's workers did (``observe_job``, a queue listener), and
        # what waits in each queue, across every node (``set_job_queues``, at scrape).
        self.job_duration = Histogram(
            "headwater_job_duration_seconds",
            "Seconds a job's handler ran, by job name and outcome.",
            ["queue", "outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_outcomes = Counter(
            "headwater_job_outcomes",
            "Job runs finished on this node, by job name and outcome "
            "(succeeded, failed: retried later, dead: no attempt left).",
            ["queue", "outcome"],
            registry=r,
        )
        self.job_attempts = Histogram(
            "headwater_job_attempts",
            "The attempt number of each finished run, by job name and outcome.",
            ["queue", "outcome"],
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        self.job_queue_depth = Gauge(
            "headwater_job_queue_depth",
            "Jobs ready to run now (due and waiting), by job name, across every node.",
            ["queue"],
            registry=r,
        )
        self.job_queue_age = Gauge(
            "headwater_job_queue_age_seconds",
            "Seconds the oldest ready job of each job name has been due.",
            ["queue"],
            registry=r,
        )
        self._queues_seen: set[str] = set()
        self.timings = Timings(r)
        self.recent = RecentRequests()
        #: Async refreshers run before each scrape (collectors reading async sources).
        self.refreshers: list[Callable[[], Awaitable[None]]] = []

    def observe_job(self, event: Any) -> None:
        """A job listener (``headwater.jobs.JobEvent``): finished runs become metrics."""
        if event.kind not in ("succeeded", "failed", "dead"):
            return
        self.job_outcomes.labels(event.name, event.kind).inc()
        if event.attempt:
            self.job_attempts.labels(event.name, event.kind).observe(event.attempt)
        if event.duration is not None:
            self.job_duration.labels(event.name, event.kind).observe(event.duration)

    def set_job_queues(self, ready: Mapping[str, tuple[int, float]]) -> None:
        """``{job name: (ready jobs, seconds the oldest has waited)}``; names no longer
        waiting drop to zero rather than keep their last figure."""
        for labels in [*self._queues_seen]:
            if labels not in ready:
                self.job_queue_depth.labels(labels).set(0)
                self.job_queue_age.labels(labels).set(0)
        for name, (depth, age) in ready.items():
            self.job_queue_depth.labels(name).set(depth)
            self.job_queue_age.labels(name).set(age)
        self._queues_seen.update(ready)

    async def render(self) -> bytes:
        for refresh in self.refreshers:
            await refresh()
        return generate_latest(self.registry)


def metrics_router(
    metrics: Metrics, *, path: str = "/metrics", token: str | None = None
) -> APIRouter:
    """``GET /metrics`` in the Prometheus text format. Not in the OpenAPI schema.

    With ``token`` a scrape must send ``Authorization: Bearer <token>``: figures such
    as tenant counts or breaker states are not for the public internet.
    """
    router = APIRouter()
    expected = None if token is None else f"Bearer {token}".encode()

    @router.get(path, include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(status_code=401, headers={"www-authenticate": "Bearer"})
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
