"""The downsampled metric history, on every backend: two tiers, means, pruning."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from headwater.eventstore import EventStore, create_event_store
from headwater.observability import MetricHistory

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0  # a multiple of 60


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(store_url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


async def test_samples_fold_into_ten_second_and_one_minute_means(store: EventStore) -> None:
    clock = Clock()
    history = MetricHistory(store, "node-a", clock=clock)
    assert await history.migrate() == ["observability/0001_metric_history"]
    assert await history.migrate() == []
    # Four samples 15 s apart: 10 s points each on their own, one 1 min point for all.
    for n, value in enumerate([10.0, 20.0, 30.0, 40.0]):
        await history.record({"cpu": value, "gone": None}, at=T0 + 15 * n)
    clock.now = T0 + 59
    fine = await history.read(seconds=600, metrics=["cpu", "gone"])
    coarse = await history.read(seconds=7200)
    assert fine["resolution"] == 10
    assert fine["series"] == {
        "cpu": [[int(T0), 10.0], [int(T0) + 10, 20.0], [int(T0) + 30, 30.0], [int(T0) + 40, 40.0]]
    }
    assert coarse["resolution"] == 60
    assert coarse["series"] == {"cpu": [[int(T0), 25.0]]}


async def test_each_tier_keeps_its_own_span_and_each_node_its_own_rows(store: EventStore) -> None:
    clock = Clock()
    history = MetricHistory(store, "node-a", tiers=((10, 60), (60, 600)), clock=clock)
    other = MetricHistory(store, "node-b", tiers=((10, 60), (60, 600)), clock=clock)
    await history.migrate()
    await other.record({"cpu": 99.0}, at=T0)
    for step in range(0, 700, 10):
        await history.record({"cpu": float(step)}, at=T0 + step)
    clock.now = T0 + 700
    # Pruning runs every few writes: what is left is the span kept, plus at most that.
    rows = await store.fetchall(
        "SELECT resolution, MIN(t) FROM hw_metric_history WHERE node = ? GROUP BY resolution",
        ("node-a",),
    )
    oldest = dict((int(r), int(t)) for r, t in rows)
    assert oldest[10] >= T0 + 700 - 60 - 200
    assert oldest[60] >= T0 + 700 - 600 - 200
    assert (await other.read(seconds=60, resolution=10))["series"] == {}
    assert (await other.read(seconds=10_000, resolution=10))["series"] == {"cpu": [[int(T0), 99.0]]}
