"""The batch processor of ``seeds/000`` (``BatchProcessor``), without its ways to lose items.

Items are added one by one; they are processed in batches of up to ``size``, as soon
as ``size`` are waiting or ``max_wait`` seconds after the oldest arrived. One batch at
a time, in arrival order. What changes from the seed:

* An item leaves the buffer only once its batch succeeded, so a failed batch is simply
  still at the front: retried (with backoff) before anything added after it, up to
  ``attempts`` times, then *parked*, handed to ``park`` with the error, never dropped.
  ``park_to_queue`` parks into the durable job queue, where it is retried again and
  dead-lettered like any job.
* ``add`` waits when ``max_pending`` items are buffered (back-pressure), instead of
  letting memory grow without bound.
* ``close`` (or ``flush``) processes everything still buffered.

The buffer lives in memory: items not yet processed die with the process. For work
that must survive a crash, enqueue jobs (``JobQueue.enqueue_many``) instead, e.g. one
job per chunk of a CSV import, whose handler may use a processor to batch its writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from headwater.errors import InvalidJob
from headwater.jobs._job import Backoff
from headwater.jobs._queue import JobQueue

log = logging.getLogger(__name__)

T = TypeVar("T")

ProcessFn = Callable[[list[T]], Awaitable[None]]
ParkFn = Callable[[list[T], BaseException], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ParkedBatch(Generic[T]):
    items: list[T]
    error: BaseException


class BatchProcessor(Generic[T]):
    def __init__(
        self,
        process: ProcessFn[T],
        *,
        size: int = 100,
        max_wait: float = 1.0,
        attempts: int = 3,
        backoff: Backoff | None = None,
        park: ParkFn[T] | None = None,
        max_pending: int = 10_000,
    ) -> None:
        if size < 1 or attempts < 1 or max_pending < size or not max_wait >= 0:
            raise InvalidJob("need size >= 1, attempts >= 1, max_pending >= size, max_wait >= 0")
        self._process = process
        self.size = size
        self.max_wait = max_wait
        self.attempts = attempts
        self.backoff = backoff or Backoff("exponential", base=0.5, max=30.0)
        self._park = park
        self.max_pending = max_pending
        #: Batches that failed every attempt and that ``park`` could not take (or none).
        self.parked: list[ParkedBatch[T]] = []
        self.processed = 0
        self.batches = 0
        self.failures = 0
        self._buffer: deque[tuple[float, T]] = deque()
        self._changed = asyncio.Event()  # an item arrived, or flushing began
        self._drained = asyncio.Event()  # the buffer shrank
        self._flushing = 0
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def add(self, item: T) -> None:
        """Buffer one item; waits while ``max_pending`` items are buffered."""
        if self._closed:
            raise InvalidJob("the batch processor is closed")
        self._ensure_running()
        while len(self._buffer) >= self.max_pending:
            self._drained.clear()
            await self._drained.wait()
        self._buffer.append((asyncio.get_running_loop().time(), item))
        self._changed.set()

    async def add_many(self, items: Iterable[T]) -> None:
        for item in items:
            await self.add(item)

    async def flush(self) -> None:
        """Process everything buffered now, without waiting for ``max_wait``."""
        self._ensure_running()
        self._flushing += 1
        try:
            while self._buffer:
                self._changed.set()
                self._drained.clear()
                await self._drained.wait()
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Process what is buffered, then stop."""
        if self._buffer:
            await self.flush()
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> BatchProcessor[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="batch processor")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._buffer:
                self._changed.clear()
                await self._changed.wait()
                continue
            due = self._buffer[0][0] + self.max_wait
            if len(self._buffer) < self.size and not self._flushing and loop.time() < due:
                self._changed.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(due - loop.time()):
                        await self._changed.wait()
                continue
            count = min(self.size, len(self._buffer))
            batch = [self._buffer[i][1] for i in range(count)]
            await self._run_batch(batch)
            # Only now do the items leave: a failure above left them at the front.
            for _ in range(count):
                self._buffer.popleft()
            self._drained.set()

    async def _run_batch(self, batch: list[T]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                await self._process(batch)
            except Exception as exc:
                self.failures += 1
                if attempt == self.attempts:
                    await self._give_up(batch, exc)
                    return
                delay = self.backoff.delay(attempt)
                log.warning("batch of %d failed (%s); retry in %.2fs", len(batch), exc, delay)
                await asyncio.sleep(delay)
            else:
                self.processed += len(batch)
                self.batches += 1
                return

    async def _give_up(self, batch: list[T], error: BaseException) -> None:
        log.error("batch of %d failed %d times; parking it: %s", len(batch), self.attempts, error)
        if self._park is not None:
            try:
                await self._park(batch, error)
                return
            except Exception as exc:
                log.exception("parking a failed batch failed; keeping it in memory")
                error = exc
        self.parked.append(ParkedBatch(batch, error))


def park_to_queue(queue: JobQueue, name: str, **options: Any) -> ParkFn[Any]:
    """A ``park`` that enqueues the failed batch as one durable job ``name`` with payload
    ``{"items": [...], "error": "..."}`` (items must be JSON). Register a handler for
    ``name`` that processes ``job.payload["items"]``; it then retries and dead-letters
    like any other job, and survives restarts."""

    async def park(items: Sequence[Any], error: BaseException) -> None:
        payload = {"items": list(items), "error": f"{type(error).__name__}: {error}"}
        await queue.enqueue(name, payload, **options)

    return park
