"""Contract: enqueueing, validation, dedupe, inspection, retry and pruning."""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater.cursors import Order
from headwater.jobs import (
    Backoff,
    IllegalJobTransition,
    InvalidJob,
    JobNotFound,
    JobQueue,
    JobState,
)
from headwater.jobs._queue import Settlement
from headwater.testing._jobs_base import JobQueueContractBase, claim_one


class EnqueueContract(JobQueueContractBase):
    async def test_enqueued_job_reads_back_with_every_field(self, queue: JobQueue) -> None:
        run_at = datetime.now(UTC) + timedelta(hours=1)
        job_id = await queue.enqueue(
            "mail.send",
            {"to": "a@example.com", "n": [1, 2.5, None, True]},
            attempts=5,
            backoff=Backoff("linear", base=2.0, max=60.0, jitter=0.0),
            run_at=run_at,
            priority=7,
            dedupe_key="mail:a",
            tenant_id="t-1",
        )
        job = await queue.require(job_id)
        assert (job.name, job.payload) == (
            "mail.send",
            {"to": "a@example.com", "n": [1, 2.5, None, True]},
        )
        assert job.state is JobState.SCHEDULED
        assert (job.attempts, job.max_attempts, job.priority) == (0, 5, 7)
        assert job.backoff == Backoff("linear", base=2.0, max=60.0, jitter=0.0)
        assert (job.dedupe_key, job.tenant_id, job.last_error) == ("mail:a", "t-1", None)
        assert abs((job.run_at - run_at).total_seconds()) < 1e-5
        assert (await queue.require(await queue.enqueue("now"))).state is JobState.QUEUED

    async def test_a_payload_that_is_not_json_is_refused(self, queue: JobQueue) -> None:
        payloads: list[Any] = [
            {"x": math.nan},
            {"x": {1, 2}},
            {1: "a"},
            ["not", "an", "object"],
            {"t": datetime.now()},
        ]
        for payload in payloads:
            with pytest.raises(InvalidJob):
                await queue.enqueue("task", payload)
        assert sum((await queue.depth()).values()) == 0

    async def test_bad_arguments_are_refused_before_any_write(self, queue: JobQueue) -> None:
        cases: list[dict[str, Any]] = [
            {"attempts": 0},
            {"attempts": True},
            {"priority": 2**40},
            {"delay": -1},
            {"delay": 1, "run_at": datetime.now(UTC)},
            {"run_at": datetime(2030, 1, 1)},  # naive
            {"backoff": "quadratic"},
            {"dedupe_key": ""},
            {"job_id": "not-a-uuid"},
        ]
        for kwargs in cases:
            with pytest.raises(InvalidJob):
                await queue.enqueue("task", {}, **kwargs)
        with pytest.raises(InvalidJob):
            await queue.enqueue("has spaces", {})
        assert sum((await queue.depth()).values()) == 0

    async def test_dedupe_returns_the_unfinished_job_until_it_finishes(
        self, queue: JobQueue
    ) -> None:
        first = await queue.enqueue("task", {"v": 1}, dedupe_key="k")
        assert await queue.enqueue("task", {"v": 2}, dedupe_key="k") == first
        job = await claim_one(queue)  # running still holds the key
        assert await queue.enqueue("task", {"v": 3}, dedupe_key="k") == first
        assert await queue.succeed("tester", [(job.id, job.attempts)]) == {first}
        later = await queue.enqueue("task", {"v": 4}, dedupe_key="k")
        assert later != first
        assert (await queue.require(later)).payload == {"v": 4}

    async def test_concurrent_enqueues_with_one_dedupe_key_store_one_job(
        self, queue: JobQueue
    ) -> None:
        ids = await asyncio.gather(
            *(queue.enqueue("task", {"i": i}, dedupe_key="same") for i in range(20))
        )
        assert len(set(ids)) == 1
        assert (await queue.depth())["queued"] == 1

    async def test_the_same_job_id_twice_is_one_job(self, queue: JobQueue) -> None:
        job_id = str(uuid.uuid4())
        assert await queue.enqueue("task", {"a": 1}, job_id=job_id) == job_id
        assert await queue.enqueue("task", {"a": 2}, job_id=job_id) == job_id
        assert (await queue.require(job_id)).payload == {"a": 1}
        assert (await queue.depth())["queued"] == 1

    async def test_enqueue_many_stores_all_in_order(self, queue: JobQueue) -> None:
        ids = await queue.enqueue_many("task", [{"i": i} for i in range(50)], priority=1)
        listed = await queue.list_jobs(name="task", limit=100)
        assert [job.id for job in reversed(listed)] == ids

    async def test_list_filters_by_state_and_name(self, queue: JobQueue) -> None:
        a = await queue.enqueue("a")
        b = await queue.enqueue("b", tenant_id="t-2")
        assert [j.id for j in await queue.list_jobs(name="a")] == [a]
        assert [j.id for j in await queue.list_jobs(tenant_id="t-2")] == [b]
        assert len(await queue.list_jobs(state="queued")) == 2
        assert await queue.list_jobs(state=JobState.DEAD) == []
        with pytest.raises(InvalidJob):
            await queue.list_jobs(state="sleeping")

    async def test_a_dead_job_keeps_its_error_and_retry_queues_it_afresh(
        self, queue: JobQueue
    ) -> None:
        job_id = await queue.enqueue("task", attempts=1)
        job = await claim_one(queue)
        failed = Settlement(job.id, job.attempts, JobState.DEAD, queue.now(), "ValueError: no")
        assert await queue.settle("tester", [failed]) == {job_id}
        dead = await queue.require(job_id)
        assert (dead.state, dead.last_error, dead.attempts) == (JobState.DEAD, "ValueError: no", 1)
        assert dead.finished_at is not None
        retried = await queue.retry(job_id)
        assert (retried.state, retried.attempts) == (JobState.QUEUED, 0)
        assert retried.last_error == "ValueError: no"  # history is kept
        assert (await claim_one(queue)).id == job_id

    async def test_retry_refuses_what_the_state_machine_forbids(self, queue: JobQueue) -> None:
        queued = await queue.enqueue("task")
        with pytest.raises(IllegalJobTransition):
            await queue.retry(queued)
        job = await claim_one(queue)
        with pytest.raises(InvalidJob):
            await queue.retry(job.id)  # running
        await queue.succeed("tester", [(job.id, job.attempts)])
        with pytest.raises(IllegalJobTransition):
            await queue.retry(queued)  # succeeded is final
        with pytest.raises(JobNotFound):
            await queue.retry(str(uuid.uuid4()))

    async def test_retrying_a_dead_job_whose_key_is_taken_returns_the_holder(
        self, queue: JobQueue
    ) -> None:
        dead_id = await queue.enqueue("task", dedupe_key="k", attempts=1)
        job = await claim_one(queue)
        await queue.settle("tester", [Settlement(job.id, 1, JobState.DEAD, queue.now(), "x")])
        holder = await queue.enqueue("task", dedupe_key="k")
        assert (await queue.retry(dead_id)).id == holder
        assert (await queue.require(dead_id)).state is JobState.DEAD

    async def test_prune_deletes_only_old_successes(self, queue: JobQueue) -> None:
        done = await queue.enqueue("task")
        job = await claim_one(queue)
        await queue.succeed("tester", [(job.id, job.attempts)])
        waiting = await queue.enqueue("task")
        assert await queue.prune(timedelta(hours=1)) == 0
        await asyncio.sleep(0.01)
        assert await queue.prune(timedelta(0)) == 1
        assert await queue.get(done) is None
        assert await queue.get(waiting) is not None

    async def test_callers_cancelled_midway_never_wedge_the_queue(self, queue: JobQueue) -> None:
        for delay in range(30):
            task = asyncio.create_task(queue.enqueue("task", {"d": delay}))
            for _ in range(delay % 6):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with asyncio.timeout(10):
            await queue.enqueue("task", {"after": True})
            depth = await queue.depth()
        assert 1 <= depth["queued"] <= 31, "each call commits whole or not at all"

    async def test_keyset_pages_walk_every_sort_both_ways(self, queue: JobQueue) -> None:
        ids = [await queue.enqueue("task", {"i": i}, tenant_id="t-1") for i in range(5)]
        other = await queue.enqueue("task", tenant_id="t-2")
        hot = await queue.enqueue("task", priority=5, tenant_id="t-1")
        assert (await claim_one(queue)).id == hot  # one run started: attempts 1, updated now
        orders: tuple[Order, ...] = ("asc", "desc")
        for sort, order in [(s, o) for s in ("created", "updated", "attempts") for o in orders]:
            seen: list[str] = []
            after = None
            for _ in range(10):
                keyed = await queue.keyed_jobs(
                    tenant_id="t-1", limit=2, sort=sort, order=order, after=after
                )
                seen += [job.id for job, _ in keyed]
                if len(keyed) < 2:
                    break
                after = keyed[-1][1]
            assert sorted(seen) == sorted([*ids, hot]), (sort, order)
            assert len(seen) == len(set(seen)), (sort, order)
            if sort == "created":
                expected = [*ids, hot]
                assert seen == (expected if order == "asc" else expected[::-1])
            else:
                assert seen[-1 if order == "asc" else 0] == hot, (sort, order)
        assert other not in seen
        assert (await queue.count_jobs(tenant_id="t-1")).count == 6
        assert (await queue.count_jobs(tenant_id="t-1", state="running")).count == 1
        assert (await queue.count_jobs()).exact is True
        with pytest.raises(InvalidJob):
            await queue.keyed_jobs(sort="payload")
        with pytest.raises(InvalidJob):
            await queue.keyed_jobs(after=[1])
