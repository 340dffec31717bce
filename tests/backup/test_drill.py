"""The DR drill: restores the latest backup into a scratch store, compares read models
with the live node's, measures recovery time and data loss, records an event, and
raises an alert when it fails; no false alarm in 100 clean drills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.backup import (
    BACKUP_STREAM,
    DRILL_EVENT,
    DirectoryTarget,
    Drill,
    Shipper,
    ShipperOptions,
    plan_restore,
)
from headwater.eventstore import EventStore, create_event_store
from headwater.observability._alerts import Alert
from headwater.projections import attach_inline, migrate_projections, rebuild
from tests.backup._ledger import PROJECTIONS, ledger, ledger_by_tenant, write_deposits

pytestmark = pytest.mark.anyio


class Alerts:
    """An AlertSink that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[Alert] = []

    async def emit(self, alert: Alert) -> None:
        self.received.append(alert)


@pytest.fixture
async def live(store_url: str) -> AsyncIterator[EventStore]:
    store = await create_event_store(store_url, migrate=True)
    await migrate_projections(store)
    await attach_inline(store, [ledger_by_tenant])
    yield store
    await store.close()


async def test_a_drill_of_a_good_backup_passes_and_is_recorded(
    live: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    await write_deposits(live, 0, 200)
    await rebuild(live, ledger)
    await Shipper(live, target, ShipperOptions(segment_events=64)).ship_once()
    alerts = Alerts()
    result = await Drill(live, target, PROJECTIONS, alert_sinks=[alerts]).run()
    assert result.ok, result.problems
    assert (result.position, result.events, result.live_head) == (200, 200, 200)
    assert result.data_loss_events == 0
    assert result.recovery_seconds > 0
    assert [c.method for c in result.comparisons] == ["live tables", "live tables"]
    assert all(c.equal and c.rows > 0 for c in result.comparisons)
    assert alerts.received == []
    recorded = [e async for e in live.read_stream(BACKUP_STREAM)]
    assert [e.type for e in recorded] == [DRILL_EVENT]
    assert recorded[0].data["ok"] is True
    assert recorded[0].data["recovery_seconds"] == pytest.approx(result.recovery_seconds)


async def test_a_drill_measures_the_loss_when_the_live_log_is_ahead(
    live: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    await write_deposits(live, 0, 100)
    await Shipper(live, target).ship_once()
    await write_deposits(live, 100, 25)
    await rebuild(live, ledger)
    result = await Drill(live, target, PROJECTIONS).run()
    assert result.ok, result.problems
    assert (result.position, result.live_head, result.data_loss_events) == (100, 125, 25)
    assert result.data_loss_seconds >= 0
    # The live tables are past the backup: the live log up to it is replayed instead.
    assert {c.method for c in result.comparisons} == {"live log replay"}


async def test_a_drill_of_a_corrupt_backup_fails_and_raises_an_alert(
    live: EventStore, tmp_path: Path
) -> None:
    target = DirectoryTarget(tmp_path / "backups")
    await write_deposits(live, 0, 90)
    shipper = Shipper(live, target, ShipperOptions(segment_events=30))
    await shipper.ship_once()
    await target.delete(shipper.manifest.segments[1].key)
    alerts = Alerts()
    result = await Drill(live, target, PROJECTIONS, alert_sinks=[alerts]).run()
    assert not result.ok
    assert any("31-60" in p for p in result.problems), result.problems
    assert [(a.rule, a.status, a.severity) for a in alerts.received] == [
        ("backup_drill_failed", "firing", "critical")
    ]
    recorded = [e async for e in live.read_stream(BACKUP_STREAM)]
    assert recorded[-1].data["ok"] is False


async def test_a_drill_fails_when_a_restored_read_model_differs(
    live: EventStore, tmp_path: Path
) -> None:
    """A live read model that drifted from its log is a finding too."""
    target = DirectoryTarget(tmp_path / "backups")
    await write_deposits(live, 0, 40)
    await rebuild(live, ledger)
    await Shipper(live, target).ship_once()
    async with live.transaction() as tx:
        await tx.execute("UPDATE bk_accounts SET balance = balance + 1")
    alerts = Alerts()
    result = await Drill(live, target, PROJECTIONS, alert_sinks=[alerts]).run()
    assert not result.ok
    assert [c.equal for c in result.comparisons] == [False, True]
    assert len(alerts.received) == 1


async def test_one_hundred_clean_drills_raise_no_false_alarm(tmp_path: Path) -> None:
    live = await create_event_store(f"sqlite:///{tmp_path / 'live.db'}")
    await migrate_projections(live)
    await attach_inline(live, [ledger_by_tenant])
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(live, target, ShipperOptions(segment_events=10))
    alerts = Alerts()
    try:
        for round_ in range(100):
            await write_deposits(live, round_, 1)
            if round_ % 2 == 0:
                await shipper.ship_once()  # every other drill finds the live log ahead
            if round_ % 10 == 0:
                await rebuild(live, ledger)
            # In memory: what is measured is the drill's judgement, not the disk.
            drill = Drill(
                live,
                target,
                PROJECTIONS,
                scratch_url="sqlite:///:memory:",
                alert_sinks=[alerts],
                record=False,
            )
            result = await drill.run()
            assert result.ok, f"round {round_}: {result.problems}"
    finally:
        await live.close()
    assert alerts.received == []


async def test_a_drill_can_restore_into_a_postgres_scratch_and_informs_dry_runs(
    tmp_path: Path, postgres_url: str
) -> None:
    live = await create_event_store(f"sqlite:///{tmp_path / 'live.db'}")
    target = DirectoryTarget(tmp_path / "backups")
    try:
        await write_deposits(live, 0, 80)
        await Shipper(live, target).ship_once()
        before = await plan_restore(target)
        assert not before.rate_measured
        result = await Drill(live, target, PROJECTIONS, scratch_url=postgres_url).run()
        assert result.ok, result.problems
        after = await plan_restore(target)
        assert after.rate_measured
        assert after.rate_eps == pytest.approx(result.restore_events_per_second)
    finally:
        await live.close()
