"""Workers: claim due jobs, run their handlers under a lease, record how each run ended.

Never lost, never twice at once, how:

* A claim gives the worker a lease (``lease`` seconds) on each job, stored with the
  job. A heartbeat renews the leases of running jobs every ``heartbeat`` seconds.
* A worker that dies (``kill -9``, a lost node) stops renewing. Once a lease lapses,
  any worker's reaper moves the job to FAILED (or DEAD when no attempts remain), and
  it is claimed again: never lost.
* The lapsed worker may not be dead, only stalled or cut off from the database. So
  each run is fenced on the worker's own clock: the handler is cancelled at
  ``claim time + lease - lease_margin`` unless a renewal succeeded, always before the
  lease can lapse in the database. A renewal that finds the lease gone cancels the
  run at once. Its late outcome changes nothing: writes are fenced by the attempt
  number (see ``sql.py``). So two runs of one job never overlap, as long as node
  clocks agree to within the margin and handlers let themselves be cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol, Self

from headwater.errors import InvalidJob, OutboundFailed, PermanentJobError
from headwater.identity._trace import TraceContext, continue_trace, use_trace
from headwater.jobs._acks import OutcomeWriter
from headwater.jobs._job import Job, JobState
from headwater.jobs._metrics import JobEvent, JobEventKind, emit
from headwater.jobs._queue import JobQueue, Settlement
from headwater.jobs._registry import Handler, JobRegistry

log = logging.getLogger(__name__)


class SpanFactory(Protocol):
    """What a worker needs of a tracer (``headwater.observability.Tracer`` is one)."""

    def server_span(
        self, name: str, parent: TraceContext | None, attributes: Mapping[str, Any]
    ) -> contextlib.AbstractContextManager[object]: ...


MAX_ERROR_CHARS: Final = 8000
_OUTAGE_DELAYS: Final = (0.1, 5.0)  # first and longest pause after a failed claim


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: Jobs run at once by this worker.
    concurrency: int = 10
    #: Seconds a claim (or renewal) holds a job for this worker.
    lease: float = 30.0
    #: Seconds between renewals (default: a third of the lease).
    heartbeat: float | None = None
    #: A run is cancelled this long before its lease could lapse, unless renewed
    #: (default: a fifth of the lease, at most 5 s). Covers clock skew between nodes.
    lease_margin: float | None = None
    #: Longest idle wait before looking for work again; enqueues in this process wake
    #: workers at once, other processes' are seen within this.
    poll_interval: float = 1.0
    #: Most jobs taken per claim (default: ``concurrency``).
    claim_batch: int | None = None
    #: Seconds ``stop()`` lets running jobs finish before releasing them.
    shutdown_grace: float = 10.0
    #: Seconds between looks for lapsed leases (default: half the lease).
    reap_interval: float | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise InvalidJob("concurrency must be at least 1")
        if not self.lease > 0 or not self.poll_interval > 0:
            raise InvalidJob("lease and poll_interval must be positive")
        if not 0 < self.heartbeat_seconds < self.lease - self.margin_seconds:
            raise InvalidJob("heartbeat must be shorter than the lease minus its margin")

    @property
    def heartbeat_seconds(self) -> float:
        return self.heartbeat if self.heartbeat is not None else self.lease / 3

    @property
    def margin_seconds(self) -> float:
        return self.lease_margin if self.lease_margin is not None else min(self.lease / 5, 5.0)

    @property
    def batch(self) -> int:
        return self.claim_batch or self.concurrency


@dataclass(slots=True)
class _Run:
    job: Job
    handler: Handler
    #: Loop time at which the run is cancelled unless a renewal moves it on.
    fence: float
    scope: asyncio.Timeout | None = None
    task: asyncio.Task[None] | None = None
    lost: bool = False
    releasing: bool = False
    in_handler: bool = True

    def move_fence(self, when: float) -> None:
        self.fence = when
        if self.scope is not None and not self.scope.expired():
            self.scope.reschedule(when)  # entered and running: see _execute


def describe(exc: BaseException) -> str:
    """``Type: message`` first, then the traceback, within MAX_ERROR_CHARS.

    A failed call out (``OutboundFailed``) is only its short reason: a job's last
    error is shown to its tenant, who set the target and must not see our code.
    """
    if isinstance(exc, OutboundFailed):
        return exc.message[:MAX_ERROR_CHARS]
    head = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    room = MAX_ERROR_CHARS - len(head) - 1
    return head[:MAX_ERROR_CHARS] if room <= 0 else f"{head}\n{trace[-room:]}"


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        registry: JobRegistry,
        options: WorkerOptions | None = None,
        *,
        name: str | None = None,
        tracer: SpanFactory | None = None,
    ) -> None:
        """``tracer``: makes each run's span (the observability module's ``Tracer``, for
        OpenTelemetry spans); without one a run still continues its job's trace ids."""
        self.tracer = tracer
        self.queue = queue
        self.registry = registry
        self.options = options or WorkerOptions()
        self.id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._runs: dict[str, _Run] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._outcomes: OutcomeWriter | None = None
        self._stopping = False
        self._claims_started = 0
        self._idle_after = -1
        self._idle = asyncio.Condition()

    @property
    def running(self) -> int:
        return len(self._runs)

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        if not len(self.registry):
            raise InvalidJob("a worker needs at least one registered job handler")
        self._stopping = False
        self._outcomes = OutcomeWriter(self.queue, self.id)
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name=f"job claims {self.id}"),
            asyncio.create_task(self._heartbeat_loop(), name=f"job heartbeat {self.id}"),
        ]

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish for ``grace`` seconds, then release
        the rest (back to QUEUED, attempt not counted) so another worker runs them."""
        if not self._tasks:
            return
        self._stopping = True
        self.queue.wake()
        claim_loop, heartbeat = self._tasks
        await claim_loop
        runs = [run.task for run in self._runs.values() if run.task is not None]
        if runs:
            wait = self.options.shutdown_grace if grace is None else grace
            _, late = await asyncio.wait(runs, timeout=wait)
            for run in list(self._runs.values()):
                # Only handlers are cancelled: a run recording its outcome finishes that
                # (bounded by its lease), so a finished job is not released to run again.
                if run.task in late and run.in_handler:
                    run.releasing = True
                    run.task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        if self._outcomes is not None:
            await self._outcomes.close()
        self._tasks = []

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def drain(self) -> None:
        """Wait until a claim that began after this call found nothing due and no run is
        left (for tests, benchmarks and one-shot runs)."""
        async with self._idle:
            target = self._claims_started + 1
            self.queue.wake()
            await self._idle.wait_for(lambda: self._idle_after >= target)

    # --- claiming -------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        options, loop = self.options, asyncio.get_running_loop()
        names = self.registry.names
        pause = _OUTAGE_DELAYS[0]
        next_reap = loop.time()
        while not self._stopping:
            # Taken before the claim, so an enqueue that commits during it still wakes us.
            wake = self.queue.notifier.waiter()
            free = options.concurrency - len(self._runs)
            if free <= 0:
                await wake.wait()  # a run ending wakes us (see _execute)
                continue
            self._claims_started += 1
            claim_number = self._claims_started
            try:
                if loop.time() >= next_reap:
                    await self._reap()
                    next_reap = loop.time() + (options.reap_interval or options.lease / 2)
                fence = loop.time() + options.lease - options.margin_seconds
                limit = min(free, options.batch)
                claim = await self.queue.claim(
                    names, owner=self.id, lease=options.lease, limit=limit
                )
            except Exception as exc:
                log.warning("worker %s could not claim jobs (%s); retrying", self.id, exc)
                with contextlib.suppress(TimeoutError):  # stop() wakes us too
                    async with asyncio.timeout(pause):
                        await wake.wait()
                pause = min(pause * 2, _OUTAGE_DELAYS[1])
                continue
            pause = _OUTAGE_DELAYS[0]
            for job in claim.jobs:
                self._start_run(job, fence)
            if len(claim.jobs) == limit:
                continue  # more may be due
            if not claim.jobs and not self._runs:
                await self._mark_idle(claim_number)
            timeout = options.poll_interval
            if claim.next_due is not None:
                timeout = min(timeout, max(0.0, (claim.next_due - self.queue.now()) / 1e6))
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()

    async def _mark_idle(self, claim_number: int) -> None:
        async with self._idle:
            self._idle_after = claim_number
            self._idle.notify_all()

    async def _reap(self) -> None:
        for job_id, name, state in await self.queue.reap():
            log.warning("job %s (%s): lease lapsed, now %s", job_id, name, state.value)
            kind: JobEventKind = "dead" if state is JobState.DEAD else "lease_lost"
            emit(self.queue.listeners, JobEvent(kind, name, job_id))

    def _start_run(self, job: Job, fence: float) -> None:
        handler = self.registry.get(job.name)
        assert handler is not None, "claims ask only for registered names"
        run = _Run(job, handler, fence)
        self._runs[job.id] = run
        run.task = asyncio.create_task(self._execute(run), name=f"job {job.name} {job.id}")
        emit(self.queue.listeners, JobEvent("started", job.name, job.id, job.attempts))

    # --- leases ---------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        options = self.options
        while True:
            await asyncio.sleep(options.heartbeat_seconds)
            runs = [run for run in self._runs.values() if not run.lost]
            if not runs:
                continue
            fence = loop.time() + options.lease - options.margin_seconds
            try:
                held = await self.queue.renew(
                    self.id, [(r.job.id, r.job.attempts) for r in runs], options.lease
                )
            except Exception as exc:
                # The fences stay put: runs are cancelled before their leases lapse.
                log.warning("worker %s could not renew leases (%s)", self.id, exc)
                continue
            for run in runs:
                if run.job.id in held:
                    run.move_fence(fence)
                elif self._runs.get(run.job.id) is run and run.in_handler:
                    # Reaped (and perhaps claimed again) elsewhere: stop at once.
                    log.warning("job %s: lease lost; cancelling the run", run.job.id)
                    run.lost = True
                    run.move_fence(loop.time())

    # --- running --------------------------------------------------------------------

    async def _execute(self, run: _Run) -> None:
        loop = asyncio.get_running_loop()
        job, handler = run.job, run.handler
        started = loop.time()
        error: BaseException | None = None
        outcome: JobState | None = JobState.SUCCEEDED
        scope, limit = asyncio.timeout_at(run.fence), asyncio.timeout(handler.timeout)
        try:
            try:
                async with scope:
                    run.scope = scope
                    async with limit:
                        with self._trace(job):
                            await handler.fn(job)
            finally:
                run.scope = None  # exited: the heartbeat must not reschedule it any more
                run.in_handler = False
            if scope.expired():  # the handler swallowed the fence's cancellation
                outcome = None if run.lost else JobState.FAILED
                error = TimeoutError("the run ignored its lease fence (it swallowed a cancel)")
        except TimeoutError as exc:
            if scope.expired():
                # The lease fence: the run may no longer count on its lease.
                outcome = None if run.lost else JobState.FAILED
                error = TimeoutError("the lease could not be renewed in time; run cancelled")
            elif limit.expired():
                error = TimeoutError(f"timed out after {handler.timeout}s")
                outcome = JobState.FAILED
            else:
                outcome, error = JobState.FAILED, exc
        except asyncio.CancelledError:
            if not run.releasing:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome = JobState.QUEUED
        except PermanentJobError as exc:
            outcome, error = JobState.DEAD, exc
        except Exception as exc:
            outcome, error = JobState.FAILED, exc
        try:
            await self._record(run, outcome, error, loop.time() - started)
        finally:
            del self._runs[job.id]
            # Wake the claim loop: a slot is free, or the worker may be idle now.
            self.queue.wake()

    def _trace(self, job: Job) -> contextlib.AbstractContextManager[object]:
        """The run continues the trace of whatever enqueued the job, so its logs, the
        events it appends and the jobs and webhooks it sends carry that trace id."""
        if self.tracer is None:
            return use_trace(continue_trace(job.traceparent))
        attributes = {"job.name": job.name, "job.id": job.id, "job.attempt": job.attempts}
        return self.tracer.server_span(
            f"job {job.name}", TraceContext.parse(job.traceparent), attributes
        )

    async def _record(
        self,
        run: _Run,
        outcome: JobState | None,
        error: BaseException | None,
        duration: float,
    ) -> None:
        job = run.job
        assert self._outcomes is not None
        if outcome is None:
            emit(self.queue.listeners, JobEvent("lease_lost", job.name, job.id, job.attempts))
            return
        # A recorded outcome is useless once the lease could have lapsed.
        deadline = run.fence + self.options.margin_seconds
        if outcome is JobState.SUCCEEDED:
            held = await self._outcomes.succeeded(job.id, job.attempts, deadline)
            kind: JobEventKind = "succeeded"
            text = None
        else:
            if outcome is JobState.FAILED and job.attempts >= job.max_attempts:
                outcome = JobState.DEAD
            text = None if error is None else describe(error)
            run_at = self.queue.now()
            if outcome is JobState.FAILED:
                run_at += int(job.backoff.delay(job.attempts) * 1_000_000)
            settlement = Settlement(job.id, job.attempts, outcome, run_at, text)
            held = await self._outcomes.settled(settlement, deadline)
            if outcome is JobState.QUEUED:
                kind = "released"
            else:
                kind = "failed" if outcome is JobState.FAILED else "dead"
                log.info("job %s (%s) attempt %d: %s", job.id, job.name, job.attempts, text)
        if not held:
            kind = "lease_lost"
            log.warning("job %s: lease lost before its outcome was recorded", job.id)
        emit(
            self.queue.listeners,
            JobEvent(kind, job.name, job.id, job.attempts, duration, text),
        )
