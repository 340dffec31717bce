"""``ObservabilityModule``: JSON logs, ``/metrics``, tracing and alerts, as one module.

::

    app = create_app(settings, plugins=[ObservabilityModule(
        alert_webhooks=[Webhook("https://ops.example/hook", secret="...")],
    )])

What it adds: the ``ObservabilityMiddleware`` (server span, ``traceparent`` on every
response, request id and trace id bound to every log line, latency histograms), the
``GET /metrics`` route over this app's own registry, the runtime collector (cache,
rate limits, circuits, event store, and projections and jobs when they run), and a
background loop that samples the node every ``alert_interval`` seconds and feeds the
alert rules. Alerts go to ``hw.system-alerts`` as ``system.alert`` events, to the
live admin feeds through ``runtime.alerts`` when the admin module runs (or to the
``publish`` given), and to the webhooks. While it runs, ``runtime.metrics`` and
``runtime.collector`` are this module's, so the dashboard charts the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from fastapi import APIRouter
from starlette.middleware import Middleware

from headwater.modules import Module
from headwater.observability._alerts import (
    Alert,
    AlertEvaluator,
    AlertRule,
    AlertSink,
    CallableAlertSink,
    StreamAlertSink,
    default_rules,
)
from headwater.observability._collectors import RuntimeCollector
from headwater.observability._logging import configure_logging, get_logger, reset_logging
from headwater.observability._metrics import Metrics, metrics_router
from headwater.observability._middleware import ObservabilityMiddleware
from headwater.observability._sampler import SystemSampler
from headwater.observability._tracing import Tracer
from headwater.observability._webhooks import Webhook, WebhookAlertSink
from headwater.resilience._egress import EgressPolicy
from headwater.runtime import Runtime

_log = get_logger("headwater.observability")


def _registered_publisher(
    runtime: Runtime,
) -> Callable[[str, dict[str, Any]], Awaitable[object] | object]:
    """``runtime.alerts`` as it is when an alert fires (none: nothing to do).
    ``CallableAlertSink`` awaits whatever it returns."""

    def publish(event_type: str, data: dict[str, Any]) -> Awaitable[object] | object:
        target = runtime.alerts
        return None if target is None else target(event_type, data)

    return publish


class ObservabilityModule(Module):
    name: ClassVar[str] = "observability"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        log_level: str | None = "INFO",
        otel: bool = False,
        otel_provider: Any = None,
        metrics_path: str = "/metrics",
        metrics_token: str | None = None,
        access_log: bool = True,
        rules: Sequence[AlertRule] | None = None,
        alert_interval: float | None = 15.0,
        alert_stream: bool = True,
        alert_webhooks: Sequence[Webhook] = (),
        alert_sinks: Sequence[AlertSink] = (),
        publish: Callable[[str, dict[str, Any]], Awaitable[object] | object] | None = None,
    ) -> None:
        """``log_level=None`` leaves logging as the host configured it (tests, embedding);
        ``alert_interval=None`` turns the sampling loop off (call ``evaluate_now``)."""
        self.metrics = metrics or Metrics()
        self.tracer = Tracer(otel=otel, provider=otel_provider)
        # timed() and job runs make their spans with this module's tracer.
        self.metrics.timings.tracer = self.tracer
        self.log_level = log_level
        self.metrics_path = metrics_path
        self.metrics_token = metrics_token
        self.access_log = access_log
        self.rules = list(default_rules() if rules is None else rules)
        self.alert_interval = alert_interval
        self.alert_stream = alert_stream
        self.webhook_sink = (
            WebhookAlertSink(list(alert_webhooks), on_failure=self._webhook_failed)
            if alert_webhooks
            else None
        )
        self.extra_sinks = list(alert_sinks)
        self.publish = publish
        self.runtime: Runtime | None = None
        self.collector = RuntimeCollector(lambda: self.runtime)
        self.metrics.registry.register(self.collector)
        self.metrics.refreshers.append(self._refresh)
        self.sampler = SystemSampler(self.metrics.recent, self.collector)
        self.evaluator = AlertEvaluator(self.rules, on_alert=self._count)
        self._loop: asyncio.Task[None] | None = None

    # --- Module hooks ------------------------------------------------------------------

    def routers(self) -> Sequence[APIRouter]:
        return (metrics_router(self.metrics, path=self.metrics_path, token=self.metrics_token),)

    def middleware(self) -> Sequence[Middleware]:
        return (
            Middleware(
                ObservabilityMiddleware,
                metrics=self.metrics,
                tracer=self.tracer,
                access_log=self.access_log,
                skip_paths=(self.metrics_path, "/healthz", "/livez", "/readyz"),
            ),
        )

    async def start(self, runtime: Runtime) -> None:
        if self.webhook_sink is not None:
            self.webhook_sink.egress = EgressPolicy.of(runtime.settings.outbound_allow)
        if self.log_level is not None:
            configure_logging(self.log_level)
        self.runtime = runtime
        sinks: list[AlertSink] = []
        if self.alert_stream:
            sinks.append(StreamAlertSink(runtime.store))
        if self.publish is not None:
            sinks.append(CallableAlertSink(self.publish))
        else:
            # Looked up per alert: the module that registers it (the admin dashboard's)
            # starts after this one.
            sinks.append(CallableAlertSink(_registered_publisher(runtime)))
        if self.webhook_sink is not None:
            sinks.append(self.webhook_sink)
        self.evaluator.sinks = [*sinks, *self.extra_sinks]
        runtime.metrics = self.metrics
        runtime.collector = self.collector
        self.metrics.timings.activate()
        if self.alert_interval is not None and self.rules:
            self._loop = asyncio.create_task(self._run(self.alert_interval))

    async def stop(self, runtime: Runtime) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self.webhook_sink is not None:
            await self.webhook_sink.aclose()
        self.metrics.timings.deactivate()
        if runtime.collector is self.collector:
            runtime.metrics = None
            runtime.collector = None
        self.runtime = None
        if self.log_level is not None:
            # The handler writes to the stdout of start-up time; an embedding host or a
            # test runner may close that stream once the app has stopped.
            reset_logging()

    # --- alerts ------------------------------------------------------------------------

    async def evaluate_now(self) -> list[Alert]:
        """Take one sample and feed it to the rules (what the loop does each interval)."""
        return await self.evaluator.evaluate(await self.sampler.sample())

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.evaluate_now()
            except Exception:
                # A failing sample must not end alerting for the life of the process.
                _log.exception("alerts.evaluation_failed")

    def _count(self, alert: Alert) -> None:
        self.metrics.alerts.labels(alert.rule, alert.status).inc()
        self.metrics.alert_active.labels(alert.rule).set(1 if alert.status == "firing" else 0)

    def _webhook_failed(self, url: str) -> None:
        self.metrics.webhook_failures.labels(url).inc()

    async def _refresh(self) -> None:
        await self.collector.refresh()
        jobs = None if self.runtime is None else self.runtime.jobs
        if jobs is not None:
            try:
                self.metrics.set_job_queues(await jobs.ready())
            except Exception:
                _log.warning("metrics.source_failed", source="jobs.ready", exc_info=True)
