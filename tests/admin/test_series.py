"""``NodeSeries``: points are differences of two samples, never of a missing figure."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from headwater.admin._series import NodeSeries
from headwater.app import create_app
from headwater.eventstore import NewEvent
from headwater.observability import ObservabilityModule
from headwater.observability._collectors import Snapshot
from headwater.runtime import Runtime
from tests.http.support import make_settings

pytestmark = pytest.mark.anyio


class Collector:
    """Stands for the observability module's collector: the snapshots it would take."""

    def __init__(self, snapshots: list[Snapshot]) -> None:
        self.pending = iter(snapshots)
        self.refreshed = 0

    async def refresh(self) -> Snapshot:
        self.refreshed += 1
        return next(self.pending)


def series_over(snapshots: list[Snapshot]) -> NodeSeries:
    clock = iter(float(n) for n in range(100))
    runtime: Any = SimpleNamespace(collector=Collector(snapshots), metrics=None, hub=None)
    return NodeSeries(lambda: runtime, clock=lambda: next(clock))


async def test_events_per_second_is_the_heads_difference_over_the_interval() -> None:
    series = series_over([Snapshot(head_position=10), Snapshot(head_position=14)])
    assert await series.sample() is None  # the baseline
    point = await series.sample()
    assert point is not None
    assert point["events_per_s"] == 4.0
    assert point["requests_per_s"] == 0.0


async def test_a_head_missing_from_one_sample_is_no_rate_not_the_whole_log() -> None:
    # The first read of the head failed (the collector left it None): the next sample
    # must not count every event in the log as this interval's.
    series = series_over(
        [
            Snapshot(head_position=None),
            Snapshot(head_position=50_000),
            Snapshot(head_position=50_006),
        ]
    )
    assert await series.sample() is None
    first = await series.sample()
    assert first is not None
    assert first["events_per_s"] == 0.0
    second = await series.sample()
    assert second is not None
    assert second["events_per_s"] == 6.0


async def test_the_series_charts_the_apps_one_collector(tmp_path: Path) -> None:
    # The dashboard and /metrics read one RuntimeCollector: the series refreshes the
    # observability module's own, never one of its own.
    settings = make_settings(tmp_path)
    observability = ObservabilityModule(log_level=None, alert_interval=None)
    app = create_app(settings, plugins=[observability])
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        assert runtime.collector is observability.collector
        await runtime.store.append("s-1", [NewEvent("x", {})])
        series = NodeSeries(lambda: runtime)
        await series.sample()
        assert observability.collector.snapshot.head_position == 1


async def test_without_the_observability_module_the_series_has_no_figures() -> None:
    clock = iter(float(n) for n in range(100))
    runtime: Any = SimpleNamespace(collector=None, metrics=None, hub=None)
    series = NodeSeries(lambda: runtime, clock=lambda: next(clock))
    assert await series.sample() is None
    point = await series.sample()
    assert point is not None
    assert (point["events_per_s"], point["queue_depth"], point["connections"]) == (0.0, 0, 0)


async def test_a_point_carries_the_node_figures_and_null_for_absent_ones() -> None:
    figures = {"system_cpu_percent": 42.0, "db_latency_seconds": 0.0123, "active_users": 3.0}
    series = series_over([Snapshot(head_position=1), Snapshot(head_position=1, figures=figures)])
    await series.sample()
    point = await series.sample()
    assert point is not None
    assert point["cpu_percent"] == 42.0
    assert point["db_latency_ms"] == 12.3
    assert point["active_users"] == 3.0
    # No pool on this store: null, which the charts draw as a gap, not a zero.
    assert point["db_pool_in_use"] is None
