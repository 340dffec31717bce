"""Contract: appending — every field, expected versions, idempotency, tenants."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InvalidEventData,
    StreamNotFound,
    TenantMismatch,
)
from headwater.eventstore import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventStore,
    ExpectedVersion,
    NewEvent,
)
from headwater.testing._eventstore_base import (
    ContractBase,
    assert_recent_utc,
    new,
    positions,
    read_all,
    read_stream,
    unchanged,
    versions,
)

CONFLICTS: list[Any] = [
    pytest.param(1, NO_STREAM, 1, id="no-stream-on-existing"),
    pytest.param(2, 0, 2, id="zero-on-existing"),
    pytest.param(0, STREAM_EXISTS, None, id="stream-exists-on-missing"),
    pytest.param(2, 1, 2, id="stale-version"),
    pytest.param(2, 3, 2, id="version-ahead"),
    pytest.param(0, 1, None, id="version-on-missing"),
]


class AppendingContract(ContractBase):
    # --- round trip -------------------------------------------------------------------

    async def test_append_then_read_round_trips_every_field(self, store: EventStore) -> None:
        assert await store.head_position() == 0
        data = {
            "name": "Ada Lövelace ✓ 日本",
            "seats": 2,
            "ratio": 0.5,
            "vip": True,
            "note": None,
            "tags": ["a", "b"],
            "nested": {"list": [1, {"deep": "yes"}], "empty": {}, "none": []},
        }
        meta = {"correlation_id": "corr-1", "causation_id": "cause-0", "actor": "user-7"}
        first = NewEvent("GuestInvited", data, meta)
        second = NewEvent("GuestConfirmed", {"seats": 3})

        result = await store.append("guest-1", [first, second], expected_version=NO_STREAM)

        assert result == AppendResult("guest-1", 2, (1, 2))
        events = await read_stream(store, "guest-1")
        assert [
            (e.id, e.stream_id, e.version, e.position, e.type, e.data, e.metadata, e.tenant_id)
            for e in events
        ] == [
            (first.id, "guest-1", 1, 1, "GuestInvited", data, meta, None),
            (second.id, "guest-1", 2, 2, "GuestConfirmed", {"seats": 3}, {}, None),
        ]
        for event in events:
            assert type(event.data) is dict
            assert type(event.metadata) is dict
            assert_recent_utc(event.recorded_at)
        assert await read_all(store) == events
        assert await store.head_position() == 2
        assert await store.stream_version("guest-1") == 2

    async def test_numbers_and_strings_round_trip_with_their_exact_value_and_type(
        self, store: EventStore
    ) -> None:
        data: dict[str, Any] = {
            "int64_max": 2**63 - 1,
            "int64_min": -(2**63),
            "zero": 0,
            "float_whole": 2.0,
            "tenth": 0.1,
            "huge": 1e300,
            "tiny": 1.5e-300,
            "quotes": 'it\'s "quoted" \\ back',
            "percent": "100% ?",
            "empty": "",
            "emoji": "🦆",
        }
        await store.append("numbers", [NewEvent("Measured", data)])
        [event] = await read_stream(store, "numbers")
        assert event.data == data
        assert {k: type(v) for k, v in event.data.items()} == {k: type(v) for k, v in data.items()}

    async def test_nul_character_in_a_string_round_trips_or_is_refused_without_writing(
        self, store: EventStore
    ) -> None:
        # "\u0000" is valid JSON; a backend that cannot store it must refuse it cleanly.
        before = await unchanged(store)
        try:
            await store.append("nul", [new(text="a\x00b")])
        except InvalidEventData:
            await before.assert_unchanged()
            return
        [event] = await read_stream(store, "nul")
        assert event.data == {"text": "a\x00b"}

    async def test_versions_are_contiguous_per_stream_and_positions_increase_globally(
        self, store: EventStore
    ) -> None:
        results = [
            await store.append("a", [new(n=1)]),
            await store.append("b", [new(n=2)]),
            await store.append("a", [new(n=3), new(n=4)]),
            await store.append("b", [new(n=5)]),
        ]
        assert [(r.stream_id, r.version, r.positions) for r in results] == [
            ("a", 1, (1,)),
            ("b", 1, (2,)),
            ("a", 3, (3, 4)),
            ("b", 2, (5,)),
        ]
        assert versions(await read_stream(store, "a")) == [1, 2, 3]
        assert versions(await read_stream(store, "b")) == [1, 2]
        everything = await read_all(store)
        assert positions(everything) == [1, 2, 3, 4, 5]
        assert [e.data["n"] for e in everything] == [1, 2, 3, 4, 5]
        assert results[2].first_position == 3
        assert results[2].last_position == 4

    async def test_single_new_event_is_accepted_without_a_list(self, store: EventStore) -> None:
        event = new(n=1)
        result = await store.append("single", event)
        assert result == AppendResult("single", 1, (1,))
        assert [e.id for e in await read_stream(store, "single")] == [event.id]

    async def test_stream_id_of_maximum_length_is_accepted(self, store: EventStore) -> None:
        stream_id = "s" * 255
        await store.append(stream_id, [new()])
        assert await store.stream_version(stream_id) == 1

    async def test_empty_store_has_head_zero_and_no_streams(self, store: EventStore) -> None:
        assert await store.head_position() == 0
        assert await store.stream_version("nothing") is None
        assert await read_all(store) == []

    # --- expected versions ----------------------------------------------------------

    @pytest.mark.parametrize(
        ("existing", "expected"),
        [
            pytest.param(0, ANY, id="any-on-missing"),
            pytest.param(3, ANY, id="any-on-existing"),
            pytest.param(0, NO_STREAM, id="no-stream"),
            pytest.param(0, 0, id="zero"),
            pytest.param(3, STREAM_EXISTS, id="stream-exists"),
            pytest.param(3, 3, id="exact"),
        ],
    )
    async def test_append_with_matching_expected_version_succeeds(
        self, store: EventStore, existing: int, expected: ExpectedVersion
    ) -> None:
        if existing:
            await store.append("s", [new(n=i) for i in range(existing)])
        result = await store.append("s", [new(n=99)], expected_version=expected)
        assert result.version == existing + 1
        assert versions(await read_stream(store, "s")) == list(range(1, existing + 2))

    @pytest.mark.parametrize(("existing", "expected", "actual"), CONFLICTS)
    async def test_append_with_mismatched_expected_version_raises_conflict_and_writes_nothing(
        self, store: EventStore, existing: int, expected: ExpectedVersion, actual: int | None
    ) -> None:
        await store.append("other", [new()])
        if existing:
            await store.append("s", [new(n=i) for i in range(existing)])
        before = await unchanged(store)

        with pytest.raises(ConcurrencyError) as caught:
            await store.append("s", [new(n=99), new(n=100)], expected_version=expected)

        assert caught.value.stream_id == "s"
        assert caught.value.expected == expected
        assert caught.value.actual == actual
        await before.assert_unchanged()
        assert await store.stream_version("s") == (existing or None)

    async def test_append_with_stale_version_raises_conflict(self, store: EventStore) -> None:
        await store.append("s", [new(n=1)])
        await store.append("s", [new(n=2)], expected_version=1)
        with pytest.raises(ConcurrencyError) as caught:
            await store.append("s", [new(n=3)], expected_version=1)
        assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == ("s", 1, 2)
        assert [e.data["n"] for e in await read_stream(store, "s")] == [1, 2]

    # --- idempotency ----------------------------------------------------------------

    async def test_reappending_the_same_events_returns_the_original_result_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        batch = [new(n=1), new(n=2)]
        original = await store.append("s", batch, expected_version=NO_STREAM)
        before = await unchanged(store)

        again = await store.append("s", batch, expected_version=NO_STREAM)

        assert again == original == AppendResult("s", 2, (1, 2))
        await before.assert_unchanged()

    @pytest.mark.parametrize(
        "expected",
        [
            pytest.param(NO_STREAM, id="no-stream"),
            pytest.param(0, id="zero"),
            pytest.param(ANY, id="any"),
            pytest.param(STREAM_EXISTS, id="stream-exists"),
        ],
    )
    async def test_reappending_after_the_stream_moved_on_returns_the_original_result(
        self, store: EventStore, expected: ExpectedVersion
    ) -> None:
        batch = [new(n=1), new(n=2)]
        await store.append("noise", [new()])
        original = await store.append("s", batch, expected_version=NO_STREAM)
        await store.append("s", [new(n=3)], expected_version=2)
        await store.append("noise", [new()])
        before = await unchanged(store)

        again = await store.append("s", batch, expected_version=expected)

        assert again == original == AppendResult("s", 2, (2, 3))
        await before.assert_unchanged()
        assert [e.data["n"] for e in await read_stream(store, "s")] == [1, 2, 3]

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"data": {"n": 2}}, id="other-data"),
            pytest.param({"type": "Other"}, id="other-type"),
        ],
    )
    async def test_reused_event_id_with_other_content_raises_duplicate_and_writes_nothing(
        self, store: EventStore, change: dict[str, Any]
    ) -> None:
        stored = NewEvent("Happened", {"n": 1})
        await store.append("s", [stored])
        before = await unchanged(store)
        fields: dict[str, Any] = {
            "type": stored.type,
            "data": stored.data,
            "id": stored.id,
        } | change

        with pytest.raises(DuplicateEventId) as caught:
            await store.append("s", [NewEvent(**fields)])

        assert caught.value.event_id == str(stored.id)
        await before.assert_unchanged()

    async def test_reused_event_id_in_another_stream_raises_duplicate_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        stored = new(n=1)
        await store.append("first", [stored])
        before = await unchanged(store)

        with pytest.raises(DuplicateEventId) as caught:
            await store.append("second", [stored])

        assert caught.value.event_id == str(stored.id)
        await before.assert_unchanged()
        assert await store.stream_version("second") is None

    @pytest.mark.parametrize(
        "target", [pytest.param("first", id="same-stream"), pytest.param("second", id="other")]
    )
    async def test_append_mixing_fresh_and_stored_ids_raises_duplicate_and_writes_none_of_it(
        self, store: EventStore, target: str
    ) -> None:
        stored = new(n=1)
        await store.append("first", [stored])
        before = await unchanged(store)

        with pytest.raises(DuplicateEventId):
            await store.append(target, [new(n=2), stored])
        with pytest.raises(DuplicateEventId):
            await store.append(target, [stored, new(n=3)])

        await before.assert_unchanged()

    # --- tenants --------------------------------------------------------------------

    async def test_stream_keeps_the_tenant_of_its_first_event(self, store: EventStore) -> None:
        await store.append("order-1", [new(n=1)], tenant_id="acme")
        await store.append("order-1", [new(n=2), new(n=3)], tenant_id="acme")
        events = await read_stream(store, "order-1")
        assert [(e.version, e.tenant_id) for e in events] == [
            (1, "acme"),
            (2, "acme"),
            (3, "acme"),
        ]

    @pytest.mark.parametrize(
        ("owner", "writer"),
        [
            pytest.param("acme", "globex", id="other-tenant"),
            pytest.param("acme", None, id="no-tenant-on-tenant-stream"),
            pytest.param(None, "acme", id="tenant-on-shared-stream"),
        ],
    )
    async def test_append_as_another_tenant_raises_tenant_mismatch_and_writes_nothing(
        self, store: EventStore, owner: str | None, writer: str | None
    ) -> None:
        await store.append("order-1", [new()], tenant_id=owner)
        before = await unchanged(store)

        with pytest.raises(TenantMismatch) as caught:
            await store.append("order-1", [new()], tenant_id=writer)
        with pytest.raises(TenantMismatch):
            await store.append("order-1", [new()], expected_version=1, tenant_id=writer)
        # The tenant is checked before the version: a wrong version must not reveal,
        # through ConcurrencyError.actual, how far another tenant's stream has got.
        for wrong in (7, NO_STREAM):
            with pytest.raises(TenantMismatch):
                await store.append("order-1", [new()], expected_version=wrong, tenant_id=writer)

        assert caught.value.stream_id == "order-1"
        await before.assert_unchanged()

    async def test_reads_scoped_to_a_tenant_never_show_another_tenants_events(
        self, store: EventStore
    ) -> None:
        await store.append("order-1", [new(n=1), new(n=2)], tenant_id="acme")
        await store.append("order-2", [new(n=3)], tenant_id="globex")
        await store.append("system-1", [new(n=4)])
        await store.append("order-3", [new(n=5)], tenant_id="acme")

        acme = await read_all(store, tenant_id="acme")
        assert [(e.stream_id, e.data["n"]) for e in acme] == [
            ("order-1", 1),
            ("order-1", 2),
            ("order-3", 5),
        ]
        assert {e.tenant_id for e in acme} == {"acme"}
        assert [e.data["n"] for e in await read_all(store, tenant_id="globex")] == [3]
        assert await read_all(store, tenant_id="initech") == []
        assert len(await read_all(store)) == 5

        assert versions(await read_stream(store, "order-1", tenant_id="acme")) == [1, 2]
        assert await read_stream(store, "order-2", tenant_id="acme") == []
        assert await read_stream(store, "system-1", tenant_id="acme") == []
        assert await read_stream(store, "order-2", tenant_id="acme", backwards=True) == []
        assert await store.stream_version("order-1", tenant_id="acme") == 2
        assert await store.stream_version("order-2", tenant_id="acme") is None
        assert await store.stream_version("order-2", tenant_id="globex") == 1
        with pytest.raises(StreamNotFound):
            await store.require_stream("order-2", tenant_id="acme")
