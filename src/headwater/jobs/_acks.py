"""Recording how runs ended, many runs per transaction.

Every recorded outcome is a commit, and on SQLite a commit is an fsync. So the
worker's runs hand their outcomes to one task that writes whatever has gathered
while the previous write was in flight: the same group commit the event store uses
for appends. A run waits until its outcome is durable before it frees its slot, so
the heartbeat keeps its lease alive meanwhile.

If the database cannot be reached, outcomes are retried until the run's lease
fence passes; after that the lease is as good as gone (another worker may reap and
rerun the job), so the outcome is dropped: delivery stays at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Final

from headwater.jobs._queue import JobQueue, Settlement

log = logging.getLogger(__name__)

_RETRY_DELAYS: Final = (0.05, 2.0)  # first and longest wait between write attempts


@dataclass(slots=True)
class _Pending:
    job_id: str
    attempt: int
    settlement: Settlement | None  # None: succeeded
    deadline: float  # loop time after which the outcome is pointless
    future: asyncio.Future[bool]


class OutcomeWriter:
    def __init__(self, queue: JobQueue, owner: str) -> None:
        self._queue = queue
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._pending: list[_Pending] = []
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"job outcomes {owner}")

    async def succeeded(self, job_id: str, attempt: int, deadline: float) -> bool:
        """Record success; True if this worker still held the run (else: lease lost)."""
        return await self._submit(job_id, attempt, None, deadline)

    async def settled(self, settlement: Settlement, deadline: float) -> bool:
        return await self._submit(settlement.job_id, settlement.attempt, settlement, deadline)

    async def _submit(
        self, job_id: str, attempt: int, settlement: Settlement | None, deadline: float
    ) -> bool:
        future: asyncio.Future[bool] = self._loop.create_future()
        self._pending.append(_Pending(job_id, attempt, settlement, deadline, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        """Stop. Call it once every run has its outcome (``Worker.stop`` waits for that)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        delay = _RETRY_DELAYS[0]
        while True:
            await self._ready.wait()
            self._ready.clear()
            batch, self._pending = self._pending, []
            batch = [p for p in batch if not p.future.done()]
            if not batch:
                continue
            try:
                held = await self._write(batch)
            except Exception as exc:
                now = self._loop.time()
                keep = [p for p in batch if p.deadline > now]
                for p in batch:
                    if p.deadline <= now:
                        p.future.set_result(False)
                log.warning("recording %d job outcomes failed (%s); retrying", len(keep), exc)
                self._pending = keep + self._pending
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_DELAYS[1])
                self._ready.set()
                continue
            delay = _RETRY_DELAYS[0]
            for p in batch:
                if not p.future.done():
                    p.future.set_result(p.job_id in held)

    async def _write(self, batch: list[_Pending]) -> set[str]:
        succeeded = [(p.job_id, p.attempt) for p in batch if p.settlement is None]
        settled = [p.settlement for p in batch if p.settlement is not None]
        held: set[str] = set()
        if succeeded:
            held |= await self._queue.succeed(self._owner, succeeded)
        if settled:
            held |= await self._queue.settle(self._owner, settled)
        return held
