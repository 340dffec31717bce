"""``NodeSeries``: points are differences of two samples, never of a missing figure."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from headwater.admin.series import NodeSeries
from headwater.observability.collectors import Snapshot

pytestmark = pytest.mark.anyio


def series_over(snapshots: list[Snapshot]) -> NodeSeries:
    clock = iter(float(n) for n in range(100))
    runtime: Any = SimpleNamespace(services={})
    series = NodeSeries(lambda: runtime, clock=lambda: next(clock))
    pending = iter(snapshots)

    async def refresh() -> Snapshot:
        return next(pending)

    series._collector.refresh = refresh  # type: ignore[method-assign]
    return series


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
