"""Analytics: capture through HTTP, and dashboard reads of the counters against raw SQL.

Run: ``python benchmarks/analytics.py [--quick] [--skip-capture | --skip-reads]``. Progress goes to
stderr; the last line of stdout is one JSON object.

* ``capture_events_per_second``: a real ``headwater serve`` (one node, SQLite file by
  default, ``--capture-url`` for PostgreSQL) serving the analytics module as a
  capture-only node (``run_projection=False``: another node keeps the counters);
  ``capture_with_projection_events_per_second``: the same node also running the
  projection. Client processes POST pre-encoded batches of 500 fresh events (new
  uuids, so every event is written) to ``/analytics/batch`` for a fixed time.
  Baseline (``store_append_events_per_second``): the same batches appended
  straight to a store of the same backend, no HTTP (the log's own limit).
* ``projection_events_per_second``: captured events through the analytics projection
  (a 3-step funnel, a 20-step funnel, weekly retention, a cohort), runner catch-up.
* Reads on PostgreSQL at 10 M captured events (``--quick``: 1 M). The events are
  generated with bulk SQL into a plain table ``bench_ev`` (tenant, subject, name, ts,
  pos), not appended through the store; the projection's counter tables are then
  filled with bulk SQL from the same events (the brute-force funnel's and retention's
  results, the same numbers the projection keeps, as the tests prove on random data),
  plus 1,000 other tenants' rows so the reads must use their index.
  ``funnel_read_p95_ms`` / ``retention_read_p95_ms``: ``Analytics.funnel`` /
  ``Analytics.retention`` over 90 days / 12 weeks. ``funnel_vs_sql_ratio``: the raw SQL
  3-step funnel over the same 90 days (indexed, correlated subqueries, over the events)
  divided by the projection read's median.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit_summary, log

from headwater.analytics import Analytics, Funnel, Retention, analytics_projection, declared
from headwater.analytics._actions import CAPTURED
from headwater.analytics._definitions import Cohort
from headwater.analytics._projection import (
    FUNNEL_COUNTS,
    RET_COUNTS,
    RET_SIZES,
)
from headwater.eventstore import create_event_store
from headwater.eventstore._records import NewEvent
from headwater.projections import ProjectionRunner
from headwater.testing._server import serve

POSTGRES = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REPO = str(Path(__file__).resolve().parents[1])
HERE = str(Path(__file__).resolve().parent)
ROOT_EMAIL, ROOT_PASSWORD = "root@bench.example", "root-password-1"
PASSWORD = "correct horse battery"
BATCH = 500
DAY_MS = 86_400_000
FUNNEL = Funnel(id="checkout", steps=["a", "b", "c"], window_hours=24)
DECLS = declared(
    funnels=[FUNNEL, Funnel(id="long", steps=[("a", "b", "c")[i % 3] for i in range(20)])],
    retention=[Retention(id="weekly", period="week")],
    cohorts=[Cohort(id="buyers", event="c")],
)


# --- capture through HTTP ----------------------------------------------------------


def _body(seed: int) -> bytes:
    now = time.time()
    events = [
        {
            "event": ("a", "b", "c")[i % 3],
            "distinct_id": f"user-{seed}-{i % 97}",
            "properties": {"path": "/checkout", "step": i % 3},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - i)),
            "uuid": str(uuid.uuid4()),
        }
        for i in range(BATCH)
    ]
    return orjson.dumps({"batch": events})


def _client(url: str, token: str, seconds: float, barrier: Any, results: Any) -> None:
    # Bodies are encoded before the clock starts: the client's own JSON work must not
    # count against the server.
    bodies = [_body(os.getpid() * 1000 + k) for k in range(int(seconds * 20) + 5)]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    sent = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        http.get("/healthz")
        barrier.wait()
        started = time.perf_counter()
        for body in bodies:
            if time.perf_counter() - started > seconds:
                break
            response = http.post("/analytics/batch", content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(response.text)
            sent += BATCH
        results.put((sent, time.perf_counter() - started))


def _token(http: httpx.Client) -> str:
    def login(email: str, password: str) -> dict[str, str]:
        got = http.post("/auth/login", json={"email": email, "password": password})
        return {"authorization": f"Bearer {got.json()['data']['access_token']}"}

    root = login(ROOT_EMAIL, ROOT_PASSWORD)
    # Fresh names: a PostgreSQL capture store outlives one run (both runs share it).
    suffix = uuid.uuid4().hex[:8]
    made = http.post("/admin/tenants", json={"name": f"Bench {suffix}"}, headers=root)
    tenant = made.json()["data"]["id"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant}, headers=root)
    admin = {"authorization": f"Bearer {acting.json()['data']['access_token']}"}
    email = f"sdk-{suffix}@bench.example"
    body = {"email": email, "password": PASSWORD, "roles": ["user"]}
    http.post("/accounts", json=body, headers=admin).raise_for_status()
    return login(email, PASSWORD)["authorization"].split(" ", 1)[1]


def capture_rate(url: str | None, seconds: float, clients: int, app: str) -> float:
    with tempfile.TemporaryDirectory() as work:
        database = url or f"sqlite:///{work}/events.db"
        env = {
            "HEADWATER_AUTO_MIGRATE": "true",
            "HEADWATER_RATE_LIMITS": "false",
            "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ROOT_EMAIL,
            "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ROOT_PASSWORD,
            "HEADWATER_FAST_PASSWORD_HASHING": "true",
            "HEADWATER_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                p for p in (REPO, HERE, os.environ.get("PYTHONPATH")) if p
            ),
        }
        with serve(database, workdir=Path(work), apps=[app], env=env) as server:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                token = _token(http)
            barrier = multiprocessing.Barrier(clients)
            results: Any = multiprocessing.Queue()
            procs = [
                multiprocessing.Process(
                    target=_client, args=(server.url, token, seconds, barrier, results)
                )
                for _ in range(clients)
            ]
            for proc in procs:
                proc.start()
            done = [results.get() for _ in procs]
            for proc in procs:
                proc.join()
            # All clients start together; the slowest one's time is the run's.
            total: float = sum(sent for sent, _ in done)
            slowest: float = max(elapsed for _, elapsed in done)
            return total / slowest


async def store_append_rate(url: str | None, batches: int) -> float:
    with tempfile.TemporaryDirectory() as work:
        store = await create_event_store(url or f"sqlite:///{work}/events.db", migrate=True)
        try:
            prepared = [
                [
                    NewEvent(
                        CAPTURED,
                        {
                            "event": "a",
                            "distinct_id": f"u{i}",
                            "properties": {},
                            "timestamp": "2026-01-01T00:00:00+00:00",
                            "ts_ms": 0,
                            "uuid": str(uuid.uuid4()),
                        },
                    )
                    for i in range(BATCH)
                ]
                for _ in range(batches)
            ]
            started = time.perf_counter()
            for events in prepared:
                await store.append(f"hw.analytics-{uuid.uuid4().hex}", events, tenant_id="t")
            return batches * BATCH / (time.perf_counter() - started)
        finally:
            await store.close()


async def projection_rate(events: int) -> float:
    with tempfile.TemporaryDirectory() as work:
        store = await create_event_store(f"sqlite:///{work}/events.db", migrate=True)
        try:
            for start in range(0, events, BATCH):
                batch = [
                    NewEvent(
                        CAPTURED,
                        {
                            "event": ("a", "b", "c")[i % 3],
                            "distinct_id": f"u{(start + i) // 7}",
                            "properties": {},
                            "timestamp": "",
                            "ts_ms": 1_760_000_000_000 + (start + i) * 1000,
                            "uuid": "",
                        },
                    )
                    for i in range(BATCH)
                ]
                await store.append(f"hw.analytics-{start}", batch, tenant_id="t")
            head = await store.head_position()
            started = time.perf_counter()
            async with ProjectionRunner(store, analytics_projection(DECLS)) as runner:
                await runner.wait_for(head)
            return events / (time.perf_counter() - started)
        finally:
            await store.close()


# --- reads on PostgreSQL -----------------------------------------------------------

RAW_FUNNEL = """
WITH s1 AS (
  SELECT DISTINCT ON (subject) subject, pos AS p, ts AS t0 FROM bench_ev
  WHERE tenant_id = 'bench' AND name = 'a' ORDER BY subject, pos
), s2 AS (
  SELECT subject, t0, (SELECT MIN(e.pos) FROM bench_ev e WHERE e.tenant_id = 'bench'
    AND e.subject = s1.subject AND e.name = 'b' AND e.pos > s1.p
    AND e.ts BETWEEN s1.t0 AND s1.t0 + {w}) AS p FROM s1
), s3 AS (
  SELECT subject, t0, (SELECT MIN(e.pos) FROM bench_ev e WHERE e.tenant_id = 'bench'
    AND e.subject = s2.subject AND e.name = 'c' AND e.pos > s2.p
    AND e.ts BETWEEN s2.t0 AND s2.t0 + {w}) AS p FROM s2 WHERE p IS NOT NULL
)
SELECT d, step, COUNT(*) FROM (
  SELECT t0 / {day} AS d, 1 AS step FROM s1
  UNION ALL SELECT t0 / {day}, 2 FROM s2 WHERE p IS NOT NULL
  UNION ALL SELECT t0 / {day}, 3 FROM s3 WHERE p IS NOT NULL
) u WHERE d BETWEEN %(first)s AND %(last)s GROUP BY d, step
"""


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def reads(events: int, repeats: int) -> dict[str, float]:
    schema = f"hw_bench_an_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{POSTGRES}?schema={schema}"
    try:
        store = await create_event_store(url, migrate=True)
        try:
            runner = ProjectionRunner(store, analytics_projection(DECLS))
            await runner.prepare()  # creates the counter tables
            return await _reads(store, url, schema, events, repeats)
        finally:
            await store.close()
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _reads(store: Any, url: str, schema: str, events: int, repeats: int) -> dict[str, float]:
    subjects = max(1, events // 20)
    end_day = 20_400  # 2025-11-09
    w = FUNNEL.window_ms
    log(f"generating {events:,} events for {subjects:,} subjects with bulk SQL")
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(
            "CREATE TABLE bench_ev (tenant_id TEXT, subject TEXT, name TEXT, ts BIGINT, pos BIGINT)"
        )
        # Each subject's events: steps a, b, c in turn, a few hours apart, starting on
        # one of 90 days; pos is the log order.
        conn.execute(
            "INSERT INTO bench_ev SELECT 'bench', 's' || (g %% %(s)s), "
            "(ARRAY['a','b','c'])[1 + (g / %(s)s) %% 3], "
            "((%(end)s - 89 + (hashtext((g %% %(s)s)::text) & 65535) %% 90)::bigint * 86400000) "
            "+ (g / %(s)s) * 3600000 * (1 + (hashtext(g::text) & 3)), g "
            "FROM generate_series(1, %(n)s::int) g",
            {"s": subjects, "end": end_day, "n": events},
        )
        conn.execute("CREATE INDEX ON bench_ev (tenant_id, subject, name, pos)")
        conn.execute("CREATE INDEX ON bench_ev (tenant_id, name, subject, pos)")
        conn.execute("ANALYZE bench_ev")
        log("raw SQL funnel over the events, all 90 days (the baseline)")
        started = time.perf_counter()
        all_rows = conn.execute(
            RAW_FUNNEL.format(w=w, day=DAY_MS), {"first": 0, "last": 10**9}
        ).fetchall()
        raw_times = [time.perf_counter() - started]
        raw_rows = all_rows
        log(f"raw funnel: {min(raw_times):.2f} s")
        log("filling the counter tables with bulk SQL (its result, and 1,000 other tenants)")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {FUNNEL_COUNTS.name} VALUES ('bench', 'checkout', %s, %s, %s)",
                all_rows,
            )
        conn.execute(
            f"INSERT INTO {FUNNEL_COUNTS.name} SELECT 'other-' || t, 'checkout', d, s, 10 "
            "FROM generate_series(1, 1000) t, generate_series(%(a)s::int, %(b)s::int) d, "
            "generate_series(1, 3) s",
            {"a": end_day - 364, "b": end_day},
        )
        week_last = (end_day + 3) // 7
        conn.execute(
            f"INSERT INTO {RET_SIZES.name} SELECT t, 'weekly', c, 1000 FROM "
            "(SELECT 'bench' AS t UNION ALL SELECT 'other-' || g FROM generate_series(1, 1000) g) "
            "tt, generate_series(%(a)s::int, %(b)s::int) c",
            {"a": week_last - 51, "b": week_last},
        )
        conn.execute(
            f"INSERT INTO {RET_COUNTS.name} SELECT t, 'weekly', c, a, 1000 - a * 10 FROM "
            "(SELECT 'bench' AS t UNION ALL SELECT 'other-' || g FROM generate_series(1, 1000) g) "
            "tt, generate_series(%(a)s::int, %(b)s::int) c, generate_series(0, 51) a "
            "WHERE c + a <= %(b)s",
            {"a": week_last - 51, "b": week_last},
        )
        for table in (FUNNEL_COUNTS, RET_SIZES, RET_COUNTS):
            conn.execute(f"ANALYZE {table.name}")
    analytics = Analytics(store, DECLS)
    # The whole 90 days, like the raw query: the read sums 90 days x 3 steps of counters.
    start = date(1970, 1, 1) + timedelta(days=end_day - 89)
    stop = date(1970, 1, 1) + timedelta(days=end_day)
    got = await analytics.funnel("bench", "checkout", start, stop)
    expected = {(int(s)): 0 for s in (1, 2, 3)}
    for _, step, n in raw_rows:
        expected[int(step)] += int(n)
    assert [s["count"] for s in got["steps"]] == [expected[1], expected[2], expected[3]], got
    funnel_ms, retention_ms = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        await analytics.funnel("bench", "checkout", start, stop)
        funnel_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await analytics.retention("bench", "weekly", stop - timedelta(weeks=11), stop)
        retention_ms.append((time.perf_counter() - started) * 1000)
    return {
        "funnel_read_p95_ms": round(_p(funnel_ms, 0.95), 3),
        "funnel_read_p50_ms": round(statistics.median(funnel_ms), 3),
        "retention_read_p95_ms": round(_p(retention_ms, 0.95), 3),
        "raw_sql_funnel_ms": round(min(raw_times) * 1000, 1),
        "funnel_vs_sql_ratio": round(min(raw_times) * 1000 / statistics.median(funnel_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--capture-url", default=None, help="store URL for the capture node")
    parser.add_argument("--skip-capture", action="store_true")
    parser.add_argument("--skip-reads", action="store_true", help="capture figures only")
    args = parser.parse_args()
    events = 1_000_000 if args.quick else 10_000_000
    summary: dict[str, Any] = {"read_events": events}
    if not args.skip_capture:
        seconds = 6.0 if args.quick else 20.0
        log(f"capture through HTTP for {seconds:.0f} s, 3 client processes, capture-only node")
        summary["capture_events_per_second"] = round(
            capture_rate(args.capture_url, seconds, 3, "_analytics_node:capture_only")
        )
        log("again, with the node also running the analytics projection")
        summary["capture_with_projection_events_per_second"] = round(
            capture_rate(args.capture_url, seconds, 3, "_analytics_node:full")
        )
        log("the same batches appended straight to the store (baseline)")
        baseline = asyncio.run(store_append_rate(args.capture_url, 40 if args.quick else 200))
        summary["store_append_events_per_second"] = round(baseline)
        summary["capture_vs_append_ratio"] = round(
            summary["capture_events_per_second"] / baseline, 3
        )
        summary["capture_backend"] = "postgresql" if args.capture_url else "sqlite"
    if args.skip_reads:
        emit_summary(summary)
        return
    log("projection catch-up")
    summary["projection_events_per_second"] = round(
        asyncio.run(projection_rate(20_000 if args.quick else 100_000))
    )
    summary.update(asyncio.run(reads(events, 200 if args.quick else 500)))
    summary["targets_met"] = {
        "capture_events_per_second>=20000": summary.get("capture_events_per_second", 0) >= 20_000,
        "funnel_read_p95_ms<=50": summary["funnel_read_p95_ms"] <= 50,
        "retention_read_p95_ms<=50": summary["retention_read_p95_ms"] <= 50,
    }
    emit_summary(summary)


if __name__ == "__main__":
    main()
