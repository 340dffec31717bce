"""The query builder: declared names only, values always bound, same results on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.projections import (
    INTEGER,
    TEXT,
    TIMESTAMP,
    InvalidCursor,
    InvalidReadModel,
    Table,
    UnknownColumn,
)
from headwater.queries import (
    Select,
    avg,
    col,
    count,
    day,
    desc,
    fetch_page,
    max_,
    month,
    sum_,
)

SUBMISSIONS = Table(
    "q_submissions",
    {
        "id": TEXT,
        "form_id": TEXT,
        "plan": TEXT,
        "tenant": TEXT,
        "created_at": TIMESTAMP,
        "completion_ms": INTEGER,
    },
    primary_key="id",
    tenant_column="tenant",
)
T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
ROWS = [
    {
        "id": f"s{n:02d}",
        "form_id": "f1" if n % 3 else "f2",
        "plan": "pro" if n % 2 else "free",
        "tenant": "acme" if n < 18 else "other",
        "created_at": T0 + timedelta(hours=7 * n),
        "completion_ms": 1000 * (n + 1),
    }
    for n in range(20)
]


@pytest.fixture
async def filled(store: EventStore) -> EventStore:
    async with store.transaction() as tx:
        for sql in SUBMISSIONS.create_sql(store.dialect):
            await tx.execute(sql)
        for row in ROWS:
            statement = SUBMISSIONS.insert(row)
            await tx.execute(statement.sql, statement.params)
    return store


# --- pure: compiling -------------------------------------------------------------------------


def test_unknown_columns_are_rejected_when_the_query_is_built() -> None:
    query = Select(SUBMISSIONS).for_tenant("acme")
    with pytest.raises(UnknownColumn):
        query.where(col("password") == "x")
    with pytest.raises(UnknownColumn):
        query.columns("id; DROP TABLE q_submissions")
    with pytest.raises(UnknownColumn):
        query.order_by("created_at DESC; --")
    with pytest.raises(UnknownColumn):
        query.columns(sum_("nope"))
    with pytest.raises(InvalidReadModel):
        query.columns(count().as_('n" FROM x; --'))


def test_values_are_always_bound_parameters() -> None:
    hostile = "x' OR '1'='1"
    sql, params = (
        Select(SUBMISSIONS)
        .for_tenant("acme")
        .where(col("form_id") == hostile, col("plan").in_(["pro", hostile]))
        .compile("postgresql")
    )
    assert hostile not in sql
    assert "'1'" not in sql
    assert params == ["acme", hostile, "pro", hostile]


def test_tenant_scoped_tables_need_a_tenant_or_an_explicit_opt_out() -> None:
    with pytest.raises(InvalidInput):
        Select(SUBMISSIONS).compile("sqlite")
    sql, params = Select(SUBMISSIONS).for_tenant("acme").compile("sqlite")
    assert '"tenant" = ?' in sql
    assert params == ["acme"]
    Select(SUBMISSIONS).across_tenants().compile("sqlite")


def test_limits_are_checked() -> None:
    with pytest.raises(InvalidInput):
        Select(SUBMISSIONS).limit(0)
    with pytest.raises(InvalidInput):
        Select(SUBMISSIONS).limit("10")  # type: ignore[arg-type]


# --- on the database --------------------------------------------------------------------------

on_database = pytest.mark.anyio


@on_database
async def test_injection_attempt_is_data_not_sql(filled: EventStore) -> None:
    hostile = "f1'; DROP TABLE q_submissions; --"
    rows = (
        await Select(SUBMISSIONS).for_tenant("acme").where(col("form_id") == hostile).fetch(filled)
    )
    assert rows == []
    everything = await Select(SUBMISSIONS).across_tenants().columns(count().as_("n")).fetch(filled)
    assert everything == [{"n": 20}]


@on_database
async def test_filters_time_ranges_and_aggregates(filled: EventStore) -> None:
    since = T0 + timedelta(days=1)
    query = (
        Select(SUBMISSIONS)
        .for_tenant("acme")
        .columns(
            "plan",
            count().as_("n"),
            sum_("completion_ms").as_("total_ms"),
            avg("completion_ms").as_("avg_ms"),
            max_("created_at").as_("latest"),
        )
        .where(col("created_at").between(since, since + timedelta(days=2)))
        .group_by("plan")
        .order_by("plan")
    )
    expected: dict[str, list[dict[str, object]]] = {}
    for row in ROWS:
        created = row["created_at"]
        assert isinstance(created, datetime)
        if row["tenant"] == "acme" and since <= created < since + timedelta(days=2):
            expected.setdefault(str(row["plan"]), []).append(row)
    rows = await query.fetch(filled)
    assert [r["plan"] for r in rows] == sorted(expected)
    for r in rows:
        group = expected[r["plan"]]
        values = [int(str(g["completion_ms"])) for g in group]
        assert r["n"] == len(group)
        assert r["total_ms"] == sum(values)
        assert r["avg_ms"] == pytest.approx(sum(values) / len(values))
        assert r["latest"] == max(g["created_at"] for g in group)  # type: ignore[type-var]
        assert isinstance(r["latest"], datetime)


@on_database
async def test_group_by_day_and_month_in_utc(filled: EventStore) -> None:
    daily = await (
        Select(SUBMISSIONS)
        .across_tenants()
        .columns(day("created_at").as_("day"), count().as_("n"))
        .group_by(day("created_at"))
        .order_by("day")
        .fetch(filled)
    )
    counts: dict[date, int] = {}
    for row in ROWS:
        created = row["created_at"]
        assert isinstance(created, datetime)
        counts[created.date()] = counts.get(created.date(), 0) + 1
    assert [(r["day"], r["n"]) for r in daily] == sorted(counts.items())

    monthly = await (
        Select(SUBMISSIONS)
        .across_tenants()
        .columns(month("created_at").as_("month"), count().as_("n"))
        .group_by(month("created_at"))
        .order_by("month")
        .fetch(filled)
    )
    assert [r["month"] for r in monthly] == [date(2024, 3, 1)]


@on_database
async def test_keyset_pages_cover_every_row_once(filled: EventStore) -> None:
    query = (
        Select(SUBMISSIONS)
        .for_tenant("acme")
        .columns("id", "created_at", "completion_ms")
        .order_by(desc("created_at"), "id")
    )
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await fetch_page(filled, query, limit=5, cursor=cursor)
        seen += [r["id"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"s{n:02d}" for n in reversed(range(18))]

    for bad in ("not base64!", "e30", "eyJrIjpbMV19", "x" * 5000):
        with pytest.raises(InvalidCursor):
            await fetch_page(filled, query, limit=5, cursor=bad)
