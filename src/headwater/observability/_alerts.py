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
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from headwater.errors import InvalidAlertRule
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


Level = Literal["info", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("info", "warning", "critical")
Comparison = Literal["above", "below"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule. ``fire_above`` and ``resolve_below`` are named for the usual direction;
    with ``comparison="below"`` the rule fires when the value falls below ``fire_above``
    (its threshold) and clears when it rises above ``resolve_below`` (its clear level).
    ``threshold`` and ``clear`` read the same two numbers direction-free."""

    name: str
    #: The sample key this rule watches (see ``SystemSampler``).
    metric: str
    fire_above: float
    resolve_below: float
    #: Consecutive samples past the threshold before firing (when ``for_seconds`` is None).
    for_samples: int = 3
    severity: Level = "warning"
    summary: str = ""
    comparison: Comparison = "above"
    #: Seconds the value must stay past the threshold before firing (overrides
    #: ``for_samples``; 0 fires on the first sample past it).
    for_seconds: float | None = None
    #: For per-route metrics (``http_route_*``): only this route template; None watches
    #: every route, each on its own (one slow route fires, its fast siblings do not).
    route: str | None = None
    #: Named notification channels (``webhook``, ``slack``, ``email``); empty: all.
    channels: tuple[str, ...] = ()
    #: A muted rule still tracks its state but notifies nobody.
    muted: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidAlertRule(
                f"alert rule name {self.name[:80]!r}: 1-64 lower-case letters, digits, '_.-'"
            )
        if not self.metric or len(self.metric) > 100:
            raise InvalidAlertRule(f"alert rule {self.name!r}: metric must be 1-100 characters")
        if self.comparison not in ("above", "below"):
            raise InvalidAlertRule(f"alert rule {self.name!r}: comparison is 'above' or 'below'")
        if self.severity not in LEVELS:
            raise InvalidAlertRule(f"alert rule {self.name!r}: level is one of {', '.join(LEVELS)}")
        flaps = (
            not self.resolve_below < self.fire_above
            if self.comparison == "above"
            else not self.resolve_below > self.fire_above
        )
        if flaps:
            side = "below" if self.comparison == "above" else "above"
            raise InvalidAlertRule(
                f"alert rule {self.name!r}: the clear level ({self.resolve_below}) must be "
                f"{side} the threshold ({self.fire_above}), or the alert would flap"
            )
        if self.for_samples < 1:
            raise InvalidAlertRule(f"alert rule {self.name!r}: for_samples must be at least 1")
        if self.for_seconds is not None and not 0 <= self.for_seconds <= 86400:
            raise InvalidAlertRule(f"alert rule {self.name!r}: for must be 0-86400 seconds")

    @property
    def threshold(self) -> float:
        return self.fire_above

    @property
    def clear(self) -> float:
        return self.resolve_below

    def past_threshold(self, value: float) -> bool:
        return value > self.fire_above if self.comparison == "above" else value < self.fire_above

    def cleared(self, value: float) -> bool:
        return (
            value < self.resolve_below if self.comparison == "above" else value > self.resolve_below
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """One transition of one rule (or one ``send_alert`` call): what sinks receive."""

    rule: str
    status: Literal["firing", "resolved", "raised"]
    metric: str
    value: float
    threshold: float
    severity: str
    summary: str
    at: str
    #: The route a per-route rule fired for.
    route: str | None = None
    #: What app code passed to ``send_alert``.
    context: dict[str, Any] = field(default_factory=dict)

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
    since: float | None = None

    def observe(self, value: float, now: float) -> Literal["firing", "resolved"] | None:
        rule = self.rule
        if self.state is RuleState.FIRING:
            if rule.cleared(value):
                self.state, self.above, self.since = RuleState.OK, 0, None
                return "resolved"
            return None
        if rule.past_threshold(value):
            self.above += 1
            self.since = now if self.since is None else self.since
            held = (
                self.above >= rule.for_samples
                if rule.for_seconds is None
                else now - self.since >= rule.for_seconds
            )
            if held:
                self.state = RuleState.FIRING
                return "firing"
            self.state = RuleState.PENDING
            return None
        self.state, self.above, self.since = RuleState.OK, 0, None
        return None


def _check_unique(rules: Sequence[AlertRule]) -> None:
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidAlertRule("alert rule names must be unique", rules=names)


class AlertEvaluator:
    """Feeds samples to the rules. ``sinks`` get every alert; ``channels`` (named
    notification channels) get the alerts of the rules that name them, or of every
    rule that names none; a muted rule's alerts reach neither."""

    def __init__(
        self,
        rules: Sequence[AlertRule],
        sinks: Sequence[AlertSink] = (),
        *,
        channels: Mapping[str, AlertSink] | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _check_unique(rules)
        self._rules = {rule.name: rule for rule in rules}
        #: Keyed by (rule, route); route is "" for rules on unlabelled metrics.
        self._trackers: dict[tuple[str, str], _Tracker] = {}
        self.sinks = list(sinks)
        self.channels: dict[str, AlertSink] = dict(channels or {})
        self._on_alert = on_alert
        self._clock = clock

    @property
    def rules(self) -> list[AlertRule]:
        return list(self._rules.values())

    def set_rules(self, rules: Sequence[AlertRule]) -> None:
        """Replace the rules; a rule kept under the same name keeps its state, so an
        edit (or a mute) in the middle of an incident neither re-fires nor loses it."""
        _check_unique(rules)
        self._rules = {rule.name: rule for rule in rules}
        for key in list(self._trackers):
            rule = self._rules.get(key[0])
            if rule is None or (rule.route is not None and key[1] not in ("", rule.route)):
                del self._trackers[key]
            else:
                self._trackers[key].rule = rule

    def state(self, rule: str, route: str = "") -> RuleState:
        if rule not in self._rules:
            raise KeyError(rule)
        tracker = self._trackers.get((rule, route))
        return RuleState.OK if tracker is None else tracker.state

    def firing(self) -> list[str]:
        return [
            name if not route else f"{name}[{route}]"
            for (name, route), t in self._trackers.items()
            if t.state is RuleState.FIRING
        ]

    def _values(
        self, rule: AlertRule, sample: Mapping[str, float | None]
    ) -> list[tuple[str, float]]:
        value = sample.get(rule.metric)
        if value is not None:
            return [("", float(value))]
        found = []
        for key, labelled in sample.items():
            route = route_of(key, rule.metric)
            if route is None or labelled is None:
                continue
            if rule.route is None or rule.route == route:
                found.append((route, float(labelled)))
        return found

    async def evaluate(self, sample: Mapping[str, float | None]) -> list[Alert]:
        """Feed one sample to every rule; emit and return the transitions it caused."""
        alerts: list[tuple[Alert, AlertRule]] = []
        now = self._clock()
        for rule in self._rules.values():
            for route, value in self._values(rule, sample):
                tracker = self._trackers.setdefault((rule.name, route), _Tracker(rule))
                status = tracker.observe(value, now)
                if status is None:
                    continue
                where = f" on {route}" if route else ""
                alert = Alert(
                    rule=rule.name,
                    status=status,
                    metric=rule.metric,
                    value=value,
                    threshold=rule.fire_above if status == "firing" else rule.resolve_below,
                    severity=rule.severity,
                    summary=(rule.summary or f"{rule.metric} {status}") + where,
                    at=datetime.fromtimestamp(now, UTC).isoformat(),
                    route=route or None,
                )
                alerts.append((alert, rule))
        for alert, rule in alerts:
            await self._emit(alert, rule)
        return [alert for alert, _ in alerts]

    async def raise_alert(
        self, level: Level, message: str, context: Mapping[str, Any] | None = None
    ) -> Alert:
        """An alert from app code (``send_alert``): no rule, no state, every sink."""
        if level not in LEVELS:
            raise InvalidAlertRule(f"alert level {level!r}: one of {', '.join(LEVELS)}")
        alert = Alert(
            rule="app",
            status="raised",
            metric="",
            value=0.0,
            threshold=0.0,
            severity=level,
            summary=message[:1000],
            at=datetime.fromtimestamp(self._clock(), UTC).isoformat(),
            context=dict(context or {}),
        )
        await self._emit(alert, None)
        return alert

    async def _emit(self, alert: Alert, rule: AlertRule | None) -> None:
        log = _log.warning if alert.status != "resolved" else _log.info
        log("alert." + alert.status, **alert.to_dict(), muted=bool(rule and rule.muted))
        if self._on_alert is not None:
            self._on_alert(alert)
        if rule is not None and rule.muted:
            return
        wanted = rule.channels if rule is not None and rule.channels else tuple(self.channels)
        routed = [self.channels[name] for name in wanted if name in self.channels]
        for sink in [*self.sinks, *routed]:
            # One broken sink (a dead webhook receiver) must not hide the alert from
            # the others, nor stop evaluation.
            try:
                await sink.emit(alert)
            except Exception:
                _log.exception("alert.sink_failed", sink=type(sink).__name__, rule=alert.rule)


def labelled(metric: str, route: str) -> str:
    """The sample key of a per-route figure, spelled as Prometheus would."""
    return f'{metric}{{route="{route}"}}'


def route_of(key: str, metric: str) -> str | None:
    prefix = f'{metric}{{route="'
    if key.startswith(prefix) and key.endswith('"}'):
        return key[len(prefix) : -2]
    return None


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
    """The seeds' rules: error rate and p95 latency (node-wide and per route), system CPU
    (80 %) and memory (85 %), database pool waits and latency, projection lag, dead jobs."""
    return [
        AlertRule("high_error_rate", "http_error_rate", 0.05, 0.02, for_samples, "critical"),
        AlertRule("slow_responses", "http_p95_seconds", 1.0, 0.5, for_samples),
        # Each route on its own: one slow route among fast ones hides in the node's p95.
        AlertRule("slow_route", "http_route_p95_seconds", 1.0, 0.5, for_samples),
        AlertRule("route_errors", "http_route_error_rate", 0.1, 0.05, for_samples, "critical"),
        AlertRule("high_cpu", "system_cpu_percent", 80.0, 65.0, for_samples),
        AlertRule("high_memory", "system_memory_percent", 85.0, 75.0, for_samples, "critical"),
        # Callers queued for a connection, sample after sample: the pool is too small
        # for the load, or connections are held too long.
        AlertRule("db_pool_exhausted", "db_pool_waiting", 0.5, 0.25, 2, "critical"),
        AlertRule("slow_database", "db_latency_seconds", 0.25, 0.1, for_samples),
        AlertRule("projection_lag", "projection_lag_events", 1000.0, 100.0, for_samples),
        # Any dead job fires at once and resolves when none is left.
        AlertRule("dead_jobs", "dead_jobs", 0.5, 0.25, 1, "warning"),
    ]
