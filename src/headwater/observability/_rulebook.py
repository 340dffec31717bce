"""Alert rules as data: read from settings, changed through the API, kept as events.

The rules a node evaluates are its base rules (the defaults, or the module's, plus
those of the operator's rules file) overlaid with the changes recorded in the
``hw.alert-rules`` stream::

    alert.rule.created   {"rule": {...}, "by": subject}
    alert.rule.updated   {"rule": {...}, "by": subject}
    alert.rule.muted     {"name": ..., "by": subject}
    alert.rule.unmuted   {"name": ..., "by": subject}
    alert.rule.deleted   {"name": ..., "by": subject}

So every change is audited (who, when, what), replayable, survives a restart and
reaches every node: each node folds the stream's new events in before each
evaluation (``refresh``), reading only what it has not seen. Writers append with the
stream version they folded (optimistic concurrency): two admins editing at once
cannot lose one's change silently; the loser re-reads and tries again.

A rule's data form (the API's body, the rules file's entries)::

    {"name": "slow_checkout", "metric": "http_route_p95_seconds", "comparison": "above",
     "threshold": 0.8, "clear": 0.5, "for": 60, "level": "critical",
     "route": "/checkout", "channels": ["slack"], "summary": "checkout is slow"}

``comparison`` (default above), ``for`` (seconds; default: ``for_samples``, 3
samples), ``level`` (default warning), ``route``, ``channels``, ``summary`` and
``muted`` are optional; ``clear`` defaults to the threshold itself minus 10 % of it
(plus, for ``below``), so hysteresis is never absent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import orjson

from headwater.errors import (
    AlertRuleExists,
    AlertRuleNotFound,
    ConcurrencyError,
    InvalidAlertRule,
)
from headwater.eventstore import EventStore
from headwater.eventstore._records import NewEvent
from headwater.observability._alerts import LEVELS, AlertRule

RULES_STREAM: Final = "hw.alert-rules"
_FIELDS = frozenset(
    {"name", "metric", "comparison", "threshold", "clear", "for", "for_samples", "level",
     "route", "channels", "summary", "muted"}
)  # fmt: skip
#: Attempts at an append that lost a race with another writer.
_ATTEMPTS = 5


def _number(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidAlertRule(f"alert rule: {key!r} must be a finite number", field=key)
    return float(value)


def rule_from_data(data: Mapping[str, Any], channels: Sequence[str] | None = None) -> AlertRule:
    """A rule from its data form; ``InvalidAlertRule`` names what is wrong. With
    ``channels``, the rule may only name those (the ones the node has configured)."""
    if not isinstance(data, Mapping):
        raise InvalidAlertRule("an alert rule is a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidAlertRule(f"alert rule: unknown fields {unknown}", fields=unknown)
    for key in ("name", "metric"):
        if not isinstance(data.get(key), str):
            raise InvalidAlertRule(f"alert rule: {key!r} is required, a string", field=key)
    comparison = data.get("comparison", "above")
    if comparison not in ("above", "below"):
        raise InvalidAlertRule("alert rule: 'comparison' is 'above' or 'below'")
    threshold = _number(data, "threshold")
    if "clear" in data:
        clear = _number(data, "clear")
    else:
        margin = abs(threshold) * 0.1 or 1e-9
        clear = threshold - margin if comparison == "above" else threshold + margin
    level = data.get("level", "warning")
    if level not in LEVELS:
        raise InvalidAlertRule(f"alert rule: 'level' is one of {', '.join(LEVELS)}")
    for_seconds = None if data.get("for") is None else _number(data, "for")
    for_samples = data.get("for_samples", 3)
    if isinstance(for_samples, bool) or not isinstance(for_samples, int):
        raise InvalidAlertRule("alert rule: 'for_samples' must be a whole number")
    route = data.get("route")
    if route is not None and (not isinstance(route, str) or not route.startswith("/")):
        raise InvalidAlertRule("alert rule: 'route' is a route template such as '/items/{id}'")
    named = data.get("channels", [])
    if not isinstance(named, list) or not all(isinstance(c, str) for c in named):
        raise InvalidAlertRule("alert rule: 'channels' is a list of channel names")
    if channels is not None and set(named) - set(channels):
        raise InvalidAlertRule(
            f"alert rule: unknown channels {sorted(set(named) - set(channels))}; "
            f"configured: {sorted(channels)}"
        )
    summary = data.get("summary", "")
    if not isinstance(summary, str) or len(summary) > 500:
        raise InvalidAlertRule("alert rule: 'summary' is text of at most 500 characters")
    return AlertRule(
        name=data["name"],
        metric=data["metric"],
        fire_above=threshold,
        resolve_below=clear,
        for_samples=for_samples,
        severity=level,
        summary=summary,
        comparison=comparison,
        for_seconds=for_seconds,
        route=route,
        channels=tuple(named),
        muted=bool(data.get("muted", False)),
    )


def rule_to_data(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "clear": rule.clear,
        "for": rule.for_seconds,
        "for_samples": rule.for_samples,
        "level": rule.severity,
        "route": rule.route,
        "channels": list(rule.channels),
        "summary": rule.summary,
        "muted": rule.muted,
    }


def rules_from_file(path: str | Path, channels: Sequence[str] | None = None) -> list[AlertRule]:
    """The rules of a JSON file: a list of rule objects (or ``{"rules": [...]}``)."""
    try:
        loaded = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidAlertRule(f"alert rules file {str(path)!r}: {exc}") from exc
    entries = loaded.get("rules") if isinstance(loaded, dict) else loaded
    if not isinstance(entries, list):
        raise InvalidAlertRule(f"alert rules file {str(path)!r}: a list of rules")
    return [rule_from_data(entry, channels) for entry in entries]


class AlertRuleBook:
    """The node's rules: ``base`` overlaid with the stream's changes."""

    def __init__(
        self,
        store: EventStore,
        base: Sequence[AlertRule] = (),
        *,
        channels: Sequence[str] | None = None,
        stream: str = RULES_STREAM,
    ) -> None:
        self.store = store
        self.channels = None if channels is None else list(channels)
        self.stream = stream
        self._base = {rule.name: rule for rule in base}
        self._rules: dict[str, AlertRule] = dict(self._base)
        #: The stream version folded in so far (0: none).
        self.version = 0

    def rules(self) -> list[AlertRule]:
        return list(self._rules.values())

    def get(self, name: str) -> AlertRule:
        rule = self._rules.get(name)
        if rule is None:
            raise AlertRuleNotFound(name[:100])
        return rule

    def is_base(self, name: str) -> bool:
        return name in self._base

    async def refresh(self) -> bool:
        """Fold in the events appended since the last call; True when rules changed."""
        changed = False
        async for event in self.store.read_stream(self.stream, from_version=self.version + 1):
            self._apply(event.type, event.data)
            self.version = event.version
            changed = True
        return changed

    def _apply(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind in ("alert.rule.created", "alert.rule.updated"):
            # Recorded rules were valid when written; channels may since have gone
            # from settings, so they are not checked again here.
            rule = rule_from_data(data["rule"])
            self._rules[rule.name] = rule
        elif kind in ("alert.rule.muted", "alert.rule.unmuted"):
            found = self._rules.get(str(data["name"]))
            if found is not None:
                self._rules[found.name] = _with_muted(found, kind == "alert.rule.muted")
        elif kind == "alert.rule.deleted":
            self._rules.pop(str(data["name"]), None)

    async def _record(
        self, kind: str, data: dict[str, Any], check: Callable[[], object]
    ) -> AlertRule | None:
        for attempt in range(_ATTEMPTS):
            await self.refresh()
            check()
            try:
                await self.store.append(
                    self.stream, NewEvent(kind, data), expected_version=self.version
                )
            except ConcurrencyError:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            await self.refresh()
            return self._rules.get(str(data.get("name") or data["rule"]["name"]))
        raise AssertionError("unreachable")  # pragma: no cover

    async def create(self, data: Mapping[str, Any], by: str) -> AlertRule:
        rule = rule_from_data(data, self.channels)

        def check() -> None:
            if rule.name in self._rules:
                raise AlertRuleExists(rule.name)

        created = await self._record(
            "alert.rule.created", {"rule": rule_to_data(rule), "by": by}, check
        )
        assert created is not None
        return created

    async def update(self, name: str, changes: Mapping[str, Any], by: str) -> AlertRule:
        """Changes some fields of a rule (a PATCH): the others keep their values."""
        if not isinstance(changes, Mapping):
            raise InvalidAlertRule("an alert rule change is a JSON object")
        if "name" in changes and changes["name"] != name:
            raise InvalidAlertRule("an alert rule cannot be renamed: create a new one")
        current = rule_to_data(self.get(name))
        if "threshold" in changes and "clear" not in changes:
            # A new threshold with the old clear level could flap or never clear.
            current.pop("clear")
        rule = rule_from_data({**current, **changes}, self.channels)
        updated = await self._record(
            "alert.rule.updated",
            {"rule": rule_to_data(rule), "by": by},
            lambda: self.get(name),
        )
        assert updated is not None
        return updated

    async def set_muted(self, name: str, muted: bool, by: str) -> AlertRule:
        kind = "alert.rule.muted" if muted else "alert.rule.unmuted"
        rule = await self._record(kind, {"name": name, "by": by}, lambda: self.get(name))
        assert rule is not None
        return rule

    async def delete(self, name: str, by: str) -> None:
        await self._record("alert.rule.deleted", {"name": name, "by": by}, lambda: self.get(name))

    async def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest changes, newest first: the audit trail of the rules."""
        return [
            {"type": e.type, "position": e.position, "at": e.recorded_at.isoformat(), **e.data}
            async for e in self.store.read_stream(self.stream, backwards=True, limit=limit)
        ]


def _with_muted(rule: AlertRule, muted: bool) -> AlertRule:
    return replace(rule, muted=muted)
