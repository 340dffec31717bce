"""Periodic jobs: interval and cron periods, exactly one job per period across nodes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from headwater.eventstore import create_event_store
from headwater.jobs import Cron, InvalidJob, Periodic, Scheduler, SqlJobQueue
from headwater.jobs._job import to_micros

pytestmark = pytest.mark.anyio


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return to_micros(datetime(year, month, day, hour, minute, second, tzinfo=UTC))


def test_cron_fields_parse_like_cron() -> None:
    cron = Cron.parse("*/15 9-17 * * 1-5")
    assert cron.minutes == frozenset({0, 15, 30, 45})
    assert cron.hours == frozenset(range(9, 18))
    assert cron.matches(at(2024, 3, 4, 9, 15))  # a Monday
    assert not cron.matches(at(2024, 3, 3, 9, 15))  # a Sunday
    assert not cron.matches(at(2024, 3, 4, 9, 16))
    sundays = Cron.parse("0 0 * * 7")
    assert sundays.matches(at(2024, 3, 3, 0, 0))
    # Both day fields restricted: either may match (classic cron).
    either = Cron.parse("0 0 1 * 1")
    assert either.matches(at(2024, 3, 1, 0, 0))  # the 1st, a Friday
    assert either.matches(at(2024, 3, 4, 0, 0))  # a Monday


@pytest.mark.parametrize(
    "text", ["* * * *", "60 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"]
)
def test_a_malformed_cron_is_refused(text: str) -> None:
    with pytest.raises(InvalidJob):
        Cron.parse(text)


def test_periods_align_to_the_epoch_and_cron_misfires_are_skipped() -> None:
    every_minute = Periodic("tick", every=60)
    assert every_minute.period(at(2024, 1, 1, 10, 0, 59)) == at(2024, 1, 1, 10, 0)
    nightly = Periodic("report", cron="0 3 * * *", misfire_grace=120)
    assert nightly.period(at(2024, 1, 1, 3, 1, 30)) == at(2024, 1, 1, 3, 0)
    assert nightly.period(at(2024, 1, 1, 10, 0)) is None, "no catch-up long after 03:00"
    with pytest.raises(InvalidJob):
        Periodic("x")
    with pytest.raises(InvalidJob):
        Periodic("x", every=0.5)


async def test_every_period_is_enqueued_once_however_often_nodes_tick(
    queue: SqlJobQueue, store_url: str
) -> None:
    schedules = [
        Periodic("tick", every=60, payload={"k": 1}),
        Periodic("nightly", cron="0 3 * * *"),
    ]
    here = Scheduler(queue, schedules)
    nodes = [here, Scheduler(queue, schedules)]
    other_store = None
    if ":memory:" not in store_url:
        other_store = await create_event_store(store_url)
        nodes.append(Scheduler(SqlJobQueue(other_store), schedules))
    try:
        moment = at(2024, 1, 1, 3, 0, 10)
        first = await asyncio.gather(*(node.tick(moment) for node in nodes for _ in range(3)))
        assert sum(len(ids) for ids in first) == 2, "one job per schedule for this period"
        assert await here.tick(moment + 20_000_000) == []  # same minute
        assert len(await here.tick(at(2024, 1, 1, 3, 1, 0))) == 1  # next minute: tick only
    finally:
        if other_store is not None:
            await other_store.close()
    ticks = await queue.list_jobs(name="tick")
    assert [job.dedupe_key for job in reversed(ticks)] == [
        f"periodic:tick:{at(2024, 1, 1, 3, 0)}",
        f"periodic:tick:{at(2024, 1, 1, 3, 1)}",
    ]
    assert ticks[0].payload == {"k": 1}
    assert len(await queue.list_jobs(name="nightly")) == 1


async def test_a_running_scheduler_enqueues_the_current_period(queue: SqlJobQueue) -> None:
    scheduler = Scheduler(queue, [Periodic("tick", every=3600)], tick=0.02)
    await scheduler.start()
    try:
        await asyncio.sleep(0.15)
    finally:
        await scheduler.stop()
    assert len(await queue.list_jobs(name="tick")) == 1
