"""Contract: subscriptions — history then live, filters, no gap or duplicate, wake-ups."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.testing._eventstore_base import (
    WAIT_SECONDS,
    ContractBase,
    Subscriber,
    assert_strictly_increasing,
    new,
    positions,
    read_all,
    read_stream,
)


class SubscriptionContract(ContractBase):
    # --- subscribe ------------------------------------------------------------------

    async def test_subscribe_yields_history_then_live_events(self, store: EventStore) -> None:
        history = [new(n=1), new(n=2)]
        await store.append("a", history)
        await store.append("b", [new(n=3)])
        sub = Subscriber(store)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sub.run)
            await sub.wait_for_count(3)
            await store.append("a", [new(n=4)])
            await sub.wait_for_count(4)
            await store.append("c", [new(n=5), new(n=6)])
            await sub.wait_for_count(6)
            await sub.assert_quiet()
            tasks.cancel_scope.cancel()
        assert [e.data["n"] for e in sub.events] == [1, 2, 3, 4, 5, 6]
        assert positions(sub.events) == [1, 2, 3, 4, 5, 6]
        assert sub.events == await read_all(store)

    async def test_subscribe_after_a_position_starts_right_after_it(
        self, store: EventStore
    ) -> None:
        for n in range(1, 6):
            await store.append(f"s-{n}", [new(n=n)])
        sub = Subscriber(store, {"after": 3})
        head_sub = Subscriber(store, {"after": 5})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sub.run)
            tasks.start_soon(head_sub.run)
            await sub.wait_for_count(2)
            await store.append("s-6", [new(n=6)])
            await sub.wait_for_count(3)
            await head_sub.wait_for_count(1)
            await sub.assert_quiet()
            tasks.cancel_scope.cancel()
        assert [e.data["n"] for e in sub.events] == [4, 5, 6]
        assert [e.data["n"] for e in head_sub.events] == [6]

    async def test_subscribe_with_filters_yields_only_matching_history_and_live_events(
        self, store: EventStore
    ) -> None:
        store.page_size = 2  # so that pages of non-matching events are skipped over
        filters: list[dict[str, Any]] = [
            {"types": ["Rare"]},
            {"stream_prefix": "order-"},
            {"tenant_id": "acme"},
            {"types": ["Rare"], "stream_prefix": "order-", "tenant_id": "acme", "after": 2},
        ]

        async def write(round_: int) -> None:
            for i in range(6):
                await store.append(f"noise-{round_}-{i}", [new(n=i)])
            await store.append(f"order-{round_}", [new("Rare", n=round_)], tenant_id="acme")
            await store.append(f"order-x{round_}", [new(n=round_)])
            await store.append(f"bill-{round_}", [new("Rare", n=round_)], tenant_id="acme")
            await store.append(f"orders-{round_}", [new(n=round_)], tenant_id="globex")

        await write(0)
        await write(1)
        subs = [Subscriber(store, f) for f in filters]
        async with anyio.create_task_group() as tasks:
            for sub in subs:
                tasks.start_soon(sub.run)
            await write(2)
            await write(3)
            for sub in subs:
                await sub.wait_for_count(len(await read_all(store, **sub.filters)))
            await subs[0].assert_quiet()
            tasks.cancel_scope.cancel()
        for sub in subs:
            assert sub.events == await read_all(store, **sub.filters), sub.filters
        assert [(e.stream_id, e.type) for e in subs[3].events] == [
            (f"order-{n}", "Rare") for n in range(4)
        ]

    async def test_subscribe_switches_from_history_to_live_without_gap_or_duplicate(
        self, store: EventStore
    ) -> None:
        store.page_size = 7  # history spans several pages while writers keep appending
        per_writer = 40
        started = anyio.Event()

        async def writer(w: int) -> None:
            for n in range(per_writer):
                await store.append(f"w{w}-{n % 3}", [new(w=w, n=n)])
                if w == 0 and n == 10:
                    started.set()
                await anyio.lowlevel.checkpoint()

        sub = Subscriber(store)
        async with anyio.create_task_group() as tasks:
            async with anyio.create_task_group() as writers:
                for w in range(4):
                    writers.start_soon(writer, w)
                await started.wait()
                tasks.start_soon(sub.run)
            await sub.wait_for_count(4 * per_writer)
            await sub.assert_quiet()
            tasks.cancel_scope.cancel()
        everything = await read_all(store)
        assert len(everything) == 4 * per_writer
        assert_strictly_increasing(positions(sub.events))
        assert sub.events == everything

    async def test_many_subscribers_each_see_every_event_once(self, store: EventStore) -> None:
        subs = [Subscriber(store, {"after": 0 if i % 2 else None}) for i in range(24)]
        async with anyio.create_task_group() as tasks:
            await store.append("s", [new(n=0)])
            for sub in subs:
                tasks.start_soon(sub.run)
            for n in range(1, 20):
                await store.append(f"s-{n % 4}", [new(n=n)])
            for sub in subs:
                await sub.wait_for_count(20)
            await subs[0].assert_quiet()
            tasks.cancel_scope.cancel()
        everything = await read_all(store)
        for sub in subs:
            assert sub.events == everything

    async def test_cancelled_subscription_stops_cleanly_and_the_store_stays_usable(
        self, store: EventStore
    ) -> None:
        await store.append("s", [new(n=1)])
        sub = Subscriber(store)
        with anyio.fail_after(WAIT_SECONDS):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sub.run)
                await sub.wait_for_count(1)
                tasks.cancel_scope.cancel()
        assert sub.finished
        assert len(sub.events) == 1

        await store.append("s", [new(n=2)])
        assert [e.data["n"] for e in await read_stream(store, "s")] == [1, 2]
        again = Subscriber(store, {"after": 1})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(again.run)
            await again.wait_for_count(1)
            tasks.cancel_scope.cancel()
        assert [e.data["n"] for e in again.events] == [2]

    @pytest.mark.parametrize(
        "filters",
        [
            pytest.param({"after": -1}, id="negative-after"),
            pytest.param({"types": "Rare"}, id="types-as-one-string"),
            pytest.param({"stream_prefix": ""}, id="empty-prefix"),
        ],
    )
    async def test_subscribe_with_bad_filters_raises_invalid_input(
        self, store: EventStore, filters: dict[str, Any]
    ) -> None:
        with anyio.fail_after(WAIT_SECONDS), pytest.raises(InvalidInput):
            async for _ in store.subscribe(**filters):
                pass

    async def test_subscriber_is_woken_by_appends_through_another_store_on_the_same_url(
        self, store: EventStore, store_url: str
    ) -> None:
        # Another node's commit must wake a subscriber promptly, not at the next poll.
        self.require("shared_between_processes")
        store.fallback_poll_seconds = 60.0
        other = await self.open_store(store_url)
        sub = Subscriber(store)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sub.run)
                await store.append("here", [new(n=1)])
                await sub.wait_for_count(1)
                for n in range(2, 5):
                    await other.append("there", [new(n=n)])
                    await sub.wait_for_count(n, within=3)
                tasks.cancel_scope.cancel()
        finally:
            await other.close()
        assert [e.data["n"] for e in sub.events] == [1, 2, 3, 4]
        assert sub.events == await read_all(store)
