"""Experiments on a real store: sticky exposures, targeting, replayable results, and the
monitor's SRM alarm and guardrail stop, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from headwater.eventstore import EventStore
from headwater.eventstore._records import NewEvent
from headwater.experiments import (
    ExperimentMonitor,
    Experiments,
    ExperimentSpec,
    Guardrail,
    Metric,
    Targeting,
    Variant,
    compute_results,
)
from headwater.experiments._definitions import EXPOSURE
from headwater.experiments._service import exposure_stream
from headwater.observability._alerts import ALERT_EVENT, Alert, StreamAlertSink

pytestmark = pytest.mark.anyio


class Collected:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _spec(**changes: Any) -> ExperimentSpec:
    base: dict[str, Any] = {
        "key": "signup-form",
        "variants": [Variant(key="control"), Variant(key="short", payload={"form": "v2"})],
        "metrics": [Metric(name="submitted", event_type="test.Submitted")],
    }
    return ExperimentSpec(**{**base, **changes})


async def test_a_subject_keeps_its_first_variant_after_the_weights_change(
    store: EventStore,
) -> None:
    experiments = Experiments(store)
    await experiments.define("t1", _spec())
    assert await experiments.get_variant("t1", "signup-form", "s1") is None  # not started
    await experiments.start("t1", "signup-form")
    first = {
        s: await experiments.get_variant("t1", "signup-form", s) for s in ("s1", "s2", "s3", "s4")
    }
    assert all(a is not None and a.first_exposure for a in first.values())
    # All weight on "short" now: the exposed subjects keep what they saw.
    await experiments.define(
        "t1",
        _spec(
            variants=[
                Variant(key="control", weight=0),
                Variant(key="short", payload={"form": "v2"}),
            ]
        ),
    )
    for subject, assignment in first.items():
        again = await experiments.get_variant("t1", "signup-form", subject)
        assert again is not None
        assert assert_same(again.variant, assignment)
        assert not again.first_exposure
    fresh = await experiments.get_variant("t1", "signup-form", "newcomer")
    assert fresh is not None
    assert fresh.variant == "short"
    assert fresh.payload == {"form": "v2"}
    exposures = [e async for e in store.read_all(types=[EXPOSURE])]
    assert len(exposures) == 5  # one per subject, never two
    # Stopped: everyone is back to the default; started again: back to their variant.
    await experiments.stop("t1", "signup-form", reason="enough")
    assert await experiments.get_variant("t1", "signup-form", "s1") is None
    await experiments.start("t1", "signup-form")
    back = await experiments.get_variant("t1", "signup-form", "s1")
    assert back is not None
    assert back.variant == first["s1"].variant  # type: ignore[union-attr]


def assert_same(variant: str, assignment: Any) -> bool:
    return bool(variant == assignment.variant)


async def test_targeting_and_traffic_keep_others_out_and_tenants_apart(store: EventStore) -> None:
    experiments = Experiments(store)
    spec = _spec(targeting=Targeting(plans=["pro"], attributes={"country": ["fr"]}), traffic=0.5)
    await experiments.define("t1", spec)
    await experiments.start("t1", "signup-form")
    assert (
        await experiments.get_variant(
            "t1", "signup-form", "s1", plan="free", attributes={"country": "fr"}
        )
        is None
    )
    assert (
        await experiments.get_variant(
            "t1", "signup-form", "s1", plan="pro", attributes={"country": "de"}
        )
        is None
    )
    admitted = [
        await experiments.get_variant(
            "t1", "signup-form", f"s{i}", plan="pro", attributes={"country": "fr"}
        )
        for i in range(200)
    ]
    assert 60 < sum(a is not None for a in admitted) < 140
    with pytest.raises(Exception, match="no experiment"):
        await experiments.get("t2", "signup-form")


async def _expose_and_convert(
    store: EventStore, experiments: Experiments, n: int, rates: dict[str, float]
) -> None:
    for i in range(n):
        subject = f"u{i}"
        assignment = await experiments.get_variant("t1", "signup-form", subject)
        assert assignment is not None
        # Deterministic "conversion": every k-th subject of a variant converts.
        if (i % 100) < rates[assignment.variant] * 100:
            await store.append(
                f"test-{subject}",
                NewEvent("test.Submitted", {"distinct_id": subject}),
                tenant_id="t1",
            )


async def test_results_come_from_the_log_and_replay_identically(store: EventStore) -> None:
    experiments = Experiments(store)
    await experiments.define("t1", _spec())
    await experiments.start("t1", "signup-form")
    await _expose_and_convert(store, experiments, 300, {"control": 0.2, "short": 0.3})
    experiment = await experiments.get("t1", "signup-form")
    first = await compute_results(store, experiment)
    data = first.to_dict()
    assert sum(data["exposures"].values()) == 300
    comparison = data["metrics"]["submitted"]["comparisons"]["short"]
    assert comparison["interval"]["method"] == "sequential"
    assert (
        comparison["interval"]["low"]
        < comparison["interval"]["difference"]
        < comparison["interval"]["high"]
    )
    # Later events do not change results as of the earlier position: a replay.
    await _expose_and_convert(store, experiments, 350, {"control": 0.2, "short": 0.3})
    again = await compute_results(store, experiment, as_of_position=first.as_of_position)
    assert again.to_dict() == data


async def test_srm_alerts_once_and_a_regressing_guardrail_stops_the_experiment(
    store: EventStore,
) -> None:
    experiments = Experiments(store)
    collected = Collected()
    monitor = ExperimentMonitor(experiments, [collected, StreamAlertSink(store)])
    spec = _spec(guardrails=[Guardrail(metric="submitted", bad_direction="decrease")])
    await experiments.define("t1", spec)
    await experiments.start("t1", "signup-form")
    await _expose_and_convert(store, experiments, 600, {"control": 0.6, "short": 0.0})
    alerts = await monitor.check_all()
    assert [a.rule for a in alerts] == ["experiment_guardrail"]
    stopped = await experiments.get("t1", "signup-form")
    assert stopped.status == "stopped"
    assert "guardrail submitted" in (stopped.stop_reason or "")
    stored = [e async for e in store.read_all(types=[ALERT_EVENT])]
    assert stored
    assert stored[0].data["rule"] == "experiment_guardrail"

    # A broken split: exposures written straight to the log, 70/30 against 50/50 weights.
    await experiments.define("t1", _spec(key="skewed"))
    await experiments.start("t1", "skewed")
    now = datetime.now(UTC).isoformat()
    for i in range(1000):
        variant = "control" if i % 10 < 7 else "short"
        subject = f"k{i}"
        await store.append(
            exposure_stream("t1", "skewed", subject),
            NewEvent(
                EXPOSURE,
                {"experiment": "skewed", "variant": variant, "subject": subject, "at": now},
            ),
            tenant_id="t1",
        )
    alerts = await monitor.check_all()
    assert [a.rule for a in alerts] == ["experiment_srm"]
    assert alerts[0].value < 0.001
    assert await monitor.check_all() == []  # recorded once: no repeat alarm


async def test_two_nodes_monitoring_at_once_stop_and_alert_once(store: EventStore) -> None:
    experiments = Experiments(store)
    spec = _spec(guardrails=[Guardrail(metric="submitted", bad_direction="decrease")])
    await experiments.define("t1", spec)
    await experiments.start("t1", "signup-form")
    await _expose_and_convert(store, experiments, 600, {"control": 0.6, "short": 0.0})
    first, second = Collected(), Collected()
    await asyncio.gather(
        ExperimentMonitor(Experiments(store), [first]).check_all(),
        ExperimentMonitor(Experiments(store), [second]).check_all(),
    )
    assert len(first.alerts) + len(second.alerts) == 1
    stops = [e async for e in store.read_all(types=["experiment.stopped"])]
    assert len(stops) == 1
