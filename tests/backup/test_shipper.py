"""The shipper: the live tail within the interval, sealing, restarts, one log per target,
and appends that wait for their ship (zero loss)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.backup import (
    BackupError,
    DirectoryTarget,
    ShippedAppender,
    Shipper,
    ShipperOptions,
    load_manifest,
    verify_target,
)
from headwater.eventstore import EventStore, NewEvent, create_event_store
from tests.backup._ledger import write_deposits

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    opened = await create_event_store(store_url, migrate=True)
    yield opened
    await opened.close()


async def test_the_live_tail_reaches_the_target_within_the_interval(
    store: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(store, target, ShipperOptions(interval=0.1))
    await shipper.start()
    try:
        positions = await write_deposits(store, 0, 20)
        deadline = time.monotonic() + 10
        while (await load_manifest(target)).last_position < positions[-1]:
            assert time.monotonic() < deadline, "the tail was never shipped"
            await asyncio.sleep(0.02)
    finally:
        await shipper.stop()
    manifest = await load_manifest(target)
    assert manifest.tail is not None  # still open: small and young
    assert (await verify_target(target)).ok


async def test_a_full_tail_is_sealed_and_the_next_one_chains_to_it(
    store: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(store, target, ShipperOptions(segment_events=10))
    await write_deposits(store, 0, 25)
    await shipper.ship_once()
    segments = shipper.manifest.segments
    assert [(s.first, s.last, s.sealed) for s in segments] == [
        (1, 10, True),
        (11, 20, True),
        (21, 25, False),
    ]
    assert [s.prev for s in segments[1:]] == [s.sha256 for s in segments[:-1]]
    # The tail's earlier objects are gone: only listed segments remain.
    await write_deposits(store, 25, 3)
    await shipper.ship_once()
    assert await target.list("segments/") == sorted(s.key for s in shipper.manifest.segments)


async def test_a_restarted_shipper_seals_the_old_tail_and_continues(
    store_url: str, tmp_path: Path
) -> None:
    if ":memory:" in store_url:
        pytest.skip("a restart needs the data to outlive the first store")
    target = DirectoryTarget(tmp_path / "backups")
    store = await create_event_store(store_url, migrate=True)
    try:
        await write_deposits(store, 0, 7)
        await Shipper(store, target).ship_once()
        # A ship that died after writing a segment but before its manifest:
        await target.put("segments/00000000000000000008-00000000000000000009.seg", b"junk")
        await write_deposits(store, 7, 5)
        second = Shipper(store, target)
        await second.ship_once()
        assert [(s.first, s.last, s.sealed) for s in second.manifest.segments] == [
            (1, 7, True),
            (8, 12, False),
        ]
        report = await verify_target(target)
        assert report.ok
        assert report.warnings == []
    finally:
        await store.close()


async def test_a_target_of_another_log_is_refused(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    first = await create_event_store(f"sqlite:///{tmp_path / 'a.db'}")
    second = await create_event_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        await write_deposits(first, 0, 5)
        await Shipper(first, target).ship_once()
        await write_deposits(second, 100, 3)
        with pytest.raises(BackupError, match="beyond this store's head"):
            await Shipper(second, target).ship_once()
        await write_deposits(second, 103, 5)
        with pytest.raises(BackupError, match="another log"):
            await Shipper(second, target).ship_once()
    finally:
        await first.close()
        await second.close()


async def test_shipped_appends_are_in_the_target_when_they_return(
    store: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    # A long interval: only the appends' own requests can ship this fast.
    shipper = Shipper(store, target, ShipperOptions(interval=30.0))
    await shipper.start()
    appender = ShippedAppender(store, shipper)
    try:

        async def one(i: int) -> int:
            result = await appender.append(f"s-{i}", NewEvent("deposit", {"i": i}))
            manifest = await load_manifest(target)
            assert manifest.last_position >= result.last_position
            return result.last_position

        async with asyncio.timeout(20):
            positions = await asyncio.gather(*(one(i) for i in range(30)))
        assert sorted(positions) == list(range(1, 31))
    finally:
        await shipper.stop()


async def test_a_failing_target_is_retried_without_losing_events(
    store: EventStore, tmp_path: Path
) -> None:
    blocker = tmp_path / "backups"
    blocker.write_text("a file where the directory should be")
    target = DirectoryTarget(blocker)
    shipper = Shipper(store, target, ShipperOptions(segment_events=4))
    await write_deposits(store, 0, 3)
    with pytest.raises(BackupError, match="cannot write"):
        await shipper.ship_once()
    assert shipper.status().last_error is not None
    blocker.unlink()
    await write_deposits(store, 3, 3)
    assert await shipper.ship_once() == 6
    assert shipper.status().last_error is None
    assert (await verify_target(target)).ok
