"""Rules as data: their data form, direction, for-duration, per-route rules, mute,
channel routing and ``send_alert``; and one slow route among fast ones, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

import headwater
from headwater.app import create_app
from headwater.cursors import CursorCodec
from headwater.errors import InvalidAlertRule
from headwater.eventstore import create_event_store
from headwater.modules import Module
from headwater.observability import (
    ALERT_STREAM,
    Alert,
    AlertEvaluator,
    AlertRule,
    RuleState,
    rule_from_data,
    rule_to_data,
    send_alert,
)
from headwater.observability._alerts import labelled
from headwater.observability._metrics import Metrics
from headwater.observability._route_figures import RouteFigures
from headwater.observability._rulebook import rules_from_file
from headwater.runtime import Runtime
from tests.http.support import make_settings
from tests.observability.support import portal, quiet_module

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_data_form_round_trips_and_defaults_a_clear_level() -> None:
    rule = rule_from_data(
        {"name": "slow_checkout", "metric": "http_route_p95_seconds", "threshold": 0.8,
         "for": 60, "level": "critical", "route": "/checkout", "channels": ["slack"]}
    )  # fmt: skip
    assert (rule.threshold, rule.for_seconds, rule.severity) == (0.8, 60.0, "critical")
    # No clear level given: 10 % under the threshold, so there is always hysteresis.
    assert rule.clear == pytest.approx(0.72)
    assert rule_from_data(rule_to_data(rule)) == rule


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"metric": "x", "threshold": 1}, "'name' is required"),
        ({"name": "a", "metric": "x", "threshold": "high"}, "'threshold' must be a finite"),
        ({"name": "a", "metric": "x", "threshold": 1, "clear": 2}, "would flap"),
        ({"name": "a", "metric": "x", "threshold": 1, "comparison": "below", "clear": 0.5},
         "would flap"),
        ({"name": "a", "metric": "x", "threshold": 1, "level": "panic"}, "'level'"),
        ({"name": "Bad Name", "metric": "x", "threshold": 1}, "lower-case"),
        ({"name": "a", "metric": "x", "threshold": 1, "colour": "red"}, "unknown fields"),
        ({"name": "a", "metric": "x", "threshold": 1, "route": "checkout"}, "route template"),
        ({"name": "a", "metric": "x", "threshold": 1, "for": -1}, "0-86400"),
        ({"name": "a", "metric": "x", "threshold": 1, "channels": ["pager"]}, "unknown channels"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_with_a_reason(data: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidAlertRule, match=says) as refused:
        rule_from_data(data, channels=["email"])
    assert refused.value.code == "invalid_alert_rule"


def test_rules_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(orjson.dumps({"rules": [{"name": "q", "metric": "x", "threshold": 5}]}))
    assert [r.name for r in rules_from_file(path)] == ["q"]
    path.write_bytes(b"{not json")
    with pytest.raises(InvalidAlertRule, match=r"rules\.json"):
        rules_from_file(path)


async def test_a_below_rule_fires_under_its_threshold_and_clears_above_its_clear_level() -> None:
    rule = AlertRule("few_users", "active_users", 5, 8, for_samples=1, comparison="below")
    sink = Recorder()
    evaluator = AlertEvaluator([rule], [sink])
    for value in [10, 4, 6, 7, 9]:
        await evaluator.evaluate({"active_users": value})
    assert [(a.status, a.value) for a in sink.alerts] == [("firing", 4.0), ("resolved", 9.0)]


async def test_a_for_duration_counts_seconds_not_samples() -> None:
    clock = Clock()
    rule = AlertRule("hot", "system_cpu_percent", 80, 65, for_seconds=60)
    evaluator = AlertEvaluator([rule], [], clock=clock)
    for _ in range(5):  # five samples within 40 s: not long enough
        await evaluator.evaluate({"system_cpu_percent": 95})
        clock.now += 10
    assert evaluator.state("hot") is RuleState.PENDING
    clock.now += 30
    fired = await evaluator.evaluate({"system_cpu_percent": 95})
    assert [a.status for a in fired] == ["firing"]


async def test_a_per_route_rule_tracks_each_route_and_a_route_rule_only_its_own() -> None:
    every = AlertRule("slow_route", "http_route_p95_seconds", 0.5, 0.2, for_samples=1)
    one = AlertRule("slow_fast", "http_route_p95_seconds", 0.5, 0.2, for_samples=1, route="/fast")
    evaluator = AlertEvaluator([every, one])
    sample = {labelled("http_route_p95_seconds", "/slow"): 1.0,
              labelled("http_route_p95_seconds", "/fast"): 0.01}  # fmt: skip
    fired = await evaluator.evaluate(sample)
    assert [(a.rule, a.route) for a in fired] == [("slow_route", "/slow")]
    assert "on /slow" in fired[0].summary
    assert evaluator.state("slow_route", "/slow") is RuleState.FIRING
    assert evaluator.state("slow_route", "/fast") is RuleState.OK


async def test_a_muted_rule_keeps_its_state_but_notifies_nobody() -> None:
    rule = AlertRule("cpu", "system_cpu_percent", 80, 60, for_samples=1, muted=True)
    sink, channel = Recorder(), Recorder()
    evaluator = AlertEvaluator([rule], [sink], channels={"email": channel})
    fired = await evaluator.evaluate({"system_cpu_percent": 99})
    assert [a.status for a in fired] == ["firing"]
    assert sink.alerts == channel.alerts == []
    # Unmuted mid-incident: still the same incident, so no second "firing"...
    evaluator.set_rules([AlertRule("cpu", "system_cpu_percent", 80, 60, for_samples=1)])
    assert await evaluator.evaluate({"system_cpu_percent": 99}) == []
    # ...and its end is told.
    await evaluator.evaluate({"system_cpu_percent": 10})
    assert [a.status for a in sink.alerts] == [a.status for a in channel.alerts] == ["resolved"]


async def test_a_rule_reaches_only_the_channels_it_names() -> None:
    rules = [
        AlertRule("a", "x", 1, 0, for_samples=1, channels=("email",)),
        AlertRule("b", "y", 1, 0, for_samples=1),
    ]
    email, slack, stream = Recorder(), Recorder(), Recorder()
    evaluator = AlertEvaluator(rules, [stream], channels={"email": email, "slack": slack})
    await evaluator.evaluate({"x": 2, "y": 2})
    assert [a.rule for a in email.alerts] == ["a", "b"]
    assert [a.rule for a in slack.alerts] == ["b"]
    assert [a.rule for a in stream.alerts] == ["a", "b"]


async def test_app_code_raises_an_alert_with_a_level_and_context() -> None:
    sink = Recorder()
    evaluator = AlertEvaluator([], [sink])
    alert = await evaluator.raise_alert("critical", "payments down", {"provider": "acme"})
    assert (alert.status, alert.severity, alert.summary) == ("raised", "critical", "payments down")
    assert alert.context == {"provider": "acme"}
    assert sink.alerts == [alert]
    with pytest.raises(InvalidAlertRule, match="level"):
        await evaluator.raise_alert("fatal", "x")  # type: ignore[arg-type]
    # Nothing running: logged only.
    assert await send_alert("info", "nobody listens") is None
    assert headwater.send_alert is send_alert


class Timed(Module):
    """A slow route whose delay a test sets, among fast ones."""

    name = "timed"
    delay = 0.0

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter()

        @router.get("/fast/{n}")
        async def fast(n: int) -> dict[str, int]:
            return {"n": n}

        @router.get("/slow")
        async def slow() -> dict[str, float]:
            await asyncio.sleep(Timed.delay)
            return {"slept": Timed.delay}

        return [router]


def test_one_slow_route_among_fast_ones_fires_and_clears_with_hysteresis(tmp_path: Path) -> None:
    rule = AlertRule("slow_route", "http_route_p95_seconds", 0.3, 0.06, for_samples=1)
    node_wide = AlertRule("slow_responses", "http_p95_seconds", 0.3, 0.06, for_samples=1)
    module = quiet_module(rules=[rule, node_wide])
    app = create_app(make_settings(tmp_path), plugins=[module], apps=[Timed()])

    def traffic(delay: float) -> list[Alert]:
        Timed.delay = delay
        # 5 slow requests in 155: under 5 %, so the node's own p95 stays fast.
        for n in range(150):
            client.get(f"/fast/{n}")
        for _ in range(5):
            client.get("/slow")
        return portal(client).call(module.evaluate_now)

    with TestClient(app) as client:
        quiet = traffic(0.0)
        fired = traffic(0.6)  # p95 of /slow in the 1 s bucket; the node's p95 is fast
        wobble = traffic(0.07)  # between clear (0.06) and threshold: still firing
        cleared = traffic(0.0)
        statuses = portal(client).call(_statuses, app.state.runtime.store)
    assert quiet == []
    assert [(a.rule, a.status, a.route) for a in fired] == [("slow_route", "firing", "/slow")]
    assert fired[0].value == 1.0
    assert wobble == []
    assert [(a.rule, a.status, a.route) for a in cleared] == [("slow_route", "resolved", "/slow")]
    assert statuses == [("firing", "/slow"), ("resolved", "/slow")]


async def _statuses(store: object) -> list[tuple[str, str | None]]:
    return [
        (e.data["status"], e.data["route"])
        async for e in store.read_stream(ALERT_STREAM)  # type: ignore[attr-defined]
    ]


def test_route_error_rates_come_from_the_latency_histogram() -> None:
    metrics = Metrics()
    figures = RouteFigures(metrics)
    for status in ["200"] * 6 + ["500"] * 4:
        metrics.http_duration.labels("/pay", "POST", status, "anonymous").observe(0.02)
    for _ in range(3):  # too few requests to say anything
        metrics.http_duration.labels("/quiet", "GET", "500", "anonymous").observe(0.02)
    read = figures.read()
    assert read[labelled("http_route_error_rate", "/pay")] == 0.4
    assert read[labelled("http_route_p95_seconds", "/pay")] == 0.025
    assert labelled("http_route_error_rate", "/quiet") not in read
    assert figures.read() == {}  # nothing new since


async def test_the_rules_file_from_settings_is_loaded_at_start(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(
        orjson.dumps([{"name": "high_cpu", "metric": "system_cpu_percent", "threshold": 95}])
    )
    store = await create_event_store(f"sqlite:///{tmp_path / 'a.db'}", migrate=True)
    settings = make_settings(tmp_path, alert_rules_file=str(path))
    runtime = Runtime(settings=settings, store=store, cursors=CursorCodec("s"))
    module = quiet_module()
    try:
        await module.start(runtime)
        rules = {rule.name: rule for rule in module.evaluator.rules}
        await module.stop(runtime)
    finally:
        await store.close()
    assert rules["high_cpu"].threshold == 95.0  # replaced the built-in
    assert "dead_jobs" in rules


def test_a_broken_rules_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_bytes(orjson.dumps([{"name": "x", "metric": "y", "threshold": 1, "clear": 2}]))
    broken = create_app(
        make_settings(tmp_path, alert_rules_file=str(path)), plugins=[quiet_module()]
    )
    with pytest.raises(InvalidAlertRule, match="flap"), TestClient(broken):
        pass
