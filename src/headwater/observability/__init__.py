"""Observability: JSON logs, Prometheus metrics, W3C tracing and timed(), alert rules
with hysteresis as data (``AlertRuleBook``), notification channels and a durable metric history.

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
from headwater.observability._channels import EmailAlertSink, SlackAlertSink
from headwater.observability._history import MetricHistory
from headwater.observability._logging import bound, configure_logging, get_logger, reset_logging
from headwater.observability._metrics import Metrics, metrics_router
from headwater.observability._middleware import ObservabilityMiddleware
from headwater.observability._module import ObservabilityModule, send_alert
from headwater.observability._rulebook import (
    RULES_STREAM,
    AlertRuleBook,
    rule_from_data,
    rule_to_data,
)
from headwater.observability._timing import Timings, timed
from headwater.observability._tracing import TraceContext, Tracer, current_trace, inject
from headwater.observability._webhooks import Webhook, WebhookAlertSink, sign, verify_signature

__all__ = [
    "ALERT_EVENT",
    "ALERT_STREAM",
    "RULES_STREAM",
    "Alert",
    "AlertEvaluator",
    "AlertRule",
    "AlertRuleBook",
    "AlertSink",
    "CallableAlertSink",
    "EmailAlertSink",
    "MetricHistory",
    "Metrics",
    "ObservabilityMiddleware",
    "ObservabilityModule",
    "RuleState",
    "SlackAlertSink",
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
    "rule_from_data",
    "rule_to_data",
    "send_alert",
    "sign",
    "timed",
    "verify_signature",
]
