"""Folding a batch's upserts gives the same rows as running them one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.eventstore import EventStore, Statement
from headwater.projections import INTEGER, TEXT, TIMESTAMP, Column, Merge, Table
from headwater.projections._coalesce import coalesce

FOLD = Table(
    "rm_fold",
    {
        "k": TEXT,
        "n": Column(INTEGER, nullable=True),
        "first": Column(INTEGER, nullable=True),
        "last": Column(TEXT, nullable=True),
        "hi": Column(TIMESTAMP, nullable=True),
        "lo": Column(INTEGER, nullable=True),
    },
    primary_key="k",
)
RULES = {"n": Merge.ADD, "first": Merge.KEEP, "hi": Merge.GREATEST, "lo": Merge.LEAST}
T0 = datetime(2024, 1, 1, tzinfo=UTC)

rows = st.lists(
    st.fixed_dictionaries(
        {
            "k": st.sampled_from(["a", "b", "c"]),
            "n": st.one_of(st.none(), st.integers(-5, 5)),
            "first": st.integers(0, 9),
            "last": st.text("xyz", max_size=2),
            "hi": st.one_of(st.none(), st.integers(0, 50).map(lambda h: T0 + timedelta(hours=h))),
            "lo": st.one_of(st.none(), st.integers(0, 50)),
        }
    ),
    min_size=1,
    max_size=12,
)


def test_runs_fold_by_key_and_only_adjacent_statements_merge() -> None:
    a1 = FOLD.upsert({"k": "a", "n": 1}, merge=RULES)
    a2 = FOLD.upsert({"k": "a", "n": 2}, merge=RULES)
    other = Statement("UPDATE x SET y = 1")
    out = coalesce([a1, a2, other, a1])
    assert [s.sql for s in out] == [a1.sql, other.sql, a1.sql]
    assert list(out[0].params) == ["a", 3]


@pytest.mark.anyio
@settings(max_examples=25, deadline=None)
@given(batch=rows)
async def test_folded_upserts_equal_sequential_upserts(batch: list[dict[str, object]]) -> None:
    from headwater.eventstore import create_event_store

    statements = [FOLD.upsert(row, merge=RULES) for row in batch]
    results = []
    for plan in (statements, coalesce(statements)):
        store: EventStore = await create_event_store("sqlite:///:memory:")
        try:
            async with store.transaction() as tx:
                for sql in FOLD.create_sql(store.dialect):
                    await tx.execute(sql)
            await store.commit(plan)
            async with store.transaction() as tx:
                results.append(await tx.fetchall(FOLD.select_all_sql()))
        finally:
            await store.close()
    assert results[0] == results[1]
