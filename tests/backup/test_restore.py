"""Restore: to a position or a time, verbatim, into an empty store of either backend,
with every projection rebuilt; a dry run writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from headwater.backup import (
    BackupCorrupt,
    BackupTarget,
    DirectoryTarget,
    RestoreRefused,
    Shipper,
    ShipperOptions,
    plan_restore,
    projection_checksum,
    restore,
)
from headwater.eventstore import EventStore, create_event_store
from headwater.eventstore._records import RecordedEvent
from headwater.projections import attach_inline, migrate_projections, rebuild
from tests.backup._ledger import PROJECTIONS, ledger, ledger_by_tenant, write_deposits

pytestmark = pytest.mark.anyio


async def read_log(store: EventStore) -> list[RecordedEvent]:
    return [e async for e in store.read_all()]


@pytest.fixture
def target(tmp_path: Path) -> BackupTarget:
    return DirectoryTarget(tmp_path / "backups")


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[EventStore]:
    store = await create_event_store(f"sqlite:///{tmp_path / 'source.db'}")
    yield store
    await store.close()


async def ship(store: EventStore, target: BackupTarget, **options: float) -> Shipper:
    shipper = Shipper(store, target, ShipperOptions(**options))  # type: ignore[arg-type]
    await shipper.ship_once()
    return shipper


async def test_restore_to_a_middle_position_ends_exactly_there(
    source: EventStore, target: BackupTarget, store_url: str
) -> None:
    await write_deposits(source, 0, 250)
    await ship(source, target, segment_events=40)
    destination = await create_event_store(store_url, migrate=True)
    try:
        result = await restore(target, destination, to_position=137)
        assert result.position == result.events == 137
        assert await destination.head_position() == 137
        assert await read_log(destination) == (await read_log(source))[:137]
        # The restored store is a working store: appends continue from there.
        appended = await write_deposits(destination, 1000, 1)
        assert appended == [138]
    finally:
        await destination.close()


async def test_restore_to_a_time_takes_every_event_recorded_until_then(
    source: EventStore, target: BackupTarget, tmp_path: Path
) -> None:
    await write_deposits(source, 0, 120)
    await ship(source, target, segment_events=50)
    log = await read_log(source)
    moment = log[76].recorded_at
    expected = max(e.position for e in log if e.recorded_at <= moment)
    destination = await create_event_store(f"sqlite:///{tmp_path / 'at-time.db'}")
    try:
        result = await restore(target, destination, to_time=moment)
        assert result.position == expected
        assert await read_log(destination) == log[:expected]
    finally:
        await destination.close()
    with pytest.raises(RestoreRefused):
        await plan_restore(target, to_time=log[0].recorded_at - timedelta(seconds=1))
    with pytest.raises(RestoreRefused):
        await plan_restore(target, to_time=moment.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("source_backend", "destination_backend"), [("sqlite", "postgres"), ("postgres", "sqlite")]
)
async def test_restore_to_the_other_backend_rebuilds_equal_read_models(
    source_backend: str, destination_backend: str, postgres_url: str, tmp_path: Path
) -> None:
    urls = {"sqlite": f"sqlite:///{tmp_path / 'db.sqlite'}", "postgres": postgres_url}
    backups = DirectoryTarget(tmp_path / "backups")
    live = await create_event_store(urls[source_backend], migrate=True)
    try:
        await migrate_projections(live)
        await attach_inline(live, [ledger_by_tenant])
        await write_deposits(live, 0, 300)
        await rebuild(live, ledger)
        await ship(live, backups, segment_events=64)
        originals = [await projection_checksum(live.fetchall, p) for p in PROJECTIONS]
        destination = await create_event_store(urls[destination_backend], migrate=True)
        try:
            result = await restore(backups, destination, PROJECTIONS)
            assert [r.name for r in result.rebuilds] == [p.name for p in PROJECTIONS]
            assert await read_log(destination) == await read_log(live)
            restored = [await projection_checksum(destination.fetchall, p) for p in PROJECTIONS]
            assert restored == originals
            assert all(c.rows > 0 for c in restored)
        finally:
            await destination.close()
    finally:
        await live.close()


async def test_a_dry_run_plans_and_estimates_without_writing(
    source: EventStore, target: BackupTarget
) -> None:
    await write_deposits(source, 0, 90)
    await ship(source, target, segment_events=25)
    plan = await plan_restore(target, to_position=60)
    assert (plan.to_position, plan.events, plan.segments) == (60, 60, 3)
    assert plan.estimated_seconds > 0
    text = "\n".join(plan.describe())
    assert "1-60" in text
    assert "estimated duration" in text


async def test_restore_refuses_a_store_that_is_not_empty(
    source: EventStore, target: BackupTarget
) -> None:
    await write_deposits(source, 0, 5)
    await ship(source, target)
    with pytest.raises(RestoreRefused):
        await restore(target, source)


async def test_restore_refuses_a_position_beyond_the_backup(
    source: EventStore, target: BackupTarget
) -> None:
    await write_deposits(source, 0, 5)
    await ship(source, target)
    with pytest.raises(RestoreRefused):
        await plan_restore(target, to_position=6)
    with pytest.raises(RestoreRefused):
        await plan_restore(DirectoryTarget("/nonexistent/empty"))


async def test_a_corrupt_segment_stops_the_restore_before_its_events(
    source: EventStore, target: BackupTarget, tmp_path: Path
) -> None:
    await write_deposits(source, 0, 100)
    shipper = await ship(source, target, segment_events=30)
    third = shipper.manifest.segments[2]
    blob = bytearray(await target.get(third.key))
    blob[len(blob) // 2] ^= 0x01
    await target.put(third.key, bytes(blob))
    destination = await create_event_store(f"sqlite:///{tmp_path / 'partial.db'}")
    try:
        with pytest.raises(BackupCorrupt):
            await restore(target, destination)
        # Nothing of the damaged segment was written; what was written is a prefix.
        head = await destination.head_position()
        assert head < third.first
        assert await read_log(destination) == (await read_log(source))[:head]
    finally:
        await destination.close()
