"""In-memory views replay the log, follow it live, and skip a failing event."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from headwater.eventstore import EventStore, NewEvent, RecordedEvent
from headwater.projections import MemoryView

pytestmark = pytest.mark.anyio


async def test_view_replays_then_follows_and_skips_bad_events(store: EventStore) -> None:
    plans: MemoryView[Counter[str]] = MemoryView("plans", Counter)

    @plans.on("user.created")
    def _created(state: Counter[str], event: RecordedEvent) -> None:
        state[event.data["plan"]] += 1

    await store.append("u1", [NewEvent("user.created", {"plan": "pro"})])
    await store.append("u2", [NewEvent("user.created", {"plan": "free"})])
    async with plans.running(store) as view:
        await store.append("u3", [NewEvent("user.created", {})])  # no plan: skipped
        result = await store.append("u4", [NewEvent("user.created", {"plan": "pro"})])
        async with asyncio.timeout(5):
            await view.wait_for(result.last_position)
        assert view.state == Counter({"pro": 2, "free": 1})
        assert [position for position, _ in view.errors] == [3]
