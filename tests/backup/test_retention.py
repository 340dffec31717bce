"""Retention keeps N daily and M weekly bases and never drops what the newest full
restore (newest base + the log after it) needs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater.backup import (
    DirectoryTarget,
    InvalidTarget,
    RetentionRules,
    Shipper,
    ShipperOptions,
    apply_retention,
    create_base,
    list_bases,
    plan_retention,
    restore,
    verify_target,
)
from headwater.backup._base import BaseInfo
from headwater.eventstore import create_event_store
from tests.backup._ledger import write_deposits

pytestmark = pytest.mark.anyio

MONDAY = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def bases_every_12_hours(days: int) -> list[BaseInfo]:
    return [
        BaseInfo(f"b{i}", 100 * (i + 1), micros(MONDAY + timedelta(hours=12 * i)))
        for i in range(days * 2)
    ]


def test_the_rules_keep_the_newest_base_of_each_recent_day_and_week() -> None:
    bases = bases_every_12_hours(21)  # three weeks, two bases a day
    plan = plan_retention(bases, RetentionRules(daily=3, weekly=2))
    kept = [b.id for b in plan.keep]
    # Days 18-20 (the newest base of each), and the newest of the previous week (day 13).
    assert kept == ["b27", "b37", "b39", "b41"]
    assert {b.id for b in plan.drop} == {b.id for b in bases} - set(kept)
    assert plan.prune_log_through == 2800


def test_the_newest_base_is_kept_whatever_the_rules() -> None:
    bases = bases_every_12_hours(2)
    plan = plan_retention(bases, RetentionRules(daily=0, weekly=0))
    assert [b.id for b in plan.keep] == ["b3"]
    assert plan_retention([], RetentionRules()).prune_log_through == 0
    with pytest.raises(InvalidTarget):
        RetentionRules(daily=-1)


async def test_retention_never_drops_what_the_newest_full_restore_needs(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = await create_event_store(f"sqlite:///{tmp_path / 'live.db'}")
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(store, target, ShipperOptions(segment_events=16, seal_seconds=0.0))
    try:
        for day in range(10):
            await write_deposits(store, day * 40, rng.randint(20, 60))
            await shipper.ship_once()
            await create_base(
                store, target, segment_events=50, now_us=micros(MONDAY + timedelta(days=day))
            )
        await write_deposits(store, 1000, 30)
        await shipper.ship_once()
        result = await apply_retention(shipper, RetentionRules(daily=2, weekly=2))
        kept = await list_bases(target)
        assert [b.id for b in kept] == [b.id for b in result.plan.keep]
        assert (
            len(kept) == 3
        )  # two days, and the newest of the week before (this week's is one of them)
        assert result.dropped_segments
        assert shipper.manifest.anchor.through <= kept[0].position
        assert (await verify_target(target)).ok
        head = await store.head_position()
        for position in (head, kept[0].position, kept[0].position + 1):
            destination = await create_event_store(f"sqlite:///{tmp_path / f'r{position}.db'}")
            try:
                restored = await restore(target, destination, to_position=position)
                assert restored.position == position
                assert [e async for e in destination.read_all()] == [
                    e async for e in store.read_all(limit=position)
                ]
            finally:
                await destination.close()
    finally:
        await store.close()


async def test_without_a_base_retention_keeps_the_whole_log(tmp_path: Path) -> None:
    store = await create_event_store(f"sqlite:///{tmp_path / 'live.db'}")
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(store, target, ShipperOptions(segment_events=5))
    try:
        await write_deposits(store, 0, 30)
        await shipper.ship_once()
        before = shipper.manifest.segments
        result = await apply_retention(shipper, RetentionRules(daily=0, weekly=0))
        assert result.dropped_segments == ()
        assert shipper.manifest.segments == before
    finally:
        await store.close()
