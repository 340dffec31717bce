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

Rules are data (``rulebook.AlertRuleBook``): the module's (the defaults unless given)
and the operator's rules file (``HEADWATER_ALERT_RULES_FILE``), overlaid with the
changes made through ``/admin/api/alerts/rules`` and recorded as events. Channels
(signed webhook, Slack-compatible webhook, email) come from settings and the
module's arguments; a rule names the ones it notifies. Each sample is also kept in
the database, downsampled (``history.MetricHistory``), and app code raises its own
alerts with ``send_alert``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from fastapi import APIRouter
from starlette.middleware import Middleware

from headwater.eventstore import EventStore
from headwater.modules import Module
from headwater.observability._activity import ActiveUsers, ActiveUsersMiddleware
from headwater.observability._alerts import (
    Alert,
    AlertEvaluator,
    AlertRule,
    AlertSink,
    CallableAlertSink,
    Level,
    StreamAlertSink,
    default_rules,
)
from headwater.observability._channels import channels_from_settings
from headwater.observability._collectors import RuntimeCollector
from headwater.observability._history import MetricHistory
from headwater.observability._logging import configure_logging, get_logger, reset_logging
from headwater.observability._metrics import Metrics, metrics_router
from headwater.observability._middleware import ObservabilityMiddleware
from headwater.observability._route_figures import RouteFigures
from headwater.observability._rulebook import AlertRuleBook, rules_from_file
from headwater.observability._sampler import SystemSampler
from headwater.observability._tracing import Tracer
from headwater.observability._webhooks import Webhook, WebhookAlertSink
from headwater.resilience._egress import EgressPolicy
from headwater.runtime import Runtime

_log = get_logger("headwater.observability")
#: The started modules, newest last: where ``send_alert`` sends.
_RUNNING: list[ObservabilityModule] = []


async def send_alert(level: Level, message: str, **context: Any) -> Alert | None:
    """Raise an alert from app code: ``await send_alert("critical", "payments down",
    provider="acme")``. It goes where rule alerts go (the ``system.alert`` stream, the
    admin feeds, every configured channel). Levels: info, warning, critical.

    Returns the alert, or None when no observability module is running (then it is
    only logged)."""
    if not _RUNNING:
        _log.warning("alert.raised_without_module", level=level, summary=message, **context)
        return None
    return await _RUNNING[-1].send_alert(level, message, **context)


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
        channels: Mapping[str, AlertSink] | None = None,
        history: bool | None = None,
        node: str | None = None,
    ) -> None:
        """``log_level=None`` leaves logging as the host configured it (tests, embedding);
        ``alert_interval=None`` turns the sampling loop off (call ``evaluate_now``).
        ``channels``: named notification channels besides those settings configure
        (same name: this one wins). ``history``: keep the downsampled metric history
        (None: as ``Settings.metric_history`` says); ``node`` names this node in it."""
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
        self.extra_channels = dict(channels or {})
        self.publish = publish
        self.history_enabled = history
        self.node = node
        self.history: MetricHistory | None = None
        self.book: AlertRuleBook | None = None
        self.runtime: Runtime | None = None
        self.active_users = ActiveUsers()
        self.collector = RuntimeCollector(lambda: self.runtime, active_users=self.active_users)
        self.metrics.registry.register(self.collector)
        self.metrics.refreshers.append(self._refresh)
        self.sampler = SystemSampler(
            self.metrics.recent, self.collector, routes=RouteFigures(self.metrics)
        )
        self.evaluator = AlertEvaluator(self.rules, on_alert=self._count)
        #: The last sample the rules saw (the admin page shows it beside the rules).
        self.last_sample: dict[str, float] = {}
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
            Middleware(ActiveUsersMiddleware, users=self.active_users),
        )

    async def migrate(self, store: EventStore) -> list[str]:
        """For ``headwater migrate``: the metric history's table."""
        return await MetricHistory(store).migrate()

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
        self.evaluator.sinks = [*sinks, *self.extra_sinks]
        settings = runtime.settings
        channels = channels_from_settings(settings)
        if self.webhook_sink is not None:
            channels["webhook"] = self.webhook_sink
        channels.update(self.extra_channels)
        self.evaluator.channels = channels
        base = {rule.name: rule for rule in self.rules}
        if settings.alert_rules_file:
            # A broken rules file stops start-up: silently running without the
            # operator's rules would be worse than not starting.
            base.update(
                (r.name, r) for r in rules_from_file(settings.alert_rules_file, list(channels))
            )
        self.book = AlertRuleBook(runtime.store, list(base.values()), channels=list(channels))
        await self.book.refresh()
        self.evaluator.set_rules(self.book.rules())
        runtime.provide(self.book)
        # The admin routes reach the rules, their states and the history through it.
        runtime.provide(self)
        enabled = settings.metric_history if self.history_enabled is None else self.history_enabled
        if enabled:
            self.history = await self._open_history(runtime)
        runtime.metrics = self.metrics
        runtime.collector = self.collector
        self.metrics.timings.activate()
        _RUNNING.append(self)
        if self.alert_interval is not None:
            self._loop = asyncio.create_task(self._run(self.alert_interval))

    async def _open_history(self, runtime: Runtime) -> MetricHistory | None:
        history = MetricHistory(runtime.store, self.node)
        migrate = runtime.settings.auto_migrate
        try:
            if migrate or (migrate is None and runtime.store.dialect == "sqlite"):
                await history.migrate()
            await runtime.store.fetchall("SELECT 1 FROM hw_metric_history WHERE 1 = 0")
        except Exception:
            # History is a convenience: a schema not migrated yet must not stop the node.
            _log.warning("metrics.history_unavailable", exc_info=True)
            return None
        runtime.provide(history)
        return history

    async def stop(self, runtime: Runtime) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for channel in {id(c): c for c in self.evaluator.channels.values()}.values():
            close = getattr(channel, "aclose", None)
            if close is not None:
                await close()
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
        """Take one sample and feed it to the rules (what the loop does each interval),
        after folding in rule changes other nodes (or the API) recorded; then keep the
        sample in the history."""
        if self.book is not None:
            try:
                if await self.book.refresh():
                    self.evaluator.set_rules(self.book.rules())
            except Exception:
                # The rules as last read still apply: an unreachable store must not
                # silence alerting (the store's own alert may be the one that matters).
                _log.exception("alerts.rules_refresh_failed")
        sample = await self.sampler.sample()
        self.last_sample = sample
        alerts = await self.evaluator.evaluate(sample)
        if self.history is not None:
            try:
                await self.history.record(sample)
            except Exception:
                _log.exception("metrics.history_write_failed")
        return alerts

    def rules_changed(self) -> None:
        """Apply the book's rules now (the API calls this after a change on this node)."""
        if self.book is not None:
            self.evaluator.set_rules(self.book.rules())

    async def send_alert(self, level: Level, message: str, **context: Any) -> Alert:
        """See the module-level ``send_alert``."""
        return await self.evaluator.raise_alert(level, message, context)

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
