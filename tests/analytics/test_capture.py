"""Capture on every backend: idempotent on uuid within a tenant, all or nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater.analytics import CAPTURED, Capture, InvalidCapture, parse_batch
from headwater.eventstore import EventStore

pytestmark = pytest.mark.anyio


def _events(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"event": "visit", "distinct_id": f"v{i}", "uuid": str(uuid.uuid4()), **extra}
        for i in range(n)
    ]


async def _stored(store: EventStore, tenant: str) -> int:
    return len([e async for e in store.read_all(types=[CAPTURED], tenant_id=tenant)])


async def test_a_batch_overlapping_an_earlier_one_writes_only_the_new_events(
    store: EventStore,
) -> None:
    capture = Capture(store)
    first, second = _events(10), _events(5)
    result = await capture.capture("t1", parse_batch({"batch": first}).batch)
    assert (result.received, result.written) == (10, 10)
    again = await capture.capture("t1", parse_batch({"batch": first[5:] + second}).batch)
    assert (again.received, again.written, again.duplicates) == (10, 5, 5)
    assert await _stored(store, "t1") == 15


async def test_the_same_uuid_in_two_tenants_is_two_events(store: EventStore) -> None:
    capture = Capture(store)
    batch = parse_batch({"batch": _events(3)}).batch
    await capture.capture("t1", batch)
    result = await capture.capture("t2", batch)
    assert result.written == 3
    assert await _stored(store, "t2") == 3


async def test_a_timestamp_far_in_the_future_refuses_the_whole_batch(store: EventStore) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    batch = parse_batch({"batch": [*_events(2), *_events(1, timestamp=later)]}).batch
    with pytest.raises(InvalidCapture):
        await Capture(store).capture("t1", batch)
    assert await _stored(store, "t1") == 0


def test_a_batch_of_more_than_a_thousand_events_is_refused() -> None:
    with pytest.raises(InvalidCapture) as refused:
        parse_batch({"batch": _events(1001)})
    assert refused.value.details["problems"][0]["at"] == "batch"
