"""Contract: a job commits with the transaction that caused it, or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from headwater.errors import ConcurrencyError
from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.jobs import JobQueue, JobState
from headwater.testing._jobs_base import JobQueueContractBase


class AtomicEnqueueContract(JobQueueContractBase):
    async def test_an_enqueue_statement_commits_with_its_transaction(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        job_id = str(uuid.uuid4())
        await store.commit([queue.enqueue_statement("task", {"a": 1}, job_id=job_id)])
        assert (await queue.require(job_id)).state is JobState.QUEUED

    async def test_a_failing_transaction_leaves_no_job(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        job_id = str(uuid.uuid4())
        statements = [
            queue.enqueue_statement("task", job_id=job_id),
            Statement("INSERT INTO no_such_table (x) VALUES (?)", (1,)),
        ]
        with pytest.raises(Exception, match="no_such_table"):
            await store.commit(statements)
        assert await queue.get(job_id) is None
        statement = queue.enqueue_statement("task", job_id=job_id)

        async def enqueue_then_fail() -> None:
            async with store.transaction() as tx:
                await tx.execute(statement.sql, statement.params)
                raise RuntimeError("changed my mind")

        with pytest.raises(RuntimeError, match="changed my mind"):
            await enqueue_then_fail()
        assert await queue.get(job_id) is None

    async def test_a_trigger_enqueues_in_the_append_itself(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        queue.enqueue_on(
            "OrderPlaced", "receipt", payload=lambda e: {"order": e.data["id"]}, priority=3
        )
        queue.attach()
        result = await store.append("order-1", NewEvent("OrderPlaced", {"id": 1}), tenant_id="acme")
        await store.append("order-1", NewEvent("OrderShipped", {"id": 1}), tenant_id="acme")
        jobs = await queue.list_jobs(name="receipt")
        assert [(j.payload, j.tenant_id, j.priority) for j in jobs] == [({"order": 1}, "acme", 3)]
        assert result.positions

    async def test_a_failed_append_enqueues_nothing(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        queue.enqueue_on("OrderPlaced", "receipt")
        queue.attach()
        await store.append("order-1", NewEvent("OrderPlaced", {"id": 1}))
        with pytest.raises(ConcurrencyError):
            await store.append("order-1", NewEvent("OrderPlaced", {"id": 2}), expected_version=0)

        def explode(events: Sequence[RecordedEvent]) -> list[Statement]:
            if any(e.data.get("explode") for e in events):
                raise RuntimeError("a later inline handler failed")
            return []

        store.add_inline_handler(explode)
        with pytest.raises(RuntimeError, match="later inline handler"):
            await store.append("order-2", NewEvent("OrderPlaced", {"id": 3, "explode": True}))
        assert await store.stream_version("order-2") is None
        jobs = await queue.list_jobs(name="receipt")
        assert [j.payload["id"] for j in jobs] == [1], "no phantom job for a failed append"

    async def test_neighbours_of_a_failed_append_keep_their_jobs(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        queue.enqueue_on("OrderPlaced", "receipt")
        queue.attach()
        await store.append("order-x", NewEvent("OrderPlaced", {"id": -1}))
        appends = [
            store.append(f"order-{i}", NewEvent("OrderPlaced", {"id": i})) for i in range(30)
        ]
        appends.append(
            store.append("order-x", NewEvent("OrderPlaced", {"id": -2}), expected_version=5)
        )
        outcomes = await asyncio.gather(*appends, return_exceptions=True)
        assert isinstance(outcomes[-1], ConcurrencyError)
        assert not any(isinstance(o, BaseException) for o in outcomes[:-1])
        ids = sorted(j.payload["id"] for j in await queue.list_jobs(name="receipt", limit=100))
        assert ids == [-1, *range(30)]

    async def test_a_replayed_append_does_not_enqueue_again(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        queue.enqueue_on("OrderPlaced", "receipt")
        queue.attach()
        event = NewEvent("OrderPlaced", {"id": 1})
        await store.append("order-1", event)
        await store.append("order-1", event)  # same event id: an idempotent retry
        assert len(await queue.list_jobs(name="receipt")) == 1

    async def test_a_trigger_may_skip_events_and_dedupe_them(
        self, store: EventStore, queue: JobQueue
    ) -> None:
        queue.enqueue_on(
            "ScoreRecorded",
            "leaderboard",
            payload=lambda e: None if e.data["points"] == 0 else {"game": e.data["game"]},
            dedupe_key=lambda e: f"leaderboard:{e.data['game']}",
        )
        queue.attach()
        for points in (0, 5, 7):
            await store.append("game-1", NewEvent("ScoreRecorded", {"game": 1, "points": points}))
        jobs = await queue.list_jobs(name="leaderboard")
        assert [j.payload for j in jobs] == [{"game": 1}], "one pending recompute per game"
        queue.detach()
        await store.append("game-1", NewEvent("ScoreRecorded", {"game": 2, "points": 1}))
        assert len(await queue.list_jobs(name="leaderboard")) == 1
