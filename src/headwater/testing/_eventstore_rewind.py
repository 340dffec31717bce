"""Contract: a rewound log (failover with lost commits, a restored older file) is noticed.

After a rewind the store gives lost positions to new events. A reader that went on
from its old position would skip them for good, so every read path notices instead:
``read_all`` and ``subscribe`` raise ``LogRewound``, and a subscription says up to
where what it yielded is still true (``valid_through``).
"""

from __future__ import annotations

import anyio
import pytest

from headwater.errors import LogRewound
from headwater.eventstore import EventStore
from headwater.testing._eventstore_base import (
    WAIT_SECONDS,
    ContractBase,
    Subscriber,
    collect,
    new,
    positions,
    read_all,
)


class RewindContract(ContractBase):
    async def test_read_all_after_a_position_beyond_the_head_raises_log_rewound(
        self, store: EventStore
    ) -> None:
        await store.append("a", [new(n=1), new(n=2)])
        with pytest.raises(LogRewound) as raised:
            await read_all(store, after=100)
        assert (raised.value.last_seen, raised.value.head) == (100, 2)
        assert raised.value.resync_from == 0

    async def test_read_all_from_a_reissued_position_raises_log_rewound(
        self, store: EventStore
    ) -> None:
        await store.append("a", [new(n=n) for n in range(1, 6)])
        last = (await read_all(store))[-1]
        assert await read_all(store, after=last.position, after_event_id=last.id) == []
        await self.rewind_log(store, 3)
        await store.append("b", [new(n=n) for n in range(10, 14)])  # positions 4..7
        assert await store.head_position() == 7
        # Without the id a tail cannot tell position 5 now names another event...
        assert [e.data["n"] for e in await read_all(store, after=5)] == [12, 13]
        # ...with it, the reissued position is refused instead of skipped past.
        with pytest.raises(LogRewound) as raised:
            await read_all(store, after=last.position, after_event_id=last.id)
        assert (raised.value.last_seen, raised.value.head) == (5, 7)

    async def test_a_tail_cursor_with_an_unchanged_event_reads_on(self, store: EventStore) -> None:
        await store.append("a", [new(n=n) for n in range(1, 6)])
        third = (await read_all(store))[2]
        await self.rewind_log(store, 4)
        tail = await read_all(store, after=third.position, after_event_id=third.id)
        assert [e.data["n"] for e in tail] == [4]

    async def test_a_page_boundary_is_checked_too(self, store: EventStore) -> None:
        store.page_size = 2
        await store.append("a", [new(n=n) for n in range(1, 6)])
        assert [e.data["n"] for e in await read_all(store, after=1)] == [2, 3, 4, 5]

    async def test_subscription_raises_with_the_prefix_still_valid(self, store: EventStore) -> None:
        await store.append("a", [new(n=n) for n in range(1, 7)])
        sub = Subscriber(store)
        with anyio.fail_after(WAIT_SECONDS):
            async with anyio.create_task_group() as tasks:
                failure: list[LogRewound] = []

                async def run() -> None:
                    try:
                        await sub.run()
                    except LogRewound as exc:
                        failure.append(exc)

                tasks.start_soon(run)
                await sub.wait_for_count(6)
                await self.rewind_log(store, 3)
                await store.append("b", [new(n=n) for n in range(10, 15)])  # 4..8
                # The task group now waits for the subscription to end with the error.
        assert failure, "the subscription went on past reissued positions"
        rewound = failure[0]
        assert rewound.last_seen == 6
        assert rewound.valid_through == 3
        again = Subscriber(store, {"after": rewound.resync_from})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(again.run)
            await again.wait_for_count(5)
            tasks.cancel_scope.cancel()
        assert again.events == await read_all(store, after=3)
        assert positions(sub.events[:3]) + positions(again.events) == list(range(1, 9))

    async def test_filtered_subscription_notices_a_rewind_below_its_head_skip(
        self, store: EventStore
    ) -> None:
        await store.append("a", [new("A", n=1), new("B", n=2), new("A", n=3), new("B", n=4)])
        sub = Subscriber(store, {"types": ["A"]})
        failure: list[LogRewound] = []

        async def run() -> None:
            try:
                await sub.run()
            except LogRewound as exc:
                failure.append(exc)

        with anyio.fail_after(WAIT_SECONDS):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(run)
                await sub.wait_for_count(2)
                # Let it look past the B at 4 (skip to the head) before the rewind.
                await anyio.sleep(0.1)
                await self.rewind_log(store, 2)
                await store.append("c", [new("A", n=5), new("A", n=6), new("A", n=7)])
        assert failure, "the filtered subscription went on past reissued positions"
        # Position 1 (an A it yielded) is unchanged; the A at 3 is gone.
        assert failure[0].valid_through == 1
        resumed = await collect(store.read_all(after=failure[0].resync_from, types=["A"]))
        assert [e.data["n"] for e in resumed] == [5, 6, 7]

    async def test_log_identity_is_stable_while_nothing_fails_over(self, store: EventStore) -> None:
        first = await store.log_identity()
        await store.append("a", [new(n=1)])
        assert await store.log_identity() == first
