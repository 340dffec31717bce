"""The fixtures and helpers every part of the job-queue contract shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest

from headwater.eventstore import EventStore, create_event_store
from headwater.jobs import Job, JobQueue, SqlJobQueue

#: The longest any wait in the suite may take before the test fails instead of hanging.
WAIT_SECONDS = 10.0


class JobQueueContractBase:
    """What a backend's test class provides: a ``store_url`` fixture naming an empty
    store (the project's conftest parametrizes one over every backend), and, when the
    queue is not a ``SqlJobQueue``, :meth:`open_queue`."""

    #: Another store opened on ``store_url`` (another node) shares this one's data.
    shared_between_processes: ClassVar[bool] = True

    async def open_store(self, url: str) -> EventStore:
        return await create_event_store(url, migrate=True)

    async def open_queue(self, store: EventStore) -> JobQueue:
        queue = SqlJobQueue(store)
        await queue.migrate()
        return queue

    def is_shared(self, url: str) -> bool:
        return self.shared_between_processes and ":memory:" not in url

    @pytest.fixture
    async def store(self, store_url: str) -> AsyncIterator[EventStore]:
        opened = await self.open_store(store_url)
        try:
            yield opened
        finally:
            await opened.close()

    @pytest.fixture
    async def queue(self, store: EventStore) -> JobQueue:
        return await self.open_queue(store)

    @pytest.fixture
    async def other_node(self, store_url: str, queue: JobQueue) -> AsyncIterator[JobQueue]:
        """A second queue on its own store (own connections, own writer): another node."""
        if not self.is_shared(store_url):
            pytest.skip("this store's data is not shared with a second store on its URL")
        store = await self.open_store(store_url)
        try:
            yield await self.open_queue(store)
        finally:
            await store.close()


async def claim_one(queue: JobQueue, name: str = "task", *, lease: float = 30.0) -> Job:
    claim = await queue.claim([name], owner="tester", lease=lease, limit=1)
    assert len(claim.jobs) == 1, f"expected one due {name!r} job, got {claim.jobs}"
    return claim.jobs[0]


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after WAIT_SECONDS."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                value = await check()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")
