"""A failing event is retried, then parked and skipped; its neighbours and the other
projections carry on, and the poison shows in status."""

from __future__ import annotations

import asyncio

import pytest

from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.projections import (
    INTEGER,
    TEXT,
    Projection,
    ProjectionRunner,
    RetryPolicy,
    RunnerOptions,
    Table,
    poison_events,
    projection_status,
)

pytestmark = pytest.mark.anyio

FRAGILE = Table("rm_fragile", {"id": TEXT, "n": INTEGER}, primary_key="id")
STEADY = Table("rm_steady", {"id": TEXT, "n": INTEGER}, primary_key="id")
fragile = Projection("fragile", tables=[FRAGILE])
steady = Projection("steady", tables=[STEADY])


@fragile.on("item.added")
def _fragile(event: RecordedEvent) -> Statement:
    if event.data.get("explode"):
        raise ValueError("cannot project this one")
    if event.data.get("duplicate"):
        # Valid Python, failing SQL: the primary key exists already.
        return FRAGILE.insert({"id": "item-0", "n": event.data["n"]})
    return FRAGILE.insert({"id": f"item-{event.data['n']}", "n": event.data["n"]})


@steady.on("item.added")
def _steady(event: RecordedEvent) -> Statement:
    return STEADY.insert({"id": f"item-{event.data['n']}", "n": event.data["n"]})


FAST = RunnerOptions(batch_size=8, retry=RetryPolicy(attempts=3, base_delay=0.001))


async def test_poison_event_is_parked_and_later_events_still_projected(store: EventStore) -> None:
    for n in range(30):
        data: dict[str, object] = {"n": n}
        if n == 10:
            data["explode"] = True
        if n == 20:
            data["duplicate"] = True
        await store.append(f"item-{n}", [NewEvent("item.added", data)])
    head = await store.head_position()

    async with ProjectionRunner(store, fragile, FAST) as a, ProjectionRunner(store, steady, FAST):
        async with asyncio.timeout(10):
            await a.wait_for(head)
        statuses = {s.name: s for s in await projection_status(store, [fragile, steady])}

    async with store.transaction() as tx:
        fragile_ids = {row[0] for row in await tx.fetchall("SELECT id FROM rm_fragile")}
        steady_count = (await tx.fetchone("SELECT COUNT(*) FROM rm_steady"))[0]  # type: ignore[index]
    assert fragile_ids == {f"item-{n}" for n in range(30) if n not in (10, 20)}
    assert steady_count == 30

    parked = await poison_events(store, "fragile")
    assert [p["position"] for p in parked] == [11, 21]
    assert "cannot project this one" in parked[0]["error"]
    assert parked[0]["attempts"] == 3
    assert statuses["fragile"].poison_count == 2
    assert statuses["fragile"].position == head
    assert statuses["fragile"].lag_events == 0
    assert "parked event 21" in (statuses["fragile"].last_error or "")
    assert statuses["steady"].poison_count == 0
    assert statuses["steady"].last_error is None


async def test_rebuild_reparks_poison_and_keeps_the_list_current(store: EventStore) -> None:
    from headwater.projections import rebuild

    for n in range(5):
        data: dict[str, object] = {"n": n, "explode": n == 2}
        await store.append(f"item-{n}", [NewEvent("item.added", data)])
    await ProjectionRunner(store, fragile, FAST).catch_up()
    result = await rebuild(store, fragile, retry=RetryPolicy(attempts=2, base_delay=0.001))
    assert result.parked == 1
    parked = await poison_events(store, "fragile")
    assert [(p["position"], p["attempts"]) for p in parked] == [(3, 2)]


async def test_a_store_outage_is_waited_out_not_blamed_on_events(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.errors import StoreUnavailable

    for n in range(12):
        await store.append(f"item-{n}", [NewEvent("item.added", {"n": n})])
    real_commit = store.commit
    failures = {"left": 8}

    async def flaky_commit(statements, *, checkpoint=None):  # type: ignore[no-untyped-def]
        if failures["left"] > 0:
            failures["left"] -= 1
            raise StoreUnavailable("database restarting")
        await real_commit(statements, checkpoint=checkpoint)

    monkeypatch.setattr(store, "commit", flaky_commit)
    options = RunnerOptions(
        batch_size=4,
        retry=RetryPolicy(attempts=2, base_delay=0.001),
        outage=RetryPolicy(attempts=1000, base_delay=0.005, max_delay=0.02),
    )
    async with ProjectionRunner(store, steady, options) as runner:
        async with asyncio.timeout(10):
            await runner.wait_for(await store.head_position())
    assert failures["left"] == 0
    assert await poison_events(store, "steady") == []
    async with store.transaction() as tx:
        assert (await tx.fetchone("SELECT COUNT(*) FROM rm_steady")) == (12,)
