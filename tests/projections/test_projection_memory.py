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


async def test_view_replays_from_the_start_after_a_rewind_of_the_log(store: EventStore) -> None:
    seen: MemoryView[list[str]] = MemoryView("seen", list)

    @seen.on("noted")
    def _noted(state: list[str], event: RecordedEvent) -> None:
        state.append(event.data["n"])

    for n in "abcd":
        await store.append(f"s-{n}", [NewEvent("noted", {"n": n})])
    async with seen.running(store) as view:
        async with asyncio.timeout(5):
            await view.wait_for(4)
        # A failover lost c and d; new events take positions 3..5.
        async with store.transaction() as tx:
            await tx.execute("DELETE FROM hw_events WHERE position > 2")
            if tx.dialect == "postgresql":
                await tx.execute("UPDATE hw_head SET position = 2")
        for n in "xyz":
            await store.append(f"s-{n}", [NewEvent("noted", {"n": n})])
        async with asyncio.timeout(5):
            await view.wait_for(5)
        assert view.state == ["a", "b", "x", "y", "z"]
