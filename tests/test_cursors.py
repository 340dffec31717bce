"""Signed cursors: a forged, tampered, foreign or expired cursor is refused."""

from __future__ import annotations

import time

import pytest

from headwater.cursors import CursorCodec, InvalidCursor, ListQuery, Sorts, Total, count_rows
from headwater.eventstore import create_event_store


def test_round_trip_keeps_the_key() -> None:
    codec = CursorCodec("k")
    cursor = codec.encode("guests:plan=a", ["2026-01-01", "id-9"])
    assert codec.decode("guests:plan=a", cursor) == ["2026-01-01", "id-9"]


@pytest.mark.parametrize("cursor", ["", "garbage", "eyJzIjoiZ3Vlc3RzIn0.AAAA.BBBB"])
def test_forged_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec("k").decode("guests", cursor)


def test_tampered_cursor_is_invalid() -> None:
    codec = CursorCodec("k")
    cursor = codec.encode("guests", [1, "a"])
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    with pytest.raises(InvalidCursor):
        codec.decode("guests", tampered)


def test_cursor_from_another_key_or_list_is_invalid() -> None:
    cursor = CursorCodec("k").encode("guests", [1])
    with pytest.raises(InvalidCursor):
        CursorCodec("other").decode("guests", cursor)
    with pytest.raises(InvalidCursor, match="another list"):
        CursorCodec("k").decode("families", cursor)


def test_expired_cursor_is_invalid() -> None:
    codec = CursorCodec("k", max_age=1)
    cursor = codec.encode("guests", [1])
    time.sleep(2.1)
    with pytest.raises(InvalidCursor, match="expired"):
        codec.decode("guests", cursor)


# --- sort, order and total (the list parameters every paged list shares) -------------

SORTS = Sorts({"created": "created_at", "name": "name"}, default="created", tiebreak="row_id")


def test_a_list_query_orders_and_pages_by_its_column_and_tiebreak() -> None:
    down = ListQuery(SORTS, "name", "desc", False)
    assert down.order_by() == "name DESC, row_id DESC"
    assert down.after(None) is None
    assert down.after(["Bo", "r2"]) == (
        "(name < ? OR (name = ? AND row_id < ?))",
        ["Bo", "Bo", "r2"],
    )
    up = ListQuery(SORTS, "created", "asc", True)
    assert up.order_by() == "created_at ASC, row_id ASC"
    assert up.after([5, "r1"]) == (
        "(created_at > ? OR (created_at = ? AND row_id > ?))",
        [5, 5, "r1"],
    )


def test_a_cursor_is_bound_to_its_sort_and_order() -> None:
    codec = CursorCodec("k")
    by_name = ListQuery(SORTS, "name", "asc", False)
    cursor = by_name.encode(codec, "people", ["Bo", "r2"])
    assert by_name.decode(codec, "people", cursor) == ["Bo", "r2"]
    for other in (
        ListQuery(SORTS, "created", "asc", False),
        ListQuery(SORTS, "name", "desc", False),
    ):
        with pytest.raises(InvalidCursor):
            other.decode(codec, "people", cursor)
    # A cursor of this sort whose key is not a (value, tiebreak) pair is refused too.
    with pytest.raises(InvalidCursor):
        by_name.decode(codec, "people", codec.encode(by_name.scope("people"), [1]))


def test_a_default_must_be_declared() -> None:
    with pytest.raises(ValueError, match="not a declared column"):
        Sorts({"a": "a"}, default="b", tiebreak="id")
    with pytest.raises(ValueError, match="default order"):
        Sorts({"a": "a"}, default="a", tiebreak="id", order="desc", orders=("asc",))


@pytest.mark.anyio
async def test_totals_are_exact_up_to_the_cap_and_say_so_past_it(store_url: str) -> None:
    async with await create_event_store(store_url, migrate=True) as store:
        async with store.transaction() as tx:
            await tx.execute("CREATE TABLE counted (id INTEGER PRIMARY KEY, tenant TEXT)")
            await tx.executemany(
                "INSERT INTO counted (id, tenant) VALUES (?, ?)",
                [(n, "a" if n % 3 else "b") for n in range(30)],
            )
        assert await count_rows(store, "FROM counted WHERE tenant = ?", ["a"], cap=100) == Total(
            20, True
        )
        past = await count_rows(store, "FROM counted WHERE tenant = ?", ["a"], cap=10)
        assert past.exact is False
        # SQLite: the cap as a lower bound; PostgreSQL: its planner's estimate, never
        # below what was counted.
        assert past.count >= 11
        if store.dialect == "sqlite":
            assert past.count == 11
