"""Inline projections: written in the append's own transaction; a failing handler fails
that append only; a rebuild under concurrent appends loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.projections import (
    INTEGER,
    TEXT,
    Column,
    Merge,
    Projection,
    Table,
    attach_inline,
    projection_status,
    rebuild,
)

pytestmark = pytest.mark.anyio

SEATS = Table(
    "rm_seats", {"event_id": TEXT, "taken": Column(INTEGER, default=0)}, primary_key="event_id"
)
seats = Projection("seats", tables=[SEATS], mode="inline")


@seats.on("seat.taken")
def _taken(event: RecordedEvent) -> Statement:
    if event.data.get("reject"):
        raise ValueError("this seat cannot be taken")
    return SEATS.upsert({"event_id": event.data["event"], "taken": 1}, merge={"taken": Merge.ADD})


async def _taken_count(store: EventStore, event_id: str = "concert") -> int:
    async with store.transaction() as tx:
        row = await tx.fetchone("SELECT taken FROM rm_seats WHERE event_id = ?", (event_id,))
    return 0 if row is None else int(row[0])


async def test_read_model_is_current_when_append_returns(store: EventStore) -> None:
    await attach_inline(store, [seats])
    for n in range(1, 6):
        await store.append("seats-concert", [NewEvent("seat.taken", {"event": "concert"})])
        assert await _taken_count(store) == n
    (status,) = await projection_status(store, [seats])
    assert status.lag_events == 0
    assert str(status.state) == "running"


async def test_failing_inline_handler_fails_only_its_append(store: EventStore) -> None:
    await attach_inline(store, [seats])
    appends = [
        store.append(f"s-{n}", [NewEvent("seat.taken", {"event": "concert", "reject": n == 3})])
        for n in range(8)
    ]
    results = await asyncio.gather(*appends, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1
    assert "cannot be taken" in str(failed[0])
    assert await _taken_count(store) == 7
    assert await store.stream_version("s-3") is None  # the failed append wrote nothing


async def test_attaching_to_an_existing_log_builds_from_history(store: EventStore) -> None:
    for _ in range(4):
        await store.append("seats-concert", [NewEvent("seat.taken", {"event": "concert"})])
    await attach_inline(store, [seats])
    assert await _taken_count(store) == 4
    await store.append("seats-concert", [NewEvent("seat.taken", {"event": "concert"})])
    assert await _taken_count(store) == 5


async def test_rebuild_under_concurrent_appends_loses_nothing(store: EventStore) -> None:
    await attach_inline(store, [seats])

    async def writer() -> int:
        for n in range(150):
            await store.append(f"w-{n}", [NewEvent("seat.taken", {"event": "concert"})])
        return 150

    for n in range(100):
        await store.append(f"h-{n}", [NewEvent("seat.taken", {"event": "concert"})])
    written = asyncio.create_task(writer())
    await rebuild(store, seats, batch_size=10)
    assert await written == 150
    assert await _taken_count(store) == 250
