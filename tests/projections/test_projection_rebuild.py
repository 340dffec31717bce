"""Rebuild swaps fresh tables in while readers keep reading, without an error or a gap."""

from __future__ import annotations

import asyncio

import pytest
from formease_sample import USERS, append_history, table_rows, user_stats

from headwater.eventstore import EventStore
from headwater.projections import ProjectionRunner, RunnerOptions, projection_status, rebuild

pytestmark = pytest.mark.anyio

#: Plain SQL on the read path, as the apps' read queries are.
TOTALS = f"SELECT COUNT(*) AS users, SUM(submissions) AS subs FROM {USERS.name}"


async def test_readers_see_no_error_and_no_partial_table_during_rebuild(
    store: EventStore,
) -> None:
    await append_history(store, 1500)
    await ProjectionRunner(store, user_stats).catch_up()
    baseline_users, baseline_subs = (await store.fetchall(TOTALS))[0]
    assert baseline_users == 20

    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            try:
                users, subs = (await store.fetchall(TOTALS))[0]
                seen.append((users, subs))
            except Exception as exc:  # the property under test: this never happens
                errors.append(exc)
            await asyncio.sleep(0)

    progress: list[tuple[int, int]] = []
    readers = [asyncio.create_task(reader()) for _ in range(3)]
    try:
        result = await rebuild(
            store, user_stats, batch_size=50, progress=lambda d, t: progress.append((d, t))
        )
    finally:
        done.set()
        await asyncio.gather(*readers)

    assert errors == []
    assert len(seen) > 10
    assert all(users == 20 and subs == baseline_subs for users, subs in seen)
    assert result.events == 1500
    assert progress[-1] == (1500, 1500)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


async def test_rebuild_while_runner_and_writers_run_converges_to_a_fresh_rebuild(
    store: EventStore,
) -> None:
    await append_history(store, 600)
    options = RunnerOptions(batch_size=20)
    async with ProjectionRunner(store, user_stats, options) as runner:
        writer = asyncio.create_task(append_history(store, 400, seed=11, chunk=20))
        await rebuild(store, user_stats, batch_size=50)
        await writer
        head = await store.head_position()
        async with asyncio.timeout(15):
            await runner.wait_for(head)
        during = await table_rows(store, USERS)
    await rebuild(store, user_stats)
    assert await table_rows(store, USERS) == during
    (status,) = [s for s in await projection_status(store, [user_stats]) if s.name == "user_stats"]
    assert status.position == head
    assert not status.needs_rebuild


async def test_a_second_rebuild_of_the_same_projection_is_refused(store: EventStore) -> None:
    from headwater.projections import RebuildInProgress

    await append_history(store, 400)
    started = asyncio.Event()

    def progress(done: int, total: int) -> None:
        started.set()

    first = asyncio.create_task(rebuild(store, user_stats, batch_size=20, progress=progress))
    await started.wait()
    with pytest.raises(RebuildInProgress):
        await rebuild(store, user_stats)
    await first
    await rebuild(store, user_stats)  # and once it is done, rebuilding works again
