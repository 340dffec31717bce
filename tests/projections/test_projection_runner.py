"""Async runner: catch-up, exactly-once under restarts, equal to a rebuild from zero."""

from __future__ import annotations

import asyncio

import pytest
from formease_sample import (
    SUBMISSIONS,
    USERS,
    append_history,
    form_metrics,
    table_rows,
    user_stats,
)

from headwater.errors import LogRewound
from headwater.eventstore import EventStore, NewEvent
from headwater.projections import ProjectionRunner, RunnerOptions, rebuild

pytestmark = pytest.mark.anyio


async def test_catch_up_projects_every_event_and_equals_a_rebuild(store: EventStore) -> None:
    await append_history(store, 600)
    runner = ProjectionRunner(store, user_stats, RunnerOptions(batch_size=64))
    assert await runner.catch_up() == 600
    live = await table_rows(store, USERS)
    assert sum(int(row["submissions"]) for row in live) > 0  # type: ignore[call-overload]

    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == live


async def test_runner_follows_live_appends(store: EventStore) -> None:
    await append_history(store, 100)
    async with ProjectionRunner(store, form_metrics, RunnerOptions(batch_size=16)) as runner:
        await append_history(store, 150, seed=8)
        head = await store.head_position()
        async with asyncio.timeout(10):
            await runner.wait_for(head)
        rows = await table_rows(store, SUBMISSIONS)
    submissions = [e async for e in store.read_all(types=["submission.received"])]
    assert len(rows) == len(submissions)


async def test_restarts_mid_catch_up_never_double_count(store: EventStore) -> None:
    await append_history(store, 800)
    options = RunnerOptions(batch_size=25)
    # Start and cancel the runner repeatedly while it catches up.
    for _ in range(6):
        runner = ProjectionRunner(store, user_stats, options)
        await runner.start()
        await asyncio.sleep(0.01)
        await runner.stop()
    final = ProjectionRunner(store, user_stats, options)
    await final.catch_up()
    after_restarts = await table_rows(store, USERS)

    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == after_restarts


async def test_two_instances_of_one_projection_still_count_once(store: EventStore) -> None:
    await append_history(store, 500)
    options = RunnerOptions(batch_size=10)
    a = ProjectionRunner(store, user_stats, options)
    b = ProjectionRunner(store, user_stats, options)
    head = await store.head_position()
    async with a, b:
        async with asyncio.timeout(20):
            await a.wait_for(head)
            await b.wait_for(head)
    both = await table_rows(store, USERS)
    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == both


async def test_changed_declaration_is_rebuilt_before_running(store: EventStore) -> None:
    from headwater.projections import INTEGER, TEXT, Column, Merge, Projection, Table

    v1_table = Table("rm_counts", {"k": TEXT, "n": Column(INTEGER, default=0)}, primary_key="k")
    v1 = Projection("counts", tables=[v1_table])

    @v1.on("tick")
    def _tick(event):  # type: ignore[no-untyped-def]
        return v1_table.upsert({"k": "all", "n": 1}, merge={"n": Merge.ADD})

    for _ in range(5):
        await store.append("ticks", [NewEvent("tick", {"by": 2})])
    await ProjectionRunner(store, v1).catch_up()

    v2_table = Table(
        "rm_counts",
        {"k": TEXT, "n": Column(INTEGER, default=0), "total": Column(INTEGER, default=0)},
        primary_key="k",
    )
    v2 = Projection("counts", tables=[v2_table])

    @v2.on("tick")
    def _tick2(event):  # type: ignore[no-untyped-def]
        return v2_table.upsert(
            {"k": "all", "n": 1, "total": event.data["by"]},
            merge={"n": Merge.ADD, "total": Merge.ADD},
        )

    await ProjectionRunner(store, v2).catch_up()
    assert await table_rows(store, v2_table) == [{"k": "all", "n": 5, "total": 10}]


async def rewind_log(store: EventStore, to: int) -> None:
    """The log as a failover or a restore leaves it when the read model was kept (its
    tables elsewhere): the checkpoint is beyond the head, lost positions get reused."""
    async with store.transaction() as tx:
        await tx.execute("DELETE FROM hw_events WHERE position > ?", (to,))
        if tx.dialect == "postgresql":
            await tx.execute("UPDATE hw_head SET position = ?", (to,))


async def test_a_checkpoint_beyond_a_rewound_head_rebuilds_instead_of_skipping(
    store: EventStore,
) -> None:
    await append_history(store, 100)
    async with ProjectionRunner(store, user_stats) as runner:
        async with asyncio.timeout(10):
            await runner.wait_for(await store.head_position())
        await append_history(store, 100, seed=8)  # followed live: the reader remembers them
        async with asyncio.timeout(10):
            await runner.wait_for(await store.head_position())
        await rewind_log(store, 120)
        # New events take positions 121.. again; a runner that went on from 200 would
        # miss 80 of them and keep the 80 lost ones in its read model.
        await append_history(store, 200, seed=9)
        head = await store.head_position()
        async with asyncio.timeout(20):
            await runner.wait_for(head)
        live = await table_rows(store, USERS)
    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == live


async def test_a_live_runner_rebuilds_when_the_head_falls_below_its_checkpoint(
    store: EventStore,
) -> None:
    await append_history(store, 150)
    async with ProjectionRunner(store, user_stats) as runner:
        async with asyncio.timeout(10):
            await runner.wait_for(150)
        await rewind_log(store, 60)
        async with asyncio.timeout(10):
            while runner.position != 60:  # noqa: ASYNC110 - the runner exposes a value
                await asyncio.sleep(0.01)
        await append_history(store, 40, seed=3)
        async with asyncio.timeout(10):
            await runner.wait_for(100)
        live = await table_rows(store, USERS)
    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == live


async def test_a_checkpoint_beyond_the_head_at_start_stops_when_rebuilds_are_off(
    store: EventStore,
) -> None:
    await append_history(store, 50)
    await ProjectionRunner(store, user_stats).catch_up()
    await rewind_log(store, 20)
    runner = ProjectionRunner(store, user_stats, RunnerOptions(rebuild_on_rewind=False))
    with pytest.raises(LogRewound) as raised:
        async with asyncio.timeout(10):
            await runner.run()
    assert (raised.value.last_seen, raised.value.head) == (50, 20)
