"""Contract: reading — one stream, the whole log with filters, paging, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.errors import InvalidInput, InvalidStreamId, StreamNotFound
from headwater.eventstore import EventStore, Snapshot
from headwater.testing._eventstore_base import (
    ContractBase,
    assert_recent_utc,
    new,
    positions,
    read_all,
    read_stream,
    streams,
    versions,
)

BAD_SNAPSHOTS: list[Any] = [
    pytest.param(Snapshot("", 1, {}), id="empty-stream-id"),
    pytest.param(Snapshot("s", 0, {}), id="version-zero"),
    pytest.param(Snapshot("s", -1, {}), id="negative-version"),
    pytest.param(Snapshot("s", True, {}), id="bool-version"),
    pytest.param(Snapshot("s", "3", {}), id="str-version"),  # type: ignore[arg-type]
    pytest.param(Snapshot("s", 1, {"x": float("nan")}), id="nan-state"),
    pytest.param(Snapshot("s", 1, ["state"]), id="list-state"),  # type: ignore[arg-type]
    pytest.param(Snapshot("s", 1, {"x": "\ud800"}), id="lone-surrogate-state"),
    pytest.param(Snapshot("s", 1, {}, schema=""), id="empty-schema"),
]


class ReadingContract(ContractBase):
    # --- read_stream ----------------------------------------------------------------

    async def _five_in_a_noisy_store(self, store: EventStore) -> None:
        for n in range(1, 6):
            await store.append("s", [new(n=n)])
            await store.append(f"noise-{n}", [new(n=-n)])

    async def test_read_stream_yields_only_that_stream_in_version_order(
        self, store: EventStore
    ) -> None:
        await self._five_in_a_noisy_store(store)
        events = await read_stream(store, "s")
        assert versions(events) == [1, 2, 3, 4, 5]
        assert [e.data["n"] for e in events] == [1, 2, 3, 4, 5]
        assert set(streams(events)) == {"s"}
        assert positions(events) == [1, 3, 5, 7, 9]

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            pytest.param({"from_version": 3}, [3, 4, 5], id="from-version"),
            pytest.param({"from_version": 1}, [1, 2, 3, 4, 5], id="from-first"),
            pytest.param({"from_version": 0}, [1, 2, 3, 4, 5], id="from-zero"),
            pytest.param({"from_version": 5}, [5], id="from-last"),
            pytest.param({"from_version": 6}, [], id="from-past-end"),
            pytest.param({"backwards": True}, [5, 4, 3, 2, 1], id="backwards-from-end"),
            pytest.param({"backwards": True, "from_version": 3}, [3, 2, 1], id="backwards-from"),
            pytest.param({"backwards": True, "from_version": 9}, [5, 4, 3, 2, 1], id="back-past"),
            pytest.param({"limit": 2}, [1, 2], id="limit"),
            pytest.param({"limit": 0}, [], id="limit-zero"),
            pytest.param({"limit": 50}, [1, 2, 3, 4, 5], id="limit-beyond"),
            pytest.param({"from_version": 2, "limit": 2}, [2, 3], id="from-and-limit"),
            pytest.param({"backwards": True, "limit": 2}, [5, 4], id="backwards-limit"),
            pytest.param(
                {"backwards": True, "from_version": 4, "limit": 2},
                [4, 3],
                id="backwards-from-limit",
            ),
        ],
    )
    async def test_read_stream_options_select_exactly_the_expected_versions(
        self, store: EventStore, options: dict[str, Any], expected: list[int]
    ) -> None:
        await self._five_in_a_noisy_store(store)
        assert versions(await read_stream(store, "s", **options)) == expected

    async def test_read_stream_of_a_missing_stream_yields_nothing(self, store: EventStore) -> None:
        await store.append("present", [new()])
        assert await read_stream(store, "missing") == []
        assert await read_stream(store, "missing", backwards=True) == []
        assert await read_stream(store, "presen") == []
        assert await store.stream_version("missing") is None

    async def test_require_stream_raises_stream_not_found_for_a_missing_stream(
        self, store: EventStore
    ) -> None:
        await store.append("present", [new(), new()])
        assert await store.require_stream("present") == 2
        with pytest.raises(StreamNotFound) as caught:
            await store.require_stream("missing")
        assert caught.value.stream_id == "missing"

    @pytest.mark.parametrize("count", [pytest.param(10, id="ragged"), pytest.param(9, id="exact")])
    async def test_read_stream_pages_through_more_events_than_a_page(
        self, store: EventStore, count: int
    ) -> None:
        store.page_size = 3
        for n in range(1, count + 1):
            await store.append("s", [new(n=n)])
            await store.append("noise", [new()])
        everything = list(range(1, count + 1))
        assert versions(await read_stream(store, "s")) == everything
        assert versions(await read_stream(store, "s", backwards=True)) == everything[::-1]
        assert versions(await read_stream(store, "s", from_version=4, limit=5)) == [4, 5, 6, 7, 8]
        assert versions(await read_stream(store, "s", from_version=2, limit=3)) == [2, 3, 4]
        assert versions(await read_stream(store, "s", backwards=True, from_version=9, limit=7)) == [
            9,
            8,
            7,
            6,
            5,
            4,
            3,
        ]
        assert versions(await read_stream(store, "s", limit=6)) == everything[:6]

    @pytest.mark.parametrize(
        "options",
        [
            pytest.param({"from_version": -1}, id="negative-from"),
            pytest.param({"from_version": True}, id="bool-from"),
            pytest.param({"limit": -1}, id="negative-limit"),
            pytest.param({"limit": 1.5}, id="float-limit"),
        ],
    )
    async def test_read_stream_with_bad_options_raises_invalid_input(
        self, store: EventStore, options: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidInput):
            await read_stream(store, "s", **options)

    @pytest.mark.parametrize("stream_id", ["", "  ", "s" * 256, None])
    async def test_reading_a_bad_stream_id_raises_invalid_stream_id(
        self, store: EventStore, stream_id: Any
    ) -> None:
        with pytest.raises(InvalidStreamId):
            await read_stream(store, stream_id)
        with pytest.raises(InvalidStreamId):
            await store.stream_version(stream_id)

    # --- read_all -------------------------------------------------------------------

    async def _mixed_log(self, store: EventStore) -> None:
        """Nine events: types A/B/C across order-*, invoice-* and two tenants."""
        await store.append("order-1", [new("A", n=1), new("B", n=2)], tenant_id="acme")
        await store.append("invoice-1", [new("A", n=3)], tenant_id="acme")
        await store.append("order-2", [new("C", n=4)], tenant_id="globex")
        await store.append("order-1", [new("A", n=5)], tenant_id="acme")
        await store.append("orders", [new("B", n=6)])
        await store.append("ORDER-3", [new("A", n=7)])
        await store.append("invoice-2", [new("B", n=8)], tenant_id="globex")
        await store.append("order-2", [new("A", n=9)], tenant_id="globex")

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            pytest.param({}, [1, 2, 3, 4, 5, 6, 7, 8, 9], id="everything"),
            pytest.param({"after": 0}, [1, 2, 3, 4, 5, 6, 7, 8, 9], id="after-zero"),
            pytest.param({"after": 4}, [5, 6, 7, 8, 9], id="after"),
            pytest.param({"after": 9}, [], id="after-head"),
            pytest.param({"limit": 3}, [1, 2, 3], id="limit"),
            pytest.param({"limit": 0}, [], id="limit-zero"),
            pytest.param({"after": 2, "limit": 3}, [3, 4, 5], id="after-limit"),
            pytest.param({"types": ["B"]}, [2, 6, 8], id="one-type"),
            pytest.param({"types": ["C", "B"]}, [2, 4, 6, 8], id="two-types"),
            pytest.param({"types": ("B", "B")}, [2, 6, 8], id="repeated-type"),
            pytest.param({"types": ["Z"]}, [], id="unknown-type"),
            pytest.param({"types": []}, [], id="no-types"),
            pytest.param({"stream_prefix": "order-"}, [1, 2, 4, 5, 9], id="prefix"),
            pytest.param({"stream_prefix": "order"}, [1, 2, 4, 5, 6, 9], id="prefix-short"),
            pytest.param({"stream_prefix": "order-1"}, [1, 2, 5], id="prefix-whole-id"),
            pytest.param({"stream_prefix": "ORDER"}, [7], id="prefix-case-sensitive"),
            pytest.param({"stream_prefix": "x"}, [], id="prefix-no-match"),
            pytest.param({"tenant_id": "acme"}, [1, 2, 3, 5], id="tenant"),
            pytest.param({"tenant_id": "globex"}, [4, 8, 9], id="other-tenant"),
            pytest.param({"types": ["A"], "stream_prefix": "order-"}, [1, 5, 9], id="type-prefix"),
            pytest.param({"types": ["A"], "tenant_id": "acme"}, [1, 3, 5], id="type-tenant"),
            pytest.param(
                {"types": ["A", "C"], "stream_prefix": "order-", "tenant_id": "globex"},
                [4, 9],
                id="type-prefix-tenant",
            ),
            pytest.param(
                {"types": ["A"], "stream_prefix": "order-", "tenant_id": "acme", "after": 1},
                [5],
                id="all-filters-after",
            ),
            pytest.param({"types": ["A"], "after": 3, "limit": 2}, [5, 7], id="type-after-limit"),
        ],
    )
    async def test_read_all_filters_select_exactly_the_expected_events(
        self, store: EventStore, filters: dict[str, Any], expected: list[int]
    ) -> None:
        await self._mixed_log(store)
        events = await read_all(store, **filters)
        assert [e.data["n"] for e in events] == expected
        assert positions(events) == expected  # position order, and positions are 1..9 here

    async def test_read_all_matches_a_stream_prefix_literally(self, store: EventStore) -> None:
        # LIKE wildcards and its escape character in a prefix must match only themselves.
        for stream_id in ["a%b_1", "aXbY2", "a%bZ3", "a%b_", "a\\b_4", "a\\xb5", "a_%6"]:
            await store.append(stream_id, [new(stream=stream_id)])

        async def matching(prefix: str) -> list[str]:
            return streams(await read_all(store, stream_prefix=prefix))

        assert await matching("a%b_") == ["a%b_1", "a%b_"]
        assert await matching("a%") == ["a%b_1", "a%bZ3", "a%b_"]
        assert await matching("a_") == ["a_%6"]
        assert await matching("a\\") == ["a\\b_4", "a\\xb5"]
        assert await matching("a\\b") == ["a\\b_4"]
        assert await matching("%") == []
        assert await matching("_") == []

    @pytest.mark.parametrize("page_size", [1, 2, 4])
    async def test_read_all_pages_through_filtered_and_unfiltered_logs(
        self, store: EventStore, page_size: int
    ) -> None:
        await self._mixed_log(store)
        store.page_size = page_size
        assert [e.data["n"] for e in await read_all(store)] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
        assert [e.data["n"] for e in await read_all(store, types=["A"])] == [1, 3, 5, 7, 9]
        assert [e.data["n"] for e in await read_all(store, tenant_id="globex")] == [4, 8, 9]
        assert [e.data["n"] for e in await read_all(store, after=2, limit=5)] == [3, 4, 5, 6, 7]
        assert [e.data["n"] for e in await read_all(store, stream_prefix="order-", limit=4)] == [
            1,
            2,
            4,
            5,
        ]

    @pytest.mark.parametrize(
        "filters",
        [
            pytest.param({"after": -1}, id="negative-after"),
            pytest.param({"after": "3"}, id="str-after"),
            pytest.param({"limit": -1}, id="negative-limit"),
            pytest.param({"types": "A"}, id="types-as-one-string"),
            pytest.param({"types": [""]}, id="empty-type"),
            pytest.param({"stream_prefix": ""}, id="empty-prefix"),
            pytest.param({"tenant_id": ""}, id="empty-tenant"),
        ],
    )
    async def test_read_all_with_bad_filters_raises_invalid_input(
        self, store: EventStore, filters: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidInput):
            await read_all(store, **filters)

    # --- snapshots ------------------------------------------------------------------

    async def test_load_snapshot_returns_the_latest_or_the_newest_at_or_below(
        self, store: EventStore
    ) -> None:
        await store.append("cart-1", [new(n=n) for n in range(15)])
        for version in (5, 10, 15):
            await store.save_snapshot(Snapshot("cart-1", version, {"items": version}, "v2"))
        await store.save_snapshot(Snapshot("cart-2", 20, {"items": -1}))

        latest = await store.load_snapshot("cart-1")
        assert latest is not None
        assert (latest.stream_id, latest.version, latest.state, latest.schema) == (
            "cart-1",
            15,
            {"items": 15},
            "v2",
        )
        assert_recent_utc(latest.recorded_at)

        async def version_at_or_below(limit: int) -> int | None:
            found = await store.load_snapshot("cart-1", at_or_below=limit)
            return None if found is None else found.version

        assert await version_at_or_below(15) == 15
        assert await version_at_or_below(14) == 10
        assert await version_at_or_below(10) == 10
        assert await version_at_or_below(9) == 5
        assert await version_at_or_below(5) == 5
        assert await version_at_or_below(4) is None
        assert await version_at_or_below(0) is None
        assert await version_at_or_below(1000) == 15
        at_ten = await store.load_snapshot("cart-1", at_or_below=12)
        assert at_ten is not None
        assert at_ten.state == {"items": 10}

    async def test_load_snapshot_of_a_stream_without_one_returns_none(
        self, store: EventStore
    ) -> None:
        await store.append("cart-1", [new()])
        await store.save_snapshot(Snapshot("cart-10", 1, {}))
        assert await store.load_snapshot("cart-1") is None
        assert await store.load_snapshot("missing") is None

    async def test_snapshot_state_round_trips_exactly(self, store: EventStore) -> None:
        state = {"nested": {"list": [1, 2.5, None, True, "ü"]}, "big": 2**63 - 1}
        await store.save_snapshot(Snapshot("s", 1, state, "cart/3"))
        loaded = await store.load_snapshot("s")
        assert loaded is not None
        assert (loaded.state, loaded.schema) == (state, "cart/3")

    @pytest.mark.parametrize("snapshot", BAD_SNAPSHOTS)
    async def test_save_snapshot_with_bad_input_raises_invalid_input_and_saves_nothing(
        self, store: EventStore, snapshot: Snapshot
    ) -> None:
        with pytest.raises(InvalidInput):
            await store.save_snapshot(snapshot)
        if isinstance(snapshot.stream_id, str) and snapshot.stream_id:
            assert await store.load_snapshot(snapshot.stream_id) is None

    @pytest.mark.parametrize(
        ("stream_id", "at_or_below"),
        [pytest.param("", None, id="empty-stream-id"), pytest.param("s", -1, id="negative")],
    )
    async def test_load_snapshot_with_bad_input_raises_invalid_input(
        self, store: EventStore, stream_id: str, at_or_below: int | None
    ) -> None:
        with pytest.raises(InvalidInput):
            await store.load_snapshot(stream_id, at_or_below=at_or_below)
