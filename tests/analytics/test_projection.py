"""Funnels, retention and cohorts kept by the projection equal brute-force SQL over the
same random actions, on every backend, and a rebuild from the log gives the same rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.analytics import (
    Cohort,
    Funnel,
    Retention,
    analytics_projection,
    declared,
)
from headwater.analytics._actions import CAPTURED
from headwater.analytics._definitions import DAY_MS
from headwater.analytics._projection import (
    COHORT_SIZES,
    FUNNEL_COUNTS,
    RET_COUNTS,
    RET_SIZES,
)
from headwater.eventstore import EventStore
from headwater.eventstore._records import NewEvent
from headwater.projections import ProjectionRunner, rebuild

pytestmark = pytest.mark.anyio

NAMES = ["a", "b", "c"]
FUNNEL = Funnel(id="abc", steps=["a", "b", "a", "c"], window_hours=30)
LONG = Funnel(id="long", steps=[NAMES[i % 3] for i in range(21)], window_hours=24 * 20)
DECLS = declared(
    funnels=[FUNNEL, LONG],
    retention=[
        Retention(id="daily", period="day"),
        Retention(id="weekly", period="week", start_events=["a"], return_events=["b", "c"]),
    ],
    cohorts=[Cohort(id="two-b", event="b", min_count=2)],
)
BASE = 1_700_000_000_000

action = st.tuples(
    st.sampled_from(["u1", "u2", "u3", "u4"]),
    st.sampled_from(NAMES),
    # Up to three weeks in 10-minute steps, in any order (client clocks disagree).
    st.integers(min_value=0, max_value=3 * 7 * 144).map(lambda k: BASE + k * 600_000),
)


def _brute_funnel(funnel: Funnel) -> str:
    """Step k's position for every subject, as one chain of correlated subqueries."""
    w = funnel.window_ms
    ctes = [
        "s1 AS (SELECT e.tenant_id, e.subject, e.pos AS p, e.ts AS t0 FROM ev e "
        f"WHERE e.name = '{funnel.steps[0]}' AND e.pos = (SELECT MIN(x.pos) FROM ev x "
        "WHERE x.tenant_id = e.tenant_id AND x.subject = e.subject AND x.name = e.name))"
    ]
    for k, step in enumerate(funnel.steps[1:], start=2):
        ctes.append(
            f"s{k} AS (SELECT s.tenant_id, s.subject, s.t0, (SELECT MIN(x.pos) FROM ev x "
            f"WHERE x.tenant_id = s.tenant_id AND x.subject = s.subject AND x.name = '{step}' "
            f"AND x.pos > s.p AND x.ts >= s.t0 AND x.ts <= s.t0 + {w}) AS p FROM s{k - 1} s "
            "WHERE s.p IS NOT NULL)"
        )
    unions = " UNION ALL ".join(
        f"SELECT tenant_id, {k} AS step, CAST(t0 / {DAY_MS} AS INTEGER) AS d FROM s{k} "
        "WHERE p IS NOT NULL"
        for k in range(1, len(funnel.steps) + 1)
    )
    return (
        f"WITH {', '.join(ctes)} SELECT tenant_id, d, step, COUNT(*) FROM ({unions}) u "
        "GROUP BY tenant_id, d, step ORDER BY tenant_id, d, step"
    )


def _period(column: str, kind: str) -> str:
    day = f"CAST({column} / {DAY_MS} AS INTEGER)"
    return day if kind == "day" else f"CAST(({day} + 3) / 7 AS INTEGER)"


def _brute_retention(r: Retention) -> tuple[str, str]:
    starts = (
        " AND e.name IN ({})".format(",".join(f"'{n}'" for n in r.start_events))
        if r.start_events
        else ""
    )
    returns = (
        " AND x.name IN ({})".format(",".join(f"'{n}'" for n in r.return_events))
        if r.return_events
        else ""
    )
    first = (
        f"SELECT e.tenant_id, e.subject, e.pos, {_period('e.ts', r.period)} AS cohort FROM ev e "
        f"WHERE e.pos = (SELECT MIN(y.pos) FROM ev y WHERE y.tenant_id = e.tenant_id "
        f"AND y.subject = e.subject{starts.replace('e.name', 'y.name')}){starts}"
    )
    sizes = (
        f"SELECT tenant_id, cohort, COUNT(*) FROM ({first}) f "
        "GROUP BY tenant_id, cohort ORDER BY 1, 2"
    )
    counts = (
        f"SELECT tenant_id, cohort, age, COUNT(*) FROM (SELECT DISTINCT f.tenant_id, f.subject, "
        f"f.cohort, {_period('x.ts', r.period)} - f.cohort AS age FROM ({first}) f JOIN ev x "
        f"ON x.tenant_id = f.tenant_id AND x.subject = f.subject AND x.pos >= f.pos{returns} "
        f"WHERE {_period('x.ts', r.period)} >= f.cohort) d "
        "GROUP BY tenant_id, cohort, age ORDER BY 1, 2, 3"
    )
    return sizes, counts


async def _read(
    store: EventStore, sql: str, params: tuple[Any, ...] = ()
) -> list[tuple[int | str, ...]]:
    return [
        tuple(int(v) if not isinstance(v, str) else v for v in row)
        for row in await store.fetchall(sql, params)
    ]


async def _fill(store: EventStore, actions: list[tuple[str, str, int]], tenant: str) -> None:
    events = [
        NewEvent(
            CAPTURED,
            {
                "event": name,
                "distinct_id": subject,
                "properties": {},
                "timestamp": datetime.fromtimestamp(ts / 1000, UTC).isoformat(),
                "ts_ms": ts,
                "uuid": str(uuid.uuid4()),
            },
        )
        for subject, name, ts in actions
    ]
    for start in range(0, len(events), 7):  # several appends, as batches arrive
        await store.append(
            f"hw.analytics-{uuid.uuid4().hex}", events[start : start + 7], tenant_id=tenant
        )
    # The brute-force side reads a plain copy of the same actions, in log order.
    rows = [
        (e.tenant_id, e.data["distinct_id"], e.data["event"], e.data["ts_ms"], e.position)
        async for e in store.read_all(types=[CAPTURED], tenant_id=tenant)
    ]
    if rows:
        async with store.transaction() as tx:
            await tx.executemany(
                "INSERT INTO ev (tenant_id, subject, name, ts, pos) VALUES (?, ?, ?, ?, ?)", rows
            )


async def _projected(
    store: EventStore, tenants: tuple[str, str]
) -> dict[str, list[tuple[int | str, ...]]]:
    where = "WHERE tenant_id IN (?, ?)"
    return {
        "funnels": await _read(
            store,
            f"SELECT tenant_id, funnel, entry_day, step, n FROM {FUNNEL_COUNTS.ref} {where} "
            "ORDER BY 1, 2, 3, 4",
            tenants,
        ),
        "ret_sizes": await _read(
            store,
            f"SELECT tenant_id, retention, cohort, n FROM {RET_SIZES.ref} {where} ORDER BY 1, 2, 3",
            tenants,
        ),
        "ret_counts": await _read(
            store,
            f"SELECT tenant_id, retention, cohort, age, n FROM {RET_COUNTS.ref} {where} "
            "ORDER BY 1, 2, 3, 4",
            tenants,
        ),
        "cohorts": await _read(
            store,
            f"SELECT tenant_id, cohort, n FROM {COHORT_SIZES.ref} {where} ORDER BY 1, 2",
            tenants,
        ),
    }


async def _brute(store: EventStore) -> dict[str, list[tuple[int | str, ...]]]:
    funnels: list[tuple[int | str, ...]] = []
    for funnel in (FUNNEL, LONG):
        funnels += [
            (t, funnel.id, d, s, n) for t, d, s, n in await _read(store, _brute_funnel(funnel))
        ]
    sizes_out: list[tuple[int | str, ...]] = []
    counts_out: list[tuple[int | str, ...]] = []
    for r in DECLS.retention:
        sizes, counts = _brute_retention(r)
        sizes_out += [(t, r.id, c, n) for t, c, n in await _read(store, sizes)]
        counts_out += [(t, r.id, c, a, n) for t, c, a, n in await _read(store, counts)]
    cohorts = await _read(
        store,
        "SELECT tenant_id, 'two-b', COUNT(*) FROM (SELECT tenant_id, subject FROM ev "
        "WHERE name = 'b' "
        "GROUP BY tenant_id, subject HAVING COUNT(*) >= 2) m GROUP BY tenant_id ORDER BY 1",
    )
    return {
        "funnels": sorted(funnels),
        "ret_sizes": sorted(sizes_out),
        "ret_counts": sorted(counts_out),
        "cohorts": cohorts,
    }


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.lists(action, min_size=1, max_size=50), other=st.lists(action, max_size=10))
async def test_projection_counters_equal_brute_force_sql_and_survive_a_rebuild(
    store: EventStore, data: list[tuple[str, str, int]], other: list[tuple[str, str, int]]
) -> None:
    # One store for all examples: each example writes to two fresh tenants, and the
    # brute-force copy ``ev`` holds only the current example's actions.
    async with store.transaction() as tx:
        await tx.execute("DROP TABLE IF EXISTS ev")
        await tx.execute(
            "CREATE TABLE ev (tenant_id TEXT, subject TEXT, name TEXT, ts BIGINT, pos BIGINT)"
        )
    tenants = (f"t1-{uuid.uuid4().hex[:8]}", f"t2-{uuid.uuid4().hex[:8]}")
    await _fill(store, data, tenants[0])
    await _fill(store, other, tenants[1])
    projection = analytics_projection(DECLS)
    async with ProjectionRunner(store, projection) as runner:
        await runner.wait_for(await store.head_position())
    got = await _projected(store, tenants)
    assert got == await _brute(store)
    await rebuild(store, projection)
    assert await _projected(store, tenants) == got
