"""Workers on every backend: retries with growing delays, schedules, priorities,
dead letters, timeouts, leases and graceful shutdown."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

import pytest

from headwater.errors import StoreUnavailable
from headwater.eventstore import EventStore, NewEvent
from headwater.jobs import (
    Backoff,
    Job,
    JobEvent,
    JobRegistry,
    JobState,
    PermanentJobError,
    SqlJobQueue,
    Worker,
    WorkerOptions,
)
from headwater.testing._jobs import eventually

pytestmark = pytest.mark.anyio

FAST = WorkerOptions(concurrency=4, lease=2.0, poll_interval=0.2)


async def finished(queue: SqlJobQueue, job_id: str) -> Job:
    async def check() -> Job | None:
        job = await queue.require(job_id)
        return job if job.state.finished else None

    result: Job = await eventually(check, f"job {job_id} to finish")
    return result


async def test_a_job_failing_twice_then_succeeding_runs_three_times_with_growing_delays(
    queue: SqlJobQueue,
) -> None:
    registry = JobRegistry()
    starts: list[float] = []

    @registry.handler("flaky")
    async def flaky(job: Job) -> None:
        starts.append(time.monotonic())
        if job.attempts < 3:
            raise ConnectionError(f"upstream down (attempt {job.attempts})")

    backoff = Backoff("exponential", base=0.2, jitter=0.1)
    job_id = await queue.enqueue("flaky", {"x": 1}, attempts=3, backoff=backoff)
    async with Worker(queue, registry, FAST):
        job = await finished(queue, job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 3)
    assert len(starts) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Backoff 0.2 s then 0.4 s, each +-10 %: the second wait is longer than the first.
    assert gaps[0] >= 0.2 * 0.9
    assert gaps[1] >= 0.4 * 0.9
    assert gaps[1] > gaps[0]
    assert "ConnectionError: upstream down (attempt 2)" in (job.last_error or "")


async def test_a_scheduled_job_does_not_run_before_its_time(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    ran_at: list[float] = []

    @registry.handler("later")
    async def later(job: Job) -> None:
        ran_at.append(time.time())

    async with Worker(queue, registry, FAST):
        job_id = await queue.enqueue("later", delay=0.5)
        run_at = (await queue.require(job_id)).run_at.timestamp()
        await asyncio.sleep(0.3)
        assert ran_at == [], "ran early"
        await finished(queue, job_id)
    assert ran_at[0] >= run_at
    assert ran_at[0] - run_at < 0.3, "an idle worker sleeps until the next due job"


async def test_higher_priority_jobs_run_first(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    order: list[str] = []

    @registry.handler("p")
    async def record(job: Job) -> None:
        order.append(job.payload["label"])

    for label, priority in (("low", -5), ("normal-1", 0), ("high", 9), ("normal-2", 0)):
        await queue.enqueue("p", {"label": label}, priority=priority)
    async with Worker(queue, registry, WorkerOptions(concurrency=1, lease=2.0)) as worker:
        await worker.drain()
    assert order == ["high", "normal-1", "normal-2", "low"]


async def test_a_job_that_keeps_failing_is_dead_with_its_error_and_can_be_retried(
    queue: SqlJobQueue,
) -> None:
    registry = JobRegistry()
    broken = {"yes": True}

    @registry.handler("fragile")
    async def fragile(job: Job) -> None:
        if broken["yes"]:
            raise ValueError(f"bad input {job.payload['n']}")

    job_id = await queue.enqueue("fragile", {"n": 7}, attempts=2, backoff=Backoff("fixed", 0.05))
    async with Worker(queue, registry, FAST) as worker:
        dead = await finished(queue, job_id)
        assert (dead.state, dead.attempts) == (JobState.DEAD, 2)
        assert (dead.last_error or "").startswith("ValueError: bad input 7")
        assert "Traceback" in (dead.last_error or "")
        broken["yes"] = False
        await queue.retry(job_id)
        await worker.drain()
    assert (await queue.require(job_id)).state is JobState.SUCCEEDED


async def test_a_permanent_error_goes_dead_without_retries(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    calls = Counter[str]()

    @registry.handler("hopeless")
    async def hopeless(job: Job) -> None:
        calls[job.id] += 1
        raise PermanentJobError("the account is gone")

    job_id = await queue.enqueue("hopeless", attempts=5)
    async with Worker(queue, registry, FAST):
        job = await finished(queue, job_id)
    assert (job.state, calls[job_id]) == (JobState.DEAD, 1)


async def test_an_attempt_running_past_its_timeout_fails(queue: SqlJobQueue) -> None:
    registry = JobRegistry()

    async def slow(job: Job) -> None:
        await asyncio.sleep(0 if job.attempts > 1 else 10)

    registry.register("slow", slow, timeout=0.1)
    job_id = await queue.enqueue("slow", backoff=Backoff("fixed", 0.01))
    async with Worker(queue, registry, FAST):
        job = await finished(queue, job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    assert "timed out after 0.1s" in (job.last_error or "")


async def test_a_run_whose_lease_was_taken_is_cancelled_before_the_job_runs_again(
    store: EventStore, queue: SqlJobQueue
) -> None:
    registry = JobRegistry()
    log: list[tuple[str, int, float]] = []
    events: list[JobEvent] = []
    queue.listeners.append(events.append)

    @registry.handler("long")
    async def long(job: Job) -> None:
        log.append(("start", job.attempts, time.monotonic()))
        try:
            await asyncio.sleep(10 if job.attempts == 1 else 0)
        finally:
            log.append(("end", job.attempts, time.monotonic()))

    options = WorkerOptions(concurrency=2, lease=1.0, heartbeat=0.1, reap_interval=0.1)
    job_id = await queue.enqueue("long", backoff=Backoff("fixed", 0.0))
    async with Worker(queue, registry, options):
        await eventually(lambda: _started(log), "the first run to start")
        # As if the lease had lapsed: the heartbeat finds it gone, and cancels.
        async with store.transaction() as tx:
            await tx.execute("UPDATE hw_jobs SET lease_expires_at = 0 WHERE id = ?", (job_id,))
        job = await finished(queue, job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    assert [entry[:2] for entry in log] == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert log[1][2] <= log[2][2], "the runs never overlap"
    assert "lease_lost" in [e.kind for e in events]


async def _started(log: list[tuple[str, int, float]]) -> bool:
    return bool(log)


async def test_a_worker_cut_off_from_the_database_stops_its_run_before_the_lease_lapses(
    store: EventStore, queue: SqlJobQueue
) -> None:
    registry = JobRegistry()
    runs: list[tuple[int, float, float]] = []

    @registry.handler("long")
    async def long(job: Job) -> None:
        began = time.time()
        try:
            await asyncio.sleep(10 if job.attempts == 1 else 0)
        finally:
            runs.append((job.attempts, began, time.time()))

    async def unreachable(*args: object, **kwargs: object) -> set[str]:
        raise StoreUnavailable("the network is down")

    cut_off = SqlJobQueue(store)
    cut_off.renew = unreachable  # type: ignore[method-assign]
    lease = 0.8
    options = WorkerOptions(concurrency=1, lease=lease, heartbeat=0.1, lease_margin=0.2)
    job_id = await queue.enqueue("long", backoff=Backoff("fixed", 0.0))
    async with Worker(cut_off, registry, options):
        await eventually(lambda: _claimed(queue, job_id), "the claim")
        leased = await queue.require(job_id)
        await eventually(lambda: _ran(runs), "the fenced run to stop")
    assert leased.lease_expires_at is not None
    attempt, _, cancelled_at = runs[0]
    assert attempt == 1
    assert cancelled_at < leased.lease_expires_at.timestamp(), "stopped before the lapse"
    async with Worker(queue, registry, options):
        job = await finished(queue, job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    assert runs[1][1] >= runs[0][2]


async def _claimed(queue: SqlJobQueue, job_id: str) -> bool:
    return (await queue.require(job_id)).state is JobState.RUNNING


async def _ran(runs: list[tuple[int, float, float]]) -> bool:
    return bool(runs)


async def test_stop_lets_short_jobs_finish_and_releases_the_rest(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    cancelled: list[str] = []

    @registry.handler("job")
    async def job(job: Job) -> None:
        try:
            await asyncio.sleep(job.payload["seconds"])
        except asyncio.CancelledError:
            cancelled.append(job.id)
            raise

    short = await queue.enqueue("job", {"seconds": 0.1}, attempts=1)
    endless = await queue.enqueue("job", {"seconds": 60}, attempts=1)
    worker = Worker(queue, registry, FAST)
    await worker.start()
    await eventually(lambda: _both_running(queue, short, endless), "both jobs to start")
    await worker.stop(grace=0.4)
    assert (await queue.require(short)).state is JobState.SUCCEEDED
    released = await queue.require(endless)
    assert (released.state, released.attempts, released.lease_owner) == (JobState.QUEUED, 0, None)
    assert cancelled == [endless]


async def _both_running(queue: SqlJobQueue, *ids: str) -> bool:
    states = [(await queue.require(job_id)).state for job_id in ids]
    return states == [JobState.RUNNING] * len(ids)


async def test_two_workers_run_every_job_exactly_once(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    runs: Counter[str] = Counter()

    @registry.handler("count")
    async def count(job: Job) -> None:
        runs[job.id] += 1
        await asyncio.sleep(0)

    ids = await queue.enqueue_many("count", [{"i": i} for i in range(400)])
    options = WorkerOptions(concurrency=8, lease=5.0, claim_batch=3)
    async with Worker(queue, registry, options) as a, Worker(queue, registry, options) as b:
        await a.drain()
        await b.drain()
    assert set(runs) == set(ids)
    assert set(runs.values()) == {1}


async def test_an_event_enqueuing_a_job_wakes_an_idle_worker(
    store: EventStore, queue: SqlJobQueue
) -> None:
    registry = JobRegistry()
    done = asyncio.Event()

    @registry.handler("receipt")
    async def receipt(job: Job) -> None:
        done.set()

    queue.enqueue_on("OrderPlaced", "receipt")
    queue.attach()
    async with Worker(queue, registry, WorkerOptions(poll_interval=30.0, lease=5.0)):
        await asyncio.sleep(0.1)  # the worker is idle, waiting up to 30 s
        started = time.monotonic()
        await store.append("order-1", NewEvent("OrderPlaced", {"id": 1}))
        async with asyncio.timeout(5):
            await done.wait()
    assert time.monotonic() - started < 1.0


async def test_listeners_see_every_step_of_a_job(queue: SqlJobQueue) -> None:
    registry = JobRegistry()
    events: list[JobEvent] = []
    queue.listeners.append(events.append)

    @registry.handler("twice")
    async def twice(job: Job) -> None:
        if job.attempts == 1:
            raise RuntimeError("first try fails")

    job_id = await queue.enqueue("twice", backoff=Backoff("fixed", 0.0))
    async with Worker(queue, registry, FAST) as worker:
        await finished(queue, job_id)
        await worker.drain()
    kinds = [e.kind for e in events]
    assert kinds == ["enqueued", "started", "failed", "started", "succeeded"]
    assert events[2].error is not None
    assert events[2].error.startswith("RuntimeError")
    assert all(e.duration is not None for e in events if e.kind in ("failed", "succeeded"))
