"""The seed's batch processor: size or time triggered, in order, nothing lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from headwater.eventstore import create_event_store
from headwater.jobs import Backoff, BatchProcessor, JobState, SqlJobQueue, park_to_queue

pytestmark = pytest.mark.anyio

QUICK = Backoff("fixed", base=0.01, jitter=0.0)


class Sink:
    """Collects processed batches; fails the batches it is told to."""

    def __init__(self, fail_times: int = 0, poison: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.calls = 0
        self.fail_times = fail_times
        self.poison = poison

    async def __call__(self, items: list[int]) -> None:
        self.calls += 1
        if self.poison is not None and self.poison in items:
            raise ValueError(f"item {self.poison} is poison")
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("database hiccup")
        self.batches.append(list(items))

    @property
    def items(self) -> list[int]:
        return [item for batch in self.batches for item in batch]


async def test_a_full_batch_goes_at_once_and_the_rest_on_close() -> None:
    sink = Sink()
    processor = BatchProcessor(sink, size=10, max_wait=60)
    await processor.add_many(range(25))
    await asyncio.sleep(0.05)
    assert sink.batches == [list(range(10)), list(range(10, 20))]
    assert processor.pending == 5
    await processor.close()
    assert sink.items == list(range(25))


async def test_a_partial_batch_goes_after_max_wait() -> None:
    done = asyncio.Event()

    async def process(items: list[int]) -> None:
        batches.append(items)
        done.set()

    batches: list[list[int]] = []
    async with BatchProcessor(process, size=100, max_wait=0.1) as processor:
        started = time.monotonic()
        await processor.add_many([1, 2, 3])
        await asyncio.wait_for(done.wait(), 2)
        waited = time.monotonic() - started
    assert batches == [[1, 2, 3]]
    assert 0.09 <= waited < 1.0


async def test_a_failed_batch_is_retried_first_so_nothing_is_lost_or_reordered() -> None:
    sink = Sink(fail_times=2)
    async with BatchProcessor(sink, size=4, max_wait=0.01, attempts=3, backoff=QUICK) as p:
        await p.add_many(range(10))
        await p.flush()
        assert sink.items == list(range(10))
        assert sink.batches[0] == [0, 1, 2, 3]
        assert (p.failures, p.batches, p.parked) == (2, 3, [])


async def test_a_batch_failing_every_attempt_is_parked_and_the_rest_go_on() -> None:
    sink = Sink(poison=5)
    parked: list[tuple[list[int], str]] = []

    async def park(items: list[int], error: BaseException) -> None:
        parked.append((items, str(error)))

    async with BatchProcessor(sink, size=4, attempts=2, backoff=QUICK, park=park) as p:
        await p.add_many(range(12))
        await p.flush()
    assert parked == [([4, 5, 6, 7], "item 5 is poison")]
    assert sink.items == [0, 1, 2, 3, 8, 9, 10, 11]


async def test_without_a_park_callback_failed_batches_stay_in_memory() -> None:
    sink = Sink(poison=0)
    async with BatchProcessor(sink, size=2, attempts=1, backoff=QUICK) as p:
        await p.add_many([0, 1, 2])
    assert [(b.items, type(b.error)) for b in p.parked] == [([0, 1], ValueError)]
    assert sink.items == [2]


async def test_add_waits_when_the_buffer_is_full() -> None:
    release = asyncio.Event()

    async def slow(items: list[int]) -> None:
        await release.wait()

    processor = BatchProcessor(slow, size=2, max_wait=0, max_pending=2)
    await processor.add_many([1, 2])
    third = asyncio.create_task(processor.add(3))
    await asyncio.sleep(0.05)
    assert not third.done(), "the third add waits for room"
    release.set()
    await asyncio.wait_for(third, 1)
    await processor.close()
    assert processor.processed == 3


async def test_parking_into_the_queue_makes_a_failed_batch_a_durable_job() -> None:
    store = await create_event_store("sqlite:///:memory:")
    try:
        queue = SqlJobQueue(store)
        await queue.migrate()
        park = park_to_queue(queue, "import.retry", attempts=5)
        async with BatchProcessor(Sink(poison=1), size=3, attempts=1, park=park) as p:
            await p.add_many([1, 2, 3])
        [job] = await queue.list_jobs(name="import.retry")
        assert job.payload == {"items": [1, 2, 3], "error": "ValueError: item 1 is poison"}
        assert (job.state, job.max_attempts) == (JobState.QUEUED, 5)
    finally:
        await store.close()
