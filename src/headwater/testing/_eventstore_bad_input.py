"""Contract: bad input to ``append`` is refused with the right error and writes nothing."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from headwater.errors import (
    InvalidEventData,
    InvalidExpectedVersion,
    InvalidInput,
    InvalidStreamId,
)
from headwater.eventstore import EventStore, NewEvent
from headwater.testing._eventstore_base import ContractBase, new, unchanged

BAD_STREAM_IDS: list[Any] = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="whitespace"),
    pytest.param("s" * 256, id="too-long"),
    pytest.param("line\nbreak", id="control-character"),
    pytest.param(42, id="int"),
    pytest.param(None, id="none"),
    pytest.param(b"bytes", id="bytes"),
]

BAD_DATA: list[Any] = [
    pytest.param({"x": math.nan}, id="nan"),
    pytest.param({"x": math.inf}, id="inf"),
    pytest.param({"x": -math.inf}, id="minus-inf"),
    pytest.param({"x": [1, {"y": math.nan}]}, id="nested-nan"),
    pytest.param({"x": {1, 2}}, id="set"),
    pytest.param({"x": datetime(2024, 1, 1, tzinfo=UTC)}, id="datetime"),
    pytest.param({"x": b"bytes"}, id="bytes"),
    pytest.param({"x": uuid.UUID(int=1)}, id="uuid"),
    pytest.param({1: "x"}, id="int-key"),
    pytest.param({"x": {(1, 2): "y"}}, id="nested-tuple-key"),
    pytest.param({"x": 2**64}, id="int-over-64-bits"),
    pytest.param({"x": 2**63}, id="int-just-over-int64"),
    pytest.param({"x": -(2**63) - 1}, id="int-just-under-int64"),
    pytest.param({"x": "\ud800"}, id="lone-surrogate"),
    pytest.param(["not", "an", "object"], id="list"),
    pytest.param("text", id="str"),
    pytest.param(None, id="none"),
    pytest.param(42, id="int"),
]

BAD_EVENTS: list[Any] = [
    pytest.param([], id="empty-list"),
    pytest.param([{"type": "Happened", "data": {}}], id="dict-item"),
    pytest.param(["Happened"], id="str-item"),
    pytest.param("Happened", id="str"),
    pytest.param(None, id="none"),
    pytest.param([NewEvent("", {})], id="empty-type"),
    pytest.param([NewEvent("   ", {})], id="whitespace-type"),
    pytest.param([NewEvent("t" * 256, {})], id="too-long-type"),
    pytest.param([NewEvent("Happened", {}, {"at": datetime(2024, 1, 1)})], id="bad-metadata"),
    pytest.param([NewEvent("Happened", {}, ["meta"])], id="metadata-not-object"),  # type: ignore[arg-type]
]

BAD_EXPECTED_VERSIONS: list[Any] = [
    pytest.param(-1, id="negative"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(1.0, id="float"),
    pytest.param("1", id="str"),
    pytest.param(None, id="none"),
]


class BadInputContract(ContractBase):
    # --- bad input ------------------------------------------------------------------

    @pytest.mark.parametrize("stream_id", BAD_STREAM_IDS)
    async def test_append_with_bad_stream_id_raises_invalid_stream_id_and_writes_nothing(
        self, store: EventStore, stream_id: Any
    ) -> None:
        await store.append("seeded", [new()])
        before = await unchanged(store)
        with pytest.raises(InvalidStreamId):
            await store.append(stream_id, [new()])
        await before.assert_unchanged()

    @pytest.mark.parametrize("data", BAD_DATA)
    async def test_append_with_non_json_data_raises_invalid_event_data_and_writes_nothing(
        self, store: EventStore, data: Any
    ) -> None:
        await store.append("seeded", [new()])
        before = await unchanged(store)
        with pytest.raises(InvalidEventData):
            await store.append("seeded", [new(n=1), NewEvent("Happened", data)])
        if data is not None:  # metadata may be None: it defaults to {}
            with pytest.raises(InvalidEventData):
                await store.append("seeded", [NewEvent("Happened", {}, data)])
        await before.assert_unchanged()

    @pytest.mark.parametrize("events", BAD_EVENTS)
    async def test_append_with_bad_events_raises_invalid_event_data_and_writes_nothing(
        self, store: EventStore, events: Any
    ) -> None:
        await store.append("seeded", [new()])
        before = await unchanged(store)
        with pytest.raises(InvalidEventData):
            await store.append("seeded", events)
        await before.assert_unchanged()

    async def test_append_with_one_id_twice_raises_invalid_event_data_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        twice = new(n=1)
        before = await unchanged(store)
        with pytest.raises(InvalidEventData):
            await store.append("s", [twice, new(n=2), twice])
        await before.assert_unchanged()

    @pytest.mark.parametrize("expected", BAD_EXPECTED_VERSIONS)
    async def test_append_with_bad_expected_version_raises_and_writes_nothing(
        self, store: EventStore, expected: Any
    ) -> None:
        await store.append("seeded", [new()])
        before = await unchanged(store)
        with pytest.raises(InvalidExpectedVersion):
            await store.append("seeded", [new()], expected_version=expected)
        with pytest.raises(InvalidExpectedVersion):
            await store.append("fresh", [new()], expected_version=expected)
        await before.assert_unchanged()

    @pytest.mark.parametrize("tenant_id", ["", 7, "t" * 256])
    async def test_append_with_bad_tenant_id_raises_invalid_input_and_writes_nothing(
        self, store: EventStore, tenant_id: Any
    ) -> None:
        before = await unchanged(store)
        with pytest.raises(InvalidInput):
            await store.append("s", [new()], tenant_id=tenant_id)
        await before.assert_unchanged()
