"""Alert rules with hysteresis, evaluated on periodic samples, emitted as ``system.alert``.

::

    rule = AlertRule("p95_latency", "http_p95_seconds", fire_above=0.5, resolve_below=0.3,
                     for_samples=3)
    evaluator = AlertEvaluator([rule], sinks=[StreamAlertSink(store), WebhookAlertSink(...)])
    await evaluator.evaluate({"http_p95_seconds": 0.7})

Each rule is a small state machine::

    OK ──(value > fire_above)──▶ PENDING ──(for_samples in a row above)──▶ FIRING
    PENDING ──(value <= fire_above)──▶ OK
    FIRING ──(value < resolve_below)──▶ OK   (emits "resolved")

Two thresholds make it hysteresis: a value that wobbles around ``fire_above``
after firing stays FIRING (it is not below ``resolve_below``), so one incident is
one "firing" and one "resolved", never a flapping stream. ``for_samples`` keeps a
single spike from firing at all. A missing sample (the source is not installed)
leaves the rule where it is.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.eventstore._records import NewEvent
from headwater.observability._logging import get_logger

ALERT_EVENT = "system.alert"
ALERT_STREAM = "hw.system-alerts"
_log = get_logger("headwater.alerts")


class RuleState(enum.Enum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    #: The sample key this rule watches (see ``SystemSampler``).
    metric: str
    fire_above: float
    resolve_below: float
    #: Consecutive samples above ``fire_above`` before firing.
    for_samples: int = 3
    severity: Literal["info", "warning", "critical"] = "warning"
    summary: str = ""

    def __post_init__(self) -> None:
        if not self.resolve_below < self.fire_above:
            raise InvalidInput(
                f"alert rule {self.name!r}: resolve_below ({self.resolve_below}) must be "
                f"below fire_above ({self.fire_above}), or the alert would flap"
            )
        if self.for_samples < 1:
            raise InvalidInput(f"alert rule {self.name!r}: for_samples must be at least 1")


@dataclass(frozen=True, slots=True)
class Alert:
    """One transition of one rule: what sinks receive."""

    rule: str
    status: Literal["firing", "resolved"]
    metric: str
    value: float
    threshold: float
    severity: str
    summary: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertSink(Protocol):
    """Where alerts go: the event log, the admin realtime channel, webhooks..."""

    async def emit(self, alert: Alert) -> None: ...


@dataclass
class _Tracker:
    rule: AlertRule
    state: RuleState = RuleState.OK
    above: int = 0

    def observe(self, value: float) -> Literal["firing", "resolved"] | None:
        rule = self.rule
        if self.state is RuleState.FIRING:
            if value < rule.resolve_below:
                self.state, self.above = RuleState.OK, 0
                return "resolved"
            return None
        if value > rule.fire_above:
            self.above += 1
            if self.above >= rule.for_samples:
                self.state = RuleState.FIRING
                return "firing"
            self.state = RuleState.PENDING
            return None
        self.state, self.above = RuleState.OK, 0
        return None


class AlertEvaluator:
    def __init__(
        self,
        rules: Sequence[AlertRule],
        sinks: Sequence[AlertSink] = (),
        *,
        on_alert: Callable[[Alert], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise InvalidInput("alert rule names must be unique", rules=names)
        self._trackers = {rule.name: _Tracker(rule) for rule in rules}
        self.sinks = list(sinks)
        self._on_alert = on_alert
        self._clock = clock

    def state(self, rule: str) -> RuleState:
        return self._trackers[rule].state

    def firing(self) -> list[str]:
        return [n for n, t in self._trackers.items() if t.state is RuleState.FIRING]

    async def evaluate(self, sample: Mapping[str, float | None]) -> list[Alert]:
        """Feed one sample to every rule; emit and return the transitions it caused."""
        alerts: list[Alert] = []
        for tracker in self._trackers.values():
            value = sample.get(tracker.rule.metric)
            if value is None:
                continue
            status = tracker.observe(float(value))
            if status is None:
                continue
            rule = tracker.rule
            alerts.append(
                Alert(
                    rule=rule.name,
                    status=status,
                    metric=rule.metric,
                    value=float(value),
                    threshold=rule.fire_above if status == "firing" else rule.resolve_below,
                    severity=rule.severity,
                    summary=rule.summary or f"{rule.metric} {status}",
                    at=datetime.fromtimestamp(self._clock(), UTC).isoformat(),
                )
            )
        for alert in alerts:
            await self._emit(alert)
        return alerts

    async def _emit(self, alert: Alert) -> None:
        log = _log.warning if alert.status == "firing" else _log.info
        log("alert." + alert.status, **alert.to_dict())
        if self._on_alert is not None:
            self._on_alert(alert)
        for sink in self.sinks:
            # One broken sink (a dead webhook receiver) must not hide the alert from
            # the others, nor stop evaluation.
            try:
                await sink.emit(alert)
            except Exception:
                _log.exception("alert.sink_failed", sink=type(sink).__name__, rule=alert.rule)


@dataclass
class StreamAlertSink:
    """Appends each alert as a ``system.alert`` event to ``hw.system-alerts``.

    Projections and the realtime hub then pick it up like any other event, so
    the admin channel and the alert history need no path of their own.
    """

    store: EventStore
    stream: str = ALERT_STREAM

    async def emit(self, alert: Alert) -> None:
        await self.store.append(self.stream, NewEvent(ALERT_EVENT, alert.to_dict()))


@dataclass
class CallableAlertSink:
    """Hands each alert to a callable, e.g. the realtime hub's admin-channel publisher."""

    publish: Callable[[str, dict[str, Any]], Awaitable[object] | object]
    event_type: str = ALERT_EVENT

    async def emit(self, alert: Alert) -> None:
        result = self.publish(self.event_type, alert.to_dict())
        if isinstance(result, Awaitable):
            await result


def default_rules(for_samples: int = 3) -> list[AlertRule]:
    """The seed's rules: error rate, p95 latency, CPU, memory, projection lag, dead jobs."""
    return [
        AlertRule("high_error_rate", "http_error_rate", 0.05, 0.02, for_samples, "critical"),
        AlertRule("slow_responses", "http_p95_seconds", 1.0, 0.5, for_samples),
        AlertRule("high_cpu", "cpu_percent", 85.0, 70.0, for_samples),
        AlertRule("high_memory", "memory_percent", 85.0, 75.0, for_samples, "critical"),
        AlertRule("projection_lag", "projection_lag_events", 1000.0, 100.0, for_samples),
        # Any dead job fires at once and resolves when none is left.
        AlertRule("dead_jobs", "dead_jobs", 0.5, 0.25, 1, "warning"),
    ]
