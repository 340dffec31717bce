"""Contract: claim order and timing, exclusive claims, leases, fencing, periods."""

from __future__ import annotations

import asyncio
from collections import Counter

from headwater.jobs import JobQueue, JobState
from headwater.jobs._job import NewJob, new_job
from headwater.jobs._queue import Settlement
from headwater.testing._jobs_base import JobQueueContractBase, claim_one


async def _claim_all(queue: JobQueue, owner: str, batch: int) -> list[str]:
    """Claim until nothing is due; succeed each claim at once. The claimed ids."""
    taken: list[str] = []
    while True:
        claim = await queue.claim(["task"], owner=owner, lease=30, limit=batch)
        if not claim.jobs:
            return taken
        taken += [job.id for job in claim.jobs]
        await queue.succeed(owner, [(job.id, job.attempts) for job in claim.jobs])


class ClaimContract(JobQueueContractBase):
    async def test_claims_follow_priority_then_due_time_then_arrival(self, queue: JobQueue) -> None:
        low = await queue.enqueue("task", {"n": "low"}, priority=-1)
        first = await queue.enqueue("task", {"n": "first"})
        second = await queue.enqueue("task", {"n": "second"})
        urgent = await queue.enqueue("task", {"n": "urgent"}, priority=10)
        order = [(await claim_one(queue)).id for _ in range(4)]
        assert order == [urgent, first, second, low]
        batch = await queue.enqueue_many("task", [{"i": i} for i in range(5)])
        claim = await queue.claim(["task"], owner="o", lease=30, limit=5)
        assert [job.id for job in claim.jobs] == batch

    async def test_a_scheduled_job_is_not_claimed_before_its_time(self, queue: JobQueue) -> None:
        job_id = await queue.enqueue("task", delay=0.3)
        claim = await queue.claim(["task"], owner="o", lease=30, limit=5)
        assert claim.jobs == []
        assert claim.next_due is not None
        assert claim.next_due == (await queue.require(job_id)).run_at.timestamp() * 1e6 // 1
        await asyncio.sleep(0.32)
        job = await claim_one(queue)
        assert job.id == job_id
        assert job.started_at is not None
        assert job.started_at >= job.run_at

    async def test_a_worker_claims_only_the_names_it_handles(self, queue: JobQueue) -> None:
        await queue.enqueue("other")
        assert (await queue.claim(["task"], owner="o", lease=30, limit=5)).jobs == []
        mine = await queue.enqueue("task")
        assert (await claim_one(queue)).id == mine

    async def test_concurrent_claimers_never_take_one_job_twice(self, queue: JobQueue) -> None:
        ids = await queue.enqueue_many("task", [{"i": i} for i in range(600)])
        results = await asyncio.gather(*(_claim_all(queue, f"w{n}", 7) for n in range(6)))
        taken = Counter(job_id for result in results for job_id in result)
        assert max(taken.values()) == 1
        assert set(taken) == set(ids)

    async def test_two_nodes_hammering_one_queue_never_share_a_job(
        self, queue: JobQueue, other_node: JobQueue
    ) -> None:
        ids = await queue.enqueue_many("task", [{"i": i} for i in range(1200)])
        nodes = (("a", queue), ("b", other_node))
        results = await asyncio.gather(
            *(_claim_all(node, f"{label}{n}", 5) for n in range(4) for label, node in nodes)
        )
        taken = Counter(job_id for result in results for job_id in result)
        assert max(taken.values()) == 1, "a job was claimed twice"
        assert set(taken) == set(ids)
        per_node = [sum(len(r) for r in results[i::2]) for i in (0, 1)]
        if queue.store.dialect == "postgresql":
            # Proof that the claims really raced. Not on SQLite: its busy handler is
            # not fair, and one node may legitimately drain the queue before the other
            # gets the write lock; the guarantee above still holds there.
            assert all(per_node), f"both nodes got work (the claims really raced): {per_node}"
        assert (await queue.depth())["succeeded"] == len(ids)

    async def test_a_lapsed_lease_is_reaped_and_the_job_claimed_again(
        self, queue: JobQueue
    ) -> None:
        job_id = await queue.enqueue("task", attempts=3)
        first = await claim_one(queue, lease=0.1)
        assert (first.state, first.attempts, first.lease_owner) == (JobState.RUNNING, 1, "tester")
        assert await queue.reap() == []  # not lapsed yet
        await asyncio.sleep(0.15)
        assert await queue.reap() == [(job_id, "task", JobState.FAILED)]
        reaped = await queue.require(job_id)
        assert "lease expired" in (reaped.last_error or "")
        second = await claim_one(queue)
        assert (second.id, second.attempts) == (job_id, 2)

    async def test_a_late_outcome_from_a_lapsed_run_changes_nothing(self, queue: JobQueue) -> None:
        job_id = await queue.enqueue("task")
        stale = await claim_one(queue, lease=0.05)
        await asyncio.sleep(0.08)
        await queue.reap()
        fresh = await queue.claim(["task"], owner="tester", lease=30, limit=1)
        assert [job.attempts for job in fresh.jobs] == [2]  # same owner, new run
        run = (stale.id, stale.attempts)
        assert await queue.renew("tester", [run], 30) == set()
        assert await queue.succeed("tester", [run]) == set()
        dead = Settlement(job_id, stale.attempts, JobState.DEAD, queue.now(), "late")
        assert await queue.settle("tester", [dead]) == set()
        current = await queue.require(job_id)
        assert (current.state, current.attempts) == (JobState.RUNNING, 2)
        assert await queue.succeed("tester", [(job_id, 2)]) == {job_id}

    async def test_renewal_extends_a_held_lease_and_only_that(self, queue: JobQueue) -> None:
        await queue.enqueue("task")
        job = await claim_one(queue, lease=0.2)
        before = job.lease_expires_at
        assert await queue.renew("tester", [(job.id, job.attempts)], 0.5) == {job.id}
        renewed = await queue.require(job.id)
        assert renewed.lease_expires_at is not None
        assert before is not None
        assert renewed.lease_expires_at > before
        assert await queue.renew("someone-else", [(job.id, job.attempts)], 30) == set()
        await asyncio.sleep(0.55)
        assert await queue.renew("tester", [(job.id, job.attempts)], 30) == set()

    async def test_a_lease_lapsing_on_the_last_attempt_is_dead(self, queue: JobQueue) -> None:
        job_id = await queue.enqueue("task", attempts=1)
        await claim_one(queue, lease=0.05)
        await asyncio.sleep(0.08)
        assert await queue.reap() == [(job_id, "task", JobState.DEAD)]
        assert (await queue.claim(["task"], owner="o", lease=1, limit=1)).jobs == []

    async def test_a_failed_job_waits_for_its_backoff(self, queue: JobQueue) -> None:
        job_id = await queue.enqueue("task")
        job = await claim_one(queue)
        retry_at = queue.now() + 200_000
        failed = Settlement(job_id, job.attempts, JobState.FAILED, retry_at, "RuntimeError: x")
        assert await queue.settle("tester", [failed]) == {job_id}
        assert (await queue.require(job_id)).state is JobState.FAILED
        assert (await queue.claim(["task"], owner="o", lease=1, limit=1)).jobs == []
        await asyncio.sleep(0.22)
        again = await claim_one(queue)
        assert (again.attempts, again.last_error) == (2, "RuntimeError: x")

    async def test_a_released_run_gives_its_attempt_back(self, queue: JobQueue) -> None:
        job_id = await queue.enqueue("task", attempts=1)
        job = await claim_one(queue)
        release = Settlement(job_id, job.attempts, JobState.QUEUED, queue.now())
        assert await queue.settle("tester", [release]) == {job_id}
        back = await queue.require(job_id)
        assert (back.state, back.attempts, back.lease_owner) == (JobState.QUEUED, 0, None)
        assert (await claim_one(queue)).attempts == 1

    async def test_each_period_is_enqueued_once_however_many_nodes_try(
        self, queue: JobQueue
    ) -> None:
        def job() -> NewJob:
            return new_job("tick", {}, now=queue.now())

        won = await asyncio.gather(*(queue.claim_period("tick", 1000, job()) for _ in range(10)))
        assert won.count(True) == 1
        assert not await queue.claim_period("tick", 999, job())
        assert await queue.claim_period("tick", 2000, job())
        assert (await queue.depth())["queued"] == 2

    async def test_each_period_is_enqueued_once_across_nodes(
        self, queue: JobQueue, other_node: JobQueue
    ) -> None:
        attempts = [
            node.claim_period("tick", 5000, new_job("tick", {}, now=node.now()))
            for node in (queue, other_node)
            for _ in range(5)
        ]
        assert (await asyncio.gather(*attempts)).count(True) == 1
        assert (await queue.depth())["queued"] == 1
