"""Observability: JSON logs, Prometheus metrics, W3C tracing and timed(), alerts with hysteresis.

``ObservabilityModule`` wires it all into an app; the pieces are usable alone.
"""

from __future__ import annotations

from headwater.observability._alerts import (
    ALERT_EVENT,
    ALERT_STREAM,
    Alert,
    AlertEvaluator,
    AlertRule,
    AlertSink,
    CallableAlertSink,
    RuleState,
    StreamAlertSink,
    default_rules,
)
from headwater.observability._logging import bound, configure_logging, get_logger, reset_logging
from headwater.observability._metrics import Metrics, metrics_router
from headwater.observability._middleware import ObservabilityMiddleware
from headwater.observability._module import ObservabilityModule
from headwater.observability._timing import Timings, timed
from headwater.observability._tracing import TraceContext, Tracer, current_trace, inject
from headwater.observability._webhooks import Webhook, WebhookAlertSink, sign, verify_signature

__all__ = [
    "ALERT_EVENT",
    "ALERT_STREAM",
    "Alert",
    "AlertEvaluator",
    "AlertRule",
    "AlertSink",
    "CallableAlertSink",
    "Metrics",
    "ObservabilityMiddleware",
    "ObservabilityModule",
    "RuleState",
    "StreamAlertSink",
    "Timings",
    "TraceContext",
    "Tracer",
    "Webhook",
    "WebhookAlertSink",
    "bound",
    "configure_logging",
    "current_trace",
    "default_rules",
    "get_logger",
    "inject",
    "metrics_router",
    "reset_logging",
    "sign",
    "timed",
    "verify_signature",
]
