"""A bulkhead: at most ``max_concurrent`` calls at once, ``max_queue`` more waiting.

A call beyond both is refused at once with ``BulkheadFull`` (no unbounded queue
building up behind a slow dependency); a queued call that waits longer than
``queue_timeout`` is refused too. ``asyncio.Semaphore`` alone queues without bound,
hence the counter in front of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from headwater.errors import BulkheadFull


class Bulkhead:
    def __init__(
        self,
        name: str,
        max_concurrent: int,
        *,
        max_queue: int = 0,
        queue_timeout: float | None = None,
    ) -> None:
        if max_concurrent < 1 or max_queue < 0:
            raise ValueError("a bulkhead needs max_concurrent >= 1 and max_queue >= 0")
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self._slots = asyncio.Semaphore(max_concurrent)
        self.running = 0
        self.waiting = 0
        self.rejected = 0

    def _full(self) -> BulkheadFull:
        self.rejected += 1
        return BulkheadFull(self.name, self.max_concurrent, self.max_queue)

    async def acquire(self) -> None:
        if self.running + self.waiting >= self.max_concurrent + self.max_queue:
            raise self._full()
        self.waiting += 1
        try:
            if self.queue_timeout is None:
                await self._slots.acquire()
            else:
                async with asyncio.timeout(self.queue_timeout):
                    await self._slots.acquire()
        except TimeoutError:
            raise self._full() from None
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        self.running -= 1
        self._slots.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()
