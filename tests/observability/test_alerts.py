"""Alert rules with hysteresis: one incident fires once and resolves once."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.errors import InvalidInput
from headwater.eventstore import create_event_store
from headwater.observability import (
    ALERT_EVENT,
    ALERT_STREAM,
    Alert,
    AlertEvaluator,
    AlertRule,
    CallableAlertSink,
    RuleState,
    StreamAlertSink,
)
from headwater.observability._sampler import percentile
from tests.observability.support import make_app, portal, quiet_module

pytestmark = pytest.mark.anyio

RULE = AlertRule("slow", "p95", fire_above=0.5, resolve_below=0.3, for_samples=2)


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Broken:
    async def emit(self, alert: Alert) -> None:
        raise ConnectionError("receiver down")


async def test_crossing_and_recrossing_the_threshold_fires_once_and_resolves_once() -> None:
    sink = Recorder()
    evaluator = AlertEvaluator([RULE], [sink])
    # Above twice: fires. Then wobbles around fire_above without going below
    # resolve_below: still the same incident. Below 0.3: resolved, once.
    values = [0.6, 0.7, 0.45, 0.55, 0.4, 0.6, 0.9, 0.35, 0.2, 0.25, 0.1]
    for value in values:
        await evaluator.evaluate({"p95": value})
    assert [(a.status, a.value) for a in sink.alerts] == [("firing", 0.7), ("resolved", 0.2)]
    assert sink.alerts[0].threshold == 0.5
    assert sink.alerts[1].threshold == 0.3
    assert evaluator.state("slow") is RuleState.OK


async def test_a_single_spike_does_not_fire() -> None:
    sink = Recorder()
    evaluator = AlertEvaluator([RULE], [sink])
    for value in [0.9, 0.1, 0.9, 0.4, 0.9, 0.2]:
        await evaluator.evaluate({"p95": value})
    assert sink.alerts == []
    await evaluator.evaluate({"p95": 0.9})
    assert evaluator.state("slow") is RuleState.PENDING


async def test_a_missing_sample_leaves_the_rule_where_it_is() -> None:
    evaluator = AlertEvaluator([RULE], [])
    await evaluator.evaluate({"p95": 0.9})
    await evaluator.evaluate({"p95": 0.9})
    await evaluator.evaluate({"p95": None})
    await evaluator.evaluate({})
    assert evaluator.firing() == ["slow"]


async def test_a_failing_sink_does_not_hide_the_alert_from_the_others() -> None:
    sink = Recorder()
    published: list[tuple[str, dict[str, object]]] = []
    evaluator = AlertEvaluator(
        [RULE], [Broken(), sink, CallableAlertSink(lambda t, d: published.append((t, d)))]
    )
    await evaluator.evaluate({"p95": 1.0})
    await evaluator.evaluate({"p95": 1.0})
    assert len(sink.alerts) == 1
    assert published[0][0] == ALERT_EVENT
    assert published[0][1]["rule"] == "slow"


async def test_alerts_are_appended_as_system_alert_events(tmp_path: Path) -> None:
    store = await create_event_store(f"sqlite:///{tmp_path / 'a.db'}", migrate=True)
    try:
        evaluator = AlertEvaluator([RULE], [StreamAlertSink(store)])
        for value in [0.9, 0.9, 0.9, 0.1]:
            await evaluator.evaluate({"p95": value})
        events = [e async for e in store.read_stream(ALERT_STREAM)]
    finally:
        await store.close()
    assert [e.type for e in events] == [ALERT_EVENT, ALERT_EVENT]
    assert [e.data["status"] for e in events] == ["firing", "resolved"]


def test_a_resolve_threshold_at_or_above_the_fire_threshold_is_refused() -> None:
    with pytest.raises(InvalidInput, match="flap"):
        AlertRule("bad", "x", fire_above=0.5, resolve_below=0.5)


def test_error_rate_from_real_requests_fires_and_resolves(tmp_path: Path) -> None:
    """End to end: 5xx responses feed the sampler, the module's evaluator fires, then resolves."""
    rule = AlertRule("errors", "http_error_rate", fire_above=0.5, resolve_below=0.1, for_samples=1)
    module = quiet_module(rules=[rule])
    app = make_app(tmp_path, module)
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(10):
            client.get("/fail")
        fired = portal(client).call(module.evaluate_now)
        for _ in range(10):
            client.get("/fail")
        client.get("/items/1")
        again = portal(client).call(module.evaluate_now)  # still failing: no second alert
        for n in range(10):
            client.get(f"/items/{n}")
        resolved = portal(client).call(module.evaluate_now)
        store = app.state.runtime.store

        async def stored() -> list[str]:
            return [e.data["status"] async for e in store.read_stream(ALERT_STREAM)]

        statuses = portal(client).call(stored)
        metrics = client.get("/metrics").text
    assert [a.status for a in fired] == ["firing"]
    assert again == []
    assert [a.status for a in resolved] == ["resolved"]
    assert statuses == ["firing", "resolved"]
    assert 'headwater_alerts_total{rule="errors",status="firing"} 1.0' in metrics


def test_percentile_is_nearest_rank() -> None:
    assert percentile([0.1] * 95 + [9.0] * 5, 0.95) == 0.1
    assert percentile([0.1] * 94 + [9.0] * 6, 0.95) == 9.0
