"""Read-model tables: declarations, portable DDL, upsert merge rules, value round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from headwater.eventstore import EventStore
from headwater.projections import (
    BOOLEAN,
    DATE,
    INTEGER,
    JSON,
    REAL,
    TEXT,
    TIMESTAMP,
    Column,
    InvalidReadModel,
    Merge,
    Table,
    UnknownColumn,
    redirect_tables,
)

STATS = Table(
    "rm_stats",
    {
        "k": TEXT,
        "n": Column(INTEGER, default=0),
        "first": Column(TIMESTAMP, nullable=True),
        "last": Column(TIMESTAMP, nullable=True),
        "low": Column(REAL, nullable=True),
        "flag": Column(BOOLEAN, default=False),
        "day": Column(DATE, nullable=True),
        "extra": Column(JSON, nullable=True),
    },
    primary_key="k",
    indexes=[("n", "last")],
)


def test_declarations_are_checked() -> None:
    with pytest.raises(InvalidReadModel):
        Table("Bad-Name", {"a": TEXT}, primary_key="a")
    with pytest.raises(InvalidReadModel):
        Table("t", {"a": TEXT}, primary_key="b")
    with pytest.raises(InvalidReadModel):
        Table("t", {'a"; DROP': TEXT}, primary_key="a")
    with pytest.raises(UnknownColumn):
        STATS.upsert({"k": "x", "nope": 1})


def test_ddl_differs_only_in_types() -> None:
    sqlite = STATS.create_sql("sqlite")
    postgres = STATS.create_sql("postgresql")
    assert '"n" INTEGER NOT NULL DEFAULT 0' in sqlite[0]
    assert '"n" BIGINT NOT NULL DEFAULT 0' in postgres[0]
    assert '"first" TIMESTAMPTZ' in postgres[0]
    assert sqlite[1] == 'CREATE INDEX "rm_stats__ix0" ON "rm_stats" ("n", "last")'


def test_redirect_aims_statements_at_other_tables() -> None:
    assert STATS.upsert({"k": "a"}).sql.startswith('INSERT INTO "rm_stats"')
    with redirect_tables({"rm_stats": "rm_stats__g2"}):
        assert STATS.upsert({"k": "a"}).sql.startswith('INSERT INTO "rm_stats__g2"')


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(InvalidReadModel):
        STATS.insert({"k": "a", "first": datetime(2024, 1, 1)})


@pytest.mark.anyio
async def test_merge_rules_and_round_trips(store: EventStore) -> None:
    async with store.transaction() as tx:
        for sql in STATS.create_sql(store.dialect):
            await tx.execute(sql)
    t1 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    t2 = t1 + timedelta(hours=1)
    plus2 = timezone(timedelta(hours=2))
    merge = {"n": Merge.ADD, "first": Merge.KEEP, "last": Merge.GREATEST, "low": Merge.LEAST}
    writes = [
        STATS.upsert({"k": "a", "n": 1, "first": t2, "last": t2, "low": 5.0}, merge=merge),
        STATS.upsert({"k": "a", "n": 2, "first": t1, "last": t1, "low": 2.5}, merge=merge),
        STATS.upsert(
            {"k": "a", "n": 4, "first": t1, "last": t1.astimezone(plus2), "low": 9.0},
            merge=merge,
        ),
        STATS.update(
            {"flag": True, "day": date(2024, 5, 2), "extra": {"tags": ["a", "b"], "x": None}},
            where={"k": "a"},
        ),
    ]
    await store.commit(writes)
    async with store.transaction() as tx:
        rows = [STATS.decode_row(r) for r in await tx.fetchall(STATS.select_all_sql())]
    assert rows == [
        {
            "k": "a",
            "n": 7,
            "first": t2,
            "last": t2,
            "low": 2.5,
            "flag": True,
            "day": date(2024, 5, 2),
            "extra": {"tags": ["a", "b"], "x": None},
        }
    ]


def test_handlers_are_keyed_by_type_name_or_typed_event_class() -> None:
    from headwater.domain._events import Event
    from headwater.projections import Projection

    class SeatReserved(Event, type="readside.test.seat_reserved"):
        seat: str

    projection = Projection("declarations")

    @projection.on(SeatReserved, "readside.test.seat_released")
    def _seat(event: object) -> None:
        return None

    assert projection.event_types == ("readside.test.seat_released", "readside.test.seat_reserved")
    with pytest.raises(InvalidReadModel):
        projection.on(SeatReserved)(_seat)
    with pytest.raises(InvalidReadModel):
        projection.on(object())


def test_inside_a_handler_only_the_projections_own_tables_resolve() -> None:
    with redirect_tables({"rm_other": "rm_other"}), pytest.raises(InvalidReadModel):
        STATS.upsert({"k": "a"})
