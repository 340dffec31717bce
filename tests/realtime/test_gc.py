"""The collector keeper: start-up frozen, no automatic full collection, pauses measured."""

from __future__ import annotations

import gc

import pytest

from headwater.realtime._gc import NO_AUTOMATIC_FULL, GcKeeper

pytestmark = pytest.mark.anyio


async def test_start_freezes_and_stop_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    keeper = GcKeeper(lambda: 0, interval=3600)
    keeper.start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == NO_AUTOMATIC_FULL
        gc.collect(0)
        assert keeper.stats["collections"] >= 1
        assert keeper.stats["pause_max_ms"] > 0
    finally:
        keeper.stop()
        gc.unfreeze()
    assert gc.get_threshold() == before


async def test_a_full_collection_runs_only_after_enough_connections_closed() -> None:
    keeper = GcKeeper(lambda: 10_000, interval=3600, churn=0.5, min_churn=100)
    keeper.start()
    try:
        keeper.closed_since_full = 4_999  # under half of the 10,000 open
        keeper.tend()
        assert keeper.stats["full_collections"] == 0
        keeper.closed_since_full = 5_000
        keeper.tend()
        assert keeper.stats["full_collections"] == 1
        assert keeper.closed_since_full == 0
        assert keeper.stats["frozen"] == gc.get_freeze_count() > 0
    finally:
        keeper.stop()
        gc.unfreeze()
